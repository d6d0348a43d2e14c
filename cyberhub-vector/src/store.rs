//! The [`VectorStore`] trait every backend implements.

use crate::{CollectionSpec, Filter, Point, PointId, Result, ScoredPoint, SearchRequest};
use std::sync::Arc;

/// A store of collections of vectors with payloads.
///
/// Every method validates its input first (see [`crate::validate`]) and either applies a
/// whole batch or nothing. Names of missing collections give
/// [`crate::VectorErrorKind::CollectionNotFound`]. The trait is object-safe: [`DynVectorStore`]
/// is the handle for a backend chosen at run time (see [`crate::open`]).
#[async_trait::async_trait]
pub trait VectorStore: Send + Sync + std::fmt::Debug + 'static {
    /// The backend's name (`embedded`, `pgvector`, `qdrant`).
    fn backend(&self) -> &'static str;

    /// Checks that the backend answers.
    async fn ping(&self) -> Result<()>;

    /// Creates a collection. Returns `true` when created, `false` when an identical one exists;
    /// a same-named collection with another dimension or distance is
    /// [`crate::VectorErrorKind::CollectionExists`].
    async fn create_collection(&self, spec: &CollectionSpec) -> Result<bool>;

    /// The collection's spec.
    async fn collection(&self, name: &str) -> Result<CollectionSpec>;

    /// All collections, by name.
    async fn list_collections(&self) -> Result<Vec<CollectionSpec>>;

    /// Deletes a collection and its points. Returns whether it existed.
    async fn drop_collection(&self, name: &str) -> Result<bool>;

    /// Inserts or replaces 1–[`crate::validate::MAX_BATCH`] points, atomically. When the call
    /// returns `Ok`, the points are durable and visible to searches.
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()>;

    /// Deletes 1–[`crate::validate::MAX_BATCH`] points by id; missing ids are ignored.
    async fn delete(&self, collection: &str, ids: &[PointId]) -> Result<()>;

    /// One point with its (stored) vector and payload.
    async fn get(&self, collection: &str, id: PointId) -> Result<Option<Point>>;

    /// Up to [`crate::validate::MAX_BATCH`] points at once; missing ids are left out, the
    /// order follows `ids`. Backends answer in one round trip; the default asks one by one.
    async fn get_many(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        crate::validate::batch_len(ids.len())?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.get(collection, *id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The `limit` points closest to the query that pass its filter, closest first. When at
    /// least `limit` points pass the filter, `limit` hits come back, however selective it is.
    async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<ScoredPoint>>;

    /// Exact number of points (passing `filter`, when given).
    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64>;
}

/// A vector store chosen at run time.
pub type DynVectorStore = Arc<dyn VectorStore>;
