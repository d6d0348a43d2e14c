//! Section `embed` of the comparison harness (see main.rs).
//!
//! 1. Embeddings: each embedder backend (`onnx`, the default: ONNX Runtime through `ort`;
//!    `candle`) against Python onnxruntime (`scripts/ort_bench.py` run by
//!    `CYBERHUB_BENCH_PYTHON`, from `scripts/bench-venv.sh`) on the same fp32 ONNX graph
//!    (`model_fp32.onnx`), tokenizer (`tokenizer.json`, truncation 256, padding to the batch's
//!    longest), sentences (the 512 of `benches/embed.rs`) and thread count (`ctx.threads`
//!    intra-op threads; candle's thread pool has as many), at batch 1 and 32. Back to back:
//!    Python, ours, Python again; each figure is the median of its passes. Both sides pool
//!    (masked mean) and normalise; the embeddings are compared (max abs difference), and a
//!    difference above [`MAX_ABS_DIFF`] fails the section.
//! 2. Indexing: N catalog items through the real path (catalog writes enqueue outbox events
//!    in SQLite; `Indexer::run_once` rounds until the outbox is empty; vectors in the embedded
//!    store), against the same embedder embedding the same texts at batch 32.
//!
//! Smoke mode: 8 sentences, one pass, one Python run, 24 items: every path, seconds of work.

use crate::sentences::sentences;
use crate::table::{Better, Row, Table};
use crate::{BenchResult, Ctx};
use cyberhub_ai::{CandleEmbedder, CatalogIndex, DynEmbedder, InferencePool, OnnxEmbedder};
use cyberhub_domain::{
    AuditAction, AuditEvent, AuditId, AuditResult, ContentItem, ContentType, ContentUuid,
    Difficulty, NewContent, SystemClock, Track,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Largest element-wise difference tolerated between our embeddings and Python's.
const MAX_ABS_DIFF: f32 = 1e-3;

const BATCHES: [usize; 2] = [1, 32];

impl PyRun {
    fn get(&self, batch: usize) -> Vec<f64> {
        self.rates
            .iter()
            .find(|r| r.0 == batch)
            .map(|r| r.1.clone())
            .unwrap_or_default()
    }
}

struct Sizes {
    sentences: usize,
    rounds: usize,
    items: usize,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

/// One run of scripts/ort_bench.py.
struct PyRun {
    version: String,
    /// Seconds to load the tokenizer and create the session.
    load_s: f64,
    /// (batch, sentences/s per pass)
    rates: Vec<(usize, Vec<f64>)>,
}

fn python_run(
    python: &Path,
    dir: &Path,
    sentences: &Path,
    threads: usize,
    rounds: usize,
    embeddings: Option<&Path>,
) -> BenchResult<PyRun> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ort_bench.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .arg("--model-dir")
        .arg(dir)
        .arg("--sentences")
        .arg(sentences)
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--rounds")
        .arg(rounds.to_string());
    for b in BATCHES {
        cmd.arg("--batch").arg(b.to_string());
    }

    if let Some(e) = embeddings {
        cmd.arg("--embeddings").arg(e);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "ort_bench.py failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let rates = v["runs"]
        .as_array()
        .ok_or("ort_bench.py: no runs")?
        .iter()
        .map(|r| {
            let b = r["batch"].as_u64().unwrap_or(0) as usize;
            let rates = r["rates"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            (b, rates)
        })
        .collect();
    Ok(PyRun {
        version: v["onnxruntime"].as_str().unwrap_or("?").to_owned(),
        load_s: v["load_s"].as_f64().unwrap_or(f64::NAN),
        rates,
    })
}

/// Sentences per second of each of `rounds` passes over `texts` in batches of `batch`,
/// after a warm-up on the first four batches (what ort_bench.py does).
async fn passes(
    e: &DynEmbedder,
    texts: &[String],
    batch: usize,
    rounds: usize,
) -> BenchResult<Vec<f64>> {
    for chunk in texts.chunks(batch).take(4) {
        e.embed(chunk).await?;
    }
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for chunk in texts.chunks(batch) {
            e.embed(chunk).await?;
        }
        rates.push(texts.len() as f64 / t.elapsed().as_secs_f64());
    }
    Ok(rates)
}

async fn embed_all(e: &DynEmbedder, texts: &[String]) -> BenchResult<Vec<f32>> {
    let mut out = Vec::new();
    for chunk in texts.chunks(32) {
        for v in e.embed(chunk).await? {
            out.extend(v);
        }
    }
    Ok(out)
}

/// Runs the section, adding its rows to `table`.
pub async fn run(ctx: &Ctx, table: &mut Table) -> BenchResult<()> {
    let Some(dir) = ctx.require("CYBERHUB_MODEL_DIR", ctx.model_dir.clone())? else {
        return Ok(());
    };
    let lib = dir.join("lib/libonnxruntime.so");
    let onnx_files = dir.join("model_fp32.onnx").is_file() && lib.is_file();
    let Some(()) = ctx.require(
        "model_fp32.onnx and lib/libonnxruntime.so in CYBERHUB_MODEL_DIR (scripts/fetch-model.sh --onnxruntime, scripts/build-fp32-onnx.sh)",
        onnx_files.then_some(()),
    )?
    else {
        return Ok(());
    };
    let python = ctx.require(
        "CYBERHUB_BENCH_PYTHON (scripts/bench-venv.sh)",
        ctx.python.clone(),
    )?;
    let sizes = if ctx.smoke {
        Sizes {
            sentences: 8,
            rounds: 1,
            items: 24,
        }
    } else {
        Sizes {
            sentences: 512,
            rounds: 3,
            items: 2048,
        }
    };
    let texts = sentences(sizes.sentences);
    let tmp = std::env::temp_dir().join(format!(
        "cyberhub-compare-embed-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&tmp)?;
    let result = measure(
        ctx,
        table,
        &dir,
        &lib,
        python.as_deref(),
        &texts,
        &sizes,
        &tmp,
    )
    .await;
    std::fs::remove_dir_all(&tmp).ok();
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    ctx: &Ctx,
    table: &mut Table,
    dir: &Path,
    lib: &Path,
    python: Option<&Path>,
    texts: &[String],
    sizes: &Sizes,
    tmp: &Path,
) -> BenchResult<()> {
    let threads = ctx.threads;
    let t = Instant::now();
    let onnx: DynEmbedder = {
        let (dir, lib) = (dir.to_owned(), lib.to_owned());
        Arc::new(
            tokio::task::spawn_blocking(move || {
                OnnxEmbedder::load_with_threads(&dir, &lib, InferencePool::new(1), threads)
            })
            .await??,
        )
    };
    // Includes loading the runtime library (once per process; Python's is loaded at import).
    let onnx_load_s = t.elapsed().as_secs_f64();
    let candle: DynEmbedder =
        Arc::new(CandleEmbedder::load_async(dir.to_owned(), InferencePool::new(1)).await?);
    // (name, embedder, batches measured)
    let backends: [(&str, &DynEmbedder, &[usize]); 2] = [
        ("onnx (ort; default)", &onnx, &BATCHES),
        ("candle", &candle, &BATCHES),
    ];

    if let Some(python) = python {
        let sentences_file = tmp.join("sentences.json");
        std::fs::write(&sentences_file, serde_json::to_vec(texts)?)?;
        let py_emb = tmp.join("python.f32");
        let py = |emb: Option<PathBuf>| {
            let (python, dir, file) = (python.to_owned(), dir.to_owned(), sentences_file.clone());
            let rounds = sizes.rounds;
            tokio::task::spawn_blocking(move || {
                python_run(&python, &dir, &file, threads, rounds, emb.as_deref())
            })
        };
        // Back to back: Python, ours (every backend), Python again (full mode).
        let before = py(Some(py_emb.clone())).await??;
        let mut ours: Vec<Vec<(usize, Vec<f64>)>> = Vec::new();
        for (_, e, batches) in &backends {
            let mut per_batch = Vec::new();
            for &b in *batches {
                per_batch.push((b, passes(e, texts, b, sizes.rounds).await?));
            }
            ours.push(per_batch);
        }
        let after = if ctx.smoke {
            None
        } else {
            Some(py(None).await??)
        };
        let runs = if after.is_some() { 2 } else { 1 };
        let python_rates = |batch: usize| {
            let mut r = before.get(batch);
            r.extend(after.as_ref().map(|a| a.get(batch)).unwrap_or_default());
            r
        };
        let ours_rates = |k: usize, batch: usize| {
            ours.get(k)
                .and_then(|v| v.iter().find(|(b, _)| *b == batch))
                .map(|(_, r)| r.clone())
                .unwrap_or_default()
        };
        // Same inputs, same outputs?
        let bytes = std::fs::read(&py_emb)?;
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mut diffs = Vec::new();
        for (name, e, _) in &backends {
            let got = embed_all(e, texts).await?;
            if got.len() != reference.len() {
                return Err(format!(
                    "{name}: {} numbers against Python's {}",
                    got.len(),
                    reference.len()
                )
                .into());
            }
            let diff = got
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0_f32, f32::max);
            if diff.is_nan() || diff > MAX_ABS_DIFF {
                return Err(format!(
                    "{name}: embeddings differ from Python onnxruntime's by {diff} (max abs), more than {MAX_ABS_DIFF}"
                )
                .into());
            }
            diffs.push(diff);
        }
        let mut py_load = vec![before.load_s];
        py_load.extend(after.as_ref().map(|a| a.load_s));
        table.push(Row {
            section: "embeddings",
            ours: "onnx (ort): load tokenizer + session".into(),
            ours_value: onnx_load_s,
            reference: "Python onnxruntime: the same".into(),
            ref_value: median(&py_load),
            unit: "s",
            better: Better::Lower,
            target: None,
            note: "ours includes loading libonnxruntime.so (Python's import does that before the clock starts)".into(),
        });
        let version = &before.version;
        let common = |rates: &[f64], py: &[f64], diff: f32| {
            format!(
                "{} sentences; medians of {} passes (ours) and {} (Python: {runs} run{}, before{} ours); best {:.1} vs {:.1}; {threads} threads each side; max abs diff of the embeddings {:.1e}",
                texts.len(),
                rates.len(),
                py.len(),
                if runs == 2 { "s" } else { "" },
                if runs == 2 { " and after" } else { "" },
                best(rates),
                best(py),
                diff,
            )
        };
        // (backend index, batch, target)
        let rows: [(usize, usize, Option<f64>); 4] = [
            (0, 1, None),
            (1, 1, None),
            (0, 32, Some(1.0)),
            (1, 32, Some(0.8)),
        ];
        let what = "each batch in one run padded to its longest, both sides (no bucketing)";
        for (k, batch, target) in rows {
            let rates = ours_rates(k, batch);
            let py_rates = python_rates(batch);
            let name = backends.get(k).map_or("?", |b| b.0);
            table.push(Row {
                section: "embeddings",
                ours: format!("{name}, batch {batch}"),
                ours_value: median(&rates),
                reference: format!("Python onnxruntime {version}, batch {batch}"),
                ref_value: median(&py_rates),
                unit: "sentences/s",
                better: Better::Higher,
                target,
                note: format!(
                    "{what}; {}",
                    common(&rates, &py_rates, diffs.get(k).copied().unwrap_or(f32::NAN))
                ),
            });
        }
    }

    indexing(table, &onnx, "onnx (ort; default)", sizes.items, tmp).await?;
    let targets: Vec<bool> = table
        .rows()
        .iter()
        .filter(|r| r.section == "embeddings" || r.section == "indexing")
        .filter_map(|r| r.met())
        .collect();
    table.note(format!(
        "embed: {} of {} targets met; Python side: scripts/ort_bench.py (onnxruntime, tokenizers, numpy pinned by scripts/bench-venv.sh)",
        targets.iter().filter(|m| **m).count(),
        targets.len()
    ));
    Ok(())
}

const TOPICS: [&str; 10] = [
    "phishing",
    "ransomware",
    "web application testing",
    "SQL injection",
    "cloud IAM",
    "threat hunting",
    "incident response",
    "malware analysis",
    "zero trust networking",
    "GDPR compliance",
];
const ANGLES: [&str; 5] = [
    "Foundations of",
    "Hands-on",
    "Advanced",
    "Case studies in",
    "Defending against",
];

fn catalog(n: usize) -> Vec<ContentItem> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let topic = TOPICS[i % TOPICS.len()];
            let angle = ANGLES[(i / TOPICS.len()) % ANGLES.len()];
            let new = NewContent {
                content_id: Some(format!("compare-{i}")),
                content_type: ContentType::ALL[i % ContentType::ALL.len()],
                title: format!("{angle} {topic} #{i}"),
                description: format!(
                    "{angle} {topic}: practical material for security practitioners, part {}.",
                    i / 50
                ),
                track: Some(Track::ALL[(i / 3) % Track::ALL.len()]),
                difficulty: Some(Difficulty::ALL[i % Difficulty::ALL.len()]),
                tags: vec![topic.replace(' ', "-")],
                estimated_minutes: Some(30),
            };
            ContentItem::new(ContentUuid(uuid::Uuid::new_v4()), new, now)
        })
        .collect()
}

/// Indexing `n` items through the outbox worker against the embedder's own batch-32 rate.
async fn indexing(
    table: &mut Table,
    embedder: &DynEmbedder,
    name: &str,
    n: usize,
    tmp: &Path,
) -> BenchResult<()> {
    let store = cyberhub_store::open(&format!("sqlite://{}/cyberhub.db", tmp.display())).await?;
    let vectors = cyberhub_vector::open(&format!("embedded://{}/vectors", tmp.display())).await?;
    let index = CatalogIndex::new(embedder.clone(), vectors, "compare_catalog");
    index.ensure_collection().await?;
    let items = catalog(n);
    let texts: Vec<String> = items.iter().map(ContentItem::embedding_text).collect();
    let baseline = |texts: Vec<String>| {
        let e = embedder.clone();
        async move {
            e.embed(&texts[..texts.len().min(32)]).await?; // warm-up
            let t = Instant::now();
            for chunk in texts.chunks(32) {
                e.embed(chunk).await?;
            }
            BenchResult::Ok(texts.len() as f64 / t.elapsed().as_secs_f64())
        }
    };
    let before = baseline(texts.clone()).await?;
    // Enqueue: each item a catalog write, which appends its outbox event in the same
    // transaction (the path every catalog change takes).
    let t = Instant::now();
    for item in &items {
        let audit = AuditEvent::new(
            AuditId(uuid::Uuid::new_v4()),
            None,
            AuditAction::ContentChange,
            ("content", Some(item.id.to_string())),
            AuditResult::Success,
            item.created_at,
        );
        store.insert_content(item, &audit).await?;
    }
    let enqueue_s = t.elapsed().as_secs_f64();
    // Index: one worker's rounds (what `Indexer::run` does while there is work) until the
    // outbox is empty.
    let worker =
        cyberhub_server::indexer::Indexer::new(store.clone(), index.clone(), Arc::new(SystemClock));
    let t = Instant::now();
    let mut rounds = 0;
    loop {
        let done = worker.run_once().await?;
        rounds += 1;
        if done == 0 {
            if store.index_backlog().await? == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let index_s = t.elapsed().as_secs_f64();
    let indexed = index.count().await?;
    if indexed != n as u64 {
        return Err(format!("indexed {indexed} of {n} items").into());
    }
    let after = baseline(texts).await?;
    table.push(Row {
        section: "indexing",
        ours: format!("catalog indexing, outbox worker, {name} ({n} items)"),
        ours_value: n as f64 / index_s,
        reference: "the same embedder on the same texts, batch 32".into(),
        ref_value: before.max(after),
        unit: "items/s",
        better: Better::Higher,
        target: Some(0.8),
        note: format!(
            "SQLite store + embedded vector store in a temp dir; timed from the worker's first claim to an empty outbox ({rounds} rounds, {index_s:.1} s); the {n} catalog writes that enqueued the events took {enqueue_s:.1} s before that; reference = the better of two runs, before ({before:.1}) and after ({after:.1})"
        ),
    });
    Ok(())
}
