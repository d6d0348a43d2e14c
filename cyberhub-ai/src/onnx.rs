//! all-MiniLM-L6-v2 through ONNX Runtime, driven directly with `ort`: the fp32 ONNX graph
//! built from the same safetensors (`scripts/build-fp32-onnx.sh`), tokenised with the
//! `tokenizers` crate (truncation at 256 tokens, padding to the batch's longest text), masked
//! mean pooling and L2 normalisation in Rust. The runtime library (`libonnxruntime.so` ≥ 1.24)
//! is loaded from a path at run time: nothing is linked or downloaded at build time.
//!
//! The session runs every graph optimisation ONNX Runtime has (`ORT_ENABLE_ALL`, what Python
//! onnxruntime uses by default) with an explicit intra-op thread count (default: one per
//! core) and one inter-op thread.

use crate::embedder::{check_batch, length_runs, mean_pool, Embedder, InferencePool};
use crate::{AiError, AiErrorKind, Result, MINILM_DIMENSION, MINILM_MODEL_ID};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

/// The ONNX model file inside the model directory.
pub const ONNX_FILE: &str = "model_fp32.onnx";

/// The runtime library's usual place inside the model directory (`fetch-model.sh --onnxruntime`).
pub const ONNXRUNTIME_LIB: &str = "lib/libonnxruntime.so";

/// Longest input, in tokens (sentence-transformers' `max_seq_length` for this model).
const MAX_TOKENS: usize = 256;

/// Texts per inference run by default. A batch is sorted by token count and run in groups of
/// at most this many, each padded only to its own longest text (see [`crate::length_runs`]):
/// a batch of up to 32 texts is one run (measured on this model: splitting 32 similar
/// sentences into two sorted runs of 16 was about 5 % slower than one run), a larger batch
/// of mixed lengths carries less padding than arbitrary chunks would.
pub const DEFAULT_RUN_TEXTS: usize = 32;

/// Most padded rows (texts × longest) per inference run, so the attention scores stay
/// bounded: 32 texts of 256 tokens, 32 × 12 heads × 256² floats, 100 MiB.
const MAX_ROWS: usize = 32 * MAX_TOKENS;

/// The ONNX Runtime embedder (see the module docs).
#[derive(Clone)]
pub struct OnnxEmbedder {
    inner: Arc<Inner>,
    pool: InferencePool,
}

struct Inner {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    /// Whether the graph takes `token_type_ids` (ours does; some exports do not).
    segments: bool,
    /// The graph's first output (`last_hidden_state`: `[batch, tokens, hidden]`).
    output: String,
    dir: PathBuf,
    threads: usize,
    /// Most texts per inference run.
    run_texts: usize,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("dir", &self.inner.dir)
            .field("threads", &self.inner.threads)
            .finish_non_exhaustive()
    }
}

fn missing(dir: &Path, what: &str) -> AiError {
    AiError::new(
        AiErrorKind::ModelMissing,
        format!(
            "the ONNX embedding model is not usable in {} ({what}); fetch it with \
             `cyberhub-server models pull` (or `bash scripts/fetch-model.sh {} --onnxruntime && \
             bash scripts/build-fp32-onnx.sh {}`), or choose embedder = \"candle\"",
            dir.display(),
            dir.display(),
            dir.display()
        ),
    )
}

fn inference(what: &'static str, e: impl std::fmt::Display) -> AiError {
    AiError::new(AiErrorKind::Internal, format!("{what}: {e}"))
}

/// The process's ONNX Runtime environment: ONNX Runtime allows one per process, and the
/// library is loaded once, so every embedder shares the first one (and its library).
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

fn environment(dir: &Path, library: &Path) -> Result<Environment> {
    let mut env = ENVIRONMENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((loaded, e)) = env.as_ref() {
        if loaded != library {
            return Err(missing(
                dir,
                &format!(
                    "ONNX Runtime is already loaded from {} in this process; {} cannot be loaded too",
                    loaded.display(),
                    library.display()
                ),
            ));
        }
        return Ok(e.clone());
    }
    if !library.is_file() {
        return Err(missing(
            dir,
            &format!("no ONNX Runtime library at {}", library.display()),
        ));
    }
    let e = ort::init_from(library)
        .map_err(|e| missing(dir, "ONNX Runtime did not load").with_source(Box::new(e)))?
        .with_name("cyberhub")
        .build()
        .map_err(|e| missing(dir, &format!("ONNX Runtime did not start: {e}")))?;
    *env = Some((library.to_owned(), e.clone()));
    Ok(e)
}

impl OnnxEmbedder {
    /// Loads `dir/model_fp32.onnx` and `dir/tokenizer.json`, with ONNX Runtime from
    /// `runtime_library` (e.g. `dir/lib/libonnxruntime.so`), one intra-op thread per core.
    /// Blocking.
    pub fn load(dir: &Path, runtime_library: &Path, pool: InferencePool) -> Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self::load_with_threads(dir, runtime_library, pool, threads)
    }

    /// [`OnnxEmbedder::load`] with `threads` intra-op threads (≥ 1).
    pub fn load_with_threads(
        dir: &Path,
        runtime_library: &Path,
        pool: InferencePool,
        threads: usize,
    ) -> Result<Self> {
        let threads = threads.max(1);
        let model = dir.join(ONNX_FILE);
        if !model.is_file() {
            return Err(missing(dir, ONNX_FILE));
        }
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| missing(dir, "tokenizer.json").with_source(e))?;
        tokenizer.with_padding(None); // each run is padded to its own longest text
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| missing(dir, "tokenizer.json truncation").with_source(e))?;
        let env = environment(dir, runtime_library)?;
        let bad = |e: ort::Error<_>| missing(dir, &format!("session options: {e}"));
        let session = Session::builder(&env)
            .map_err(|e| missing(dir, &format!("session: {e}")))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(bad)?
            .with_intra_threads(threads)
            .map_err(bad)?
            .with_inter_threads(1)
            .map_err(bad)?
            .commit_from_file(&model)
            .map_err(|e| missing(dir, &format!("the ONNX model did not load: {e}")))?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for needed in ["input_ids", "attention_mask"] {
            if !names.contains(&needed) {
                return Err(missing(dir, &format!("the graph has no input {needed}")));
            }
        }
        let segments = names.contains(&"token_type_ids");
        let output = session
            .outputs()
            .first()
            .map(|o| o.name().to_owned())
            .ok_or_else(|| missing(dir, "the graph has no output"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                session: Mutex::new(session),
                tokenizer,
                segments,
                output,
                dir: dir.to_owned(),
                threads,
                run_texts: DEFAULT_RUN_TEXTS,
            }),
            pool,
        })
    }

    /// Intra-op threads of the session.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Embeds on the calling thread (blocking); [`Embedder::embed`] is the async entry point.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        self.inner.embed(texts)
    }
}

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| AiError::new(AiErrorKind::Internal, "tokenizing failed").with_source(e))?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for run in length_runs(&lengths, self.run_texts, MAX_ROWS) {
            let group: Vec<&Encoding> = run.iter().filter_map(|&i| encodings.get(i)).collect();
            let vectors = self.embed_run(&group)?;
            for (i, v) in run.into_iter().zip(vectors) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = v;
                }
            }
        }
        Ok(out)
    }

    /// One inference run over `encodings` (unpadded), padded here to the longest.
    fn embed_run(&self, encodings: &[&Encoding]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(encodings.len());
        let batch = encodings.len();
        let tokens = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        // Padding: id 0 ([PAD]), mask 0.
        let mut ids = vec![0_i64; batch * tokens];
        let mut mask = vec![0_i64; batch * tokens];
        for ((e, ids), mask) in encodings
            .iter()
            .zip(ids.chunks_mut(tokens))
            .zip(mask.chunks_mut(tokens))
        {
            ids.iter_mut()
                .zip(e.get_ids())
                .for_each(|(d, s)| *d = i64::from(*s));
            mask.iter_mut()
                .zip(e.get_attention_mask())
                .for_each(|(d, s)| *d = i64::from(*s));
        }
        let segments = vec![0_i64; ids.len()];
        let shape = [batch, tokens];
        fn tensor(shape: [usize; 2], v: &[i64]) -> Result<TensorRef<'_, i64>> {
            TensorRef::from_array_view((shape, v)).map_err(|e| inference("input tensor", e))
        }
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = if self.segments {
            session.run(ort::inputs![
                "input_ids" => tensor(shape, &ids)?,
                "attention_mask" => tensor(shape, &mask)?,
                "token_type_ids" => tensor(shape, &segments)?,
            ])
        } else {
            session.run(ort::inputs![
                "input_ids" => tensor(shape, &ids)?,
                "attention_mask" => tensor(shape, &mask)?,
            ])
        }
        .map_err(|e| inference("embedding inference failed", e))?;
        let (dims, hidden) = outputs
            .get(&self.output)
            .ok_or_else(|| inference("embedding output", "missing"))?
            .try_extract_tensor::<f32>()
            .map_err(|e| inference("embedding output", e))?;
        let width = match **dims {
            [b, t, w] if b as usize == batch && t as usize == tokens && w > 0 => w as usize,
            _ => return Err(inference("embedding output", format!("shape {dims:?}"))),
        };
        mean_pool(hidden, &mask, tokens, width, &mut out);
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dimension(&self) -> usize {
        MINILM_DIMENSION
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        let inner = self.inner.clone();
        let texts = texts.to_vec();
        self.pool.run(move || inner.embed(&texts)).await
    }
}
