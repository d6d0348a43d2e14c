//! all-MiniLM-L6-v2 with candle: BERT forward pass over the safetensors weights, masked mean
//! pooling over tokens, L2 normalisation (what sentence-transformers does). Texts are
//! truncated at 256 tokens and each forward pass is padded to its longest text (the model
//! file itself says "pad everything to 128", which is slower and cuts long texts).

use crate::bert::{Bert, BertConfig};
use crate::embedder::{check_batch, length_runs, mean_pool, Embedder, InferencePool};
use crate::{AiError, AiErrorKind, Result, MINILM_MODEL_ID};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{Tokenizer, TruncationParams};

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
        tokenizer.with_padding(None);
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

/// Rows (texts × padded length) per forward pass: a request's batch (up to 256 texts of up to
/// 256 tokens) runs in passes of at most this many rows, so the activations stay bounded
/// (2,048 rows × 1,536 floats of the feed-forward layer, 12 MiB; the attention keeps no
/// score matrix).
const ROWS_PER_PASS: usize = 2048;
/// Most texts in one forward pass. A batch is sorted by token count and cut into passes of
/// at most this many texts, each padded only to its own longest (see
/// [`crate::length_runs`]): a batch of up to 32 short texts is one pass.
const MAX_TEXTS_PER_PASS: usize = 32;

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| AiError::new(AiErrorKind::Internal, "tokenizing failed").with_source(e))?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for run in length_runs(&lengths, MAX_TEXTS_PER_PASS, ROWS_PER_PASS) {
            let pass: Vec<&tokenizers::Encoding> =
                run.iter().filter_map(|&i| encodings.get(i)).collect();
            let mut vectors = Vec::with_capacity(pass.len());
            self.embed_pass(&pass, &mut vectors)?;
            for (i, v) in run.into_iter().zip(vectors) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = v;
                }
            }
        }
        Ok(out)
    }

    fn embed_pass(
        &self,
        encodings: &[&tokenizers::Encoding],
        out: &mut Vec<Vec<f32>>,
    ) -> Result<()> {
        let dev = Device::Cpu;
        let batch = encodings.len();
        let tokens = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![0_u32; batch * tokens];
        let mut mask = vec![0_u32; batch * tokens];
        for ((e, ids), mask) in encodings
            .iter()
            .zip(ids.chunks_mut(tokens))
            .zip(mask.chunks_mut(tokens))
        {
            ids.iter_mut().zip(e.get_ids()).for_each(|(d, s)| *d = *s);
            mask.iter_mut()
                .zip(e.get_attention_mask())
                .for_each(|(d, s)| *d = *s);
        }
        let ids_t = Tensor::from_vec(ids, (batch, tokens), &dev).map_err(inference)?;
        let mask_t = Tensor::from_slice(&mask, (batch, tokens), &dev).map_err(inference)?;
        let type_ids = ids_t.zeros_like().map_err(inference)?;
        let hidden = self
            .model
            .forward(&ids_t, &type_ids, &mask_t)
            .map_err(inference)?; // [batch, tokens, dim]
        let width = hidden.dim(2).map_err(inference)?;
        let hidden: Vec<f32> = hidden
            .flatten_all()
            .and_then(|h| h.to_vec1())
            .map_err(inference)?;
        mean_pool(&hidden, &mask, tokens, width, out);
        Ok(())
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
