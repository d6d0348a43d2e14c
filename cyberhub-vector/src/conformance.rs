//! The backend conformance suite (feature `conformance`): every [`VectorStore`] backend must
//! pass it. Each case is a public `async fn(&dyn Harness)` that panics on failure; a backend's
//! test crate runs them all with one macro call:
//!
//! ```ignore
//! struct Embedded(std::path::PathBuf);
//! #[async_trait::async_trait]
//! impl cyberhub_vector::conformance::Harness for Embedded {
//!     async fn open(&self) -> cyberhub_vector::DynVectorStore {
//!         std::sync::Arc::new(cyberhub_vector::EmbeddedStore::open(&self.0).await.unwrap())
//!     }
//! }
//! async fn harness() -> Option<Embedded> { Some(Embedded(tempdir())) }
//! cyberhub_vector::vector_conformance_tests!(harness);
//! ```
//!
//! A factory returning `None` skips the case (only outside CI: see [`service_url`]). Cases
//! use collections with random names and drop them when they pass, so one server can host
//! every case at once.
// Test-support code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use crate::validate::MAX_BATCH;
use crate::{
    CollectionSpec, Condition, Distance, DynVectorStore, Filter, KeywordField, Payload, Point,
    PointId, SearchRequest, VectorErrorKind,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Opens handles on one backend instance. `open` may be called again after every earlier
/// handle is dropped; a durable backend must then show everything written before.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    async fn open(&self) -> DynVectorStore;
}

/// Reads a service URL (or another required setting, such as a model directory) from the
/// environment. Unset: `None` (the case is skipped) on a developer machine, a failure under
/// `CI` so that CI cannot pass by skipping.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set but CI is: scripts/test.sh sets it")
        }
        _ => {
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// Generates one `#[tokio::test]` per conformance case for a harness factory
/// (`async fn() -> Option<impl Harness + 'static>`). Each case runs as its own task on a
/// [`Tracked`] harness: the collections it created are dropped afterwards, also when it
/// fails, before the failure is reported.
#[macro_export]
macro_rules! vector_conformance_tests {
    ($factory:path) => {
        $crate::vector_conformance_tests!(@cases $factory;
            round_trip, payload_round_trip, invalid_input_is_rejected_whole, unknown_collection,
            filters, selective_filter_returns_k, deletes, idempotent_upserts, concurrent_writers,
            persistence_across_reopen, dot_and_l2_distances, recall_at_10);
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(h) = $factory().await {
                    $crate::conformance::run_tracked(h, stringify!($case)).await;
                }
            }
        )*
    };
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        /// Every case of the suite, by name, in the order [`vector_conformance_tests!`] lists them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        /// Runs the case called `name` on `h`; `false` when there is no such case.
        pub async fn run_case(name: &str, h: &dyn Harness) -> bool {
            match name {
                $(stringify!($case) => { $case(h).await; true })*
                _ => false,
            }
        }
    };
}

cases!(
    round_trip,
    payload_round_trip,
    invalid_input_is_rejected_whole,
    unknown_collection,
    filters,
    selective_filter_returns_k,
    deletes,
    idempotent_upserts,
    concurrent_writers,
    persistence_across_reopen,
    dot_and_l2_distances,
    recall_at_10,
);

/// Runs every case in [`CASES`] but those in `skip`, one after the other, each on a
/// [`Tracked`] harness (for a backend outside this crate that has no test harness of its
/// own, e.g. an example). Panics on the first failure, after dropping what that case created.
pub async fn run_all<H: Harness + 'static>(h: H, skip: &[&str]) {
    let tracked = std::sync::Arc::new(Tracked::new(h));
    for name in CASES.iter().filter(|c| !skip.contains(c)) {
        run_on(tracked.clone(), name).await;
    }
}

/// Runs the case called `name` as its own task on a [`Tracked`] `h`, drops the collections
/// it created, then reports its failure (if any).
pub async fn run_tracked<H: Harness + 'static>(h: H, name: &str) {
    run_on(std::sync::Arc::new(Tracked::new(h)), name).await;
}

async fn run_on<H: Harness + 'static>(tracked: std::sync::Arc<Tracked<H>>, name: &str) {
    let task = {
        let tracked = tracked.clone();
        let name = name.to_owned();
        tokio::spawn(async move { run_case(&name, &*tracked).await })
    };
    let outcome = task.await;
    tracked.cleanup().await;
    match outcome {
        Ok(true) => {}
        Ok(false) => panic!("no conformance case is called {name}"),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("conformance case {name} did not finish: {e}"),
        },
    }
}

/// A harness whose stores remember the collections created through them, so that
/// [`Tracked::cleanup`] can drop them whatever happened to the case.
pub struct Tracked<H> {
    inner: H,
    created: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl<H: Harness> Tracked<H> {
    /// Wraps `inner`.
    pub fn new(inner: H) -> Self {
        Self {
            inner,
            created: Default::default(),
        }
    }

    /// Drops every collection created through this harness's stores (errors ignored: a
    /// case may have dropped its own already).
    pub async fn cleanup(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.created.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let store = self.inner.open().await;
        for name in names {
            let _ = store.drop_collection(&name).await;
        }
    }
}

#[async_trait::async_trait]
impl<H: Harness> Harness for Tracked<H> {
    async fn open(&self) -> DynVectorStore {
        std::sync::Arc::new(TrackingStore {
            inner: self.inner.open().await,
            created: self.created.clone(),
        })
    }
}

#[derive(Debug)]
struct TrackingStore {
    inner: DynVectorStore,
    created: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl crate::VectorStore for TrackingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> crate::Result<()> {
        self.inner.ping().await
    }
    async fn create_collection(&self, spec: &CollectionSpec) -> crate::Result<bool> {
        let created = self.inner.create_collection(spec).await?;
        if created {
            self.created.lock().unwrap().push(spec.name.clone());
        }
        Ok(created)
    }
    async fn collection(&self, name: &str) -> crate::Result<CollectionSpec> {
        self.inner.collection(name).await
    }
    async fn list_collections(&self) -> crate::Result<Vec<CollectionSpec>> {
        self.inner.list_collections().await
    }
    async fn drop_collection(&self, name: &str) -> crate::Result<bool> {
        self.inner.drop_collection(name).await
    }
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> crate::Result<()> {
        self.inner.upsert(collection, points).await
    }
    async fn delete(&self, collection: &str, ids: &[PointId]) -> crate::Result<()> {
        self.inner.delete(collection, ids).await
    }
    async fn get(&self, collection: &str, id: PointId) -> crate::Result<Option<Point>> {
        self.inner.get(collection, id).await
    }
    async fn get_many(&self, collection: &str, ids: &[PointId]) -> crate::Result<Vec<Point>> {
        self.inner.get_many(collection, ids).await
    }
    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> crate::Result<Vec<crate::ScoredPoint>> {
        self.inner.search(collection, request).await
    }
    async fn count(&self, collection: &str, filter: Option<&Filter>) -> crate::Result<u64> {
        self.inner.count(collection, filter).await
    }
}

fn unique(prefix: &str) -> String {
    format!("t_{prefix}_{}", &Uuid::new_v4().simple().to_string()[..12])
}

fn id(i: u64) -> PointId {
    Uuid::from_u64_pair(0x00c0_ffee, i)
}

fn random_unit(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    // Sum of uniforms, roughly Gaussian: directions spread evenly enough.
    let v: Vec<f32> = (0..dim)
        .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>())
        .collect();
    let n = crate::math::norm(&v);
    v.into_iter().map(|x| x / n).collect()
}

fn close(a: &[f32], b: &[f32], eps: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= eps)
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = crate::math::norm(v);
    v.iter().map(|x| x / n).collect()
}

fn payload(track: &str, kind: &str, tags: &[&str]) -> Payload {
    Payload {
        content_id: None,
        content_type: Some(kind.to_owned()),
        track: Some(track.to_owned()),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        extra: serde_json::Map::new(),
    }
}

async fn collection(store: &DynVectorStore, prefix: &str, dim: usize, d: Distance) -> String {
    let name = unique(prefix);
    assert!(store
        .create_collection(&CollectionSpec::new(&name, dim, d))
        .await
        .unwrap());
    name
}

async fn upsert_all(store: &DynVectorStore, name: &str, points: Vec<Point>) {
    for chunk in points.chunks(500) {
        store.upsert(name, chunk.to_vec()).await.unwrap();
    }
}

fn brute_force(
    points: &[Point],
    q: &[f32],
    k: usize,
    d: Distance,
    keep: impl Fn(&Point) -> bool,
) -> Vec<PointId> {
    let mut scored: Vec<(f32, PointId)> = points
        .iter()
        .filter(|p| keep(p))
        .map(|p| {
            let s = match d {
                Distance::Cosine => -crate::math::dot(&unit(&p.vector), &unit(q)),
                Distance::Dot => -crate::math::dot(&p.vector, q),
                Distance::L2 => crate::math::l2_squared(&p.vector, q),
            };
            (s, p.id)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

pub async fn round_trip(h: &dyn Harness) {
    let store = h.open().await;
    store.ping().await.unwrap();
    let name = unique("rt");
    let spec = CollectionSpec::new(&name, 8, Distance::Cosine);
    assert!(store.create_collection(&spec).await.unwrap(), "created");
    assert!(
        !store.create_collection(&spec).await.unwrap(),
        "identical create is a no-op"
    );
    let other = CollectionSpec::new(&name, 9, Distance::Cosine);
    let e = store.create_collection(&other).await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::CollectionExists);
    let e = store
        .create_collection(&CollectionSpec::new(&name, 8, Distance::L2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::CollectionExists);
    assert_eq!(store.collection(&name).await.unwrap(), spec);
    assert!(store.list_collections().await.unwrap().contains(&spec));

    let mut rng = StdRng::seed_from_u64(1);
    let points: Vec<Point> = (0..3)
        .map(|i| {
            let v: Vec<f32> = (0..8).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect();
            Point::new(id(i), v, payload("offensive", "lab", &[]))
        })
        .collect();
    store.upsert(&name, points.clone()).await.unwrap();
    assert_eq!(store.count(&name, None).await.unwrap(), 3);
    let many = store
        .get_many(&name, &[points[2].id, id(99), points[0].id])
        .await
        .unwrap();
    assert_eq!(
        many.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![points[2].id, points[0].id],
        "in the order asked, missing ids left out"
    );
    assert_eq!(
        many[0],
        store.get(&name, points[2].id).await.unwrap().unwrap()
    );
    assert!(store.get_many(&name, &[]).await.unwrap().is_empty());
    for p in &points {
        let got = store.get(&name, p.id).await.unwrap().expect("stored point");
        assert_eq!(got.id, p.id);
        assert!(
            close(&got.vector, &unit(&p.vector), 1e-5),
            "cosine stores unit vectors"
        );
        assert_eq!(got.payload, p.payload);
        let hits = store
            .search(&name, &SearchRequest::new(p.vector.clone(), 3))
            .await
            .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].id, p.id, "a point is its own nearest neighbour");
        assert!(
            (hits[0].score - 1.0).abs() < 1e-4,
            "cosine score {}",
            hits[0].score
        );
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "closest first"
        );
    }
    assert!(store.get(&name, id(99)).await.unwrap().is_none());
    assert!(store.drop_collection(&name).await.unwrap());
    assert!(!store.drop_collection(&name).await.unwrap());
    let e = store.collection(&name).await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::CollectionNotFound);
    let e = store.count(&name, None).await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::CollectionNotFound);
}

pub async fn payload_round_trip(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "pl", 4, Distance::Cosine).await;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "title".into(),
        serde_json::json!("Intro to Nmap — ünïcode ✓"),
    );
    extra.insert(
        "nested".into(),
        serde_json::json!({"a": [1, 2.5, null, true], "b": {"c": "d"}}),
    );
    let p = Payload {
        content_id: Some("nmap-101".into()),
        content_type: Some("course".into()),
        track: Some("offensive".into()),
        tags: vec!["recon".into(), "network".into()],
        extra,
    };
    let bare = Payload::default();
    store
        .upsert(
            &name,
            vec![
                Point::new(id(1), vec![1.0, 0.0, 0.0, 0.0], p.clone()),
                Point::new(id(2), vec![0.0, 1.0, 0.0, 0.0], bare.clone()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(store.get(&name, id(1)).await.unwrap().unwrap().payload, p);
    assert_eq!(
        store.get(&name, id(2)).await.unwrap().unwrap().payload,
        bare
    );
    let hits = store
        .search(&name, &SearchRequest::new(vec![1.0, 0.1, 0.0, 0.0], 1))
        .await
        .unwrap();
    assert_eq!(hits[0].payload, p);
    store.drop_collection(&name).await.unwrap();
}

pub async fn invalid_input_is_rejected_whole(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "bad", 4, Distance::Cosine).await;
    let good = |i: u64| Point::new(id(i), vec![1.0, 2.0, 3.0, i as f32], Payload::default());
    let with = |v: Vec<f32>| Point::new(id(100), v, Payload::default());
    let kind = |r: crate::Result<()>| r.unwrap_err().kind();

    let cases: Vec<(Vec<Point>, VectorErrorKind)> = vec![
        (
            vec![good(1), with(vec![1.0, 2.0, 3.0])],
            VectorErrorKind::DimensionMismatch,
        ),
        (
            vec![good(1), with(vec![1.0; 5])],
            VectorErrorKind::DimensionMismatch,
        ),
        (
            vec![good(1), with(vec![1.0, f32::NAN, 0.0, 0.0])],
            VectorErrorKind::InvalidVector,
        ),
        (
            vec![good(1), with(vec![f32::INFINITY, 0.0, 0.0, 0.0])],
            VectorErrorKind::InvalidVector,
        ),
        (
            vec![good(1), with(vec![0.0; 4])],
            VectorErrorKind::InvalidVector,
        ),
        (vec![], VectorErrorKind::InvalidInput),
        (
            (0..MAX_BATCH as u64 + 1).map(good).collect(),
            VectorErrorKind::InvalidInput,
        ),
    ];
    for (batch, want) in cases {
        let n = batch.len();
        assert_eq!(kind(store.upsert(&name, batch).await), want, "batch of {n}");
    }
    let mut long_tag = good(2);
    long_tag.payload.tags = vec!["x".repeat(1000)];
    assert_eq!(
        kind(store.upsert(&name, vec![good(1), long_tag]).await),
        VectorErrorKind::InvalidInput
    );
    assert_eq!(
        store.count(&name, None).await.unwrap(),
        0,
        "nothing of a rejected batch is written"
    );

    store.upsert(&name, vec![good(1)]).await.unwrap();
    let search = |v: Vec<f32>, k: usize| SearchRequest::new(v, k);
    for (req, want) in [
        (search(vec![1.0; 3], 1), VectorErrorKind::DimensionMismatch),
        (
            search(vec![f32::NAN, 0.0, 0.0, 0.0], 1),
            VectorErrorKind::InvalidVector,
        ),
        (search(vec![1.0; 4], 0), VectorErrorKind::InvalidInput),
        (search(vec![1.0; 4], 100_000), VectorErrorKind::InvalidInput),
        (
            search(vec![1.0; 4], 1)
                .with_filter(Filter::new().must(Condition::In(KeywordField::Track, vec![]))),
            VectorErrorKind::InvalidInput,
        ),
    ] {
        assert_eq!(
            store.search(&name, &req).await.unwrap_err().kind(),
            want,
            "{req:?}"
        );
    }
    assert_eq!(
        kind(store.delete(&name, &[]).await),
        VectorErrorKind::InvalidInput
    );
    for bad in ["", "Has-Caps", "1abc", "a b", "x".repeat(49).as_str()] {
        let e = store
            .create_collection(&CollectionSpec::new(bad, 4, Distance::Cosine))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), VectorErrorKind::InvalidInput, "{bad:?}");
    }
    let e = store
        .create_collection(&CollectionSpec::new(unique("z"), 0, Distance::Cosine))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::InvalidInput);
    assert_eq!(store.count(&name, None).await.unwrap(), 1);
    store.drop_collection(&name).await.unwrap();
}

pub async fn unknown_collection(h: &dyn Harness) {
    let store = h.open().await;
    let name = unique("missing");
    let nf = VectorErrorKind::CollectionNotFound;
    let p = Point::new(id(1), vec![1.0, 0.0], Payload::default());
    assert_eq!(store.upsert(&name, vec![p]).await.unwrap_err().kind(), nf);
    assert_eq!(store.delete(&name, &[id(1)]).await.unwrap_err().kind(), nf);
    assert_eq!(store.get(&name, id(1)).await.unwrap_err().kind(), nf);
    assert_eq!(store.count(&name, None).await.unwrap_err().kind(), nf);
    let req = SearchRequest::new(vec![1.0, 0.0], 1);
    assert_eq!(store.search(&name, &req).await.unwrap_err().kind(), nf);
    assert_eq!(store.collection(&name).await.unwrap_err().kind(), nf);
    assert!(!store.drop_collection(&name).await.unwrap());
}

const TRACKS: [&str; 3] = ["offensive", "defensive", "cloud"];
const TYPES: [&str; 2] = ["course", "lab"];

fn catalog(n: u64, dim: usize, seed: u64) -> Vec<Point> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut p = payload(
                TRACKS[(i % 3) as usize],
                TYPES[(i / 3 % 2) as usize],
                if i % 5 == 0 {
                    &["ctf", "web"]
                } else {
                    &["web"]
                },
            );
            p.content_id = Some(format!("item-{i}"));
            Point::new(id(i), random_unit(&mut rng, dim), p)
        })
        .collect()
}

pub async fn filters(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "flt", 16, Distance::Cosine).await;
    let points = catalog(60, 16, 2);
    upsert_all(&store, &name, points.clone()).await;
    let q = points[7].vector.clone();
    let cases = [
        Filter::new().must(Condition::Eq(KeywordField::Track, "offensive".into())),
        Filter::new().must(Condition::In(
            KeywordField::Track,
            vec!["offensive".into(), "cloud".into()],
        )),
        Filter::new().must(Condition::Eq(KeywordField::Tag, "ctf".into())),
        Filter::new().must(Condition::In(
            KeywordField::Tag,
            vec!["ctf".into(), "nope".into()],
        )),
        Filter::new().must_not(Condition::Eq(KeywordField::Track, "defensive".into())),
        Filter::new()
            .must(Condition::Eq(KeywordField::ContentType, "lab".into()))
            .must_not(Condition::In(
                KeywordField::ContentId,
                vec!["item-3".into(), "item-4".into()],
            )),
        Filter::new()
            .must(Condition::Eq(KeywordField::Track, "cloud".into()))
            .must(Condition::Eq(KeywordField::ContentType, "course".into())),
        Filter::new().must(Condition::Eq(KeywordField::Track, "no-such-track".into())),
    ];
    for f in cases {
        let expected: Vec<&Point> = points.iter().filter(|p| f.matches(&p.payload)).collect();
        assert_eq!(
            store.count(&name, Some(&f)).await.unwrap(),
            expected.len() as u64,
            "count {f:?}"
        );
        let hits = store
            .search(
                &name,
                &SearchRequest::new(q.clone(), 100).with_filter(f.clone()),
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), expected.len(), "{f:?}");
        assert!(
            hits.iter().all(|h| f.matches(&h.payload)),
            "every hit passes {f:?}"
        );
        let want = brute_force(&points, &q, 5, Distance::Cosine, |p| f.matches(&p.payload));
        let got: Vec<PointId> = hits.iter().take(5).map(|h| h.id).collect();
        assert_eq!(got, want, "closest filtered hits for {f:?}");
    }
    assert_eq!(store.count(&name, Some(&Filter::new())).await.unwrap(), 60);
    store.drop_collection(&name).await.unwrap();
}

pub async fn selective_filter_returns_k(h: &dyn Harness) {
    let store = h.open().await;
    let dim = 32;
    let name = collection(&store, "sel", dim, Distance::Cosine).await;
    let mut points = catalog(3000, dim, 3);
    for p in points.iter_mut().step_by(250) {
        p.payload.track = Some("rare".into());
    }
    upsert_all(&store, &name, points.clone()).await;
    let f = Filter::new().must(Condition::Eq(KeywordField::Track, "rare".into()));
    let mut rng = StdRng::seed_from_u64(33);
    for _ in 0..5 {
        let q = random_unit(&mut rng, dim);
        let hits = store
            .search(
                &name,
                &SearchRequest::new(q.clone(), 10).with_filter(f.clone()),
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 10, "12 points qualify, 10 asked for");
        assert!(hits
            .iter()
            .all(|h| h.payload.track.as_deref() == Some("rare")));
        let want = brute_force(&points, &q, 10, Distance::Cosine, |p| f.matches(&p.payload));
        let got: Vec<PointId> = hits.iter().map(|h| h.id).collect();
        assert_eq!(got, want);
    }
    store.drop_collection(&name).await.unwrap();
}

pub async fn deletes(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "del", 8, Distance::Cosine).await;
    let points = catalog(20, 8, 4);
    upsert_all(&store, &name, points.clone()).await;
    let gone: Vec<PointId> = points
        .iter()
        .take(5)
        .map(|p| p.id)
        .chain([id(999)])
        .collect();
    store.delete(&name, &gone).await.unwrap();
    store.delete(&name, &gone).await.unwrap(); // again: a no-op
    assert_eq!(store.count(&name, None).await.unwrap(), 15);
    for g in &gone {
        assert!(store.get(&name, *g).await.unwrap().is_none());
    }
    let hits = store
        .search(&name, &SearchRequest::new(points[0].vector.clone(), 20))
        .await
        .unwrap();
    assert_eq!(hits.len(), 15);
    assert!(
        hits.iter().all(|h| !gone.contains(&h.id)),
        "deleted points never come back"
    );
    store.drop_collection(&name).await.unwrap();
}

pub async fn idempotent_upserts(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "idem", 8, Distance::Cosine).await;
    let points = catalog(10, 8, 5);
    upsert_all(&store, &name, points.clone()).await;
    upsert_all(&store, &name, points.clone()).await;
    assert_eq!(store.count(&name, None).await.unwrap(), 10);
    // New payload, same vector.
    let mut p = points[3].clone();
    p.payload.track = Some("renamed".into());
    store.upsert(&name, vec![p.clone()]).await.unwrap();
    assert_eq!(
        store
            .get(&name, p.id)
            .await
            .unwrap()
            .unwrap()
            .payload
            .track
            .as_deref(),
        Some("renamed")
    );
    // New vector: search finds it where it now is.
    let mut rng = StdRng::seed_from_u64(55);
    let moved = random_unit(&mut rng, 8);
    p.vector = moved.clone();
    store.upsert(&name, vec![p.clone()]).await.unwrap();
    let hits = store
        .search(&name, &SearchRequest::new(moved.clone(), 1))
        .await
        .unwrap();
    assert_eq!(hits[0].id, p.id);
    assert!(close(
        &store.get(&name, p.id).await.unwrap().unwrap().vector,
        &moved,
        1e-5
    ));
    // Duplicate ids in one batch: the last one wins.
    let mut a = points[4].clone();
    let mut b = points[4].clone();
    a.payload.track = Some("first".into());
    b.payload.track = Some("last".into());
    store.upsert(&name, vec![a, b]).await.unwrap();
    assert_eq!(
        store
            .get(&name, id(4))
            .await
            .unwrap()
            .unwrap()
            .payload
            .track
            .as_deref(),
        Some("last")
    );
    assert_eq!(store.count(&name, None).await.unwrap(), 10);
    store.drop_collection(&name).await.unwrap();
}

pub async fn concurrent_writers(h: &dyn Harness) {
    let store = h.open().await;
    let name = collection(&store, "conc", 16, Distance::Cosine).await;
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let (store, name) = (store.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(100 + w);
            for b in 0..10u64 {
                let batch: Vec<Point> = (0..10u64)
                    .map(|i| {
                        Point::new(
                            id(w * 1000 + b * 10 + i),
                            random_unit(&mut rng, 16),
                            payload("cloud", "lab", &[]),
                        )
                    })
                    .collect();
                store.upsert(&name, batch).await.unwrap();
                let q = random_unit(&mut rng, 16);
                store
                    .search(&name, &SearchRequest::new(q, 5))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.count(&name, None).await.unwrap(), 800);
    store.drop_collection(&name).await.unwrap();
}

pub async fn persistence_across_reopen(h: &dyn Harness) {
    let name;
    let points = catalog(100, 8, 6);
    {
        let store = h.open().await;
        name = collection(&store, "reopen", 8, Distance::Cosine).await;
        upsert_all(&store, &name, points.clone()).await;
        let gone: Vec<PointId> = points.iter().take(10).map(|p| p.id).collect();
        store.delete(&name, &gone).await.unwrap();
    }
    let store = h.open().await;
    assert_eq!(store.collection(&name).await.unwrap().dimension, 8);
    assert_eq!(store.count(&name, None).await.unwrap(), 90);
    assert!(store.get(&name, points[3].id).await.unwrap().is_none());
    let p = store.get(&name, points[42].id).await.unwrap().unwrap();
    assert_eq!(p.payload, points[42].payload);
    let hits = store
        .search(&name, &SearchRequest::new(points[42].vector.clone(), 1))
        .await
        .unwrap();
    assert_eq!(hits[0].id, points[42].id);
    store.drop_collection(&name).await.unwrap();
}

pub async fn dot_and_l2_distances(h: &dyn Harness) {
    let store = h.open().await;
    let mut rng = StdRng::seed_from_u64(7);
    for d in [Distance::Dot, Distance::L2] {
        let name = collection(&store, d.as_str(), 8, d).await;
        let points: Vec<Point> = (0..200)
            .map(|i| {
                let v: Vec<f32> = (0..8).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
                Point::new(id(i), v, Payload::default())
            })
            .collect();
        upsert_all(&store, &name, points.clone()).await;
        let got = store.get(&name, id(5)).await.unwrap().unwrap();
        assert!(
            close(&got.vector, &points[5].vector, 1e-6),
            "{d:?} stores vectors as given"
        );
        for _ in 0..5 {
            let q: Vec<f32> = (0..8).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
            let hits = store
                .search(&name, &SearchRequest::new(q.clone(), 5).exact())
                .await
                .unwrap();
            let want = brute_force(&points, &q, 5, d, |_| true);
            assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), want, "{d:?}");
            let best = &points[want[0].as_u64_pair().1 as usize].vector;
            let expected = match d {
                Distance::Dot => crate::math::dot(best, &q),
                _ => crate::math::l2_squared(best, &q).sqrt(),
            };
            assert!(
                (hits[0].score - expected).abs() < 1e-3,
                "{d:?} score {} vs {expected}",
                hits[0].score
            );
            let approx = store
                .search(&name, &SearchRequest::new(q.clone(), 5))
                .await
                .unwrap();
            assert_eq!(
                approx[0].id, want[0],
                "{d:?} approximate search finds the nearest of 200"
            );
        }
        store.drop_collection(&name).await.unwrap();
    }
}

/// recall@10 of the default (approximate) search against exact search, 10k × 384 random unit
/// vectors, 50 random queries; also with a filter that most points pass.
pub async fn recall_at_10(h: &dyn Harness) {
    let store = h.open().await;
    let (n, dim, queries) = (10_000u64, 384, 50);
    let name = collection(&store, "recall", dim, Distance::Cosine).await;
    let mut rng = StdRng::seed_from_u64(10);
    let points: Vec<Point> = (0..n)
        .map(|i| {
            let track = if i % 10 == 0 {
                "excluded"
            } else {
                TRACKS[(i % 3) as usize]
            };
            Point::new(
                id(i),
                random_unit(&mut rng, dim),
                payload(track, "course", &[]),
            )
        })
        .collect();
    upsert_all(&store, &name, points.clone()).await;
    assert_eq!(store.count(&name, None).await.unwrap(), n);
    let f = Filter::new().must_not(Condition::Eq(KeywordField::Track, "excluded".into()));
    let (mut found, mut found_f) = (0usize, 0usize);
    for _ in 0..queries {
        let q = random_unit(&mut rng, dim);
        let want = brute_force(&points, &q, 10, Distance::Cosine, |_| true);
        let hits = store
            .search(&name, &SearchRequest::new(q.clone(), 10))
            .await
            .unwrap();
        found += hits.iter().filter(|h| want.contains(&h.id)).count();
        let want_f = brute_force(&points, &q, 10, Distance::Cosine, |p| f.matches(&p.payload));
        let hits_f = store
            .search(
                &name,
                &SearchRequest::new(q.clone(), 10).with_filter(f.clone()),
            )
            .await
            .unwrap();
        assert!(hits_f.iter().all(|h| f.matches(&h.payload)));
        found_f += hits_f.iter().filter(|h| want_f.contains(&h.id)).count();
    }
    let recall = found as f64 / (queries * 10) as f64;
    let recall_f = found_f as f64 / (queries * 10) as f64;
    eprintln!(
        "{}: recall@10 = {recall:.3}, filtered = {recall_f:.3}",
        store.backend()
    );
    assert!(recall >= 0.95, "recall@10 {recall:.3} < 0.95");
    assert!(recall_f >= 0.95, "filtered recall@10 {recall_f:.3} < 0.95");
    store.drop_collection(&name).await.unwrap();
}

#[cfg(test)]
mod tests {
    /// Every public case is in [`CASES`] and in [`vector_conformance_tests!`]'s list, so a
    /// new case cannot be left out of the suite by mistake.
    #[test]
    fn every_case_is_registered() {
        let src = include_str!("conformance.rs");
        let start = src.find("round_trip, payload_round_trip,").unwrap();
        let list = &src[start..start + src[start..].find(");").unwrap()];
        let in_macro: Vec<&str> = list
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let marker = concat!("pub async fn ", "");
        let cases: Vec<&str> = src
            .match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &src[i + marker.len()..];
                let name = &rest[..rest.find('(')?];
                rest[name.len()..]
                    .starts_with("(h: &dyn Harness)")
                    .then_some(name)
            })
            .collect();
        assert!(cases.len() >= 12, "found {} cases", cases.len());
        for case in &cases {
            assert!(super::CASES.contains(case), "{case} is not in CASES");
            assert!(
                in_macro.contains(case),
                "{case} is not in vector_conformance_tests!"
            );
        }
        assert_eq!(super::CASES.len(), cases.len());
    }
}
