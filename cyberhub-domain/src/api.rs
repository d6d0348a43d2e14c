//! Request and response bodies of the HTTP API (`docs/API.md`), shared by the reference
//! server and the browser SDK so that neither redefines them.

use crate::{
    AuditCount, AuditEvent, ContentItem, FieldError, Invitation, LearningPreferences, Membership,
    NewUser, OrgRole, Organization, Progress, Role, User, UserId,
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use poem_openapi::Object;

/// Every error body: `{"detail": ...}`, plus `errors` for validation failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub detail: String,
    /// Field-level problems (validation errors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub errors: Option<Vec<FieldError>>,
}

/// A plain confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct MessageResponse {
    /// What happened.
    pub detail: String,
}

/// `POST /users` answer: self-registration gets tokens, an administrator gets the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct UserCreatedResponse {
    /// The new user.
    pub user: User,
    /// Access token (self-registration only).
    #[serde(default)]
    pub access_token: Option<String>,
    /// Refresh token (self-registration only).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// `Bearer` (self-registration only).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Access-token lifetime in seconds (self-registration only).
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// `POST /auth/signup` and token-less `POST /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct SignupRequest {
    /// E-mail (unique, case-insensitive).
    pub email: String,
    /// 8–128 characters; common passwords are refused.
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub password: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// BCP 47 language tag.
    #[serde(default)]
    pub language: Option<String>,
    /// Roles for the new user (only when an administrator creates the account).
    #[serde(default)]
    pub roles: Option<Vec<Role>>,
}

impl SignupRequest {
    /// The profile part.
    pub fn new_user(&self) -> NewUser {
        NewUser {
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            country: self.country.clone(),
            timezone: self.timezone.clone(),
            language: self.language.clone(),
        }
    }
}

/// `POST /auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct LoginRequest {
    /// E-mail.
    pub email: String,
    /// Password.
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub password: String,
}

/// `POST /auth/token/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct RefreshRequest {
    /// The refresh token; it dies when exchanged.
    pub refresh_token: String,
}

/// `POST /auth/logout`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct LogoutRequest {
    /// End the session of this refresh token (default: the caller's current session).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// End every session of the caller.
    #[serde(default)]
    pub all: Option<bool>,
}

/// `POST /auth/email/change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct EmailChangeRequest {
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub current_password: String,
    /// The new address (at most 254 characters).
    #[cfg_attr(feature = "openapi", oai(validator(max_length = 254)))]
    pub new_email: String,
}

/// `POST /auth/account/delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AccountDeleteRequest {
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub current_password: String,
}

/// `POST /auth/password/change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct PasswordChangeRequest {
    /// The current password.
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub current_password: String,
    /// The new password (same rules as at sign-up).
    #[cfg_attr(feature = "openapi", oai(write_only))]
    pub new_password: String,
}

/// A new token pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct TokenResponse {
    /// Access token (15 minutes).
    pub access_token: String,
    /// Refresh token (single use; the session ends 30 days after login).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// Sign-up and login answer: the user and a token pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AuthResponse {
    /// The user.
    pub user: User,
    /// Access token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// One organization of the caller and their role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct OrganizationMembership {
    /// The organization.
    pub organization: Organization,
    /// The caller's role in it.
    pub role: OrgRole,
}

/// `GET /auth/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct MeResponse {
    /// The caller.
    pub user: User,
    /// Their global roles.
    pub roles: Vec<Role>,
    /// Their organizations.
    pub organizations: Vec<OrganizationMembership>,
}

/// `PATCH /users/{id}`. Profile fields are self-editable; `status` is for administrators;
/// `roles`, `email` and the other account fields are never changed here (a self-PATCH that
/// names one is refused with 403).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct UserPatchRequest {
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Profile text (`""` clears).
    #[serde(default)]
    pub bio: Option<String>,
    /// Country (`""` clears).
    #[serde(default)]
    pub country: Option<String>,
    /// Time zone (`""` clears).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Language (`""` clears).
    #[serde(default)]
    pub language: Option<String>,
    /// Learning preferences (replaced whole).
    #[serde(default)]
    pub learning_preferences: Option<LearningPreferences>,
    /// Account status (administrators only).
    #[serde(default)]
    pub status: Option<crate::AccountStatus>,
    /// Not editable here: use `POST /users/{id}/roles`.
    #[serde(default)]
    pub roles: Option<serde_json::Value>,
    /// Not editable.
    #[serde(default)]
    pub email: Option<serde_json::Value>,
    /// Not editable.
    #[serde(default)]
    pub password: Option<serde_json::Value>,
    /// Not editable.
    #[serde(default)]
    pub is_staff: Option<serde_json::Value>,
    /// Not editable.
    #[serde(default)]
    pub is_superuser: Option<serde_json::Value>,
    /// Not editable.
    #[serde(default)]
    pub is_active: Option<serde_json::Value>,
    /// Not editable: use the organization member routes.
    #[serde(default)]
    pub organization: Option<serde_json::Value>,
}

impl UserPatchRequest {
    /// Names of fields present that no self-service request may set.
    pub fn protected_fields(&self) -> Vec<&'static str> {
        // Administrator-only domain fields (status), then the account fields never edited here.
        let mut v = self.to_patch().admin_only_fields();
        let never: [(&'static str, bool); 7] = [
            ("roles", self.roles.is_some()),
            ("email", self.email.is_some()),
            ("password", self.password.is_some()),
            ("is_staff", self.is_staff.is_some()),
            ("is_superuser", self.is_superuser.is_some()),
            ("is_active", self.is_active.is_some()),
            ("organization", self.organization.is_some()),
        ];
        v.extend(
            never
                .into_iter()
                .filter(|(_, set)| *set)
                .map(|(name, _)| name),
        );
        v
    }

    /// Names of fields present that even administrators cannot change here.
    pub fn read_only_fields(&self) -> Vec<&'static str> {
        self.protected_fields()
            .into_iter()
            .filter(|f| *f != "status")
            .collect()
    }

    /// The domain patch.
    pub fn to_patch(&self) -> crate::UserPatch {
        crate::UserPatch {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            bio: self.bio.clone(),
            country: self.country.clone(),
            timezone: self.timezone.clone(),
            language: self.language.clone(),
            learning_preferences: self.learning_preferences.clone(),
            status: self.status,
        }
    }
}

/// `POST /users/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct RoleGrantRequest {
    /// The role.
    pub role: Role,
    /// `global` (default) or `org`.
    #[serde(default)]
    pub scope: Option<String>,
    /// For `org` scope: the organization's slug or id.
    #[serde(default)]
    pub scope_ref: Option<String>,
}

/// A role held by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct UserRole {
    /// The user.
    pub user_id: UserId,
    /// The role.
    pub role: Role,
    /// `global` or `org`.
    pub scope: String,
    /// The organization id for `org` scope.
    pub scope_ref: Option<String>,
    /// When granted.
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

/// A role and what it may do (`GET /roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct RoleInfo {
    /// The role.
    pub role: Role,
    /// Its permissions (including those every signed-in user has).
    pub permissions: Vec<crate::Grant>,
}

/// `POST /organizations/{slug}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct MemberRequest {
    /// The user to add.
    pub user_id: UserId,
    /// Their role (default `member`).
    #[serde(default)]
    pub role: Option<OrgRole>,
}

/// What `POST /organizations/{slug}/members` answered: a platform administrator's direct
/// add (201, the membership) or an organization admin's invitation (202).
///
/// Both answers carry this one schema (`oneOf` the two), so that generated clients get one
/// type for the operation; the status code and the shape (`status` is only on an
/// invitation) say which it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Union), oai(one_of))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub enum MemberAddResult {
    /// Pending until the user accepts.
    Invited(Invitation),
    /// A member now.
    Member(Membership),
}

/// `PATCH /organizations/{slug}/members/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct MemberPatchRequest {
    /// The new role.
    pub role: OrgRole,
}

/// `GET /audit-logs/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AuditStatsResponse {
    /// Events matching the filters.
    pub total: u64,
    /// Counts by action and result.
    pub counts: Vec<AuditCount>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct HealthResponse {
    /// `healthy`.
    pub status: String,
    /// Service name.
    pub service: String,
    /// Version.
    pub version: String,
}

/// `GET /ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ReadyResponse {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Each checked part and whether it answered.
    pub checks: Vec<ReadyCheck>,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ReadyCheck {
    /// The part (`relational_store`, ...).
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<String>,
    /// The instance serves without this part, degraded (e.g. shared state in Redis: it
    /// falls back to its own memory), so a failing optional check leaves `/ready` at 200.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub optional: bool,
}

macro_rules! paginated {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(Object))]
        #[cfg_attr(feature = "ts", derive(tsify::Tsify))]
        pub struct $name {
            /// Items over all pages.
            pub count: u64,
            /// URL of the next page, if any.
            pub next: Option<String>,
            /// URL of the previous page, if any.
            pub previous: Option<String>,
            /// This page.
            pub results: Vec<$item>,
        }
    };
}

paginated!(
    /// A page of users.
    UserList,
    User
);
paginated!(
    /// A page of organizations.
    OrganizationList,
    Organization
);
paginated!(
    /// A page of invitations.
    InvitationList,
    Invitation
);
paginated!(
    /// A page of memberships.
    MemberList,
    Membership
);
paginated!(
    /// A page of catalog items.
    ContentList,
    ContentItem
);
paginated!(
    /// A page of progress rows.
    ProgressList,
    Progress
);
paginated!(
    /// A page of audit events.
    AuditLogList,
    AuditEvent
);
