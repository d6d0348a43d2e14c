//! Vector store benchmark: build time, queries per second and recall@10 (against exact
//! search) on random unit vectors, for the embedded backend and pgvector, in one run.
//!
//! `cargo bench --bench vector` measures 100,000 × 384 (override with `VECTOR_BENCH_N`);
//! under `cargo test --bench vector` it runs a 2,000-point smoke pass. pgvector runs when
//! `PGVECTOR_DATABASE_URL` is set (scripts/start-pgvector.sh). Single-client QPS is one query
//! at a time; the 8-client figure runs 8 concurrent query loops.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // bench code may fail loudly

use cyberhub_vector::{
    math, CollectionSpec, Distance, DynVectorStore, EmbeddedStore, Payload, PgVectorStore, Point,
    PointId, SearchRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DIM: usize = 384;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM)
        .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>())
        .collect();
    let n = math::norm(&v);
    v.into_iter().map(|x| x / n).collect()
}

fn exact_top10(points: &[Point], q: &[f32]) -> Vec<PointId> {
    let mut s: Vec<(f32, PointId)> = points
        .iter()
        .map(|p| (-math::dot(&p.vector, q), p.id))
        .collect();
    s.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
    s.truncate(10);
    s.into_iter().map(|(_, id)| id).collect()
}

struct Report {
    backend: &'static str,
    build: Duration,
    index: Option<Duration>,
    qps1: f64,
    qps8: f64,
    p50_ms: f64,
    p99_ms: f64,
    recall: f64,
}

async fn measure(
    store: DynVectorStore,
    name: &str,
    queries: &[Vec<f32>],
    truth: &[Vec<PointId>],
) -> (f64, f64, f64, f64, f64) {
    let mut lat = Vec::with_capacity(queries.len());
    let mut found = 0usize;
    let t = Instant::now();
    for (q, want) in queries.iter().zip(truth) {
        let t1 = Instant::now();
        let hits = store
            .search(name, &SearchRequest::new(q.clone(), 10))
            .await
            .unwrap();
        lat.push(t1.elapsed().as_secs_f64() * 1000.0);
        found += hits.iter().filter(|h| want.contains(&h.id)).count();
    }
    let qps1 = queries.len() as f64 / t.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, name, qs) = (store.clone(), name.to_owned(), queries.to_vec());
        tasks.push(tokio::spawn(async move {
            for q in qs.iter().skip(w).step_by(8) {
                store
                    .search(&name, &SearchRequest::new(q.clone(), 10))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let qps8 = queries.len() as f64 / t.elapsed().as_secs_f64();
    let recall = found as f64 / (queries.len() * 10) as f64;
    (qps1, qps8, pct(0.5), pct(0.99), recall)
}

async fn load(store: &DynVectorStore, name: &str, points: &[Point]) -> Duration {
    store
        .create_collection(&CollectionSpec::new(name, DIM, Distance::Cosine))
        .await
        .unwrap();
    let t = Instant::now();
    for chunk in points.chunks(1000) {
        store.upsert(name, chunk.to_vec()).await.unwrap();
    }
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("VECTOR_BENCH_N") {
        Ok(v) => v.parse().expect("VECTOR_BENCH_N is a number"),
        Err(_) if measuring => 100_000,
        Err(_) => 2_000,
    };
    let nq = if measuring { 200 } else { 20 };
    let mut rng = StdRng::seed_from_u64(42);
    let points: Vec<Point> = (0..n as u64)
        .map(|i| {
            Point::new(
                PointId::from_u64_pair(42, i),
                unit(&mut rng),
                Payload::default(),
            )
        })
        .collect();
    let queries: Vec<Vec<f32>> = (0..nq).map(|_| unit(&mut rng)).collect();
    let truth: Vec<Vec<PointId>> = queries.iter().map(|q| exact_top10(&points, q)).collect();
    eprintln!("{n} × {DIM} random unit vectors, {nq} queries, k = 10");
    let mut reports = Vec::new();

    let dir = std::env::temp_dir().join(format!("cyberhub-vector-bench-{}", std::process::id()));
    {
        let embedded = EmbeddedStore::open(&dir).await.unwrap();
        let store: DynVectorStore = Arc::new(embedded.clone());
        let build = load(&store, "bench", &points).await;
        let (qps1, qps8, p50_ms, p99_ms, recall) = measure(store, "bench", &queries, &truth).await;
        reports.push(Report {
            backend: "embedded",
            build,
            index: None,
            qps1,
            qps8,
            p50_ms,
            p99_ms,
            recall,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Skips pgvector with a message on a developer machine; under CI=true it must be there.
    if let Some(url) = cyberhub_vector::conformance::service_url("PGVECTOR_DATABASE_URL") {
        let pg = Arc::new(PgVectorStore::connect(&url).await.unwrap());
        let name = format!("bench_{}", std::process::id());
        let store: DynVectorStore = pg.clone();
        store.drop_collection(&name).await.unwrap();
        store
            .create_collection(&CollectionSpec::new(&name, DIM, Distance::Cosine))
            .await
            .unwrap();
        // Bulk load: rows first, then one index build (what `reindex` does).
        pg.drop_index(&name).await.unwrap();
        let t = Instant::now();
        for chunk in points.chunks(1000) {
            store.upsert(&name, chunk.to_vec()).await.unwrap();
        }
        let build = t.elapsed();
        let t = Instant::now();
        pg.build_index(&name).await.unwrap();
        let index = Some(t.elapsed());
        let (qps1, qps8, p50_ms, p99_ms, recall) =
            measure(store.clone(), &name, &queries, &truth).await;
        reports.push(Report {
            backend: "pgvector",
            build,
            index,
            qps1,
            qps8,
            p50_ms,
            p99_ms,
            recall,
        });
        store.drop_collection(&name).await.unwrap();
    } else {
        eprintln!("PGVECTOR_DATABASE_URL not set: pgvector skipped");
    }

    println!("| backend | points | insert | index build | QPS (1 client) | p50 | p99 | QPS (8 clients) | recall@10 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &reports {
        let index = r.index.map_or("during insert".to_owned(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        });
        println!(
            "| {} | {n} | {:.1} s | {index} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.3} |",
            r.backend,
            r.build.as_secs_f64(),
            r.qps1,
            r.p50_ms,
            r.p99_ms,
            r.qps8,
            r.recall
        );
        if !measuring {
            assert!(
                r.recall > 0.8,
                "{} recall {} on the smoke set",
                r.backend,
                r.recall
            );
        }
    }
}
