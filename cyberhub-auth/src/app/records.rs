//! The audit log (administrators, analysts and finance read everything, others their own
//! events) and stored personality analyses (only the learner, or an administrator, stores
//! one; whoever may read the learner's data reads it).

use super::{App, Caller};
use crate::error::{AuthError, Result};
use cyberhub_domain::{
    Action, AuditAction, AuditCount, AuditEvent, AuditFilter, Page, PageResult, Resource, Scope,
    UserId,
};

impl App {
    /// The filter narrowed to what the caller may read.
    fn audit_scope(caller: Caller<'_>, mut filter: AuditFilter) -> AuditFilter {
        let all = caller.principal.scope_for(Resource::AuditLog, Action::Read) == Some(Scope::All);
        if !all {
            filter.actor_id = Some(caller.id());
        }
        filter
    }

    /// Audit events, newest first.
    pub async fn list_audit(
        &self,
        caller: Caller<'_>,
        filter: AuditFilter,
        page: Page,
    ) -> Result<PageResult<AuditEvent>> {
        let filter = Self::audit_scope(caller, filter);
        Ok(self.store().list_audit(&filter, page).await?)
    }

    /// Counts of events by action and result.
    pub async fn audit_stats(
        &self,
        caller: Caller<'_>,
        filter: AuditFilter,
    ) -> Result<Vec<AuditCount>> {
        let filter = Self::audit_scope(caller, filter);
        Ok(self.store().audit_stats(&filter).await?)
    }

    /// Whether the caller administers the catalog's AI index (re-index, index status).
    pub fn require_catalog_admin(&self, caller: Caller<'_>) -> Result<()> {
        if caller
            .principal
            .scope_for(Resource::Content, Action::Update)
            == Some(Scope::All)
        {
            Ok(())
        } else {
            Err(AuthError::forbidden(
                "Only administrators and program directors manage the catalog index.",
            ))
        }
    }

    /// Checks that the caller may store an analysis of `user` (the learner themselves or an
    /// administrator: reading someone's data is never enough to speak for them).
    pub fn require_analysis_author(&self, caller: Caller<'_>, user: UserId) -> Result<()> {
        if caller.principal.may_create_for(user, Resource::Ai) {
            Ok(())
        } else {
            Err(AuthError::forbidden(
                "Only the learner (or an administrator) can store a personality analysis.",
            ))
        }
    }

    /// Stores an analysis of `user` made at `at`, with its audit row.
    pub async fn save_personality(
        &self,
        caller: Caller<'_>,
        user: UserId,
        at: chrono::DateTime<chrono::Utc>,
        analysis: &serde_json::Value,
    ) -> Result<()> {
        self.require_analysis_author(caller, user)?;
        let event = self.event(
            caller,
            AuditAction::PersonalityAnalyze,
            ("user", user.to_string()),
            serde_json::json!({}),
        );
        self.store()
            .save_personality(user, at, analysis, &event)
            .await?;
        self.hooks.learner_changed(user);
        Ok(())
    }

    /// The newest analysis of `user`, for callers who may read their data.
    pub async fn latest_personality(
        &self,
        caller: Caller<'_>,
        user: UserId,
    ) -> Result<Option<serde_json::Value>> {
        self.require_member_data(caller, user).await?;
        Ok(self.store().latest_personality(user).await?)
    }
}
