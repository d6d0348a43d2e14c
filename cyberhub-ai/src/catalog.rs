//! The catalog in the vector store: one point per content item (id = its internal UUID),
//! embedded from [`ContentItem::embedding_text`], with the fields search results show kept
//! in the payload so that answering a query needs no relational read.

use crate::embedder::DynEmbedder;
use crate::error::Result;
use cyberhub_domain::{ContentItem, ContentType, Difficulty, Track};
use cyberhub_vector::{
    CollectionSpec, Distance, DynVectorStore, Payload, Point, PointId, ScoredPoint,
};

/// The collection the reference server uses for the catalog.
pub const CONTENT_COLLECTION: &str = "content";

/// Texts embedded per inference call while indexing.
pub const INDEX_BATCH: usize = 32;

/// The vector payload of a catalog item.
pub fn content_payload(item: &ContentItem) -> Payload {
    let mut extra = serde_json::Map::new();
    extra.insert("title".into(), item.title.clone().into());
    extra.insert("description".into(), item.description.clone().into());
    if let Some(d) = item.difficulty {
        extra.insert("difficulty".into(), d.as_str().into());
    }
    Payload {
        content_id: Some(item.content_id.clone()),
        content_type: Some(item.content_type.as_str().into()),
        track: item.track.map(|t| t.as_str().into()),
        tags: item.tags.clone(),
        extra,
    }
}

/// A catalog item as read back from a search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogHit {
    /// Vector id (internal content UUID).
    pub point: PointId,
    /// Public key.
    pub content_id: String,
    /// Kind.
    pub content_type: ContentType,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Track.
    pub track: Option<Track>,
    /// Difficulty.
    pub difficulty: Option<Difficulty>,
    /// Cosine similarity to the query.
    pub similarity: f32,
}

impl CatalogHit {
    /// Reads a hit's payload; `None` for points that are not catalog items.
    pub fn from_scored(p: &ScoredPoint) -> Option<Self> {
        let text = |k: &str| {
            p.payload
                .extra
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Some(Self {
            point: p.id,
            content_id: p.payload.content_id.clone()?,
            content_type: p.payload.content_type.as_deref()?.parse().ok()?,
            title: text("title")?,
            description: text("description").unwrap_or_default(),
            track: p.payload.track.as_deref().and_then(|t| t.parse().ok()),
            difficulty: text("difficulty").and_then(|d| d.parse().ok()),
            similarity: p.score,
        })
    }
}

/// Embeds catalog items into a vector collection.
#[derive(Clone)]
pub struct CatalogIndex {
    embedder: DynEmbedder,
    vectors: DynVectorStore,
    collection: String,
}

impl std::fmt::Debug for CatalogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogIndex")
            .field("model", &self.embedder.model_id())
            .field("vectors", &self.vectors.backend())
            .field("collection", &self.collection)
            .finish()
    }
}

impl CatalogIndex {
    /// An index of `collection` in `vectors`, embedded by `embedder`.
    pub fn new(
        embedder: DynEmbedder,
        vectors: DynVectorStore,
        collection: impl Into<String>,
    ) -> Self {
        Self {
            embedder,
            vectors,
            collection: collection.into(),
        }
    }

    /// The embedder.
    pub fn embedder(&self) -> &DynEmbedder {
        &self.embedder
    }

    /// The vector store.
    pub fn vectors(&self) -> &DynVectorStore {
        &self.vectors
    }

    /// The collection name.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Creates the collection (cosine, the embedder's dimension) unless it exists.
    pub async fn ensure_collection(&self) -> Result<()> {
        let spec = CollectionSpec::new(
            self.collection.clone(),
            self.embedder.dimension(),
            Distance::Cosine,
        );
        self.vectors.create_collection(&spec).await?;
        Ok(())
    }

    /// Drops and recreates the collection (a full re-index starts here).
    pub async fn reset(&self) -> Result<()> {
        self.vectors.drop_collection(&self.collection).await?;
        self.ensure_collection().await
    }

    /// Embeds items, [`INDEX_BATCH`] texts per inference call, then upserts their vectors in
    /// one call per [`cyberhub_vector::validate::MAX_BATCH`] points (a vector store's write,
    /// e.g. the embedded store's `fsync`, is paid once, not once per batch).
    pub async fn upsert(&self, items: &[ContentItem]) -> Result<()> {
        for group in items.chunks(cyberhub_vector::validate::MAX_BATCH) {
            let mut points = Vec::with_capacity(group.len());
            for chunk in group.chunks(INDEX_BATCH) {
                let texts: Vec<String> = chunk.iter().map(ContentItem::embedding_text).collect();
                let vectors = self.embedder.embed(&texts).await?;
                points.extend(
                    chunk
                        .iter()
                        .zip(vectors)
                        .map(|(item, v)| Point::new(item.id.0, v, content_payload(item))),
                );
            }
            self.vectors.upsert(&self.collection, points).await?;
        }
        Ok(())
    }

    /// Removes items' vectors.
    pub async fn remove(&self, ids: &[PointId]) -> Result<()> {
        if !ids.is_empty() {
            self.vectors.delete(&self.collection, ids).await?;
        }
        Ok(())
    }

    /// How many items are indexed.
    pub async fn count(&self) -> Result<u64> {
        Ok(self.vectors.count(&self.collection, None).await?)
    }

    /// One text's embedding.
    pub async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embedder.embed(&[text.to_owned()]).await?;
        v.pop()
            .ok_or_else(|| crate::AiError::new(crate::AiErrorKind::Internal, "no embedding"))
    }

    /// Stored items' vectors by id (ids not indexed are left out), one round trip per
    /// 1,024 ids.
    pub async fn vectors_of(
        &self,
        ids: &[PointId],
    ) -> Result<std::collections::HashMap<PointId, Vec<f32>>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(cyberhub_vector::validate::MAX_BATCH) {
            for p in self.vectors.get_many(&self.collection, chunk).await? {
                out.insert(p.id, p.vector);
            }
        }
        Ok(out)
    }
}
