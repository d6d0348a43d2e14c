//! Login sessions: one row per refresh-token family.

use chrono::{DateTime, Utc};
use cyberhub_domain::{SessionId, UserId};
use uuid::Uuid;

/// A login session. Each refresh rotates `refresh_jti`; a refresh token whose `jti` is not
/// the current one is a reuse, and the auth layer then revokes the whole session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id (the `sid` claim of every token of this family).
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// The `jti` of the only refresh token that is currently valid.
    pub refresh_jti: Uuid,
    /// How many times the refresh token was rotated.
    pub generation: i64,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last rotation.
    pub last_used_at: DateTime<Utc>,
    /// Absolute end of the family (login + refresh lifetime); rotation never extends it.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why (`logout`, `refresh_reuse`, `password_change`, ...).
    pub revoked_reason: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Client address at login.
    pub client_addr: Option<String>,
    /// The `jti` the latest rotation replaced (at `last_used_at`): for the grace period in
    /// which a client that did not receive the new pair may retry with the old token.
    pub previous_refresh_jti: Option<Uuid>,
}

impl Session {
    /// Whether tokens of this session may be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What [`crate::SessionStore::rotate_refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented `jti` was current; the session now expects the new one.
    Rotated(Session),
    /// Nothing changed: the session is revoked, expired, or the presented `jti` is not the
    /// current one (a reuse). The session as it stands is returned for the caller to judge.
    Rejected(Session),
}

/// Which sessions a password change ends, in the same transaction as the new hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions {
    /// None (a rehash with stronger parameters changes nothing the user did).
    None,
    /// Every active session of the user but this one (the caller's own), with reason
    /// `password_change`.
    AllExcept(SessionId),
    /// Every active session of the user, with reason `password_change`.
    All,
}
