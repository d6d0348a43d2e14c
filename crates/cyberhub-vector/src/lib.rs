//! CyberHub vector store.
//!
//! Not built yet: the `VectorStore` trait with its embedded, pgvector and Qdrant backends
//! and their conformance suite arrive with the vector-layer issue. This crate only fixes
//! its place in the workspace.

/// How vectors are compared (shared by every backend to come).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// 1 − cosine similarity.
    Cosine,
    /// Negative dot product.
    Dot,
    /// Euclidean distance.
    L2,
}
