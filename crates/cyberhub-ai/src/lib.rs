//! CyberHub AI layer.
//!
//! Not built yet: the `Embedder` trait with its candle and fastembed backends of
//! all-MiniLM-L6-v2, recommendations and personality analysis arrive with the AI issue.
//! This crate only fixes its place in the workspace.

/// Dimension of all-MiniLM-L6-v2 sentence embeddings, the model CyberHub uses.
pub const MINILM_DIMENSION: usize = 384;
