//! Audit events: who did what to which resource, with what result, from where, when.

use crate::ids::{AuditId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Security-relevant actions.
    AuditAction {
        /// Account created.
        Signup => "signup",
        /// Successful login.
        LoginSuccess => "login_success",
        /// Failed login (bad credentials, inactive account).
        LoginFailure => "login_failure",
        /// Login refused by the lock-out.
        LoginLocked => "login_locked",
        /// Refresh token rotated.
        TokenRefresh => "token_refresh",
        /// A used refresh token came back: the session family was revoked.
        RefreshReuseDetected => "refresh_reuse_detected",
        /// Session(s) ended.
        Logout => "logout",
        /// Password changed.
        PasswordChange => "password_change",
        /// E-mail address changed.
        EmailChange => "email_change",
        /// Role granted.
        RoleGrant => "role_grant",
        /// Role revoked.
        RoleRevoke => "role_revoke",
        /// User created by an administrator.
        UserCreate => "user_create",
        /// User profile or status changed.
        UserUpdate => "user_update",
        /// User deleted.
        UserDelete => "user_delete",
        /// Organization created.
        OrgCreate => "org_create",
        /// Organization changed.
        OrgUpdate => "org_update",
        /// Organization deleted.
        OrgDelete => "org_delete",
        /// Membership added, changed or removed.
        MembershipChange => "membership_change",
        /// An organization's admin invited a user to join it.
        InvitationCreate => "invitation_create",
        /// The invited user accepted (the membership exists from then on).
        InvitationAccept => "invitation_accept",
        /// The invited user declined.
        InvitationDecline => "invitation_decline",
        /// An organization's admin withdrew a pending invitation.
        InvitationRevoke => "invitation_revoke",
        /// Personality analysis stored.
        PersonalityAnalyze => "personality_analyze",
        /// Catalog item created, changed or deleted.
        ContentChange => "content_change",
        /// The whole catalog was queued for re-indexing.
        IndexRebuild => "index_rebuild",
        /// Progress row deleted.
        ProgressDelete => "progress_delete",
        /// A request was refused for lack of permission.
        AccessDenied => "access_denied",
    }
);

string_enum!(
    /// How the action ended.
    AuditResult {
        /// It happened.
        Success => "success",
        /// It failed (bad input, bad credentials).
        Failure => "failure",
        /// It was refused (permission, lock-out, reuse).
        Denied => "denied",
    }
);

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AuditEvent {
    /// Id.
    pub id: AuditId,
    /// Who acted (`None` when unknown, e.g. a failed login for an unknown e-mail).
    pub actor_id: Option<UserId>,
    /// What they did.
    pub action: AuditAction,
    /// Kind of the resource acted on (`user`, `session`, `organization`, ...).
    pub resource_type: String,
    /// Its id, when there is one.
    pub resource_id: Option<String>,
    /// How it ended.
    pub result: AuditResult,
    /// Client address as the server saw it.
    pub client_addr: Option<String>,
    /// Extra facts (never secrets).
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl AuditEvent {
    /// An event with no client address and no details (add them with [`Self::from_addr`]
    /// and [`Self::with_details`]).
    pub fn new(
        id: AuditId,
        actor_id: Option<UserId>,
        action: AuditAction,
        resource: (&str, Option<String>),
        result: AuditResult,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            actor_id,
            action,
            resource_type: resource.0.to_owned(),
            resource_id: resource.1,
            result,
            client_addr: None,
            details: serde_json::json!({}),
            created_at,
        }
    }

    /// The client address the request came from.
    pub fn from_addr(mut self, addr: Option<String>) -> Self {
        self.client_addr = addr;
        self
    }

    /// Extra facts (never secrets).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Filters for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events by this actor (non-administrators always get their own).
    pub actor_id: Option<UserId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this result.
    pub result: Option<AuditResult>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// A count of events by action and result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AuditCount {
    /// Action.
    pub action: AuditAction,
    /// Result.
    pub result: AuditResult,
    /// How many.
    pub count: u64,
}
