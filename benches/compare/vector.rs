//! Section `vector`: the embedded HNSW index against pgvector's, exact search as ground truth,
//! on two data sets: Debian package descriptions embedded with the project's model (real
//! text: it clusters) and uniform random unit vectors (no structure: the hard case).
//!
//! Both indexes are built with the same graph parameters (`M`, `ef_construction` of the
//! embedded backend) and searched over a sweep of `ef` with the same held-out queries, one
//! client and 8 clients. pgvector is driven the way it is fastest: one prepared statement
//! per query on a connection whose `hnsw.ef_search` is set once (no per-query transaction);
//! the embedded index through the public `VectorStore` trait, as a user calls it.

use crate::corpus;
use crate::plot::{self, Curve};
use crate::table::{fmt_num, Better, Row, Table};
use crate::{BenchResult, Ctx};
use cyberhub_vector::embedded::{EF_CONSTRUCTION, M};
use cyberhub_vector::{
    math, CollectionSpec, Distance, DynVectorStore, EmbeddedStore, Payload, Point, PointId,
    SearchRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DIM: usize = 384;
const K: usize = 10;

/// One data set: base vectors, held-out queries and their exact top-k.
struct Dataset {
    name: &'static str,
    base: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
    truth: Vec<Vec<u64>>,
}

/// One point of a recall/QPS curve.
#[derive(Debug, Clone, Copy)]
struct Measured {
    ef: usize,
    recall: f64,
    qps1: f64,
    qps8: f64,
    p99_ms: f64,
}

/// Exact top-k by cosine (the vectors are unit length: dot product), in parallel.
fn exact_truth(base: &[Vec<f32>], queries: &[Vec<f32>], threads: usize) -> Vec<Vec<u64>> {
    let chunk = queries.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|qs| {
                s.spawn(move || {
                    qs.iter()
                        .map(|q| {
                            let mut d: Vec<(f32, u64)> = base
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (-math::dot(v, q), i as u64))
                                .collect();
                            d.select_nth_unstable_by(K, |a, b| a.0.total_cmp(&b.0));
                            d.truncate(K);
                            d.into_iter().map(|(_, i)| i).collect()
                        })
                        .collect::<Vec<Vec<u64>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("exact search thread"))
            .collect()
    })
}

fn unit_random(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let n = math::norm(&v);
    v.into_iter().map(|x| x / n).collect()
}

fn recall(found: &[Vec<u64>], truth: &[Vec<u64>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|i| t.contains(i)).count())
        .sum();
    hits as f64 / (truth.len() * K) as f64
}

fn p99(mut lat: Vec<f64>) -> f64 {
    lat.sort_by(f64::total_cmp);
    lat.get(((lat.len() as f64 - 1.0) * 0.99).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// Resident set size of this process, bytes (Linux).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn sweep(smoke: bool) -> Vec<usize> {
    if smoke {
        vec![10, 40]
    } else {
        vec![10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    }
}

/// The embedded side: build, then the sweep.
async fn embedded(ds: &Dataset, smoke: bool) -> BenchResult<(Duration, u64, u64, Vec<Measured>)> {
    let dir = std::env::temp_dir().join(format!(
        "cyberhub-compare-{}-{}",
        ds.name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let embedded = EmbeddedStore::open(&dir).await?;
    let store: DynVectorStore = Arc::new(embedded.clone());
    store
        .create_collection(&CollectionSpec::new("bench", DIM, Distance::Cosine))
        .await?;
    let points: Vec<Point> = ds
        .base
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Point::new(
                PointId::from_u64_pair(0, i as u64),
                v.clone(),
                Payload::default(),
            )
        })
        .collect();
    let before = rss();
    let t = Instant::now();
    for chunk in points.chunks(1000) {
        store.upsert("bench", chunk.to_vec()).await?;
    }
    let build = t.elapsed();
    drop(points);
    let mem = rss().saturating_sub(before);
    embedded.checkpoint().await?;
    let disk = dir_size(&dir);
    let mut curve = Vec::new();
    for ef in sweep(smoke) {
        let s = store.clone();
        let m = measure(&ds.queries, &ds.truth, move |q| {
            let store = s.clone();
            async move {
                let hits = store
                    .search("bench", &SearchRequest::new(q, K).with_ef(ef))
                    .await?;
                Ok(hits.into_iter().map(|h| h.id.as_u64_pair().1).collect())
            }
        })
        .await?;
        curve.push(Measured { ef, ..m });
    }
    drop(store);
    drop(embedded);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((build, mem, disk, curve))
}

/// One pass of every query by one client (latencies, recall), then by 8 concurrent clients.
async fn measure<F, Fut>(
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    search: F,
) -> BenchResult<Measured>
where
    F: Fn(Vec<f32>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = BenchResult<Vec<u64>>> + Send,
{
    let mut found = Vec::with_capacity(queries.len());
    let mut lat = Vec::with_capacity(queries.len());
    let t = Instant::now();
    for q in queries {
        let t1 = Instant::now();
        found.push(search(q.clone()).await?);
        lat.push(t1.elapsed().as_secs_f64() * 1000.0);
    }
    let qps1 = queries.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let qs: Vec<Vec<f32>> = queries.iter().skip(w).step_by(8).cloned().collect();
        let search = search.clone();
        tasks.push(tokio::spawn(async move {
            for q in qs {
                search(q).await?;
            }
            BenchResult::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let qps8 = queries.len() as f64 / t.elapsed().as_secs_f64();
    Ok(Measured {
        ef: 0,
        recall: recall(&found, truth),
        qps1,
        qps8,
        p99_ms: p99(lat),
    })
}

/// The pgvector side: load the rows, build the index (timed), then the sweep.
async fn pgvector(
    url: &str,
    ds: &Dataset,
    smoke: bool,
) -> BenchResult<(Duration, Duration, u64, Vec<Measured>)> {
    let table = format!("bench_cmp_{}_{}", ds.name, std::process::id());
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        .await?;
    conn.execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await?;
    conn.execute(
        format!("CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({DIM}) NOT NULL)")
            .as_str(),
    )
    .await?;
    let t = Instant::now();
    for (c, chunk) in ds.base.chunks(1000).enumerate() {
        let ids: Vec<i64> = (0..chunk.len()).map(|i| (c * 1000 + i) as i64).collect();
        let vs: Vec<String> = chunk
            .iter()
            .map(|v| {
                let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                format!("[{}]", parts.join(","))
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO {table} SELECT * FROM unnest($1::bigint[], $2::text[]::vector[])"
        ))
        .bind(ids)
        .bind(vs)
        .execute(&mut conn)
        .await?;
    }
    let load = t.elapsed();
    // Same graph parameters as the embedded index; PostgreSQL's own parallel build.
    conn.execute("SET maintenance_work_mem = '2GB'").await?;
    let t = Instant::now();
    conn.execute(
        format!(
            "CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops) \
             WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})"
        )
        .as_str(),
    )
    .await?;
    let index = t.elapsed();
    conn.execute(format!("VACUUM ANALYZE {table}").as_str())
        .await?;
    let size: i64 = sqlx::query_scalar(&format!("SELECT pg_total_relation_size('{table}')"))
        .fetch_one(&mut conn)
        .await?;
    let mut curve = Vec::new();
    for ef in sweep(smoke) {
        // 8 connections, each with this ef; the 1-client pass uses the first.
        let mut conns = Vec::new();
        for _ in 0..8 {
            let mut c = PgConnection::connect(url).await?;
            c.execute(format!("SET hnsw.ef_search = {}", ef.min(1000)).as_str())
                .await?;
            conns.push(Arc::new(tokio::sync::Mutex::new(c)));
        }
        let sql: Arc<str> =
            format!("SELECT id FROM {table} ORDER BY embedding <=> $1::vector LIMIT {K}").into();
        let pool = Arc::new(conns);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let m = measure(&ds.queries, &ds.truth, move |q| {
            let (pool, sql, next) = (pool.clone(), sql.clone(), next.clone());
            async move {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % pool.len();
                let mut c = pool[i].lock().await;
                let ids: Vec<i64> = sqlx::query_scalar(&sql)
                    .bind(pgvector::Vector::from(q))
                    .fetch_all(&mut *c)
                    .await?;
                Ok(ids.into_iter().map(|i| i as u64).collect())
            }
        })
        .await?;
        curve.push(Measured { ef, ..m });
    }
    conn.execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await?;
    Ok((load, index, size as u64, curve))
}

/// Prints a curve's points under the table and keeps it for the PNG.
fn report_curve(
    table: &mut Table,
    curves: &mut Vec<Curve>,
    set: &str,
    backend: &str,
    curve: &[Measured],
) {
    for m in curve {
        table.note(format!(
            "{set} {backend} ef {:>3}: recall@10 {:.3}, {} QPS (1 client, p99 {:.2} ms), {} QPS (8 clients)",
            m.ef,
            m.recall,
            fmt_num(m.qps1),
            m.p99_ms,
            fmt_num(m.qps8)
        ));
    }
    curves.push(Curve::new(
        format!("{set} {backend}, 1 client"),
        curve,
        |m| (m.recall, m.qps1),
    ));
    curves.push(Curve::new(
        format!("{set} {backend}, 8 clients"),
        curve,
        |m| (m.recall, m.qps8),
    ));
}

/// The cheapest point of a curve with recall ≥ `floor` (highest QPS among those).
fn at_recall(curve: &[Measured], floor: f64, qps: impl Fn(&Measured) -> f64) -> Option<Measured> {
    curve
        .iter()
        .filter(|m| m.recall >= floor)
        .max_by(|a, b| qps(a).total_cmp(&qps(b)))
        .copied()
}

async fn compare(
    ctx: &Ctx,
    table: &mut Table,
    ds: &Dataset,
    curves: &mut Vec<Curve>,
) -> BenchResult<()> {
    let n = ds.base.len();
    eprintln!(
        "  {}: {n} × {DIM} base vectors, {} held-out queries, k = {K}, M = {M}, ef_construction = {EF_CONSTRUCTION}",
        ds.name,
        ds.queries.len()
    );
    let (build, mem, disk, ours) = embedded(ds, ctx.smoke).await?;
    report_curve(table, curves, ds.name, "embedded", &ours);
    table.push(Row {
        section: "vector",
        ours: format!(
            "embedded build, {} ({n} × {DIM}, {} threads)",
            ds.name, ctx.threads
        ),
        ours_value: build.as_secs_f64(),
        reference: "the 60 s budget".into(),
        ref_value: 60.0 * n as f64 / 100_000.0,
        unit: "s",
        better: Better::Lower,
        target: if ctx.smoke || n < 100_000 {
            None
        } else {
            Some(1.0)
        },
        note: format!(
            "kernel: {}; memory {} B/vector (RSS growth), disk {} B/vector",
            math::kernel(),
            fmt_num(mem as f64 / n as f64),
            fmt_num(disk as f64 / n as f64)
        ),
    });
    let Some(url) = ctx.require("PGVECTOR_DATABASE_URL", ctx.pgvector_url.clone())? else {
        return Ok(());
    };
    let (load, index, size, theirs) = pgvector(&url, ds, ctx.smoke).await?;
    report_curve(table, curves, ds.name, "pgvector", &theirs);
    table.push(Row {
        section: "vector",
        ours: format!("embedded build (insert + graph), {}", ds.name),
        ours_value: build.as_secs_f64(),
        reference: "pgvector index build (rows already loaded)".into(),
        ref_value: index.as_secs_f64(),
        unit: "s",
        better: Better::Lower,
        target: None,
        note: format!(
            "pgvector row load {:.1} s before it; size {} B/vector (table + index) vs embedded disk {} B/vector",
            load.as_secs_f64(),
            fmt_num(size as f64 / n as f64),
            fmt_num(disk as f64 / n as f64)
        ),
    });
    let floor = if ctx.smoke { 0.0 } else { 0.95 };
    for (clients, qps) in [
        (1, (|m: &Measured| m.qps1) as fn(&Measured) -> f64),
        (8, |m: &Measured| m.qps8),
    ] {
        let (a, b) = (at_recall(&ours, floor, qps), at_recall(&theirs, floor, qps));
        match (a, b) {
            (Some(a), Some(b)) => table.push(Row {
                section: "vector",
                ours: format!("embedded QPS at recall@10 ≥ {floor}, {}, {clients} client(s)", ds.name),
                ours_value: qps(&a),
                reference: "pgvector, same".into(),
                ref_value: qps(&b),
                unit: "QPS",
                better: Better::Higher,
                target: (ds.name == "debian" && !ctx.smoke).then_some(2.0),
                note: format!(
                    "ours ef {} (recall {:.3}), pgvector ef {} (recall {:.3})",
                    a.ef, a.recall, b.ef, b.recall
                ),
            }),
            _ => table.note(format!(
                "{}: no ef in the sweep reached recall {floor} ({} client(s)): embedded {}, pgvector {}",
                ds.name,
                clients,
                a.map_or("never".into(), |m| format!("ef {}", m.ef)),
                b.map_or("never".into(), |m| format!("ef {}", m.ef)),
            )),
        }
    }
    Ok(())
}

/// Runs the section, adding its rows to `table`.
pub async fn run(ctx: &Ctx, table: &mut Table) -> BenchResult<()> {
    let mut curves = Vec::new();
    // Real text: Debian's package descriptions, embedded with the project's model.
    if let Some(dir) = ctx.require("CYBERHUB_MODEL_DIR", ctx.model_dir.clone())? {
        let (n, nq) = if ctx.smoke {
            (300, 20)
        } else {
            (env_usize("COMPARE_DEBIAN_N", 100_000), 1_000)
        };
        let texts = corpus::debian(ctx, n + nq)?;
        let mut vectors = corpus::embed_cached(ctx, &dir, &texts).await?;
        let base = vectors.split_off(nq.min(vectors.len()));
        let truth = exact_truth(&base, &vectors, ctx.threads);
        let ds = Dataset {
            name: "debian",
            base,
            queries: vectors,
            truth,
        };
        compare(ctx, table, &ds, &mut curves).await?;
    }
    // No structure at all: uniform random unit vectors.
    let (n, nq) = if ctx.smoke {
        (3_000, 20)
    } else {
        (env_usize("COMPARE_RANDOM_N", 100_000), 500)
    };
    let mut rng = StdRng::seed_from_u64(16);
    let base: Vec<Vec<f32>> = (0..n).map(|_| unit_random(&mut rng)).collect();
    let queries: Vec<Vec<f32>> = (0..nq).map(|_| unit_random(&mut rng)).collect();
    let truth = exact_truth(&base, &queries, ctx.threads);
    let ds = Dataset {
        name: "random",
        base,
        queries,
        truth,
    };
    compare(ctx, table, &ds, &mut curves).await?;
    let png = ctx.out.join("vector-recall-qps.png");
    plot::recall_qps(&png, &curves)?;
    table.note(format!("recall/QPS curves: {}", png.display()));
    Ok(())
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
