//! all-MiniLM-L6-v2 with candle: BERT forward pass over the safetensors weights, masked mean
//! pooling over tokens, L2 normalisation (what sentence-transformers does). The tokenizer is
//! set to pad each batch to its longest text and truncate at 256 tokens (the model file itself
//! says "pad everything to 128", which is slower and cuts long texts).

use crate::bert::{Bert, BertConfig};
use crate::embedder::{check_batch, normalize, Embedder, InferencePool};
use crate::{AiError, AiErrorKind, Result, MINILM_MODEL_ID};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input, in tokens (sentence-transformers' `max_seq_length` for this model).
pub const MAX_TOKENS: usize = 256;

/// The candle embedder (see the module docs).
#[derive(Clone)]
pub struct CandleEmbedder {
    inner: Arc<Inner>,
    pool: InferencePool,
}

struct Inner {
    model: Bert,
    tokenizer: Tokenizer,
    dimension: usize,
    dir: PathBuf,
}

impl std::fmt::Debug for CandleEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleEmbedder")
            .field("dir", &self.inner.dir)
            .field("dimension", &self.inner.dimension)
            .finish_non_exhaustive()
    }
}

fn inference(e: impl std::error::Error + Send + Sync + 'static) -> AiError {
    AiError::new(AiErrorKind::Internal, "embedding inference failed").with_source(Box::new(e))
}

fn missing(dir: &Path, what: &str) -> AiError {
    AiError::new(
        AiErrorKind::ModelMissing,
        format!(
            "the embedding model is not in {} ({what}); fetch it with `bash scripts/fetch-model.sh {}`",
            dir.display(),
            dir.display()
        ),
    )
}

impl CandleEmbedder {
    /// Loads the model from `dir` (blocking: reads about 90 MB); inference runs on `pool`.
    pub fn load(dir: &Path, pool: InferencePool) -> Result<Self> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|_| missing(dir, name));
        let config: BertConfig = serde_json::from_slice(&read("config.json")?).map_err(|e| {
            missing(dir, "config.json is not a BERT config").with_source(Box::new(e))
        })?;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).map_err(
            |e| missing(dir, "model.safetensors is unreadable").with_source(Box::new(e)),
        )?;
        let model = Bert::load(vb, &config).map_err(|e| {
            missing(dir, "model.safetensors does not match config.json").with_source(Box::new(e))
        })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| missing(dir, "tokenizer.json").with_source(e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| missing(dir, "tokenizer.json truncation").with_source(e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                dimension: config.hidden_size,
                dir: dir.to_owned(),
            }),
            pool,
        })
    }

    /// [`CandleEmbedder::load`] on the blocking pool.
    pub async fn load_async(dir: PathBuf, pool: InferencePool) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::load(&dir, pool))
            .await
            .map_err(|e| {
                AiError::new(AiErrorKind::Internal, "loading the model failed")
                    .with_source(Box::new(e))
            })?
    }

    /// Embeds on the calling thread (blocking); [`Embedder::embed`] is the async entry point.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        self.inner.embed(texts)
    }
}

/// Texts per forward pass. A request's batch (up to 256 texts of 256 tokens) runs in chunks
/// of this size, so the attention scores stay bounded (8 × 12 heads × 256² floats, 25 MiB,
/// against 800 MiB for 256 texts at once). Measured with the flood bench: peak RSS 963 MiB
/// at 32 texts per pass, 782 MiB at 8.
const CHUNK: usize = 8;

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(CHUNK) {
            out.extend(self.embed_chunk(chunk)?);
        }
        Ok(out)
    }

    fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let dev = Device::Cpu;
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| AiError::new(AiErrorKind::Internal, "tokenizing failed").with_source(e))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &dev))
                .collect::<candle_core::Result<Vec<_>>>()
                .map_err(inference)?;
            Tensor::stack(&rows, 0).map_err(inference)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let type_ids = ids.zeros_like().map_err(inference)?;
        let hidden = self
            .model
            .forward(&ids, &type_ids, &mask)
            .map_err(inference)?; // [batch, tokens, dim]
        let m = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(inference)?; // [batch, tokens, 1]
        let summed = hidden
            .broadcast_mul(&m)
            .and_then(|t| t.sum(1))
            .map_err(inference)?;
        let counts = m
            .sum(1)
            .and_then(|c| c.clamp(1e-9, f64::MAX))
            .map_err(inference)?;
        let mean = summed.broadcast_div(&counts).map_err(inference)?;
        let mut out: Vec<Vec<f32>> = mean.to_vec2().map_err(inference)?;
        out.iter_mut().for_each(|v| normalize(v));
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Embedder for CandleEmbedder {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dimension(&self) -> usize {
        self.inner.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        let inner = self.inner.clone();
        let texts = texts.to_vec();
        self.pool.run(move || inner.embed(&texts)).await
    }
}
