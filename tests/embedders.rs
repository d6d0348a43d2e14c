//! The embedder backends (candle, ONNX Runtime) against reference vectors computed
//! once, independently, by a float64 numpy BERT forward pass over the same weights
//! (`scripts/reference_embeddings.py`; output committed in
//! `cyberhub-ai/tests/data/minilm_reference.json`), and against each other. Needs the
//! model files in `CYBERHUB_MODEL_DIR` (scripts/fetch-model.sh --onnxruntime, then
//! scripts/build-fp32-onnx.sh); under `CI=true` a missing directory fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_ai::{
    AiErrorKind, CandleEmbedder, Embedder, InferencePool, OnnxEmbedder, MINILM_DIMENSION,
};
use cyberhub_vector::conformance::service_url;
use std::path::PathBuf;
use std::sync::OnceLock;

fn model_dir() -> Option<PathBuf> {
    // Same rule as the services the other suites need: skip locally, fail under CI.
    service_url("CYBERHUB_MODEL_DIR").map(PathBuf::from)
}

fn embedder() -> Option<&'static CandleEmbedder> {
    static E: OnceLock<Option<CandleEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        model_dir().map(|d| CandleEmbedder::load(&d, InferencePool::new(2)).expect("model loads"))
    })
    .as_ref()
}

fn onnx() -> Option<&'static OnnxEmbedder> {
    static E: OnceLock<Option<OnnxEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        model_dir().map(|d| {
            let lib = d.join("lib/libonnxruntime.so");
            OnnxEmbedder::load(&d, &lib, InferencePool::new(2)).expect("ONNX model loads")
        })
    })
    .as_ref()
}

struct Reference {
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let raw = include_str!("../cyberhub-ai/tests/data/minilm_reference.json");
    let json: serde_json::Value = serde_json::from_str(raw).unwrap();
    let mut texts = Vec::new();
    let mut vectors = Vec::new();
    for v in json["vectors"].as_array().unwrap() {
        texts.push(v["text"].as_str().unwrap().to_owned());
        vectors.push(
            v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        );
    }
    Reference { texts, vectors }
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn matches_the_independent_reference() {
    let Some(e) = embedder() else { return };
    let r = reference();
    assert!(r.texts.len() >= 10);
    assert_eq!(e.dimension(), MINILM_DIMENSION);
    assert_eq!(e.model_id(), "sentence-transformers/all-MiniLM-L6-v2");
    let got = e.embed(&r.texts).await.unwrap();
    for ((text, want), got) in r.texts.iter().zip(&r.vectors).zip(&got) {
        assert_eq!(got.len(), MINILM_DIMENSION);
        let max_diff = want
            .iter()
            .zip(got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let c = cos(want, got);
        assert!(c >= 0.9999, "{text:?}: cosine {c}");
        assert!(max_diff <= 1e-4, "{text:?}: max abs diff {max_diff}");
        assert!((cos(got, got) - 1.0).abs() < 1e-5, "unit length");
    }
}

#[tokio::test]
async fn padding_does_not_leak_into_shorter_texts() {
    let Some(e) = embedder() else { return };
    let r = reference();
    let batch = e.embed(&r.texts).await.unwrap();
    for (text, in_batch) in r.texts.iter().zip(&batch) {
        let alone = e.embed(std::slice::from_ref(text)).await.unwrap();
        let diff = alone[0]
            .iter()
            .zip(in_batch)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-5,
            "{text:?}: alone vs in a padded batch differ by {diff}"
        );
    }
}

#[tokio::test]
async fn similar_meaning_scores_higher() {
    let Some(e) = embedder() else { return };
    let t = |s: &str| s.to_owned();
    let v = e
        .embed(&[
            t("SQL injection attacks against web login forms"),
            t("Exploiting database queries through unsanitised user input"),
            t("A cat sits on the mat."),
        ])
        .await
        .unwrap();
    assert!(
        cos(&v[0], &v[1]) > cos(&v[0], &v[2]) + 0.2,
        "{} vs {}",
        cos(&v[0], &v[1]),
        cos(&v[0], &v[2])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_concurrency() {
    let Some(e) = embedder() else { return };
    let kind = |r: cyberhub_ai::Result<Vec<Vec<f32>>>| r.unwrap_err().kind();
    assert_eq!(kind(e.embed(&[]).await), AiErrorKind::InvalidInput);
    let many = vec!["x".to_owned(); cyberhub_ai::MAX_BATCH + 1];
    assert_eq!(kind(e.embed(&many).await), AiErrorKind::InvalidInput);
    let long = vec!["word ".repeat(cyberhub_ai::MAX_TEXT_BYTES)];
    assert_eq!(kind(e.embed(&long).await), AiErrorKind::InvalidInput);
    // A text well past 256 tokens is truncated, not refused.
    let longish = vec!["packet ".repeat(1000)];
    assert_eq!(e.embed(&longish).await.unwrap()[0].len(), MINILM_DIMENSION);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let e = e.clone();
            tokio::spawn(async move { e.embed(&[format!("log line {i}")]).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap()[0].len(), MINILM_DIMENSION);
    }
}

#[test]
fn a_missing_model_names_the_fetch_command() {
    let dir = std::env::temp_dir().join("cyberhub-no-model-here");
    let e = CandleEmbedder::load(&dir, InferencePool::new(1)).unwrap_err();
    assert_eq!(e.kind(), AiErrorKind::ModelMissing);
    assert!(e.to_string().contains("fetch-model.sh"), "{e}");
}

#[tokio::test]
async fn onnx_matches_the_reference_and_candle() {
    let (Some(fe), Some(ca)) = (onnx(), embedder()) else {
        return;
    };
    let r = reference();
    assert_eq!(fe.dimension(), MINILM_DIMENSION);
    assert_eq!(fe.model_id(), ca.model_id());
    let got = fe.embed(&r.texts).await.unwrap();
    let cand = ca.embed(&r.texts).await.unwrap();
    for (((text, want), got), cand) in r.texts.iter().zip(&r.vectors).zip(&got).zip(&cand) {
        let max_diff = want
            .iter()
            .zip(got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            cos(want, got) >= 0.9999,
            "{text:?}: cosine to the reference {}",
            cos(want, got)
        );
        assert!(max_diff <= 1e-4, "{text:?}: max abs diff {max_diff}");
        assert!(
            cos(cand, got) >= 0.999,
            "{text:?}: candle vs onnx cosine {}",
            cos(cand, got)
        );
    }
    let kind = fe.embed(&[]).await.unwrap_err().kind();
    assert_eq!(kind, AiErrorKind::InvalidInput);
}

#[test]
fn onnx_without_the_runtime_library_is_a_clear_error() {
    let Some(dir) = model_dir() else { return };
    let e = OnnxEmbedder::load(
        &dir,
        &dir.join("lib/no-such-runtime.so"),
        InferencePool::new(1),
    )
    .unwrap_err();
    assert_eq!(e.kind(), AiErrorKind::ModelMissing);
    assert!(e.to_string().contains("build-fp32-onnx.sh"), "{e}");
}
