//! `/health`, `/ready`, `/metrics`.

use crate::state::AppState;
use cyberhub_domain::api::{HealthResponse, ReadyCheck, ReadyResponse};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

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

/// The liveness body (no I/O).
pub fn health_body() -> HealthResponse {
    HealthResponse {
        status: "healthy".into(),
        service: "cyberhub-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// Checks every dependency.
pub async fn readiness(state: &AppState) -> Ready {
    let store = state.store.ping().await;
    let mut checks = vec![ReadyCheck {
        name: format!("relational_store ({})", state.store.backend()),
        ok: store.is_ok(),
        error: store.err().map(|e| e.to_string()),
    }];
    if let Some(ai) = &state.ai {
        let index = ai.index();
        let vectors = index.vectors().ping().await;
        checks.push(ReadyCheck {
            name: format!("vector_store ({})", index.vectors().backend()),
            ok: vectors.is_ok(),
            error: vectors.err().map(|e| e.to_string()),
        });
        // One inference per READY_PROBE_TTL at most: a flood of /ready calls (or of real
        // inference) must not queue probes behind each other.
        let embed_error = {
            let mut probe = ai.ready_probe.lock().await;
            match &*probe {
                Some((at, err)) if at.elapsed() < crate::ai::READY_PROBE_TTL => err.clone(),
                _ => {
                    let err = index.embed_one("ready").await.err().map(|e| e.to_string());
                    *probe = Some((std::time::Instant::now(), err.clone()));
                    err
                }
            }
        };
        checks.push(ReadyCheck {
            name: format!("embedder ({})", index.embedder().model_id()),
            ok: embed_error.is_none(),
            error: embed_error,
        });
        if let Some(up) = ai.services.progress_source().health().await {
            checks.push(ReadyCheck {
                name: "core_service".into(),
                ok: up.is_ok(),
                error: up.err(),
            });
        }
    }
    let ok = checks.iter().all(|c| c.ok);
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
