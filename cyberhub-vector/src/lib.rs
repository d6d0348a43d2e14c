//! CyberHub's vector store: one [`VectorStore`] trait, three backends chosen by URL.
//!
//! | URL | backend | feature |
//! |---|---|---|
//! | `embedded://./data/vectors` | [`EmbeddedStore`]: files on disk, write-ahead log, HNSW; no server | `embedded` (default) |
//! | `pgvector+postgres://user:pass@host:5433/db` | [`PgVectorStore`]: PostgreSQL + pgvector, HNSW | `pgvector` |
//! | `qdrant+http://127.0.0.1:6334` | [`QdrantStore`]: Qdrant over gRPC | `qdrant` |
//!
//! Collections have a fixed dimension and [`Distance`]. Points carry a [`Payload`] whose
//! keyword fields (content id, type, track, tags) can be filtered with equality and `in`
//! ([`Filter`]). Input is validated once, in [`validate`], before any backend writes: a bad
//! batch is rejected whole. The `conformance` feature exports the suite every backend passes.
//!
//! ```no_run
//! use cyberhub_vector::{CollectionSpec, Distance, Payload, Point, SearchRequest};
//! # async fn demo() -> cyberhub_vector::Result<()> {
//! let store = cyberhub_vector::open("embedded://./data/vectors").await?;
//! store.create_collection(&CollectionSpec::new("content", 3, Distance::Cosine)).await?;
//! let id = uuid::Uuid::from_u128(7);
//! store.upsert("content", vec![Point::new(id, vec![0.1, 0.2, 0.3], Payload::default())]).await?;
//! let hits = store.search("content", &SearchRequest::new(vec![0.1, 0.2, 0.25], 5)).await?;
//! assert_eq!(hits[0].id, id);
//! # Ok(()) }
//! ```
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod error;
pub mod math;
mod store;
mod types;
pub mod validate;

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "pgvector")]
mod pgvector;
#[cfg(feature = "qdrant")]
mod qdrant;
#[cfg(any(feature = "pgvector", feature = "qdrant"))]
mod spec_cache;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{Result, VectorError, VectorErrorKind};
pub use store::{DynVectorStore, VectorStore};
pub use types::{
    CollectionSpec, Condition, Distance, Filter, KeywordField, Payload, Point, PointId,
    ScoredPoint, SearchRequest,
};

#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;
#[cfg(feature = "pgvector")]
pub use pgvector::PgVectorStore;
#[cfg(feature = "qdrant")]
pub use qdrant::QdrantStore;

/// Opens the store a URL names (see the table above). Backends not compiled in, and
/// unknown schemes, are [`VectorErrorKind::ConfigInvalid`].
pub async fn open(url: &str) -> Result<DynVectorStore> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        #[cfg(feature = "embedded")]
        "embedded" => {
            let path = url.get("embedded://".len()..).unwrap_or_default();
            Ok(std::sync::Arc::new(EmbeddedStore::open(path).await?))
        }
        #[cfg(feature = "pgvector")]
        "pgvector+postgres" | "pgvector+postgresql" => {
            let pg = url.get("pgvector+".len()..).unwrap_or_default();
            Ok(std::sync::Arc::new(PgVectorStore::connect(pg).await?))
        }
        #[cfg(feature = "qdrant")]
        "qdrant+http" | "qdrant+https" => {
            let endpoint = url.get("qdrant+".len()..).unwrap_or_default();
            Ok(std::sync::Arc::new(QdrantStore::connect(endpoint, None).await?))
        }
        #[cfg(not(feature = "embedded"))]
        "embedded" => Err(missing_feature("embedded")),
        #[cfg(not(feature = "pgvector"))]
        "pgvector+postgres" | "pgvector+postgresql" => Err(missing_feature("pgvector")),
        #[cfg(not(feature = "qdrant"))]
        "qdrant+http" | "qdrant+https" => Err(missing_feature("qdrant")),
        _ => Err(VectorError::new(
            VectorErrorKind::ConfigInvalid,
            format!(
                "unsupported vector store URL scheme {scheme:?}: use embedded://DIR, \
                 pgvector+postgres://... or qdrant+http://HOST:PORT (with the matching cargo feature)"
            ),
        )),
    }
}

/// A known scheme whose backend this build leaves out.
#[cfg(not(all(feature = "embedded", feature = "pgvector", feature = "qdrant")))]
fn missing_feature(feature: &str) -> VectorError {
    VectorError::new(
        VectorErrorKind::ConfigInvalid,
        format!(
            "this build has no {feature} vector backend: rebuild with the cargo feature `{feature}` \
             (the reference server: `cargo run -p cyberhub-server --features {feature}`)"
        ),
    )
}

pub use cyberhub_domain::redact_url;
