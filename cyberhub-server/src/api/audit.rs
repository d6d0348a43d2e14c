//! `/audit-logs*`: administrators, analysts and finance see everything; others their own.

use crate::error::ApiResult;
use crate::state::{page, page_links, AppState, BearerAuth};
use chrono::{DateTime, Utc};
use cyberhub_domain::api::{AuditLogList, AuditStatsResponse};
use cyberhub_domain::{AuditAction, AuditFilter, AuditResult};
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// The audit log.
    Audit,
}

/// Audit routes.
pub struct AuditApi(pub Arc<AppState>);

fn filter(
    action: Option<AuditAction>,
    result: Option<AuditResult>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> AuditFilter {
    AuditFilter {
        actor_id: None,
        action,
        result,
        since,
        until,
    }
}

#[OpenApi]
impl AuditApi {
    /// Audit events, newest first.
    #[oai(
        path = "/audit-logs",
        method = "get",
        operation_id = "list_audit_logs",
        tag = "Tag::Audit"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        req: &Request,
        auth: BearerAuth,
        action: Query<Option<AuditAction>>,
        result: Query<Option<AuditResult>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<AuditLogList>> {
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let f = filter(action.0, result.0, since.0, until.0);
        let r = self.0.services.list_audit(who.caller(), f, p).await?;
        let (next, previous) = page_links(req, &r);
        Ok(Json(AuditLogList {
            count: r.total,
            next,
            previous,
            results: r.items,
        }))
    }

    /// Event counts by action and result, over the same filters.
    #[oai(
        path = "/audit-logs/stats",
        method = "get",
        operation_id = "audit_stats",
        tag = "Tag::Audit"
    )]
    async fn stats(
        &self,
        req: &Request,
        auth: BearerAuth,
        action: Query<Option<AuditAction>>,
        result: Query<Option<AuditResult>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<AuditStatsResponse>> {
        let who = self.0.who(&auth, req).await?;
        let counts = self
            .0
            .services
            .audit_stats(who.caller(), filter(action.0, result.0, since.0, until.0))
            .await?;
        Ok(Json(AuditStatsResponse {
            total: counts.iter().map(|c| c.count).sum(),
            counts,
        }))
    }
}
