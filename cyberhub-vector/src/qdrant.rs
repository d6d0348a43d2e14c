//! The Qdrant backend over gRPC (`qdrant-client`): one Qdrant collection per collection, a
//! single unnamed dense vector, keyword payload indexes on the filterable fields, every write
//! with `wait = true` (acknowledged only once applied).
//!
//! Payload layout in Qdrant: `content_id`, `content_type`, `track`, `tags` at the top level
//! (indexed, filterable) and the free-form JSON under `extra`.

use crate::spec_cache::SpecCache;
use crate::{
    validate, CollectionSpec, Condition, Distance, Filter, Payload, Point, PointId, Result,
    ScoredPoint, SearchRequest, VectorError, VectorErrorKind, VectorStore,
};
use qdrant_client::qdrant::{
    self as q, point_id::PointIdOptions, vector_output, vectors_config, CountPointsBuilder,
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder, FieldType,
    GetPointsBuilder, PointStruct, PointsIdsList, QueryPointsBuilder, SearchParamsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Qdrant, QdrantError};
use std::collections::HashMap;
use std::time::Duration;

/// Default `hnsw_ef` for searches.
const EF_SEARCH: usize = 128;

/// A Qdrant server reached over gRPC (see the module docs).
pub struct QdrantStore {
    client: Qdrant,
    endpoint: String,
    specs: SpecCache,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn q_err(what: &str, e: QdrantError) -> VectorError {
    let kind = match &e {
        QdrantError::ResponseError { status } => match status.code() {
            tonic::Code::NotFound => VectorErrorKind::CollectionNotFound,
            tonic::Code::AlreadyExists => VectorErrorKind::CollectionExists,
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => VectorErrorKind::InvalidInput,
            tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted
            | tonic::Code::Cancelled => VectorErrorKind::Unavailable,
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                VectorErrorKind::ConfigInvalid
            }
            _ => VectorErrorKind::Internal,
        },
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => {
            VectorErrorKind::Unavailable
        }
        QdrantError::InvalidUri(_) => VectorErrorKind::ConfigInvalid,
        _ => VectorErrorKind::Internal,
    };
    let message = match kind {
        VectorErrorKind::Unavailable => format!("Qdrant is not available ({what})"),
        VectorErrorKind::ConfigInvalid => {
            format!("Qdrant refused the client's configuration ({what})")
        }
        _ => format!("Qdrant error while {what}"),
    };
    VectorError::new(kind, message).with_source(e)
}

fn to_q_distance(d: Distance) -> q::Distance {
    match d {
        Distance::Cosine => q::Distance::Cosine,
        Distance::Dot => q::Distance::Dot,
        Distance::L2 => q::Distance::Euclid,
    }
}

fn to_q_condition(c: &Condition) -> q::Condition {
    match c {
        Condition::Eq(f, v) => q::Condition::matches(f.key(), v.clone()),
        Condition::In(f, vs) => q::Condition::matches(f.key(), vs.clone()),
    }
}

fn to_q_filter(f: &Filter) -> q::Filter {
    q::Filter {
        must: f.must.iter().map(to_q_condition).collect(),
        must_not: f.must_not.iter().map(to_q_condition).collect(),
        ..Default::default()
    }
}

fn to_q_payload(p: &Payload) -> Result<qdrant_client::Payload> {
    let json = serde_json::to_value(p)
        .map_err(|e| VectorError::internal("cannot encode a payload").with_source(e))?;
    qdrant_client::Payload::try_from(json).map_err(|e| q_err("encoding a payload", e))
}

fn from_q_payload(p: HashMap<String, q::Value>) -> Result<Payload> {
    qdrant_client::Payload::from(p).deserialize().map_err(|e| {
        VectorError::internal("Qdrant returned a payload this crate did not write").with_source(e)
    })
}

fn from_q_id(id: Option<q::PointId>) -> Result<PointId> {
    match id.and_then(|i| i.point_id_options) {
        Some(PointIdOptions::Uuid(s)) => s.parse().map_err(|_| {
            VectorError::internal(format!("Qdrant returned a malformed point id {s:?}"))
        }),
        other => Err(VectorError::internal(format!(
            "Qdrant returned a point id this crate did not write: {other:?}"
        ))),
    }
}

fn q_id(id: PointId) -> q::PointId {
    q::PointId::from(id.to_string())
}

impl QdrantStore {
    /// A client for the gRPC endpoint `http://host:6334` (`api_key` for Qdrant Cloud or a
    /// secured server). Checks that the server answers.
    pub async fn connect(endpoint: &str, api_key: Option<String>) -> Result<Self> {
        let client = Qdrant::from_url(endpoint)
            .api_key(api_key)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .map_err(|e| q_err("configuring the client", e))?;
        let store = Self {
            client,
            endpoint: endpoint.to_owned(),
            specs: SpecCache::default(),
        };
        store.ping().await?;
        Ok(store)
    }

    /// The underlying client.
    pub fn client(&self) -> &Qdrant {
        &self.client
    }

    async fn fetch_spec(&self, name: &str) -> Result<Option<CollectionSpec>> {
        if !self
            .client
            .collection_exists(name)
            .await
            .map_err(|e| q_err("checking a collection", e))?
        {
            return Ok(None);
        }
        let info = self
            .client
            .collection_info(name)
            .await
            .map_err(|e| q_err("reading a collection", e))?;
        let params = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        match params {
            Some(vectors_config::Config::Params(p)) => {
                let distance = match q::Distance::try_from(p.distance) {
                    Ok(q::Distance::Cosine) => Distance::Cosine,
                    Ok(q::Distance::Dot) => Distance::Dot,
                    Ok(q::Distance::Euclid) => Distance::L2,
                    _ => {
                        return Err(VectorError::new(
                            VectorErrorKind::Internal,
                            format!(
                                "collection {name:?} uses a distance this crate does not support"
                            ),
                        ))
                    }
                };
                Ok(Some(CollectionSpec {
                    name: name.to_owned(),
                    dimension: usize::try_from(p.size).unwrap_or(0),
                    distance,
                }))
            }
            _ => Err(VectorError::internal(format!(
                "collection {name:?} does not have a single unnamed dense vector"
            ))),
        }
    }

    async fn spec(&self, name: &str) -> Result<CollectionSpec> {
        validate::collection_name(name).map_err(|_| VectorError::not_found(name))?;
        self.specs.get_or_load(name, || self.fetch_spec(name)).await
    }
}

#[async_trait::async_trait]
impl VectorStore for QdrantStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    async fn ping(&self) -> Result<()> {
        self.client
            .health_check()
            .await
            .map(|_| ())
            .map_err(|e| q_err("checking health", e))
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<bool> {
        validate::spec(spec)?;
        if let Some(existing) = self.fetch_spec(&spec.name).await? {
            return validate::existing_collection(&existing, spec);
        }
        let created = self
            .client
            .create_collection(CreateCollectionBuilder::new(&spec.name).vectors_config(
                VectorParamsBuilder::new(spec.dimension as u64, to_q_distance(spec.distance)),
            ))
            .await;
        if let Err(e) = created {
            let err = q_err("creating a collection", e);
            // Lost a race with another creator: report as if we had looked first.
            if matches!(
                err.kind(),
                VectorErrorKind::CollectionExists | VectorErrorKind::InvalidInput
            ) {
                if let Some(existing) = self.fetch_spec(&spec.name).await? {
                    return validate::existing_collection(&existing, spec);
                }
            }
            return Err(err);
        }
        for field in crate::KeywordField::ALL {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(
                        &spec.name,
                        field.key(),
                        FieldType::Keyword,
                    )
                    .wait(true),
                )
                .await
                .map_err(|e| q_err("creating a payload index", e))?;
        }
        self.specs.forget(&spec.name);
        Ok(true)
    }

    async fn collection(&self, name: &str) -> Result<CollectionSpec> {
        self.fetch_spec(name)
            .await?
            .ok_or_else(|| VectorError::not_found(name))
    }

    async fn list_collections(&self) -> Result<Vec<CollectionSpec>> {
        let list = self
            .client
            .list_collections()
            .await
            .map_err(|e| q_err("listing collections", e))?;
        let mut names: Vec<String> = list.collections.into_iter().map(|c| c.name).collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if validate::collection_name(&name).is_err() {
                continue;
            }
            // Collections of other shapes (named or sparse vectors) are not ours; skip them.
            if let Ok(Some(spec)) = self.fetch_spec(&name).await {
                out.push(spec);
            }
        }
        Ok(out)
    }

    async fn drop_collection(&self, name: &str) -> Result<bool> {
        self.specs.forget(name);
        if validate::collection_name(name).is_err() {
            return Ok(false);
        }
        let existed = self
            .client
            .collection_exists(name)
            .await
            .map_err(|e| q_err("checking a collection", e))?;
        if !existed {
            return Ok(false);
        }
        match self.client.delete_collection(name).await {
            Ok(r) => Ok(r.result),
            Err(e) => {
                let err = q_err("deleting a collection", e);
                if err.kind() == VectorErrorKind::CollectionNotFound {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        let spec = self.spec(collection).await?;
        let points = validate::points(&spec, points)?;
        let mut q_points = Vec::with_capacity(points.len());
        for p in points {
            q_points.push(PointStruct::new(
                q_id(p.id),
                p.vector,
                to_q_payload(&p.payload)?,
            ));
        }
        self.client
            .upsert_points(UpsertPointsBuilder::new(collection, q_points).wait(true))
            .await
            .map(|_| ())
            .map_err(|e| self.specs.missing(collection, q_err("writing points", e)))
    }

    async fn delete(&self, collection: &str, ids: &[PointId]) -> Result<()> {
        validate::batch_len(ids.len())?;
        self.spec(collection).await?;
        let ids = PointsIdsList {
            ids: ids.iter().copied().map(q_id).collect(),
        };
        self.client
            .delete_points(DeletePointsBuilder::new(collection).points(ids).wait(true))
            .await
            .map(|_| ())
            .map_err(|e| self.specs.missing(collection, q_err("deleting points", e)))
    }

    async fn get(&self, collection: &str, id: PointId) -> Result<Option<Point>> {
        self.spec(collection).await?;
        let res = self
            .client
            .get_points(
                GetPointsBuilder::new(collection, vec![q_id(id)])
                    .with_vectors(true)
                    .with_payload(true),
            )
            .await
            .map_err(|e| self.specs.missing(collection, q_err("reading a point", e)))?;
        let Some(p) = res.result.into_iter().next() else {
            return Ok(None);
        };
        let vector = match p.vectors.and_then(|v| v.get_vector()) {
            Some(vector_output::Vector::Dense(d)) => d.data,
            _ => {
                return Err(VectorError::internal(
                    "Qdrant returned a point without a dense vector",
                ))
            }
        };
        Ok(Some(Point {
            id: from_q_id(p.id)?,
            vector,
            payload: from_q_payload(p.payload)?,
        }))
    }

    async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        let spec = self.spec(collection).await?;
        let v = validate::search(&spec, request)?;
        let params = SearchParamsBuilder::default()
            .hnsw_ef(request.ef.unwrap_or(EF_SEARCH).max(request.limit) as u64)
            .exact(request.exact);
        let mut query = QueryPointsBuilder::new(collection)
            .query(q::Query::new_nearest(v))
            .limit(request.limit as u64)
            .with_payload(true)
            .params(params);
        if let Some(f) = request.filter.as_ref().filter(|f| !f.is_empty()) {
            query = query.filter(to_q_filter(f));
        }
        let res = self
            .client
            .query(query)
            .await
            .map_err(|e| self.specs.missing(collection, q_err("searching", e)))?;
        res.result
            .into_iter()
            .map(|p| {
                Ok(ScoredPoint {
                    id: from_q_id(p.id)?,
                    score: p.score,
                    payload: from_q_payload(p.payload)?,
                })
            })
            .collect()
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64> {
        if let Some(f) = filter {
            validate::filter(f)?;
        }
        self.spec(collection).await?;
        let mut req = CountPointsBuilder::new(collection).exact(true);
        if let Some(f) = filter.filter(|f| !f.is_empty()) {
            req = req.filter(to_q_filter(f));
        }
        let res = self
            .client
            .count(req)
            .await
            .map_err(|e| self.specs.missing(collection, q_err("counting points", e)))?;
        Ok(res.result.map(|r| r.count).unwrap_or(0))
    }
}
