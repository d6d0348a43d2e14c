//! `/progress*`: learning progress, owned by the learner.

use crate::api::accounts::Deleted;
use crate::api::encode::Encoded;
use crate::error::ApiResult;
use crate::state::{page, page_links, AppState, BearerAuth};
use cyberhub_domain::api::ProgressList;
use cyberhub_domain::{
    ContentType, NewProgress, Progress, ProgressFilter, ProgressId, ProgressOrdering,
    ProgressPatch, ProgressStatus, UserId,
};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Learning progress.
    Progress,
}

/// 201 with the new row.
#[derive(ApiResponse)]
pub enum ProgressCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Progress>),
}

/// Progress routes.
pub struct ProgressApi(pub Arc<AppState>);

#[OpenApi]
impl ProgressApi {
    /// Progress rows: the caller's own, or `?user=` for someone they may see (administrators,
    /// mentors and organization admins of a shared organization); anyone else's is 404.
    #[oai(
        path = "/progress",
        method = "get",
        operation_id = "list_progress",
        tag = "Tag::Progress"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        req: &Request,
        auth: BearerAuth,
        user: Query<Option<UserId>>,
        content_type: Query<Option<ContentType>>,
        status: Query<Option<ProgressStatus>>,
        search: Query<Option<String>>,
        ordering: Query<Option<ProgressOrdering>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Encoded<ProgressList>> {
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let target = user.0.unwrap_or(who.principal.user_id);
        let filter = ProgressFilter {
            user_id: target,
            content_type: content_type.0,
            status: status.0,
            search: search.0.filter(|s| !s.trim().is_empty()),
            ordering: ordering.0.unwrap_or_default(),
        };
        let result = self
            .0
            .services
            .list_progress(who.caller(), &filter, p)
            .await?;
        let (next, previous) = page_links(req, &result);
        Ok(Encoded(ProgressList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// Record progress on an item for the caller.
    #[oai(
        path = "/progress",
        method = "post",
        operation_id = "create_progress",
        tag = "Tag::Progress"
    )]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<NewProgress>,
    ) -> ApiResult<ProgressCreated> {
        let who = self.0.who(&auth, req).await?;
        let p = self
            .0
            .services
            .create_progress(who.caller(), body.0)
            .await?;
        Ok(ProgressCreated::Created(Json(p)))
    }

    /// One row (owner or administrators).
    #[oai(
        path = "/progress/:id",
        method = "get",
        operation_id = "get_progress",
        tag = "Tag::Progress"
    )]
    async fn get(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<ProgressId>,
    ) -> ApiResult<Json<Progress>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(self.0.services.progress(who.caller(), id.0).await?))
    }

    /// Update a row under the status rules (owner or administrators).
    #[oai(
        path = "/progress/:id",
        method = "patch",
        operation_id = "update_progress",
        tag = "Tag::Progress"
    )]
    async fn patch(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<ProgressId>,
        body: Json<ProgressPatch>,
    ) -> ApiResult<Json<Progress>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .update_progress(who.caller(), id.0, &body.0)
                .await?,
        ))
    }

    /// Delete a row (owner or administrators).
    #[oai(
        path = "/progress/:id",
        method = "delete",
        operation_id = "delete_progress",
        tag = "Tag::Progress"
    )]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<ProgressId>,
    ) -> ApiResult<Deleted> {
        let who = self.0.who(&auth, req).await?;
        self.0.services.delete_progress(who.caller(), id.0).await?;
        Ok(Deleted::NoContent)
    }
}
