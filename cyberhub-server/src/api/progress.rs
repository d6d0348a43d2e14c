//! `/progress*`: learning progress, owned by the learner.

use crate::api::accounts::Deleted;
use crate::error::{ApiError, ApiResult};
use crate::state::{client_info, page, page_links, AppState, BearerAuth};
use cyberhub_auth::Principal;
use cyberhub_domain::api::ProgressList;
use cyberhub_domain::{
    org_standing_sees_member_data, Action, AuditAction, AuditResult, ContentType, NewProgress,
    Progress, ProgressFilter, ProgressId, ProgressOrdering, ProgressPatch, ProgressStatus,
    Resource, Scope, UserId,
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

impl ProgressApi {
    /// `None` for callers who may touch any row (administrators), else the caller.
    fn owner_scope(caller: &Principal, action: Action) -> Option<UserId> {
        (caller.scope_for(Resource::Progress, action) != Some(Scope::All)).then_some(caller.user_id)
    }

    /// Whether `caller` may read `target`'s progress: themselves, administrators, and
    /// callers whose standing in an organization both belong to grants it
    /// ([`org_standing_sees_member_data`]: its admins, mentors who are members; never viewers).
    pub async fn may_read(state: &AppState, caller: &Principal, target: UserId) -> ApiResult<bool> {
        if caller.user_id == target
            || caller.scope_for(Resource::Progress, Action::Read) == Some(Scope::All)
        {
            return Ok(true);
        }
        for (org, standing) in state.store.shared_orgs(caller.user_id, target).await? {
            let role_scope = caller.scope_in_org(org, Resource::Progress, Action::Read);
            if org_standing_sees_member_data(standing, role_scope) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

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
    ) -> ApiResult<Json<ProgressList>> {
        let caller = self.0.principal(&auth).await?;
        let p = page(page_no.0, page_size.0)?;
        let target = user.0.unwrap_or(caller.user_id);
        if !Self::may_read(&self.0, &caller, target).await? {
            return Err(ApiError::not_found("user"));
        }
        let filter = ProgressFilter {
            user_id: target,
            content_type: content_type.0,
            status: status.0,
            search: search.0.filter(|s| !s.trim().is_empty()),
            ordering: ordering.0.unwrap_or_default(),
        };
        let result = self.0.store.list_progress(&filter, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(ProgressList {
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
        auth: BearerAuth,
        body: Json<NewProgress>,
    ) -> ApiResult<ProgressCreated> {
        let caller = self.0.principal(&auth).await?;
        caller.require(Resource::Progress, Action::Create)?;
        let p = Progress::new(
            ProgressId(uuid::Uuid::new_v4()),
            caller.user_id,
            body.0,
            self.0.clock.now(),
        )?;
        self.0
            .store
            .insert_progress(&p)
            .await
            .map_err(|e| {
                match e.kind() {
            cyberhub_domain::ErrorKind::AlreadyExists => ApiError::from_kind(
                e.kind(),
                "Progress for this content already exists; update it with PATCH /progress/{id}.",
                &[],
                None,
            ),
            _ => e.into(),
        }
            })?;
        self.0.progress_changed(p.user_id);
        Ok(ProgressCreated::Created(Json(p)))
    }

    /// One row (owner or administrators).
    #[oai(
        path = "/progress/:id",
        method = "get",
        operation_id = "get_progress",
        tag = "Tag::Progress"
    )]
    async fn get(&self, auth: BearerAuth, id: Path<ProgressId>) -> ApiResult<Json<Progress>> {
        let caller = self.0.principal(&auth).await?;
        Ok(Json(
            self.0
                .store
                .get_progress(id.0, Self::owner_scope(&caller, Action::Read))
                .await?,
        ))
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
        auth: BearerAuth,
        id: Path<ProgressId>,
        body: Json<ProgressPatch>,
    ) -> ApiResult<Json<Progress>> {
        let caller = self.0.principal(&auth).await?;
        let p = self
            .0
            .store
            .update_progress(
                id.0,
                Self::owner_scope(&caller, Action::Update),
                &body.0,
                self.0.clock.now(),
            )
            .await?;
        self.0.progress_changed(p.user_id);
        Ok(Json(p))
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
        let caller = self.0.principal(&auth).await?;
        self.0
            .store
            .delete_progress(id.0, Self::owner_scope(&caller, Action::Delete))
            .await?;
        self.0.progress_changed(caller.user_id);
        self.0
            .auth
            .audit(
                Some(caller.user_id),
                AuditAction::ProgressDelete,
                ("progress", Some(id.0.to_string())),
                AuditResult::Success,
                &client_info(req),
                serde_json::json!({}),
            )
            .await;
        Ok(Deleted::NoContent)
    }
}
