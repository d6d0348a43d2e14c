//! The [`Embedder`] trait, its limits, and the bounded blocking pool inference runs on.

use crate::{AiError, AiErrorKind, Result};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Most texts in one `embed` call.
pub const MAX_BATCH: usize = 256;
/// Longest text accepted, in bytes (the model reads at most 256 tokens of it).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Turns texts into unit-length vectors of a fixed dimension.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// Which model (e.g. `sentence-transformers/all-MiniLM-L6-v2`); vectors of different
    /// models are not comparable.
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dimension(&self) -> usize;

    /// One L2-normalised vector per text, in order. 1–[`MAX_BATCH`] texts of at most
    /// [`MAX_TEXT_BYTES`] each; inference never runs on the async runtime's threads.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// An embedder chosen at run time.
pub type DynEmbedder = Arc<dyn Embedder>;

/// Checks a batch against the limits.
pub fn check_batch(texts: &[String]) -> Result<()> {
    if texts.is_empty() {
        return Err(AiError::new(
            AiErrorKind::InvalidInput,
            "send at least one text",
        ));
    }
    if texts.len() > MAX_BATCH {
        return Err(AiError::new(
            AiErrorKind::InvalidInput,
            format!("at most {MAX_BATCH} texts per request, got {}", texts.len()),
        ));
    }
    if let Some(i) = texts.iter().position(|t| t.len() > MAX_TEXT_BYTES) {
        return Err(AiError::new(
            AiErrorKind::InvalidInput,
            format!("text {i} is longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Runs CPU-heavy work on tokio's blocking pool, at most `permits` at a time; callers beyond
/// that wait in line (bounded memory, no runtime starvation).
#[derive(Debug, Clone)]
pub struct InferencePool {
    permits: Arc<Semaphore>,
}

impl InferencePool {
    /// A pool running at most `concurrency` (≥ 1) jobs at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Runs `job` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.clone().acquire_owned().await.map_err(|_| {
            AiError::new(AiErrorKind::Unavailable, "the inference pool is shut down")
        })?;
        tokio::task::spawn_blocking(job).await.map_err(|e| {
            AiError::new(AiErrorKind::Internal, "an inference task failed").with_source(e)
        })?
    }
}

impl Default for InferencePool {
    /// One job per available core.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }
}

/// Scales `v` to unit length (leaves a zero vector as is).
pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 1e-12 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
