//! The AI side of the server: the embedder, the catalog index, the recommendation cache,
//! and where learner progress comes from (this process's store, or the core service over
//! HTTP in split mode, or whatever [`ProgressSource`] the embedding program plugs in). The
//! use cases themselves, with their rules, are [`cyberhub_auth::AiApp`]'s.

use crate::config::{Config, EmbedderKind};
use crate::StartError;
use async_trait::async_trait;
use cyberhub_ai::{
    CatalogIndex, DynEmbedder, InProcessCache, InferencePool, RecommendationCache, Recommender,
};
use cyberhub_auth::{AiApp, AuthError, Caller, ErrorKind, ProgressSource, StoreProgress};
use cyberhub_domain::api::ProgressList;
use cyberhub_domain::{Page, Progress, UserId};
use cyberhub_store::DynStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The command that installs the model, named in every "model missing" message.
pub const PULL_COMMAND: &str = "cyberhub-server models pull";

pub use cyberhub_auth::app::ai::MAX_HISTORY;

/// What the AI routes share.
#[derive(Debug)]
pub struct AiState {
    /// The AI use cases (search, recommendations, analyses, the index) with their rules.
    pub services: AiApp,
    /// Wakes the indexing worker after a catalog write in this process.
    pub index_wakeup: Arc<tokio::sync::Notify>,
    /// The readiness probe's last embedding: when it ran and its error, if any. `/ready`
    /// runs at most one inference per [`READY_PROBE_TTL`], however often it is called.
    pub ready_probe: crate::api::health::ReadyProbe,
}

/// How long a readiness probe's inference result is reused.
pub const READY_PROBE_TTL: Duration = Duration::from_secs(5);

/// How long the `/ready` that starts a probe waits for it before answering with the last
/// result (the probe goes on and its result is kept).
pub const READY_PROBE_WAIT: Duration = Duration::from_millis(500);

impl AiState {
    /// The catalog index.
    pub fn index(&self) -> &CatalogIndex {
        self.services.index()
    }
}

/// The AI parts built before the use cases: the hooks need the cache and the wake-up.
#[derive(Debug)]
pub struct AiParts {
    /// Search and recommendations over the catalog index.
    pub recommender: Recommender,
    /// Per-user recommendation cache.
    pub cache: Arc<dyn RecommendationCache>,
    /// Where progress is read from.
    pub progress: Arc<dyn ProgressSource>,
    /// Wakes the indexing worker.
    pub index_wakeup: Arc<tokio::sync::Notify>,
}

impl AiParts {
    /// The AI state over `app`'s rules.
    pub fn into_state(self, app: cyberhub_auth::App) -> AiState {
        AiState {
            services: AiApp::new(app, self.recommender, self.cache, self.progress),
            index_wakeup: self.index_wakeup,
            ready_probe: Default::default(),
        }
    }
}

/// A pooled HTTP client for the core service.
#[derive(Debug, Clone)]
pub struct CoreClient {
    client: reqwest::Client,
    base: String,
}

impl CoreClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8000`) with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, StartError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| crate::ConfigError(format!("HTTP client for core_url: {e}")))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn unreachable(e: &reqwest::Error) -> AuthError {
        tracing::warn!(error = %e, "core service unreachable");
        AuthError::new(
            ErrorKind::Unavailable,
            if e.is_timeout() {
                "The core service did not answer in time; try again shortly."
            } else {
                "The core service is unavailable; try again shortly."
            },
        )
    }

    /// A user's progress rows as the caller (their token) may see them.
    pub async fn progress(&self, token: &str, user: UserId) -> Result<Vec<Progress>, AuthError> {
        let mut rows = Vec::new();
        for page in 1..=(MAX_HISTORY as u32 / Page::MAX_SIZE) {
            let url = format!("{}/api/v1/progress", self.base);
            let resp = self
                .client
                .get(&url)
                .bearer_auth(token)
                .query(&[
                    ("user", user.0.to_string()),
                    ("page", page.to_string()),
                    ("page_size", Page::MAX_SIZE.to_string()),
                ])
                .send()
                .await
                .map_err(|e| Self::unreachable(&e))?;
            let status = resp.status();
            if !status.is_success() {
                let detail = resp
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| status.to_string());
                return Err(match status.as_u16() {
                    401 => AuthError::new(ErrorKind::Unauthenticated, detail),
                    403 => AuthError::forbidden(detail),
                    404 => AuthError::new(ErrorKind::NotFound, "user not found"),
                    503 => {
                        AuthError::new(ErrorKind::Unavailable, format!("core service: {detail}"))
                    }
                    _ => {
                        tracing::warn!(%status, %detail, "core service error");
                        AuthError::new(
                            ErrorKind::Upstream,
                            format!("The core service answered {status}: {detail}"),
                        )
                    }
                });
            }
            let list: ProgressList = resp.json().await.map_err(|e| {
                tracing::warn!(error = %e, "core service sent an unreadable progress page");
                AuthError::new(
                    ErrorKind::Upstream,
                    "The core service sent an unreadable answer.",
                )
            })?;
            let more = list.next.is_some();
            rows.extend(list.results);
            if !more {
                break;
            }
        }
        Ok(rows)
    }

    /// Checks the core service's liveness endpoint.
    pub async fn health(&self) -> Result<(), String> {
        let r = self
            .client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("core /health answered {}", r.status()))
        }
    }
}

#[async_trait]
impl ProgressSource for CoreClient {
    async fn progress(&self, caller: Caller<'_>, user: UserId) -> Result<Vec<Progress>, AuthError> {
        let token = caller.token.ok_or_else(|| {
            AuthError::new(
                ErrorKind::Unauthenticated,
                "The core service needs the caller's bearer token.",
            )
        })?;
        CoreClient::progress(self, token, user).await
    }

    async fn health(&self) -> Option<Result<(), String>> {
        Some(CoreClient::health(self).await)
    }
}

/// Loads the configured embedder; a missing model is a start-up error naming
/// [`PULL_COMMAND`] — never a silent fallback.
pub async fn load_embedder(config: &Config) -> Result<DynEmbedder, StartError> {
    let pool = match config.inference_concurrency {
        Some(n) => InferencePool::new(n.max(1)),
        None => InferencePool::default(),
    };
    let dir = config.model_dir.clone();
    let missing = |e: cyberhub_ai::AiError| {
        StartError::Model(format!(
            "cannot load all-MiniLM-L6-v2 ({:?}) from {}: {e}. Install it with `{PULL_COMMAND}` (or scripts/fetch-model.sh), or set CYBERHUB_MODEL_DIR.",
            config.embedder,
            dir.display()
        ))
    };
    match config.embedder {
        EmbedderKind::Candle => candle(dir.clone(), pool).await.map_err(missing),
        EmbedderKind::Onnx => {
            let lib = config
                .onnxruntime_lib
                .clone()
                .unwrap_or_else(|| dir.join("lib/libonnxruntime.so"));
            onnx(&dir, &lib, pool).await.map_err(missing)
        }
    }
}

#[cfg(feature = "candle")]
async fn candle(dir: std::path::PathBuf, pool: InferencePool) -> cyberhub_ai::Result<DynEmbedder> {
    Ok(Arc::new(
        cyberhub_ai::CandleEmbedder::load_async(dir, pool).await?,
    ))
}

#[cfg(not(feature = "candle"))]
async fn candle(_: std::path::PathBuf, _: InferencePool) -> cyberhub_ai::Result<DynEmbedder> {
    Err(cyberhub_ai::AiError::new(
        cyberhub_ai::AiErrorKind::ModelMissing,
        "this build has no candle embedder (enable the `candle` feature)",
    ))
}

#[cfg(feature = "onnx")]
async fn onnx(dir: &Path, lib: &Path, pool: InferencePool) -> cyberhub_ai::Result<DynEmbedder> {
    let (dir, lib) = (dir.to_owned(), lib.to_owned());
    let loaded =
        tokio::task::spawn_blocking(move || cyberhub_ai::OnnxEmbedder::load(&dir, &lib, pool))
            .await
            .map_err(|e| {
                cyberhub_ai::AiError::new(
                    cyberhub_ai::AiErrorKind::Internal,
                    format!("loader: {e}"),
                )
            })??;
    Ok(Arc::new(loaded))
}

#[cfg(not(feature = "onnx"))]
async fn onnx(_: &Path, _: &Path, _: InferencePool) -> cyberhub_ai::Result<DynEmbedder> {
    Err(cyberhub_ai::AiError::new(
        cyberhub_ai::AiErrorKind::ModelMissing,
        "this build has no ONNX Runtime embedder (enable the `onnx` feature, or set embedder = \"candle\")",
    ))
}

/// Builds the AI parts: embedder, vector store, collection, cache, progress source. A
/// supplied embedder, vector store or progress source is used as it is; the others come
/// from the configuration.
pub async fn build_ai(
    config: &Config,
    store: &DynStore,
    embedder: Option<DynEmbedder>,
    vectors: Option<cyberhub_vector::DynVectorStore>,
    progress: Option<Arc<dyn ProgressSource>>,
    cache: Option<Arc<dyn RecommendationCache>>,
) -> Result<AiParts, StartError> {
    let embedder = match embedder {
        Some(e) => e,
        None => load_embedder(config).await?,
    };
    let vectors = match vectors {
        Some(v) => v,
        None => cyberhub_vector::open(&config.vector_url)
            .await
            .map_err(|e| StartError::Vector(e.to_string()))?,
    };
    let index = CatalogIndex::new(embedder, vectors, config.vector_collection.clone());
    index
        .ensure_collection()
        .await
        .map_err(|e| StartError::Vector(e.to_string()))?;
    let progress: Arc<dyn ProgressSource> = match (progress, &config.service, &config.core_url) {
        (Some(p), _, _) => p,
        (None, crate::config::Service::Ai, Some(url)) => Arc::new(CoreClient::new(
            url,
            Duration::from_secs(config.core_timeout_secs.max(1)),
        )?),
        (None, _, _) => Arc::new(StoreProgress(store.clone())),
    };
    Ok(AiParts {
        recommender: Recommender::new(index),
        cache: cache.unwrap_or_else(|| Arc::new(InProcessCache::default())),
        progress,
        index_wakeup: Arc::new(tokio::sync::Notify::new()),
    })
}
