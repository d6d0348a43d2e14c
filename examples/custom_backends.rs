//! Backends from outside this repository: a vector store and an embedder written here, in
//! the example, plugged into the reference server without changing any CyberHub crate.
//!
//! 1. `MemoryVectors` implements [`VectorStore`] (exact search over a map, with the crate's
//!    own input validation) and passes the vector conformance suite every built-in backend
//!    passes.
//! 2. `TrigramEmbedder` implements [`Embedder`] (hashed character trigrams; a stand-in for
//!    your own model, not a semantic one).
//! 3. `ExternalProgress` implements [`ProgressSource`]: learner progress kept by another
//!    system (an LMS, say) that recommendations and analyses read instead of the store.
//! 4. `cyberhub_server::build_with` assembles the server from them (SQLite from the
//!    configuration for the rest); the catalog is indexed into `MemoryVectors` through the
//!    outbox worker, a `POST /api/v1/search` is answered from it, and recommendations are
//!    built on the history `ExternalProgress` reports.
//!
//! ```bash
//! cargo run --example custom_backends
//! ```
// An example: fail loudly (and read JSON answers by index).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use async_trait::async_trait;
use cyberhub_ai::{check_batch, normalize, DynEmbedder, Embedder};
use cyberhub_auth::{AuthError, Caller, ProgressSource};
use cyberhub_domain::{ContentType, Progress, ProgressId, ProgressStatus, UserId};
use cyberhub_vector::conformance::{self, Harness};
use cyberhub_vector::{
    validate, CollectionSpec, Distance, DynVectorStore, Filter, Point, PointId, ScoredPoint,
    SearchRequest, VectorError, VectorStore,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// One collection: its spec and its points by id.
type Collection = (CollectionSpec, BTreeMap<PointId, Point>);

/// An in-memory vector store with exact search.
#[derive(Debug, Default)]
struct MemoryVectors {
    collections: RwLock<HashMap<String, Collection>>,
}

impl MemoryVectors {
    fn spec(&self, name: &str) -> cyberhub_vector::Result<CollectionSpec> {
        validate::collection_name(name)?;
        let map = self.collections.read().unwrap();
        map.get(name)
            .map(|(spec, _)| spec.clone())
            .ok_or_else(|| VectorError::not_found(name))
    }

    fn with_points<T>(
        &self,
        name: &str,
        f: impl FnOnce(&CollectionSpec, &mut BTreeMap<PointId, Point>) -> T,
    ) -> cyberhub_vector::Result<T> {
        let mut map = self.collections.write().unwrap();
        let (spec, points) = map
            .get_mut(name)
            .ok_or_else(|| VectorError::not_found(name))?;
        Ok(f(spec, points))
    }
}

/// The score every backend reports: similarity for cosine and dot, distance for L2.
fn score(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => cyberhub_vector::math::dot(a, b),
        Distance::L2 => cyberhub_vector::math::l2_squared(a, b).sqrt(),
    }
}

#[async_trait]
impl VectorStore for MemoryVectors {
    fn backend(&self) -> &'static str {
        "memory (examples/custom_backends.rs)"
    }

    async fn ping(&self) -> cyberhub_vector::Result<()> {
        Ok(())
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> cyberhub_vector::Result<bool> {
        validate::spec(spec)?;
        let mut map = self.collections.write().unwrap();
        if let Some((existing, _)) = map.get(&spec.name) {
            return validate::existing_collection(existing, spec);
        }
        map.insert(spec.name.clone(), (spec.clone(), BTreeMap::new()));
        Ok(true)
    }

    async fn collection(&self, name: &str) -> cyberhub_vector::Result<CollectionSpec> {
        self.spec(name)
    }

    async fn list_collections(&self) -> cyberhub_vector::Result<Vec<CollectionSpec>> {
        let map = self.collections.read().unwrap();
        let mut specs: Vec<_> = map.values().map(|(spec, _)| spec.clone()).collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    async fn drop_collection(&self, name: &str) -> cyberhub_vector::Result<bool> {
        validate::collection_name(name)?;
        Ok(self.collections.write().unwrap().remove(name).is_some())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> cyberhub_vector::Result<()> {
        let spec = self.spec(collection)?;
        let points = validate::points(&spec, points)?; // all or nothing
        self.with_points(collection, |_, stored| {
            for p in points {
                stored.insert(p.id, p);
            }
        })
    }

    async fn delete(&self, collection: &str, ids: &[PointId]) -> cyberhub_vector::Result<()> {
        validate::batch_len(ids.len())?;
        self.spec(collection)?;
        self.with_points(collection, |_, stored| {
            for id in ids {
                stored.remove(id);
            }
        })
    }

    async fn get(&self, collection: &str, id: PointId) -> cyberhub_vector::Result<Option<Point>> {
        self.spec(collection)?;
        self.with_points(collection, |_, stored| stored.get(&id).cloned())
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> cyberhub_vector::Result<Vec<ScoredPoint>> {
        let spec = self.spec(collection)?;
        let query = validate::search(&spec, request)?;
        self.with_points(collection, |spec, stored| {
            let mut hits: Vec<ScoredPoint> = stored
                .values()
                .filter(|p| {
                    request
                        .filter
                        .as_ref()
                        .is_none_or(|f| f.matches(&p.payload))
                })
                .map(|p| ScoredPoint {
                    id: p.id,
                    score: score(spec.distance, &query, &p.vector),
                    payload: p.payload.clone(),
                })
                .collect();
            let higher_first = spec.distance.higher_is_closer();
            hits.sort_by(|a, b| {
                let by_score = if higher_first {
                    b.score.total_cmp(&a.score)
                } else {
                    a.score.total_cmp(&b.score)
                };
                by_score.then(a.id.cmp(&b.id))
            });
            hits.truncate(request.limit);
            hits
        })
    }

    async fn count(
        &self,
        collection: &str,
        filter: Option<&Filter>,
    ) -> cyberhub_vector::Result<u64> {
        if let Some(f) = filter {
            validate::filter(f)?;
        }
        self.spec(collection)?;
        self.with_points(collection, |_, stored| {
            stored
                .values()
                .filter(|p| filter.is_none_or(|f| f.matches(&p.payload)))
                .count() as u64
        })
    }
}

/// Every `open` hands out the same store: it lives as long as the process.
struct SameStore(DynVectorStore);

#[async_trait]
impl Harness for SameStore {
    async fn open(&self) -> DynVectorStore {
        self.0.clone()
    }
}

/// Hashed character trigrams of the lower-cased text, L2-normalised.
#[derive(Debug)]
struct TrigramEmbedder;

const TRIGRAM_DIMENSION: usize = 256;

#[async_trait]
impl Embedder for TrigramEmbedder {
    fn model_id(&self) -> &str {
        "example/trigram-256"
    }

    fn dimension(&self) -> usize {
        TRIGRAM_DIMENSION
    }

    async fn embed(&self, texts: &[String]) -> cyberhub_ai::Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        Ok(texts
            .iter()
            .map(|t| {
                let chars: Vec<char> = format!("  {}  ", t.to_lowercase()).chars().collect();
                let mut v = vec![0f32; TRIGRAM_DIMENSION];
                for w in chars.windows(3) {
                    // FNV-1a over the three characters
                    let mut h: u32 = 0x811c_9dc5;
                    for c in w {
                        h = (h ^ *c as u32).wrapping_mul(0x0100_0193);
                    }
                    if let Some(x) = v.get_mut(h as usize % TRIGRAM_DIMENSION) {
                        *x += 1.0;
                    }
                }
                if let Some(x) = v.first_mut() {
                    *x += 1e-3; // never the zero vector
                }
                normalize(&mut v);
                v
            })
            .collect())
    }
}

/// Learner progress kept outside CyberHub's store: rows by learner, and how often it was asked.
#[derive(Debug, Default)]
struct ExternalProgress {
    rows: Mutex<HashMap<UserId, Vec<Progress>>>,
    asked: AtomicUsize,
}

impl ExternalProgress {
    /// Records that `user` completed the catalog item `content_id`.
    fn completed(&self, user: UserId, content_id: &str, content_type: ContentType) {
        let now = cyberhub_domain::Clock::now(&cyberhub_domain::SystemClock);
        self.rows
            .lock()
            .unwrap()
            .entry(user)
            .or_default()
            .push(Progress {
                id: ProgressId(uuid::Uuid::new_v4()),
                user_id: user,
                content_id: content_id.to_owned(),
                content_type,
                status: ProgressStatus::Completed,
                completion_percentage: 100.0,
                score: Some(90.0),
                metadata: json!({}),
                started_at: Some(now),
                completed_at: Some(now),
                created_at: now,
                updated_at: now,
            });
    }
}

#[async_trait]
impl ProgressSource for ExternalProgress {
    async fn progress(
        &self,
        _caller: Caller<'_>,
        user: UserId,
    ) -> Result<Vec<Progress>, AuthError> {
        // The application layer has already decided that the caller may read `user`'s data.
        self.asked.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .rows
            .lock()
            .unwrap()
            .get(&user)
            .cloned()
            .unwrap_or_default())
    }
}

#[tokio::main]
async fn main() {
    // 1. The vector store passes the conformance suite of the built-in backends.
    let vectors: DynVectorStore = Arc::new(MemoryVectors::default());
    // Every case of the suite but persistence_across_reopen: every `open` here hands out
    // the same in-memory store, so that case could not fail (a durable store of your own
    // should run it). `run_all` takes the suite's own list, so a new case is run here too.
    conformance::run_all(SameStore(vectors.clone()), &["persistence_across_reopen"]).await;
    println!("MemoryVectors: the vector conformance suite passed");

    // 2. The reference server on it, with the example's embedder (SQLite for the rest).
    let dir =
        std::env::temp_dir().join(format!("cyberhub-custom-{}", uuid::Uuid::new_v4().simple()));
    let embedder: DynEmbedder = Arc::new(TrigramEmbedder);
    let config = cyberhub_server::Config {
        database_url: format!("sqlite://{}/cyberhub.db", dir.display()),
        jwt_secret: Some(
            "custom-backends-example-secret-0123456789"
                .to_owned()
                .into(),
        ),
        admin_email: Some("admin@example.org".into()),
        admin_password: Some("custom-backends-admin-2026".to_owned().into()),
        index_poll_ms: 100,
        ..Default::default()
    };
    let progress = Arc::new(ExternalProgress::default());
    let backends = cyberhub_server::Backends {
        vectors: Some(vectors.clone()),
        embedder: Some(embedder),
        progress: Some(progress.clone()),
        ..Default::default()
    };
    let server = cyberhub_server::build_with(config, backends)
        .await
        .expect("the server builds on the example's backends")
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the server starts");
    let base = format!("{}/api/v1", server.base_url());
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut rb = http.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await.expect("request sent");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, login) = call(
        reqwest::Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": "admin@example.org", "password": "custom-backends-admin-2026"})),
    )
    .await;
    assert_eq!(st, 200, "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();

    // The outbox worker indexes the seed catalog into MemoryVectors.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        let (st, s) = call(reqwest::Method::GET, "/index/status", Some(&token), None).await;
        assert_eq!(st, 200, "{s}");
        if s["pending"] == 0 && s["catalog"].as_u64() > Some(0) && s["indexed"] == s["catalog"] {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "catalog not indexed: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stored = vectors
        .count(cyberhub_ai::CONTENT_COLLECTION, None)
        .await
        .unwrap();
    assert_eq!(Some(stored), status["indexed"].as_u64(), "{status}");
    println!(
        "indexed {stored} catalog items into {} with {}",
        status["vector_backend"], status["model"]
    );

    let (st, found) = call(
        reqwest::Method::POST,
        "/search",
        Some(&token),
        Some(json!({"query": "incident response in a security operations center", "limit": 3})),
    )
    .await;
    assert_eq!(st, 200, "{found}");
    let results = found["results"].as_array().expect("results");
    assert!(!results.is_empty(), "{found}");
    for r in results {
        println!(
            "  {:.3}  {}",
            r["score"].as_f64().unwrap_or(0.0),
            r["title"]
        );
    }

    // Recommendations read the history ExternalProgress reports (nothing is in the store):
    // with the top search hit completed there, the learner is no longer a cold start and
    // that item is never recommended again.
    let admin: UserId = serde_json::from_value(login["user"]["id"].clone()).unwrap();
    let done = results[0]["content_id"].as_str().unwrap();
    let kind: ContentType = serde_json::from_value(results[0]["content_type"].clone()).unwrap();
    let (st, cold) = call(
        reqwest::Method::GET,
        &format!("/recommendations/{}", admin.0),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st, 200, "{cold}");
    assert_eq!(cold["cold_start"], true, "no history yet: {cold}");
    progress.completed(admin, done, kind);
    let (st, recs) = call(
        reqwest::Method::GET,
        &format!("/recommendations/{}", admin.0),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st, 200, "{recs}");
    assert_eq!(
        recs["cold_start"], false,
        "history from ExternalProgress: {recs}"
    );
    let picks = recs["recommendations"].as_array().expect("recommendations");
    assert!(!picks.is_empty(), "{recs}");
    assert!(
        picks.iter().all(|r| r["content_id"] != done),
        "a completed item is never recommended: {recs}"
    );
    assert!(progress.asked.load(Ordering::Relaxed) >= 2);
    println!(
        "recommendations built on ExternalProgress ({} picks, {done} left out)",
        picks.len()
    );

    server.stop().await.expect("the server stops");
    std::fs::remove_dir_all(dir).ok();
    println!("custom backends: served a search and recommendations through the example's vector store, embedder and progress source");
}
