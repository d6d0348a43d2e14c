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

/// Runs CPU-heavy work on tokio's blocking pool, at most `permits` at a time. Callers
/// beyond that wait in a bounded line: when `max_waiting` callers already wait, or a caller
/// has waited `queue_timeout`, the answer is [`AiErrorKind::Unavailable`] (the server's 503
/// with `Retry-After`) instead of an ever longer queue (bounded memory and latency, no
/// runtime starvation).
#[derive(Debug, Clone)]
pub struct InferencePool {
    permits: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
    queue_timeout: std::time::Duration,
}

impl InferencePool {
    /// A pool running at most `concurrency` (≥ 1) jobs at once, with up to 16 callers per
    /// slot waiting at most 10 s each.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self::with_limits(
            concurrency,
            concurrency * 16,
            std::time::Duration::from_secs(10),
        )
    }

    /// A pool with explicit bounds.
    pub fn with_limits(
        concurrency: usize,
        max_waiting: usize,
        queue_timeout: std::time::Duration,
    ) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            max_waiting,
            queue_timeout,
        }
    }

    /// Callers waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `job` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        use std::sync::atomic::Ordering;
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(AiError::new(
                    AiErrorKind::Unavailable,
                    "the inference pool is shut down",
                ))
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(AiError::new(
                        AiErrorKind::Unavailable,
                        "the embedding service is busy; retry shortly",
                    ));
                }
                let waited =
                    tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
                        .await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => {
                        return Err(AiError::new(
                            AiErrorKind::Unavailable,
                            "the inference pool is shut down",
                        ))
                    }
                    Err(_) => {
                        return Err(AiError::new(
                            AiErrorKind::Unavailable,
                            "the embedding service is busy; retry shortly",
                        ))
                    }
                }
            }
        };
        let _permit = permit;
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

/// Sentence embeddings from an encoder's output: `hidden` is `[texts, tokens, width]` row
/// major, `mask` `[texts, tokens]` (non-zero = a real token). Each text's vector is the mean
/// of its real tokens' rows, scaled to unit length, appended to `out` (what
/// sentence-transformers does for all-MiniLM-L6-v2; both backends pool here).
pub(crate) fn mean_pool<M: Copy + PartialEq + Default>(
    hidden: &[f32],
    mask: &[M],
    tokens: usize,
    width: usize,
    out: &mut Vec<Vec<f32>>,
) {
    if tokens == 0 || width == 0 {
        return;
    }
    for (row, m) in hidden
        .chunks_exact(tokens * width)
        .zip(mask.chunks_exact(tokens))
    {
        let mut sum = vec![0.0_f32; width];
        let mut count = 0.0_f32;
        for (token, &keep) in row.chunks_exact(width).zip(m) {
            if keep != M::default() {
                sum.iter_mut().zip(token).for_each(|(s, x)| *s += x);
                count += 1.0;
            }
        }
        let count = count.max(1e-9);
        sum.iter_mut().for_each(|s| *s /= count);
        normalize(&mut sum);
        out.push(sum);
    }
}

/// Groups the texts of a batch for inference runs: indices sorted by token count (stable),
/// cut into runs of at most `max_texts` texts and at most `max_rows` padded rows (texts ×
/// the run's longest; a single text always fits). Each run is padded only to its own
/// longest text, so sorting cuts the padding a mixed batch would carry; callers put the
/// results back in the caller's order.
pub fn length_runs(lengths: &[usize], max_texts: usize, max_rows: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths.get(i).copied().unwrap_or(0));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for i in order {
        let len = lengths.get(i).copied().unwrap_or(0);
        // Sorted ascending: this text is the longest of the run if added.
        if !run.is_empty() && (run.len() >= max_texts.max(1) || (run.len() + 1) * len > max_rows) {
            runs.push(std::mem::take(&mut run));
        }
        run.push(i);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod run_tests {
    use super::length_runs;

    #[test]
    fn runs_are_sorted_bounded_and_cover_every_text() {
        let lengths = [9, 3, 7, 3, 12, 5];
        let runs = length_runs(&lengths, 2, 100);
        assert_eq!(runs, vec![vec![1, 3], vec![5, 2], vec![0, 4]]);
        // The row budget splits long texts apart; one text always fits.
        let runs = length_runs(&[300, 10, 300], 8, 512);
        assert_eq!(runs, vec![vec![1], vec![0], vec![2]]);
        assert!(length_runs(&[], 4, 10).is_empty());
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_is_bounded_and_times_out() {
        let pool = InferencePool::with_limits(1, 1, std::time::Duration::from_millis(200));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = pool.clone();
        let first = tokio::spawn(async move {
            busy.run(move || {
                hold.recv().ok();
                Ok(1)
            })
            .await
        });
        // Wait until the first job holds the only slot.
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let waiter = pool.clone();
        let second = tokio::spawn(async move { waiter.run(|| Ok(2)).await });
        while pool.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // The line is full: refused at once.
        let third = pool.run(|| Ok(3)).await.unwrap_err();
        assert_eq!(third.kind(), AiErrorKind::Unavailable);
        // The waiting one gives up after the queue timeout (the slot is still held).
        let second = second.await.unwrap().unwrap_err();
        assert_eq!(second.kind(), AiErrorKind::Unavailable);
        assert_eq!(pool.waiting(), 0);
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(pool.run(|| Ok(4)).await.unwrap(), 4, "free again");
    }
}
