//! `/health`, `/ready`, `/metrics`.

use crate::state::AppState;
use cyberhub_domain::api::{HealthResponse, ReadyCheck, ReadyResponse};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Tags)]
enum Tag {
    /// Liveness, readiness, metrics.
    Health,
}

/// Readiness answer.
#[derive(ApiResponse)]
pub enum Ready {
    /// Every dependency answered.
    #[oai(status = 200)]
    Ready(Json<ReadyResponse>),
    /// A dependency did not answer (named in `checks`).
    #[oai(status = 503)]
    NotReady(Json<ReadyResponse>),
}

/// Health routes.
pub struct HealthApi(pub Arc<AppState>);

/// The embedder check of `/ready`: at most one inference at a time and one per `ttl`.
/// The probe runs in a task of its own (it may wait in the inference queue behind a
/// flood): the caller that started it waits for it at most `wait`, every other `/ready`
/// not at all, and they answer with the last result meanwhile; the probe's result is kept
/// when it finishes. Only the very first probe is waited for in full, as there is nothing
/// to answer with before it.
#[derive(Debug, Default)]
pub struct ReadyProbe {
    /// When the last probe finished, and its error if any.
    last: Arc<std::sync::Mutex<Option<ProbeResult>>>,
    /// Held by the probe that runs.
    running: Arc<tokio::sync::Mutex<()>>,
}

/// When a probe finished, and its error if any.
type ProbeResult = (Instant, Option<String>);

impl ReadyProbe {
    fn last(&self) -> Option<ProbeResult> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The embedder's error (`None`: it answered), from a result younger than `ttl`, else
    /// from `probe` when no other probe is running (waiting for it at most `wait` when
    /// there is an older result to answer with), else the last result.
    pub async fn check<F, Fut>(&self, ttl: Duration, wait: Duration, probe: F) -> Option<String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<String>> + Send + 'static,
    {
        let last = self.last();
        if let Some((at, err)) = &last {
            if at.elapsed() < ttl {
                return err.clone();
            }
        }
        let running = match (Arc::clone(&self.running).try_lock_owned(), last) {
            (Ok(guard), _) => guard,
            // A probe is running: answer with what the previous one found.
            (Err(_), Some((_, err))) => return err,
            // The very first probe is running: wait for it.
            (Err(_), None) => {
                let guard = Arc::clone(&self.running).lock_owned().await;
                if let Some((_, err)) = self.last() {
                    return err;
                }
                guard // it failed before it finished: probe here
            }
        };
        let previous = match self.last() {
            Some((at, err)) if at.elapsed() < ttl => return err, // another one finished
            previous => previous.map(|(_, err)| err),
        };
        let store = Arc::clone(&self.last);
        let probe = probe();
        let task = tokio::spawn(async move {
            let err = probe.await;
            *store.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), err.clone()));
            drop(running);
            err
        });
        let failed = |e: tokio::task::JoinError| Some(format!("the readiness probe failed: {e}"));
        match previous {
            None => task.await.unwrap_or_else(failed),
            Some(previous) => match tokio::time::timeout(wait, task).await {
                Ok(done) => done.unwrap_or_else(failed),
                // Still queued: the last result now, this probe's once it finishes.
                Err(_) => previous,
            },
        }
    }
}

/// The liveness body (no I/O).
pub fn health_body() -> HealthResponse {
    HealthResponse {
        status: "healthy".into(),
        service: "cyberhub-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// The longest `/ready` waits for the relational store (and the vector store): a database
/// that is down must be
/// reported within a second, not after the pool's acquire timeout (a load balancer's health
/// check takes the instance out of rotation on it).
pub const READY_STORE_TIMEOUT: Duration = Duration::from_millis(800);

/// Checks every dependency.
pub async fn readiness(state: &AppState) -> Ready {
    let store = match tokio::time::timeout(READY_STORE_TIMEOUT, state.store.ping()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the database did not answer within {} ms",
            READY_STORE_TIMEOUT.as_millis()
        )),
    };
    let mut checks = vec![ReadyCheck {
        name: format!("relational_store ({})", state.store.backend()),
        ok: store.is_ok(),
        error: store.err(),
        optional: false,
    }];
    #[cfg(feature = "redis")]
    if let Some(redis) = &state.shared {
        let up = redis.ping().await;
        checks.push(ReadyCheck {
            name: "shared_state (redis)".into(),
            ok: up.is_ok(),
            error: up.err().map(|e| {
                format!("{e}; limits, lock-out and the cache fall back to this instance's memory")
            }),
            optional: true,
        });
    }
    if let Some(ai) = &state.ai {
        let index = ai.index();
        let vectors = match tokio::time::timeout(READY_STORE_TIMEOUT, index.vectors().ping()).await
        {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "the vector store did not answer within {} ms",
                READY_STORE_TIMEOUT.as_millis()
            )),
        };
        checks.push(ReadyCheck {
            name: format!("vector_store ({})", index.vectors().backend()),
            ok: vectors.is_ok(),
            error: vectors.err(),
            optional: false,
        });
        // One inference per READY_PROBE_TTL at most, and never a wait behind a running one
        // (it may queue behind a flood of real inference): see ReadyProbe.
        let embedder = Arc::clone(index.embedder());
        let embed_error = ai
            .ready_probe
            .check(
                crate::ai::READY_PROBE_TTL,
                crate::ai::READY_PROBE_WAIT,
                || async move {
                    embedder
                        .embed(&["ready".to_owned()])
                        .await
                        .err()
                        .map(|e| e.to_string())
                },
            )
            .await;
        checks.push(ReadyCheck {
            name: format!("embedder ({})", index.embedder().model_id()),
            ok: embed_error.is_none(),
            error: embed_error,
            optional: false,
        });
        if let Some(up) = ai.services.progress_source().health().await {
            checks.push(ReadyCheck {
                name: "core_service".into(),
                ok: up.is_ok(),
                error: up.err(),
                optional: false,
            });
        }
    }
    let ok = checks.iter().all(|c| c.ok || c.optional);
    let body = ReadyResponse {
        status: if ok { "ready" } else { "not_ready" }.into(),
        checks,
    };
    if ok {
        Ready::Ready(Json(body))
    } else {
        Ready::NotReady(Json(body))
    }
}

#[OpenApi]
impl HealthApi {
    /// Liveness: answers without touching any dependency.
    #[oai(
        path = "/health",
        method = "get",
        operation_id = "health",
        tag = "Tag::Health"
    )]
    async fn health(&self) -> Json<HealthResponse> {
        Json(health_body())
    }

    /// Readiness: 200 when every dependency answers (relational store; with the AI routes
    /// also the vector store, the embedder and, in split mode, the core service), 503
    /// naming the failing part otherwise.
    #[oai(
        path = "/ready",
        method = "get",
        operation_id = "ready",
        tag = "Tag::Health"
    )]
    async fn ready(&self) -> Ready {
        readiness(&self.0).await
    }

    /// Prometheus metrics.
    #[oai(
        path = "/metrics",
        method = "get",
        operation_id = "metrics",
        tag = "Tag::Health"
    )]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(self.0.metrics.render())
    }
}

#[cfg(test)]
mod tests {
    use super::ReadyProbe;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A wait for the probe that no test reaches.
    const LONG: Duration = Duration::from_secs(60);

    async fn never() -> Option<String> {
        panic!("a probe ran where none should")
    }

    /// While a probe is stuck (an inference queued behind a flood), `/ready` answers with
    /// the last result at once instead of queueing behind it; only the first probe is
    /// waited for, and probes never run two at a time.
    #[tokio::test]
    async fn a_running_probe_is_never_waited_for_after_the_first() {
        let probe = Arc::new(ReadyProbe::default());
        let runs = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let slow = |probe: Arc<ReadyProbe>,
                    runs: Arc<AtomicU32>,
                    gate: Arc<tokio::sync::Notify>,
                    answer: Option<String>| async move {
            probe
                .check(Duration::ZERO, LONG, || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    answer
                })
                .await
        };
        // The very first probe: a second caller waits for its result.
        let first = tokio::spawn(slow(probe.clone(), runs.clone(), gate.clone(), None));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waiter = tokio::spawn(slow(
            probe.clone(),
            runs.clone(),
            gate.clone(),
            Some("not me".into()),
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "nothing to answer with before the first probe"
        );
        gate.notify_one();
        assert_eq!(first.await.unwrap(), None);
        assert_eq!(waiter.await.unwrap(), None, "the first probe's result");
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // A stale result and a probe stuck in the queue: others answer at once.
        let stuck = tokio::spawn(slow(
            probe.clone(),
            runs.clone(),
            gate.clone(),
            Some("embedder down".into()),
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..100 {
            let answer = tokio::time::timeout(
                Duration::from_millis(200),
                probe.check(Duration::ZERO, LONG, never),
            )
            .await
            .expect("answered without waiting for the running probe");
            assert_eq!(answer, None, "the last result");
        }
        gate.notify_one();
        assert_eq!(stuck.await.unwrap().as_deref(), Some("embedder down"));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // A fresh result is served without a probe.
        assert_eq!(
            probe
                .check(Duration::from_secs(60), LONG, never)
                .await
                .as_deref(),
            Some("embedder down")
        );
    }

    /// The `/ready` that starts a probe behind a flood waits for it at most its `wait`,
    /// then answers with the last result; the probe goes on, and its result is served once
    /// it finishes.
    #[tokio::test]
    async fn the_caller_that_starts_a_probe_waits_a_bounded_time() {
        let probe = ReadyProbe::default();
        assert_eq!(
            probe.check(Duration::ZERO, LONG, || async { None }).await,
            None
        );
        let gate = Arc::new(tokio::sync::Notify::new());
        let started = std::time::Instant::now();
        let release = gate.clone();
        let answer = probe
            .check(Duration::ZERO, Duration::from_millis(100), || async move {
                release.notified().await;
                Some("embedder down".to_owned())
            })
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(answer, None, "the last result while the probe is queued");
        assert_eq!(
            probe.check(Duration::ZERO, LONG, never).await,
            None,
            "it is still running: no second probe"
        );
        gate.notify_one();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let seen = probe.check(Duration::from_secs(60), LONG, never).await;
            if seen.as_deref() == Some("embedder down") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the result was kept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
