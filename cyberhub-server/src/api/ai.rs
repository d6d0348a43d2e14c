//! The AI routes: `/embeddings`, `/search`, `/recommendations*`, `/personality*`, `/index*`.

use crate::ai::{history, progress_rows, stored_fit, AiState};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, BearerAuth};
use cyberhub_ai::cache::{fingerprint, CacheKey};
use cyberhub_ai::{personality, questionnaire, MAX_BATCH, MAX_TEXT_BYTES};
use cyberhub_auth::{Caller, ClientInfo, Costly, Principal};
use cyberhub_domain::api_ai::{
    Embedding, EmbeddingsRequest, EmbeddingsResponse, IndexStatus, PersonalityAnalysis,
    PersonalityRequest, Questionnaire, RecommendationRequest, RecommendationResponse,
    SearchRequest, SearchResponse,
};
use cyberhub_domain::{ContentType, UserId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Embeddings, semantic search, recommendations, personality analysis.
    Ai,
}

/// 202 with the number of items queued.
#[derive(ApiResponse)]
pub enum Queued {
    /// Queued for indexing.
    #[oai(status = 202)]
    Accepted(Json<IndexStatus>),
}

/// Default number of search results and recommendations.
pub const DEFAULT_LIMIT: u32 = 10;

/// AI routes.
pub struct AiApi(pub Arc<AppState>);

impl AiApi {
    fn ai(&self) -> ApiResult<&AiState> {
        self.0
            .ai
            .as_deref()
            .ok_or_else(|| ApiError::not_found("AI routes (this is the core service)"))
    }

    /// The caller, who must be `target` or allowed to read `target`'s progress (else 404).
    /// The rule is the application layer's (`App::require_member_data`).
    async fn caller_for(&self, auth: &BearerAuth, target: UserId) -> ApiResult<Principal> {
        let caller = self.0.principal(auth).await?;
        let client = ClientInfo::default();
        self.0
            .services
            .require_member_data(Caller::new(&caller, &client), target)
            .await?;
        Ok(caller)
    }

    /// Takes `cost` cells of `what`'s rate limits for the caller (429 when refused).
    async fn throttle(
        &self,
        req: &poem::Request,
        auth: &BearerAuth,
        what: Costly,
        cost: u32,
    ) -> ApiResult<()> {
        let who = self.0.who(auth, req).await?;
        Ok(self.0.services.throttle(what, who.caller(), cost).await?)
    }

    fn require_admin(&self, caller: &Principal) -> ApiResult<()> {
        let client = ClientInfo::default();
        Ok(self
            .0
            .services
            .require_catalog_admin(Caller::new(caller, &client))?)
    }

    async fn recommendations(
        &self,
        req: &poem::Request,
        auth: &BearerAuth,
        user: UserId,
        content_type: Option<ContentType>,
        limit: Option<u32>,
    ) -> ApiResult<Json<RecommendationResponse>> {
        let ai = self.ai()?;
        self.caller_for(auth, user).await?;
        self.throttle(req, auth, Costly::Recommendations, 1).await?;
        let limit = limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let rows = progress_rows(&self.0.store, ai, &auth.0.token, user).await?;
        let fit = stored_fit(&self.0.store, user).await?;
        let fp = fingerprint(&(
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
        ));
        let key = CacheKey {
            user,
            content_type,
            limit,
            fingerprint: fp,
        };
        if let Some(hit) = ai.cache.get(&key) {
            return Ok(Json((*hit).clone()));
        }
        let history = history(&self.0.store, &rows).await?;
        let recs = ai
            .recommender
            .recommend(&history, &fit, content_type, limit)
            .await?;
        let resp = RecommendationResponse {
            user_id: user,
            total: u32::try_from(recs.items.len()).unwrap_or(u32::MAX),
            recommendations: recs.items,
            cold_start: recs.cold_start,
        };
        ai.cache.put(key, Arc::new(resp.clone()));
        Ok(Json(resp))
    }
}

#[OpenApi]
impl AiApi {
    /// Embeds 1–256 texts (each at most 8 KiB) with all-MiniLM-L6-v2 (384 dimensions,
    /// unit length). More texts or a longer text: 413.
    #[oai(
        path = "/embeddings",
        method = "post",
        operation_id = "embeddings",
        tag = "Tag::Ai"
    )]
    async fn embeddings(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        body: Json<EmbeddingsRequest>,
    ) -> ApiResult<Json<EmbeddingsResponse>> {
        let ai = self.ai()?;
        let who = self.0.who(&auth, req).await?;
        let texts = body.0.texts;
        if texts.is_empty() {
            return Err(ApiError::bad_request("Send at least one text in 'texts'."));
        }
        if texts.len() > MAX_BATCH {
            return Err(ApiError::too_large(format!(
                "At most {MAX_BATCH} texts per request; got {}.",
                texts.len()
            )));
        }
        if let Some(i) = texts.iter().position(|t| t.len() > MAX_TEXT_BYTES) {
            return Err(ApiError::too_large(format!(
                "texts[{i}] is longer than {MAX_TEXT_BYTES} bytes."
            )));
        }
        let cost = u32::try_from(texts.len()).unwrap_or(u32::MAX);
        self.0
            .services
            .throttle(Costly::Embeddings, who.caller(), cost)
            .await?;
        let embedder = ai.index().embedder();
        let vectors = embedder.embed(&texts).await?;
        Ok(Json(EmbeddingsResponse {
            embeddings: texts
                .into_iter()
                .zip(vectors)
                .map(|(text, embedding)| Embedding { text, embedding })
                .collect(),
            model: embedder.model_id().to_owned(),
            dimension: u32::try_from(embedder.dimension()).unwrap_or(u32::MAX),
        }))
    }

    /// Catalog items closest in meaning to a query, optionally of one kind or track.
    #[oai(
        path = "/search",
        method = "post",
        operation_id = "search",
        tag = "Tag::Ai"
    )]
    async fn search(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        body: Json<SearchRequest>,
    ) -> ApiResult<Json<SearchResponse>> {
        let ai = self.ai()?;
        self.throttle(req, &auth, Costly::Search, 1).await?;
        let b = body.0;
        let limit = b.limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let results = ai
            .recommender
            .search(&b.query, b.content_type, b.track, limit)
            .await?;
        Ok(Json(SearchResponse {
            query: b.query,
            total: u32::try_from(results.len()).unwrap_or(u32::MAX),
            results,
        }))
    }

    /// Recommendations for a learner (the caller, or someone whose progress they may
    /// read; anyone else's is 404). Completed items never appear; each has a reason.
    #[oai(
        path = "/recommendations",
        method = "post",
        operation_id = "recommend",
        tag = "Tag::Ai"
    )]
    async fn recommend(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        body: Json<RecommendationRequest>,
    ) -> ApiResult<Json<RecommendationResponse>> {
        let b = body.0;
        self.recommendations(req, &auth, b.user_id, b.content_type, b.limit)
            .await
    }

    /// Recommendations for a learner (same rules as the POST form).
    #[oai(
        path = "/recommendations/:user_id",
        method = "get",
        operation_id = "recommendations_of",
        tag = "Tag::Ai"
    )]
    async fn recommendations_of(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        user_id: Path<UserId>,
        content_type: Query<Option<ContentType>>,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<RecommendationResponse>> {
        self.recommendations(req, &auth, user_id.0, content_type.0, limit.0)
            .await
    }

    /// The learning questionnaire (16 items). Public.
    #[oai(
        path = "/personality/questionnaire",
        method = "get",
        operation_id = "questionnaire",
        tag = "Tag::Ai"
    )]
    async fn questionnaire(&self) -> ApiResult<Json<Questionnaire>> {
        self.ai()?;
        Ok(Json(questionnaire::questionnaire()))
    }

    /// Analyses a learner from their progress and optional questionnaire answers, stores
    /// and returns the analysis. Without progress or answers: a "not enough data" result
    /// (200, not stored).
    #[oai(
        path = "/personality/analyze",
        method = "post",
        operation_id = "analyze_personality",
        tag = "Tag::Ai"
    )]
    async fn analyze(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        body: Json<PersonalityRequest>,
    ) -> ApiResult<Json<PersonalityAnalysis>> {
        let ai = self.ai()?;
        let b = body.0;
        self.caller_for(&auth, b.user_id).await?;
        let who = self.0.who(&auth, req).await?;
        self.0
            .services
            .require_analysis_author(who.caller(), b.user_id)?;
        self.0
            .services
            .throttle(Costly::Personality, who.caller(), 1)
            .await?;
        let rows = progress_rows(&self.0.store, ai, &auth.0.token, b.user_id).await?;
        let history = history(&self.0.store, &rows).await?;
        let analysis = personality::analyze(b.user_id, &history, &b.answers, self.0.clock.now())?;
        if analysis.enough_data {
            let doc = serde_json::to_value(&analysis).map_err(|e| {
                tracing::error!(error = %e, "cannot serialise an analysis");
                ApiError::from_kind(cyberhub_domain::ErrorKind::Internal, "serialise", &[], None)
            })?;
            self.0
                .services
                .save_personality(who.caller(), b.user_id, analysis.analyzed_at, &doc)
                .await?;
        }
        Ok(Json(analysis))
    }

    /// The latest stored analysis of a learner (404 when there is none yet).
    #[oai(
        path = "/personality/:user_id",
        method = "get",
        operation_id = "personality_of",
        tag = "Tag::Ai"
    )]
    async fn personality_of(
        &self,
        auth: BearerAuth,
        user_id: Path<UserId>,
    ) -> ApiResult<Json<PersonalityAnalysis>> {
        self.ai()?;
        let caller = self.0.principal(&auth).await?;
        let client = ClientInfo::default();
        let doc = self
            .0
            .services
            .latest_personality(Caller::new(&caller, &client), user_id.0)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(Json(cyberhub_domain::api::ErrorBody {
                    detail: "No personality analysis yet: POST /api/v1/personality/analyze first."
                        .into(),
                    errors: None,
                }))
            })?;
        let analysis: PersonalityAnalysis = serde_json::from_value(doc).map_err(|e| {
            tracing::error!(error = %e, "stored analysis does not parse");
            ApiError::from_kind(cyberhub_domain::ErrorKind::Internal, "stored", &[], None)
        })?;
        Ok(Json(analysis))
    }

    /// The indexing pipeline: events pending, vectors indexed, catalog size (admins and
    /// program directors).
    #[oai(
        path = "/index/status",
        method = "get",
        operation_id = "index_status",
        tag = "Tag::Ai"
    )]
    async fn index_status(&self, auth: BearerAuth) -> ApiResult<Json<IndexStatus>> {
        let ai = self.ai()?;
        let caller = self.0.principal(&auth).await?;
        self.require_admin(&caller)?;
        Ok(Json(index_status(&self.0, ai).await?))
    }

    /// Queues every catalog item for re-indexing (admins and program directors); the
    /// worker picks them up. `cyberhub-server reindex` does the same with a progress bar
    /// and also rebuilds the collection.
    #[oai(
        path = "/index/reindex",
        method = "post",
        operation_id = "reindex",
        tag = "Tag::Ai"
    )]
    async fn reindex(&self, req: &poem::Request, auth: BearerAuth) -> ApiResult<Queued> {
        let ai = self.ai()?;
        let caller = self.0.principal(&auth).await?;
        self.require_admin(&caller)?;
        self.throttle(req, &auth, Costly::Reindex, 1).await?;
        self.0
            .store
            .enqueue_full_reindex(self.0.clock.now())
            .await?;
        ai.index_wakeup.notify_one();
        Ok(Queued::Accepted(Json(index_status(&self.0, ai).await?)))
    }
}

/// The pipeline's numbers.
pub async fn index_status(state: &AppState, ai: &AiState) -> ApiResult<IndexStatus> {
    Ok(IndexStatus {
        pending: state.store.index_backlog().await?,
        indexed: ai.index().count().await?,
        catalog: state.store.count_content().await?,
        vector_backend: ai.index().vectors().backend().to_owned(),
        model: ai.index().embedder().model_id().to_owned(),
    })
}
