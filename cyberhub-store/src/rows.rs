//! Row types shared by both SQL backends, and their conversion into domain entities.
//!
//! Enums are stored as their wire strings and parsed back; a value that fails to parse
//! (a row written by something else) is reported as a corrupt row, never a panic.

use crate::error::{Result, StoreError};
use chrono::{DateTime, Utc};
use cyberhub_domain::{
    AuditEvent, ContentItem, Invitation, LearningPreferences, Membership, Organization, Progress,
    RoleGrant, RoleScope, User,
};
use sqlx::types::Json;
use uuid::Uuid;

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::corrupt(what, e))
}

fn parse_opt<T: std::str::FromStr>(what: &str, s: Option<&str>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    s.map(|s| parse(what, s)).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: Option<String>,
    pub country: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub learning_preferences: Json<serde_json::Value>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn into_user(self) -> Result<User> {
        let prefs: LearningPreferences = serde_json::from_value(self.learning_preferences.0)
            .map_err(|e| StoreError::corrupt("learning preferences", e))?;
        Ok(User {
            id: self.id.into(),
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            bio: self.bio,
            country: self.country,
            timezone: self.timezone,
            language: self.language,
            learning_preferences: prefs,
            status: parse("user status", &self.status)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub refresh_jti: Uuid,
    pub generation: i64,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
    pub previous_refresh_jti: Option<Uuid>,
}

impl From<SessionRow> for crate::Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id: r.id.into(),
            user_id: r.user_id.into(),
            refresh_jti: r.refresh_jti,
            generation: r.generation,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            revoked_reason: r.revoked_reason,
            user_agent: r.user_agent,
            client_addr: r.client_addr,
            previous_refresh_jti: r.previous_refresh_jti,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoleGrantRow {
    pub user_id: Uuid,
    pub role: String,
    pub scope_org_id: Option<Uuid>,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTime<Utc>,
}

impl RoleGrantRow {
    pub fn into_grant(self) -> Result<RoleGrant> {
        Ok(RoleGrant {
            user_id: self.user_id.into(),
            role: parse("role", &self.role)?,
            scope: self
                .scope_org_id
                .map_or(RoleScope::Global, |o| RoleScope::Org(o.into())),
            granted_by: self.granted_by.map(Into::into),
            granted_at: self.granted_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub org_type: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub country: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrgRow {
    pub fn into_org(self) -> Result<Organization> {
        Ok(Organization {
            id: self.id.into(),
            name: self.name,
            slug: self.slug,
            org_type: parse("organization type", &self.org_type)?,
            description: self.description,
            website: self.website,
            country: self.country,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

impl MembershipRow {
    pub fn into_membership(self) -> Result<Membership> {
        Ok(Membership {
            org_id: self.org_id.into(),
            user_id: self.user_id.into(),
            role: parse("member role", &self.role)?,
            joined_at: self.joined_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub slug: String,
    pub org_name: String,
    pub user_id: Uuid,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl InvitationRow {
    pub fn into_invitation(self) -> Result<Invitation> {
        Ok(Invitation {
            id: self.id.into(),
            organization: self.slug,
            organization_id: self.org_id.into(),
            organization_name: self.org_name,
            user_id: self.user_id.into(),
            role: parse("invitation role", &self.role)?,
            invited_by: self.invited_by.map(Into::into),
            status: parse("invitation status", &self.status)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            decided_at: self.decided_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContentRow {
    pub id: Uuid,
    pub content_id: String,
    pub content_type: String,
    pub title: String,
    pub description: String,
    pub track: Option<String>,
    pub difficulty: Option<String>,
    pub tags: Json<Vec<String>>,
    pub estimated_minutes: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ContentRow {
    pub fn into_item(self) -> Result<ContentItem> {
        Ok(ContentItem {
            id: self.id.into(),
            content_id: self.content_id,
            content_type: parse("content type", &self.content_type)?,
            title: self.title,
            description: self.description,
            track: parse_opt("track", self.track.as_deref())?,
            difficulty: parse_opt("difficulty", self.difficulty.as_deref())?,
            tags: self.tags.0,
            estimated_minutes: self
                .estimated_minutes
                .map(|m| u32::try_from(m).map_err(|e| StoreError::corrupt("estimated minutes", e)))
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProgressRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub content_id: String,
    pub content_type: String,
    pub status: String,
    pub completion_percentage: f64,
    pub score: Option<f64>,
    pub metadata: Json<serde_json::Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProgressRow {
    pub fn into_progress(self) -> Result<Progress> {
        Ok(Progress {
            id: self.id.into(),
            user_id: self.user_id.into(),
            content_id: self.content_id,
            content_type: parse("content type", &self.content_type)?,
            status: parse("progress status", &self.status)?,
            completion_percentage: self.completion_percentage,
            score: self.score,
            metadata: self.metadata.0,
            started_at: self.started_at,
            completed_at: self.completed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: Uuid,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub result: String,
    pub client_addr: Option<String>,
    pub details: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl AuditRow {
    pub fn into_event(self) -> Result<AuditEvent> {
        Ok(AuditEvent {
            id: self.id.into(),
            actor_id: self.actor_id.map(Into::into),
            action: parse("audit action", &self.action)?,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            result: parse("audit result", &self.result)?,
            client_addr: self.client_addr,
            details: self.details.0,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditCountRow {
    pub action: String,
    pub result: String,
    pub count: i64,
}

/// `%term%` for `LIKE ... ESCAPE '\'`, lower-cased, with `%`, `_` and `\` escaped.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut s = String::with_capacity(term.len() + 2);
    s.push('%');
    for c in term.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

// Column lists of each table, in row-struct order (macros, so that `concat!` can build
// static SQL strings with them).

macro_rules! user_cols {
    () => {
        "id, email, password_hash, first_name, last_name, bio, country, timezone, language, learning_preferences, status, created_at, updated_at"
    };
}
pub(crate) use user_cols;

macro_rules! session_cols {
    () => {
        "id, user_id, refresh_jti, generation, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, client_addr, previous_refresh_jti"
    };
}
pub(crate) use session_cols;

macro_rules! org_cols {
    () => {
        "id, name, slug, org_type, description, website, country, created_at, updated_at"
    };
}
pub(crate) use org_cols;

macro_rules! content_cols {
    () => {
        "id, content_id, content_type, title, description, track, difficulty, tags, estimated_minutes, created_at, updated_at"
    };
}
pub(crate) use content_cols;

macro_rules! progress_cols {
    () => {
        "id, user_id, content_id, content_type, status, completion_percentage, score, metadata, started_at, completed_at, created_at, updated_at"
    };
}
pub(crate) use progress_cols;

macro_rules! audit_cols {
    () => {
        "id, actor_id, action, resource_type, resource_id, result, client_addr, details, created_at"
    };
}
pub(crate) use audit_cols;

/// Binds an [`AuditEvent`](cyberhub_domain::AuditEvent)'s fields to `$q` in
/// [`audit_cols`] order.
macro_rules! bind_audit {
    ($q:expr, $e:expr) => {
        $q.bind($e.id.0)
            .bind($e.actor_id.map(|a| a.0))
            .bind($e.action.as_str())
            .bind(&$e.resource_type)
            .bind(&$e.resource_id)
            .bind($e.result.as_str())
            .bind(&$e.client_addr)
            .bind(sqlx::types::Json(&$e.details))
            .bind($e.created_at)
    };
}
pub(crate) use bind_audit;

/// Binds a [`Session`](crate::session::Session)'s fields to `$q` in [`session_cols`] order.
macro_rules! bind_session {
    ($q:expr, $s:expr) => {
        $q.bind($s.id.0)
            .bind($s.user_id.0)
            .bind($s.refresh_jti)
            .bind($s.generation)
            .bind($s.created_at)
            .bind($s.last_used_at)
            .bind($s.expires_at)
            .bind($s.revoked_at)
            .bind(&$s.revoked_reason)
            .bind(&$s.user_agent)
            .bind(&$s.client_addr)
            .bind($s.previous_refresh_jti)
    };
}
pub(crate) use bind_session;
