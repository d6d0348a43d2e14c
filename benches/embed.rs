//! Embedding throughput: sentences per second for the candle and ONNX Runtime backends at
//! batch 1 and 32.
//!
//! `cargo bench --bench embed` measures (512 security-flavoured sentences, 2 rounds after a
//! warm-up); under `cargo test --bench embed` it runs one small batch. Needs
//! `CYBERHUB_MODEL_DIR` (scripts/fetch-model.sh; ONNX Runtime also `model_fp32.onnx` from
//! scripts/build-fp32-onnx.sh and `lib/libonnxruntime.so`); without it the bench says so and exits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // bench code may fail loudly

use cyberhub_ai::{CandleEmbedder, DynEmbedder, Embedder, InferencePool, OnnxEmbedder};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[path = "support/sentences.rs"]
mod support;
use support::sentences;

async fn throughput(name: &str, e: &dyn Embedder, texts: &[String], rounds: usize) {
    for batch in [1usize, 32] {
        for chunk in texts.chunks(batch).take(4) {
            e.embed(chunk).await.unwrap(); // warm-up
        }
        let t = Instant::now();
        for _ in 0..rounds {
            for chunk in texts.chunks(batch) {
                e.embed(chunk).await.unwrap();
            }
        }
        let per_s = (texts.len() * rounds) as f64 / t.elapsed().as_secs_f64();
        println!("{name:<9} batch {batch:>2}: {per_s:7.1} sentences/s (one job at a time)");
    }
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    // Skips with a message on a developer machine; under CI=true a missing model fails.
    let Some(dir) = cyberhub_vector::conformance::service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let texts = sentences(if measuring { 512 } else { 32 });
    let rounds = if measuring { 2 } else { 1 };
    let candle: DynEmbedder = Arc::new(
        CandleEmbedder::load_async(dir.clone(), InferencePool::new(1))
            .await
            .unwrap(),
    );
    throughput("candle", candle.as_ref(), &texts, rounds).await;
    let lib = dir.join("lib/libonnxruntime.so");
    if dir.join("model_fp32.onnx").exists() && lib.exists() {
        let fe = tokio::task::spawn_blocking(move || {
            OnnxEmbedder::load(&dir, &lib, InferencePool::new(1))
        })
        .await
        .unwrap()
        .unwrap();
        throughput("onnx", &fe, &texts, rounds).await;
    } else {
        println!("onnx: skipped (no model_fp32.onnx or lib/libonnxruntime.so in the model dir)");
    }
}
