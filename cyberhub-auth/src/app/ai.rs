//! The AI use cases (feature `ai`): embeddings, semantic search, recommendations,
//! personality analysis and the catalog index, each with its rules.
//!
//! [`AiApp`] sits on top of [`App`]: it asks the same permission table who may read a
//! learner's data or administer the index, charges the same rate limits, writes the same
//! audit rows (a stored analysis, a full re-index) in the write's own transaction, and
//! keeps the recommendation cache and the indexing worker in step through the [`Hooks`].
//! Where a learner's progress comes from is a [`ProgressSource`]: this process's store
//! ([`StoreProgress`]) or anything an embedding program plugs in (the reference server's
//! split mode reads it from the core service over HTTP).
//!
//! [`Hooks`]: super::Hooks

use super::{App, Caller};
use crate::error::{AuthError, ErrorKind, Result};
use crate::throttle::Costly;
use async_trait::async_trait;
use cyberhub_ai::cache::{fingerprint, CacheKey};
use cyberhub_ai::{
    personality, AiError, AiErrorKind, CatalogIndex, HistoryEntry, RecommendationCache,
    Recommender, MAX_BATCH, MAX_TEXT_BYTES,
};
use cyberhub_domain::api_ai::{
    Embedding, EmbeddingsResponse, IndexStatus, PersonalityAnalysis, PersonalityRequest,
    RecommendationResponse, SearchRequest, SearchResponse,
};
use cyberhub_domain::{
    AuditAction, ContentItem, ContentPopularity, ContentType, Page, Progress, ProgressFilter,
    Track, UserId,
};
use cyberhub_store::DynStore;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Most progress rows one recommendation or analysis reads.
pub const MAX_HISTORY: usize = 1000;

/// Search results and recommendations when the request names no limit.
pub const DEFAULT_LIMIT: u32 = 10;

impl From<AiError> for AuthError {
    fn from(e: AiError) -> Self {
        let kind = match e.kind() {
            AiErrorKind::InvalidInput => ErrorKind::Validation,
            AiErrorKind::Unavailable => ErrorKind::Unavailable,
            _ => return AuthError::internal("AI error", e),
        };
        AuthError::new(kind, e.to_string())
    }
}

/// Where a learner's progress rows come from. The caller has been allowed to read them
/// before this is asked; an implementation may check again (the core service does).
#[async_trait]
pub trait ProgressSource: Send + Sync + std::fmt::Debug {
    /// Up to [`MAX_HISTORY`] of `user`'s progress rows, as `caller` (whose bearer token, if
    /// any, is [`Caller::token`]) may see them.
    async fn progress(&self, caller: Caller<'_>, user: UserId) -> Result<Vec<Progress>>;

    /// Whether a remote source answers, for readiness checks (`Err` names what is wrong);
    /// `None` for a source with nothing of its own to check (this process's store).
    async fn health(&self) -> Option<std::result::Result<(), String>> {
        None
    }
}

/// Progress read from this process's store.
#[derive(Debug, Clone)]
pub struct StoreProgress(pub DynStore);

#[async_trait]
impl ProgressSource for StoreProgress {
    async fn progress(&self, _caller: Caller<'_>, user: UserId) -> Result<Vec<Progress>> {
        let mut rows = Vec::new();
        for n in 1..=(MAX_HISTORY as u32 / Page::MAX_SIZE) {
            let filter = ProgressFilter {
                user_id: user,
                content_type: None,
                status: None,
                search: None,
                ordering: Default::default(),
            };
            let page = self
                .0
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

/// How long the catalog's measured popularity is reused before it is counted again.
pub const POPULARITY_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Items whose popularity cold-start ranking considers (the most started).
pub const POPULARITY_ITEMS: u32 = 1000;

type Counted = Option<(std::time::Instant, Arc<Vec<ContentPopularity>>)>;

/// The AI use cases. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AiApp {
    app: App,
    recommender: Arc<Recommender>,
    cache: Arc<dyn RecommendationCache>,
    progress: Arc<dyn ProgressSource>,
    popularity: Arc<std::sync::Mutex<Counted>>,
    counting: Arc<tokio::sync::Mutex<()>>,
}

impl AiApp {
    /// The AI use cases over `app`'s rules, store and rate limits.
    pub fn new(
        app: App,
        recommender: Recommender,
        cache: Arc<dyn RecommendationCache>,
        progress: Arc<dyn ProgressSource>,
    ) -> Self {
        Self {
            app,
            recommender: Arc::new(recommender),
            cache,
            progress,
            popularity: Arc::new(std::sync::Mutex::new(None)),
            counting: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The non-AI use cases this one shares its rules with.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The catalog index (embedder + vector store).
    pub fn index(&self) -> &CatalogIndex {
        self.recommender.index()
    }

    /// The recommendation cache.
    pub fn cache(&self) -> &Arc<dyn RecommendationCache> {
        &self.cache
    }

    /// Where progress comes from.
    pub fn progress_source(&self) -> &Arc<dyn ProgressSource> {
        &self.progress
    }

    fn store(&self) -> &DynStore {
        self.app.store()
    }

    /// Embeds 1–[`MAX_BATCH`] texts of at most [`MAX_TEXT_BYTES`] each (a larger request is
    /// [`ErrorKind::TooLarge`]), charged per text against the caller's budget.
    pub async fn embed(
        &self,
        caller: Caller<'_>,
        texts: Vec<String>,
    ) -> Result<EmbeddingsResponse> {
        if texts.is_empty() {
            return Err(AuthError::new(
                ErrorKind::Validation,
                "Send at least one text in 'texts'.",
            ));
        }
        if texts.len() > MAX_BATCH {
            return Err(AuthError::new(
                ErrorKind::TooLarge,
                format!(
                    "At most {MAX_BATCH} texts per request; got {}.",
                    texts.len()
                ),
            ));
        }
        if let Some(i) = texts.iter().position(|t| t.len() > MAX_TEXT_BYTES) {
            return Err(AuthError::new(
                ErrorKind::TooLarge,
                format!("texts[{i}] is longer than {MAX_TEXT_BYTES} bytes."),
            ));
        }
        let cost = u32::try_from(texts.len()).unwrap_or(u32::MAX);
        self.app.throttle(Costly::Embeddings, caller, cost).await?;
        let embedder = self.index().embedder();
        let vectors = embedder.embed(&texts).await?;
        Ok(EmbeddingsResponse {
            embeddings: texts
                .into_iter()
                .zip(vectors)
                .map(|(text, embedding)| Embedding { text, embedding })
                .collect(),
            model: embedder.model_id().to_owned(),
            dimension: u32::try_from(embedder.dimension()).unwrap_or(u32::MAX),
        })
    }

    /// Catalog items closest in meaning to a query (any signed-in caller).
    pub async fn search(&self, caller: Caller<'_>, req: SearchRequest) -> Result<SearchResponse> {
        self.app.throttle(Costly::Search, caller, 1).await?;
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let results = self
            .recommender
            .search(&req.query, req.content_type, req.track, limit)
            .await?;
        Ok(SearchResponse {
            query: req.query,
            total: u32::try_from(results.len()).unwrap_or(u32::MAX),
            results,
        })
    }

    /// Recommendations for `user`: the caller themselves or a learner whose data they may
    /// read (anyone else's is [`ErrorKind::NotFound`]). Served from the cache while the
    /// learner's progress and analysis are unchanged.
    pub async fn recommend(
        &self,
        caller: Caller<'_>,
        user: UserId,
        content_type: Option<ContentType>,
        limit: Option<u32>,
    ) -> Result<RecommendationResponse> {
        self.app.require_member_data(caller, user).await?;
        self.app
            .throttle(Costly::Recommendations, caller, 1)
            .await?;
        let limit = limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let rows = self.progress.progress(caller, user).await?;
        let fit = self.stored_fit(user).await?;
        let key = CacheKey {
            user,
            content_type,
            limit,
            fingerprint: fingerprint(&(
                rows.iter()
                    .map(|r| {
                        (
                            r.id.0,
                            r.status.as_str(),
                            r.completion_percentage.to_bits(),
                            r.score.map(f64::to_bits),
                            r.updated_at.timestamp_micros(),
                        )
                    })
                    .collect::<Vec<_>>(),
                fit.iter()
                    .map(|(t, s)| (t.as_str(), s.to_bits()))
                    .collect::<Vec<_>>(),
            )),
        };
        if let Some(hit) = self.cache.get(&key).await {
            return Ok((*hit).clone());
        }
        let history = self.history(&rows).await?;
        let popularity = self.popularity().await?;
        let recs = self
            .recommender
            .recommend_with(&history, &fit, &popularity, content_type, limit)
            .await?;
        let resp = RecommendationResponse {
            user_id: user,
            total: u32::try_from(recs.items.len()).unwrap_or(u32::MAX),
            recommendations: recs.items,
            cold_start: recs.cold_start,
        };
        self.cache.put(key, Arc::new(resp.clone())).await;
        Ok(resp)
    }

    /// Analyses a learner from their progress and questionnaire answers; stores the analysis
    /// (with its audit row) when there was enough data. Only the learner, or an
    /// administrator, may do this: reading someone's data is never enough to speak for them.
    pub async fn analyze(
        &self,
        caller: Caller<'_>,
        req: PersonalityRequest,
    ) -> Result<PersonalityAnalysis> {
        self.app.require_member_data(caller, req.user_id).await?;
        self.app.require_analysis_author(caller, req.user_id)?;
        self.app.throttle(Costly::Personality, caller, 1).await?;
        let rows = self.progress.progress(caller, req.user_id).await?;
        let history = self.history(&rows).await?;
        let analysis =
            personality::analyze(req.user_id, &history, &req.answers, self.app.clock().now())?;
        if analysis.enough_data {
            let doc = serde_json::to_value(&analysis)
                .map_err(|e| AuthError::internal("cannot serialise an analysis", e))?;
            self.app
                .save_personality(caller, req.user_id, analysis.analyzed_at, &doc)
                .await?;
        }
        Ok(analysis)
    }

    /// The newest stored analysis of `user`, for callers who may read their data.
    pub async fn personality(
        &self,
        caller: Caller<'_>,
        user: UserId,
    ) -> Result<Option<PersonalityAnalysis>> {
        let Some(doc) = self.app.latest_personality(caller, user).await? else {
            return Ok(None);
        };
        serde_json::from_value(doc)
            .map(Some)
            .map_err(|e| AuthError::internal("a stored analysis does not parse", e))
    }

    /// The indexing pipeline's numbers (catalog administrators).
    pub async fn index_status(&self, caller: Caller<'_>) -> Result<IndexStatus> {
        self.app.require_catalog_admin(caller)?;
        self.status().await
    }

    /// Queues every catalog item for re-indexing, with its audit row, and wakes the
    /// indexing worker (catalog administrators).
    pub async fn reindex(&self, caller: Caller<'_>) -> Result<IndexStatus> {
        self.app.require_catalog_admin(caller)?;
        self.app.throttle(Costly::Reindex, caller, 1).await?;
        let event = self.app.event(
            caller,
            AuditAction::IndexRebuild,
            ("index", self.index().collection().to_owned()),
            serde_json::json!({}),
        );
        self.store()
            .enqueue_full_reindex(self.app.clock().now(), &event)
            .await?;
        self.app.hooks.catalog_changed();
        self.status().await
    }

    async fn status(&self) -> Result<IndexStatus> {
        Ok(IndexStatus {
            pending: self.store().index_backlog().await?,
            indexed: self.index().count().await?,
            catalog: self.store().count_content().await?,
            vector_backend: self.index().vectors().backend().to_owned(),
            model: self.index().embedder().model_id().to_owned(),
        })
    }

    /// Progress rows joined with their catalog items in one store read (rows whose item is
    /// gone are skipped).
    async fn history(&self, rows: &[Progress]) -> Result<Vec<HistoryEntry>> {
        let keys: Vec<String> = rows
            .iter()
            .map(|r| r.content_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let items: HashMap<String, ContentItem> = self
            .store()
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

    /// How many learners started and finished each item, counted at most once per
    /// [`POPULARITY_TTL`] by one caller at a time; the others meanwhile get the last count
    /// (none before the first), so no request waits behind the count. A failed count is
    /// kept as an empty one for the same time.
    pub async fn popularity(&self) -> Result<Arc<Vec<ContentPopularity>>> {
        let last = || {
            self.popularity
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        };
        let fresh = |c: &Counted| {
            c.as_ref()
                .is_some_and(|(at, _)| at.elapsed() < POPULARITY_TTL)
        };
        let known = last();
        if fresh(&known) {
            return Ok(known.map(|(_, p)| p).unwrap_or_default());
        }
        let Ok(_counting) = self.counting.try_lock() else {
            return Ok(known.map(|(_, p)| p).unwrap_or_default());
        };
        let counted = match self.store().content_popularity(POPULARITY_ITEMS).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::warn!(error = %e, "could not count the catalog's popularity");
                Arc::new(Vec::new())
            }
        };
        *self
            .popularity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((std::time::Instant::now(), counted.clone()));
        Ok(counted)
    }

    /// The stored analysis's track fit, if any.
    async fn stored_fit(&self, user: UserId) -> Result<Vec<(Track, f64)>> {
        Ok(self
            .store()
            .latest_personality(user)
            .await?
            .and_then(|v| serde_json::from_value::<PersonalityAnalysis>(v).ok())
            .map(|a| a.track_fit.iter().map(|f| (f.track, f.score)).collect())
            .unwrap_or_default())
    }
}
