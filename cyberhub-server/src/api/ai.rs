//! The AI routes: `/embeddings`, `/search`, `/recommendations*`, `/personality*`, `/index*`.

use crate::ai::AiState;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, BearerAuth};
use cyberhub_ai::questionnaire;
use cyberhub_auth::AiApp;
use cyberhub_domain::api_ai::{
    EmbeddingsRequest, EmbeddingsResponse, IndexStatus, PersonalityAnalysis, PersonalityRequest,
    Questionnaire, RecommendationRequest, RecommendationResponse, SearchRequest, SearchResponse,
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

/// AI routes: each parses, calls one [`AiApp`] method and maps the result.
pub struct AiApi(pub Arc<AppState>);

impl AiApi {
    fn ai(&self) -> ApiResult<&AiState> {
        self.0
            .ai
            .as_deref()
            .ok_or_else(|| ApiError::not_found("AI routes (this is the core service)"))
    }

    fn services(&self) -> ApiResult<&AiApp> {
        Ok(&self.ai()?.services)
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Json(ai.embed(who.caller(), body.0.texts).await?))
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Json(ai.search(who.caller(), body.0).await?))
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        let b = body.0;
        Ok(Json(
            ai.recommend(who.caller(), b.user_id, b.content_type, b.limit)
                .await?,
        ))
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            ai.recommend(who.caller(), user_id.0, content_type.0, limit.0)
                .await?,
        ))
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Json(ai.analyze(who.caller(), body.0).await?))
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
        req: &poem::Request,
        auth: BearerAuth,
        user_id: Path<UserId>,
    ) -> ApiResult<Json<PersonalityAnalysis>> {
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        let analysis = ai
            .personality(who.caller(), user_id.0)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(Json(cyberhub_domain::api::ErrorBody {
                    detail: "No personality analysis yet: POST /api/v1/personality/analyze first."
                        .into(),
                    errors: None,
                }))
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
    async fn index_status(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
    ) -> ApiResult<Json<IndexStatus>> {
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Json(ai.index_status(who.caller()).await?))
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
        let ai = self.services()?;
        let who = self.0.who(&auth, req).await?;
        Ok(Queued::Accepted(Json(ai.reindex(who.caller()).await?)))
    }
}
