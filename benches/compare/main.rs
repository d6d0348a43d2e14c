//! The comparison harness (issue 16): each of our parts against its reference, back to back,
//! in one run, on the same data, printed as one table of ratios with the absolute figures
//! beside them.
//!
//! - `embed`: each embedder backend against Python onnxruntime (the same fp32 ONNX graph,
//!   tokenizer, sentences and thread count), batch 1 and 32; catalog indexing against the
//!   embedder's own batch throughput.
//! - `vector`: the embedded index against pgvector, exact search as ground truth, on the
//!   Debian package-description corpus and on uniform random vectors: recall@10 against QPS
//!   for a sweep of `ef` (1 and 8 clients), build time, bytes per vector; the curves as a PNG.
//! - `http`: `GET /api/v1/progress` against a raw sqlx loop running the same queries on the
//!   same PostgreSQL; `POST /auth/login` against the raw argon2 verify rate.
//!
//! `scripts/bench-compare.sh` sets up what it needs and runs `cargo bench --bench compare`
//! (release build, full sizes); `cargo test --bench compare` (what CI runs) is the smoke mode:
//! tiny sizes, every code path, no figure means anything. Pass section names after `--` to
//! run some of them. Environment: `CYBERHUB_MODEL_DIR`, `DATABASE_URL`,
//! `PGVECTOR_DATABASE_URL`, `CYBERHUB_BENCH_PYTHON` (a Python with onnxruntime, tokenizers
//! and numpy: scripts/bench-venv.sh), `CYBERHUB_BENCH_CACHE` (corpus and its embeddings,
//! default `~/.cache/cyberhub/bench`), `CYBERHUB_BENCH_OUT` (table and PNG, default
//! `target/compare` under the cargo target dir).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // bench code may fail loudly

mod corpus;
mod embed;
mod http;
mod plot;
#[path = "../support/sentences.rs"]
mod sentences;
mod table;
mod vector;

use std::path::PathBuf;
use table::Table;

/// The server binary's allocator (cyberhub-server's default `mimalloc` feature): the server
/// under test runs in this process, and every reference with it, on the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Errors of a section: bench code reports and stops.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What every section gets.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Smoke mode (CI): tiny sizes, figures meaningless.
    pub smoke: bool,
    /// The model directory (fetch-model.sh + build-fp32-onnx.sh), if set.
    pub model_dir: Option<PathBuf>,
    /// PostgreSQL (Debian's, port 5432) for the HTTP section, if set.
    pub database_url: Option<String>,
    /// PostgreSQL with pgvector (port 5433), if set.
    pub pgvector_url: Option<String>,
    /// A Python interpreter with onnxruntime, tokenizers and numpy, if set.
    pub python: Option<PathBuf>,
    /// Cache for the corpus and its embeddings (kept between runs).
    pub cache: PathBuf,
    /// Where the table and the PNG go.
    pub out: PathBuf,
    /// Threads every side gets (the machine's cores).
    pub threads: usize,
}

impl Ctx {
    fn from_env(smoke: bool) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = var("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
        let target = var("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
        Self {
            smoke,
            model_dir: var("CYBERHUB_MODEL_DIR").map(PathBuf::from),
            database_url: var("DATABASE_URL"),
            pgvector_url: var("PGVECTOR_DATABASE_URL"),
            python: var("CYBERHUB_BENCH_PYTHON").map(PathBuf::from),
            cache: var("CYBERHUB_BENCH_CACHE")
                .map_or_else(|| home.join(".cache/cyberhub/bench"), PathBuf::from),
            out: var("CYBERHUB_BENCH_OUT").map_or_else(|| target.join("compare"), PathBuf::from),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// A required input: missing is an error under CI=true (it would hide a broken set-up),
    /// a skip with a message elsewhere.
    pub fn require<T>(&self, what: &str, v: Option<T>) -> BenchResult<Option<T>> {
        match v {
            Some(v) => Ok(Some(v)),
            None if std::env::var("CI").is_ok_and(|v| v == "true") => {
                Err(format!("{what} is not set (CI=true: every section must run)").into())
            }
            None => {
                eprintln!("{what} is not set: skipped");
                Ok(None)
            }
        }
    }
}

/// CPU model, core count and vector extensions, for the table's heading.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |k: &str| {
        info.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    format!(
        "{} cores, {}; AVX-512: {}; AVX2: {}; FMA: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        field("model name"),
        if has("avx512f") { "yes" } else { "no" },
        if has("avx2") { "yes" } else { "no" },
        if has("fma") { "yes" } else { "no" },
    )
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |s: &str| wanted.is_empty() || wanted.contains(&s);
    let ctx = Ctx::from_env(smoke);
    std::fs::create_dir_all(&ctx.out)?;
    let profile = if cfg!(debug_assertions) {
        "dev (debug assertions)"
    } else {
        "release"
    };
    let heading = format!(
        "{} — {}; {} build; {} mode",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        profile,
        if smoke {
            "smoke (tiny sizes, figures meaningless)"
        } else {
            "full"
        }
    );
    eprintln!("{heading}");
    let mut table = Table::default();
    if run("embed") {
        eprintln!("[embed]");
        embed::run(&ctx, &mut table).await?;
    }
    if run("vector") {
        eprintln!("[vector]");
        vector::run(&ctx, &mut table).await?;
    }
    if run("http") {
        eprintln!("[http]");
        http::run(&ctx, &mut table).await?;
    }
    let targets: Vec<bool> = table.rows().iter().filter_map(table::Row::met).collect();
    let met = targets.iter().filter(|m| **m).count();
    let md = format!(
        "{heading}\n\nTargets met: {met} of {}.\n\n{}",
        targets.len(),
        table.markdown()
    );
    println!("\n{md}");
    let path = ctx.out.join("compare.md");
    std::fs::write(&path, &md)?;
    eprintln!("table written to {}", path.display());
    Ok(())
}
