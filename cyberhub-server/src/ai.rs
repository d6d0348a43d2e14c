//! The AI side of the server: the embedder, the catalog index, the recommendation cache,
//! and where learner progress comes from (this process's store, or the core service over
//! HTTP in split mode).

use crate::config::{Config, EmbedderKind};
use crate::error::{ApiError, ApiResult};
use crate::StartError;
use cyberhub_ai::{
    CatalogIndex, DynEmbedder, HistoryEntry, InProcessCache, InferencePool, RecommendationCache,
    Recommender,
};
use cyberhub_domain::api::ProgressList;
use cyberhub_domain::api_ai::PersonalityAnalysis;
use cyberhub_domain::{Page, Progress, ProgressFilter, Track, UserId};
use cyberhub_store::DynStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The command that installs the model, named in every "model missing" message.
pub const PULL_COMMAND: &str = "cyberhub-server models pull";

/// Most progress rows one analysis reads.
pub const MAX_HISTORY: usize = 1000;

/// What the AI routes share.
#[derive(Debug)]
pub struct AiState {
    /// Search and recommendations over the catalog index.
    pub recommender: Recommender,
    /// Per-user recommendation cache.
    pub cache: Arc<dyn RecommendationCache>,
    /// Where progress is read from.
    pub progress: ProgressSource,
    /// Wakes the indexing worker after a catalog write in this process.
    pub index_wakeup: Arc<tokio::sync::Notify>,
    /// The readiness probe's last embedding: when it ran and its error, if any. `/ready`
    /// runs at most one inference per [`READY_PROBE_TTL`], however often it is called.
    pub ready_probe: crate::api::health::ReadyProbe,
}

/// How long a readiness probe's inference result is reused.
pub const READY_PROBE_TTL: Duration = Duration::from_secs(5);

impl AiState {
    /// The catalog index.
    pub fn index(&self) -> &CatalogIndex {
        self.recommender.index()
    }
}

/// Where learner progress comes from.
#[derive(Debug)]
pub enum ProgressSource {
    /// This process's store (`service = all`).
    Local,
    /// The core service (`service = ai`).
    Remote(CoreClient),
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

    fn unreachable(e: &reqwest::Error) -> ApiError {
        tracing::warn!(error = %e, "core service unreachable");
        ApiError::unavailable(if e.is_timeout() {
            "The core service did not answer in time; try again shortly."
        } else {
            "The core service is unavailable; try again shortly."
        })
    }

    /// A user's progress rows as the caller (their token) may see them.
    pub async fn progress(&self, token: &str, user: UserId) -> ApiResult<Vec<Progress>> {
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
                    401 => ApiError::unauthorized(detail),
                    403 => ApiError::forbidden(detail),
                    404 => ApiError::not_found("user"),
                    503 => ApiError::unavailable(format!("core service: {detail}")),
                    _ => {
                        tracing::warn!(%status, %detail, "core service error");
                        ApiError::bad_gateway(format!(
                            "The core service answered {status}: {detail}"
                        ))
                    }
                });
            }
            let list: ProgressList = resp.json().await.map_err(|e| {
                tracing::warn!(error = %e, "core service sent an unreadable progress page");
                ApiError::bad_gateway("The core service sent an unreadable answer.")
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
        EmbedderKind::Fastembed => {
            let lib = config
                .onnxruntime_lib
                .clone()
                .unwrap_or_else(|| dir.join("lib/libonnxruntime.so"));
            fastembed(&dir, &lib, pool).await.map_err(missing)
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

#[cfg(feature = "fastembed")]
async fn fastembed(
    dir: &Path,
    lib: &Path,
    pool: InferencePool,
) -> cyberhub_ai::Result<DynEmbedder> {
    let (dir, lib) = (dir.to_owned(), lib.to_owned());
    let loaded =
        tokio::task::spawn_blocking(move || cyberhub_ai::FastembedEmbedder::load(&dir, &lib, pool))
            .await
            .map_err(|e| {
                cyberhub_ai::AiError::new(
                    cyberhub_ai::AiErrorKind::Internal,
                    format!("loader: {e}"),
                )
            })??;
    Ok(Arc::new(loaded))
}

#[cfg(not(feature = "fastembed"))]
async fn fastembed(_: &Path, _: &Path, _: InferencePool) -> cyberhub_ai::Result<DynEmbedder> {
    Err(cyberhub_ai::AiError::new(
        cyberhub_ai::AiErrorKind::ModelMissing,
        "this build has no fastembed embedder (enable the `fastembed` feature)",
    ))
}

/// Builds the AI state: embedder, vector store, collection, cache, progress source. A
/// supplied embedder or vector store is used as it is; the others come from the configuration.
pub async fn build_ai(
    config: &Config,
    embedder: Option<DynEmbedder>,
    vectors: Option<cyberhub_vector::DynVectorStore>,
) -> Result<AiState, StartError> {
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
    let progress = match (&config.service, &config.core_url) {
        (crate::config::Service::Ai, Some(url)) => ProgressSource::Remote(CoreClient::new(
            url,
            Duration::from_secs(config.core_timeout_secs.max(1)),
        )?),
        _ => ProgressSource::Local,
    };
    Ok(AiState {
        recommender: Recommender::new(index),
        cache: Arc::new(InProcessCache::default()),
        progress,
        index_wakeup: Arc::new(tokio::sync::Notify::new()),
        ready_probe: Default::default(),
    })
}

/// A learner's progress rows, from the store or from the core service.
pub async fn progress_rows(
    store: &DynStore,
    ai: &AiState,
    token: &str,
    user: UserId,
) -> ApiResult<Vec<Progress>> {
    match &ai.progress {
        ProgressSource::Remote(core) => core.progress(token, user).await,
        ProgressSource::Local => {
            let mut rows = Vec::new();
            for n in 1..=(MAX_HISTORY as u32 / Page::MAX_SIZE) {
                let filter = ProgressFilter {
                    user_id: user,
                    content_type: None,
                    status: None,
                    search: None,
                    ordering: Default::default(),
                };
                let page = store
                    .list_progress(&filter, Page::new(Some(n), Some(Page::MAX_SIZE))?)
                    .await?;
                let more = page.has_next();
                rows.extend(page.items);
                if !more {
                    break;
                }
            }
            Ok(rows)
        }
    }
}

/// Progress rows joined with their catalog items in one store read (rows whose item is
/// gone are skipped).
pub async fn history(store: &DynStore, rows: &[Progress]) -> ApiResult<Vec<HistoryEntry>> {
    let keys: Vec<String> = rows
        .iter()
        .map(|r| r.content_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let items: std::collections::HashMap<String, cyberhub_domain::ContentItem> = store
        .contents_by_keys(&keys)
        .await?
        .into_iter()
        .map(|i| (i.content_id.clone(), i))
        .collect();
    Ok(rows
        .iter()
        .filter_map(|row| {
            let item = items.get(&row.content_id)?;
            Some(HistoryEntry {
                point: item.id.0,
                content_id: item.content_id.clone(),
                title: item.title.clone(),
                content_type: item.content_type,
                track: item.track,
                status: row.status,
                completion: row.completion_percentage,
                score: row.score,
                updated_at: row.updated_at,
            })
        })
        .collect())
}

/// The stored personality analysis's track fit, if any.
pub async fn stored_fit(store: &DynStore, user: UserId) -> ApiResult<Vec<(Track, f64)>> {
    Ok(store
        .latest_personality(user)
        .await?
        .and_then(|v| serde_json::from_value::<PersonalityAnalysis>(v).ok())
        .map(|a| a.track_fit.iter().map(|f| (f.track, f.score)).collect())
        .unwrap_or_default())
}
