//! Learning progress, owned by the learner, and the one rule for who else may read a
//! learner's data (progress, recommendations, personality).

use super::{App, Caller};
use crate::error::{AuthError, ErrorKind, Result};
use cyberhub_domain::{
    org_standing_sees_member_data, Action, AuditAction, NewProgress, Page, PageResult, Progress,
    ProgressFilter, ProgressId, ProgressPatch, Resource, Scope, UserId,
};

impl App {
    /// `None` for callers who may touch any row (administrators), else the caller.
    fn owner_scope(caller: Caller<'_>, action: Action) -> Option<UserId> {
        (caller.principal.scope_for(Resource::Progress, action) != Some(Scope::All))
            .then_some(caller.id())
    }

    /// Whether `caller` may read `target`'s personal learning data: themselves,
    /// administrators, and callers whose standing in an organization both belong to grants
    /// it ([`org_standing_sees_member_data`]: its admins, platform mentors who are members
    /// there; never a viewer). A pending invitation is no standing.
    pub async fn may_read_member_data(&self, caller: Caller<'_>, target: UserId) -> Result<bool> {
        let p = caller.principal;
        if p.user_id == target || p.scope_for(Resource::Progress, Action::Read) == Some(Scope::All)
        {
            return Ok(true);
        }
        for (org, standing) in self.store().shared_orgs(p.user_id, target).await? {
            let role_scope = p.scope_in_org(org, Resource::Progress, Action::Read);
            if org_standing_sees_member_data(standing, role_scope) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `NotFound` (as if the user did not exist) unless the caller may read `target`'s data.
    pub async fn require_member_data(&self, caller: Caller<'_>, target: UserId) -> Result<()> {
        if self.may_read_member_data(caller, target).await? {
            Ok(())
        } else {
            Err(AuthError::new(ErrorKind::NotFound, "user not found"))
        }
    }

    /// A learner's progress rows (`filter.user_id`), for callers who may read them.
    pub async fn list_progress(
        &self,
        caller: Caller<'_>,
        filter: &ProgressFilter,
        page: Page,
    ) -> Result<PageResult<Progress>> {
        self.require_member_data(caller, filter.user_id).await?;
        Ok(self.store().list_progress(filter, page).await?)
    }

    /// Records progress on an item for the caller.
    pub async fn create_progress(&self, caller: Caller<'_>, new: NewProgress) -> Result<Progress> {
        caller
            .principal
            .require(Resource::Progress, Action::Create)?;
        let p = Progress::new(
            ProgressId(uuid::Uuid::new_v4()),
            caller.id(),
            new,
            self.clock().now(),
        )?;
        // Progress is kept for catalog items only: with one row per (learner, item), a
        // learner holds at most as many rows as the catalog has items, whatever they send.
        let item = match self.store().get_content_by_key(&p.content_id).await {
            Ok(item) => item,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(AuthError::field(
                    "content_id",
                    "No catalog item has this content_id (GET /api/v1/content lists them).",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if item.content_type != p.content_type {
            return Err(AuthError::field(
                "content_type",
                format!(
                    "The catalog item {} is a {}.",
                    item.content_id,
                    item.content_type.as_str()
                ),
            ));
        }
        self.store()
            .insert_progress(&p)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => AuthError::new(
                    e.kind(),
                    "Progress for this content already exists; update it with PATCH /progress/{id}.",
                ),
                _ => e.into(),
            })?;
        self.hooks.learner_changed(p.user_id);
        Ok(p)
    }

    /// One row (its learner or administrators; others `NotFound`).
    pub async fn progress(&self, caller: Caller<'_>, id: ProgressId) -> Result<Progress> {
        Ok(self
            .store()
            .get_progress(id, Self::owner_scope(caller, Action::Read))
            .await?)
    }

    /// Updates a row under the status rules.
    pub async fn update_progress(
        &self,
        caller: Caller<'_>,
        id: ProgressId,
        patch: &ProgressPatch,
    ) -> Result<Progress> {
        let p = self
            .store()
            .update_progress(
                id,
                Self::owner_scope(caller, Action::Update),
                patch,
                self.clock().now(),
            )
            .await?;
        self.hooks.learner_changed(p.user_id);
        Ok(p)
    }

    /// Deletes a row.
    pub async fn delete_progress(&self, caller: Caller<'_>, id: ProgressId) -> Result<()> {
        let owner = Self::owner_scope(caller, Action::Delete);
        let row = self.store().get_progress(id, owner).await?;
        let event = self.event(
            caller,
            AuditAction::ProgressDelete,
            ("progress", id.to_string()),
            serde_json::json!({"user_id": row.user_id, "content_id": row.content_id}),
        );
        self.store().delete_progress(id, owner, &event).await?;
        self.hooks.learner_changed(row.user_id);
        Ok(())
    }
}
