//! The pgvector backend: one table per collection (`cvec_<name>`, `embedding vector(d)`), an
//! HNSW index with the collection's operator class, btree/GIN indexes on the keyword fields,
//! and a catalog table. The schema is created and migrated by [`PgVectorStore::connect`].
//!
//! Filtered searches run with `hnsw.iterative_scan = relaxed_order`, so the index keeps
//! scanning until `limit` rows pass the filter; results are re-sorted by distance, and when
//! the scan still comes back short (`hnsw.max_scan_tuples`) an exact scan answers instead.

use crate::spec_cache::SpecCache;
use crate::{
    validate, CollectionSpec, Condition, Distance, Filter, KeywordField, Payload, Point, PointId,
    Result, ScoredPoint, SearchRequest, VectorError, VectorErrorKind, VectorStore,
};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use std::time::Duration;

/// Largest dimension pgvector can index with HNSW; larger collections are searched exactly.
pub const HNSW_MAX_DIMENSION: usize = 2000;
/// HNSW build parameters (pgvector's `m`, `ef_construction`).
const HNSW_M: u32 = 24;
const HNSW_EF_CONSTRUCTION: u32 = 100;
/// Default `hnsw.ef_search` (pgvector's own default, 40, gives recall@10 ≈ 0.5 on random
/// 384-d data).
const EF_SEARCH: usize = 300;

/// Schema steps, applied in order once each (append-only).
const MIGRATIONS: &[&str] = &["CREATE EXTENSION IF NOT EXISTS vector;
     CREATE TABLE IF NOT EXISTS cyberhub_vector_collections (
         name text PRIMARY KEY,
         dimension integer NOT NULL CHECK (dimension > 0),
         distance text NOT NULL CHECK (distance IN ('cosine', 'dot', 'l2')),
         created_at timestamptz NOT NULL DEFAULT now()
     );"];

/// PostgreSQL + pgvector (see the module docs).
#[derive(Debug)]
pub struct PgVectorStore {
    pool: PgPool,
    specs: SpecCache,
}

fn db_err(what: &str, e: sqlx::Error) -> VectorError {
    let (kind, message) = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => (
            VectorErrorKind::Unavailable,
            format!("PostgreSQL is not available ({what})"),
        ),
        sqlx::Error::Configuration(_) => (
            VectorErrorKind::ConfigInvalid,
            "invalid pgvector URL".to_owned(),
        ),
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => (
            VectorErrorKind::CollectionNotFound,
            format!("collection not found ({what})"),
        ),
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("40001" | "40P01" | "53300")) =>
        {
            (
                VectorErrorKind::Unavailable,
                format!("PostgreSQL is busy ({what}); try again"),
            )
        }
        _ => (
            VectorErrorKind::Internal,
            format!("PostgreSQL error while {what}"),
        ),
    };
    VectorError::new(kind, message).with_source(e)
}

/// Splits a script into statements, to run one prepared statement at a time (`raw_sql`
/// futures are not `Send`, which `async_trait` needs). Our scripts have no `;` in literals.
fn statements(script: &str) -> impl Iterator<Item = &str> {
    script.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn table(name: &str) -> String {
    format!("\"cvec_{name}\"")
}

impl PgVectorStore {
    /// Connects to `postgres://…`, creates the `vector` extension if missing and migrates the
    /// catalog (under an advisory lock, so concurrent starts are safe).
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| db_err("connecting", e))?;
        Self::with_pool(pool).await
    }

    /// Uses an existing pool (e.g. the relational store's) and migrates.
    pub async fn with_pool(pool: PgPool) -> Result<Self> {
        let mut tx = pool.begin().await.map_err(|e| db_err("migrating", e))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('cyberhub_vector_schema'))")
            .execute(&mut *tx)
            .await
            .map_err(|e| db_err("migrating", e))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS cyberhub_vector_schema (
                 version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| db_err("migrating", e))?;
        let applied: Option<i32> =
            sqlx::query_scalar("SELECT max(version) FROM cyberhub_vector_schema")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| db_err("migrating", e))?;
        for (i, step) in MIGRATIONS.iter().enumerate() {
            let version = i as i32 + 1;
            if applied.is_some_and(|a| a >= version) {
                continue;
            }
            for stmt in statements(step) {
                sqlx::query(stmt).execute(&mut *tx).await.map_err(|e| {
                    let err = db_err("migrating", e);
                    if err.kind() != VectorErrorKind::Internal {
                        return err;
                    }
                    VectorError::new(
                        VectorErrorKind::ConfigInvalid,
                        "cannot set up the pgvector schema: is the `vector` extension installed \
                         on this server, and may this role create it?",
                    )
                    .with_source(err)
                })?;
            }
            sqlx::query("INSERT INTO cyberhub_vector_schema (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err("migrating", e))?;
        }
        tx.commit().await.map_err(|e| db_err("migrating", e))?;
        Ok(Self {
            pool,
            specs: SpecCache::default(),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Drops a collection's HNSW index, for a bulk load: inserting without the index and
    /// building it once with [`PgVectorStore::build_index`] is many times faster than
    /// maintaining it row by row. Searches are exact (and slow) until the index is back.
    pub async fn drop_index(&self, collection: &str) -> Result<()> {
        self.spec(collection).await?;
        sqlx::query(&format!("DROP INDEX IF EXISTS {}", hnsw_index(collection)))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| db_err("dropping an index", e))
    }

    /// (Re)builds a collection's HNSW index if it is missing (see [`PgVectorStore::drop_index`]).
    pub async fn build_index(&self, collection: &str) -> Result<()> {
        let spec = self.spec(collection).await?;
        if spec.dimension > HNSW_MAX_DIMENSION {
            return Ok(());
        }
        sqlx::query(hnsw_ddl(&spec).trim_end_matches(';'))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| db_err("building an index", e))
    }

    async fn spec(&self, name: &str) -> Result<CollectionSpec> {
        self.specs.get_or_load(name, || self.load_spec(name)).await
    }

    async fn load_spec(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let row = sqlx::query(
            "SELECT name, dimension, distance FROM cyberhub_vector_collections WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_err("reading the catalog", e))?;
        row.map(|r| spec_from_row(&r)).transpose()
    }
}

fn spec_from_row(r: &PgRow) -> Result<CollectionSpec> {
    let bad = |e: sqlx::Error| db_err("reading the catalog", e);
    let distance: String = r.try_get("distance").map_err(bad)?;
    let dimension: i32 = r.try_get("dimension").map_err(bad)?;
    Ok(CollectionSpec {
        name: r.try_get("name").map_err(bad)?,
        dimension: usize::try_from(dimension).unwrap_or(0),
        distance: Distance::parse(&distance).ok_or_else(|| {
            VectorError::internal(format!("unknown distance {distance:?} in the catalog"))
        })?,
    })
}

/// `(operator, operator class)` for a distance.
fn ops(d: Distance) -> (&'static str, &'static str) {
    match d {
        Distance::Cosine => ("<=>", "vector_cosine_ops"),
        Distance::Dot => ("<#>", "vector_ip_ops"),
        Distance::L2 => ("<->", "vector_l2_ops"),
    }
}

fn hnsw_index(name: &str) -> String {
    format!("\"cvec_{name}_hnsw\"")
}

fn hnsw_ddl(spec: &CollectionSpec) -> String {
    let (_, opclass) = ops(spec.distance);
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding {opclass}) \
         WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION});",
        hnsw_index(&spec.name),
        table(&spec.name)
    )
}

fn push_condition(qb: &mut QueryBuilder<'_, Postgres>, c: &Condition) {
    let values = c.values().to_vec();
    match c.field() {
        KeywordField::Tag => {
            qb.push("tags && ").push_bind(values);
        }
        f => {
            qb.push("coalesce(")
                .push(f.key())
                .push(" = ANY(")
                .push_bind(values)
                .push("), false)");
        }
    }
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: Option<&Filter>) {
    qb.push(" WHERE true");
    let Some(f) = filter else { return };
    for c in &f.must {
        qb.push(" AND ");
        push_condition(qb, c);
    }
    for c in &f.must_not {
        qb.push(" AND NOT ");
        push_condition(qb, c);
    }
}

fn payload_from_row(r: &PgRow) -> Result<Payload> {
    let bad = |e: sqlx::Error| db_err("reading points", e);
    let extra: sqlx::types::Json<serde_json::Map<String, serde_json::Value>> =
        r.try_get("extra").map_err(bad)?;
    Ok(Payload {
        content_id: r.try_get("content_id").map_err(bad)?,
        content_type: r.try_get("content_type").map_err(bad)?,
        track: r.try_get("track").map_err(bad)?,
        tags: r.try_get("tags").map_err(bad)?,
        extra: extra.0,
    })
}

#[async_trait::async_trait]
impl VectorStore for PgVectorStore {
    fn backend(&self) -> &'static str {
        "pgvector"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| db_err("checking the connection", e))
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<bool> {
        validate::spec(spec)?;
        let err = |e| db_err("creating a collection", e);
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('cyberhub_vector_collection:' || $1))")
            .bind(&spec.name)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let existing = sqlx::query(
            "SELECT name, dimension, distance FROM cyberhub_vector_collections WHERE name = $1",
        )
        .bind(&spec.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        if let Some(row) = existing {
            let existing = spec_from_row(&row)?;
            return validate::existing_collection(&existing, spec);
        }
        let t = table(&spec.name);
        let mut ddl = format!(
            "DROP TABLE IF EXISTS {t};
             CREATE TABLE {t} (
                 id uuid PRIMARY KEY,
                 embedding vector({dim}) NOT NULL,
                 content_id text,
                 content_type text,
                 track text,
                 tags text[] NOT NULL DEFAULT '{{}}',
                 extra jsonb NOT NULL DEFAULT '{{}}'
             );
             CREATE INDEX ON {t} (content_id);
             CREATE INDEX ON {t} (content_type);
             CREATE INDEX ON {t} (track);
             CREATE INDEX ON {t} USING gin (tags);",
            dim = spec.dimension
        );
        if spec.dimension <= HNSW_MAX_DIMENSION {
            ddl.push_str(&hnsw_ddl(spec));
        } else {
            tracing::warn!(collection = %spec.name, dimension = spec.dimension,
                "pgvector cannot index more than {HNSW_MAX_DIMENSION} dimensions with HNSW; searches are exact");
        }
        for stmt in statements(&ddl) {
            sqlx::query(stmt).execute(&mut *tx).await.map_err(err)?;
        }
        sqlx::query("INSERT INTO cyberhub_vector_collections (name, dimension, distance) VALUES ($1, $2, $3)")
            .bind(&spec.name)
            .bind(spec.dimension as i32)
            .bind(spec.distance.as_str())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        self.specs.forget(&spec.name);
        Ok(true)
    }

    async fn collection(&self, name: &str) -> Result<CollectionSpec> {
        self.load_spec(name)
            .await?
            .ok_or_else(|| VectorError::not_found(name))
    }

    async fn list_collections(&self) -> Result<Vec<CollectionSpec>> {
        let rows = sqlx::query(
            "SELECT name, dimension, distance FROM cyberhub_vector_collections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_err("reading the catalog", e))?;
        rows.iter().map(spec_from_row).collect()
    }

    async fn drop_collection(&self, name: &str) -> Result<bool> {
        if validate::collection_name(name).is_err() {
            return Ok(false);
        }
        let err = |e| db_err("dropping a collection", e);
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('cyberhub_vector_collection:' || $1))")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let gone = sqlx::query("DELETE FROM cyberhub_vector_collections WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(err)?
            .rows_affected();
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", table(name)))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        self.specs.forget(name);
        Ok(gone > 0)
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        let spec = self.spec(collection).await?;
        let points = validate::points(&spec, points)?;
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
            "INSERT INTO {} (id, embedding, content_id, content_type, track, tags, extra) ",
            table(collection)
        ));
        qb.push_values(points, |mut b, p| {
            b.push_bind(p.id)
                .push_bind(pgvector::Vector::from(p.vector))
                .push_bind(p.payload.content_id)
                .push_bind(p.payload.content_type)
                .push_bind(p.payload.track)
                .push_bind(p.payload.tags)
                .push_bind(sqlx::types::Json(p.payload.extra));
        });
        qb.push(
            " ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, \
             content_id = EXCLUDED.content_id, content_type = EXCLUDED.content_type, \
             track = EXCLUDED.track, tags = EXCLUDED.tags, extra = EXCLUDED.extra",
        );
        qb.build()
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.specs.missing(collection, db_err("writing points", e)))
    }

    async fn delete(&self, collection: &str, ids: &[PointId]) -> Result<()> {
        validate::batch_len(ids.len())?;
        self.spec(collection).await?;
        sqlx::query(&format!(
            "DELETE FROM {} WHERE id = ANY($1)",
            table(collection)
        ))
        .bind(ids)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| self.specs.missing(collection, db_err("deleting points", e)))
    }

    async fn get(&self, collection: &str, id: PointId) -> Result<Option<Point>> {
        self.spec(collection).await?;
        let row = sqlx::query(&format!(
            "SELECT id, embedding, content_id, content_type, track, tags, extra FROM {} WHERE id = $1",
            table(collection)
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.specs.missing(collection, db_err("reading a point", e)))?;
        let Some(r) = row else { return Ok(None) };
        let vector: pgvector::Vector = r
            .try_get("embedding")
            .map_err(|e| db_err("reading a point", e))?;
        Ok(Some(Point {
            id,
            vector: vector.to_vec(),
            payload: payload_from_row(&r)?,
        }))
    }

    async fn get_many(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        validate::batch_len(ids.len())?;
        self.spec(collection).await?;
        let rows = sqlx::query(&format!(
            "SELECT id, embedding, content_id, content_type, track, tags, extra FROM {} WHERE id = ANY($1)",
            table(collection)
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.specs.missing(collection, db_err("reading points", e)))?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let id: PointId = r.try_get("id").map_err(|e| db_err("reading points", e))?;
            let vector: pgvector::Vector = r
                .try_get("embedding")
                .map_err(|e| db_err("reading points", e))?;
            by_id.insert(
                id,
                Point {
                    id,
                    vector: vector.to_vec(),
                    payload: payload_from_row(&r)?,
                },
            );
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        let spec = self.spec(collection).await?;
        let q = pgvector::Vector::from(validate::search(&spec, request)?);
        let filter = request.filter.as_ref().filter(|f| !f.is_empty());
        let k = request.limit;
        let ef = request.ef.unwrap_or(EF_SEARCH).max(k);
        let mut hits = self.query(&spec, &q, filter, k, ef, request.exact).await?;
        if !request.exact && hits.len() < k && filter.is_some() {
            // The iterative scan stopped early (`hnsw.max_scan_tuples`): answer exactly.
            hits = self.query(&spec, &q, filter, k, ef, true).await?;
        }
        Ok(hits)
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64> {
        if let Some(f) = filter {
            validate::filter(f)?;
        }
        self.spec(collection).await?;
        let mut qb = QueryBuilder::new(format!("SELECT count(*) FROM {}", table(collection)));
        push_filter(&mut qb, filter.filter(|f| !f.is_empty()));
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.specs.missing(collection, db_err("counting points", e)))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl PgVectorStore {
    async fn query(
        &self,
        spec: &CollectionSpec,
        q: &pgvector::Vector,
        filter: Option<&Filter>,
        k: usize,
        ef: usize,
        exact: bool,
    ) -> Result<Vec<ScoredPoint>> {
        let (op, _) = ops(spec.distance);
        let err = |e| self.specs.missing(&spec.name, db_err("searching", e));
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query(
            "SELECT set_config('hnsw.ef_search', $1, true), \
                    set_config('hnsw.iterative_scan', 'relaxed_order', true)",
        )
        .bind(ef.min(1000).to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let mut qb = QueryBuilder::new(format!(
            "SELECT id, content_id, content_type, track, tags, extra, embedding {op} "
        ));
        qb.push_bind(q.clone())
            .push(" AS d FROM ")
            .push(table(&spec.name));
        push_filter(&mut qb, filter);
        // `+ 0` hides the expression from the planner's index matching: an exact scan.
        qb.push(format!(" ORDER BY (embedding {op} "))
            .push_bind(q.clone())
            .push(if exact { ") + 0" } else { ")" })
            .push(" LIMIT ")
            .push_bind(k as i64);
        let rows = qb.build().fetch_all(&mut *tx).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        let mut hits = Vec::with_capacity(rows.len());
        for r in &rows {
            let d: f64 = r.try_get("d").map_err(|e| db_err("searching", e))?;
            let score = match spec.distance {
                Distance::Cosine => 1.0 - d,
                Distance::Dot => -d,
                Distance::L2 => d,
            };
            hits.push((
                d,
                ScoredPoint {
                    id: r.try_get("id").map_err(|e| db_err("searching", e))?,
                    score: score as f32,
                    payload: payload_from_row(r)?,
                },
            ));
        }
        // relaxed_order may return rows slightly out of order.
        hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        Ok(hits.into_iter().map(|(_, h)| h).collect())
    }
}
