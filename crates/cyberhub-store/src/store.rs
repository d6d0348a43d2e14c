//! The store traits: one per aggregate, and [`Store`], which has them all.

use crate::error::Result;
use crate::session::{RotateOutcome, Session};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cyberhub_domain::{
    AuditCount, AuditEvent, AuditFilter, ContentFilter, ContentItem, ContentPatch, ContentUuid,
    Membership, OrgFilter, OrgId, OrgPatch, OrgRole, Organization, Page, PageResult, Progress,
    ProgressFilter, ProgressId, ProgressPatch, Role, RoleGrant, RoleScope, SessionId, User,
    UserFilter, UserId, UserPatch,
};
use uuid::Uuid;

/// A user row with its password hash (only the auth layer asks for this).
#[derive(Debug, Clone, PartialEq)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// PHC-format argon2id hash.
    pub password_hash: String,
}

/// User accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user and their initial role grants in one transaction.
    /// A taken e-mail is [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists).
    async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        roles: &[RoleGrant],
    ) -> Result<()>;
    /// One user.
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// A user and their password hash, by normalised e-mail.
    async fn get_credentials_by_email(&self, email: &str) -> Result<UserCredentials>;
    /// Applies a validated patch and returns the new state.
    async fn update_user(&self, id: UserId, patch: &UserPatch, now: DateTime<Utc>) -> Result<User>;
    /// Replaces the password hash.
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Deletes a user with their sessions, grants, memberships and progress.
    async fn delete_user(&self, id: UserId) -> Result<()>;
    /// Lists users, newest first.
    async fn list_users(&self, filter: &UserFilter, page: Page) -> Result<PageResult<User>>;
}

/// Login sessions (refresh-token families).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a new session.
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// One session.
    async fn get_session(&self, id: SessionId) -> Result<Session>;
    /// Atomically replaces `expected_jti` by `new_jti` if the session is active at `now`
    /// and `expected_jti` is the current one; otherwise changes nothing.
    async fn rotate_refresh(
        &self,
        id: SessionId,
        expected_jti: Uuid,
        new_jti: Uuid,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome>;
    /// Revokes one session (no-op when already revoked).
    async fn revoke_session(&self, id: SessionId, reason: &str, now: DateTime<Utc>) -> Result<()>;
    /// Revokes every active session of a user except `keep`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64>;
}

/// Platform role grants.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Grants a role; a duplicate grant is `AlreadyExists`, an unknown user or organization `NotFound`.
    async fn grant_role(&self, grant: &RoleGrant) -> Result<()>;
    /// Revokes a role in a scope; `NotFound` when it was not granted.
    async fn revoke_role(&self, user_id: UserId, role: Role, scope: RoleScope) -> Result<()>;
    /// The user's grants, oldest first.
    async fn list_roles(&self, user_id: UserId) -> Result<Vec<RoleGrant>>;
}

/// Organizations and memberships.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Inserts an organization and makes `creator` its `admin` member, in one transaction.
    async fn create_org(
        &self,
        org: &Organization,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// One organization by slug (unscoped: for administrators).
    async fn get_org(&self, slug: &str) -> Result<Organization>;
    /// One organization by id (unscoped).
    async fn get_org_by_id(&self, id: OrgId) -> Result<Organization>;
    /// One organization by slug as seen by `user`: `NotFound` unless they are a member.
    async fn get_org_as_member(&self, slug: &str, user: UserId) -> Result<(Organization, OrgRole)>;
    /// Lists organizations by name.
    async fn list_orgs(&self, filter: &OrgFilter, page: Page) -> Result<PageResult<Organization>>;
    /// Applies a validated patch.
    async fn update_org(
        &self,
        id: OrgId,
        patch: &OrgPatch,
        now: DateTime<Utc>,
    ) -> Result<Organization>;
    /// Deletes an organization with its memberships and org-scoped grants.
    async fn delete_org(&self, id: OrgId) -> Result<()>;
    /// Adds a member; `AlreadyExists` if they are one.
    async fn add_member(&self, membership: &Membership) -> Result<()>;
    /// Changes a member's role; refuses (`Conflict`) to demote the last admin.
    async fn update_member(&self, org: OrgId, user: UserId, role: OrgRole) -> Result<Membership>;
    /// Removes a member; refuses (`Conflict`) to remove the last admin.
    async fn remove_member(&self, org: OrgId, user: UserId) -> Result<()>;
    /// One membership.
    async fn get_member(&self, org: OrgId, user: UserId) -> Result<Membership>;
    /// Members by join time.
    async fn list_members(&self, org: OrgId, page: Page) -> Result<PageResult<Membership>>;
    /// Organizations both users belong to, with `user`'s role in each.
    async fn shared_orgs(&self, user: UserId, other: UserId) -> Result<Vec<(OrgId, OrgRole)>>;
    /// Every membership of a user.
    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Organization, OrgRole)>>;
}

/// The content catalog.
#[async_trait]
pub trait ContentStore: Send + Sync {
    /// Inserts an item; a taken `content_id` is `AlreadyExists`.
    async fn insert_content(&self, item: &ContentItem) -> Result<()>;
    /// One item by internal id.
    async fn get_content(&self, id: ContentUuid) -> Result<ContentItem>;
    /// One item by public key.
    async fn get_content_by_key(&self, content_id: &str) -> Result<ContentItem>;
    /// Applies a validated patch.
    async fn update_content(
        &self,
        id: ContentUuid,
        patch: &ContentPatch,
        now: DateTime<Utc>,
    ) -> Result<ContentItem>;
    /// Deletes an item.
    async fn delete_content(&self, id: ContentUuid) -> Result<()>;
    /// Lists items by title.
    async fn list_content(
        &self,
        filter: &ContentFilter,
        page: Page,
    ) -> Result<PageResult<ContentItem>>;
    /// How many items the catalog holds.
    async fn count_content(&self) -> Result<u64>;
}

/// Learning progress. Every call is scoped: `owner: Some(u)` sees only `u`'s rows
/// (others are `NotFound`), `None` is unscoped (administrators).
#[async_trait]
pub trait ProgressStore: Send + Sync {
    /// Inserts a row; the same (user, content_id, content_type) twice is `AlreadyExists`.
    async fn insert_progress(&self, progress: &Progress) -> Result<()>;
    /// One row.
    async fn get_progress(&self, id: ProgressId, owner: Option<UserId>) -> Result<Progress>;
    /// Applies a patch under the transition rules, atomically (read, check, write in one transaction).
    async fn update_progress(
        &self,
        id: ProgressId,
        owner: Option<UserId>,
        patch: &ProgressPatch,
        now: DateTime<Utc>,
    ) -> Result<Progress>;
    /// Deletes a row.
    async fn delete_progress(&self, id: ProgressId, owner: Option<UserId>) -> Result<()>;
    /// One learner's rows.
    async fn list_progress(
        &self,
        filter: &ProgressFilter,
        page: Page,
    ) -> Result<PageResult<Progress>>;
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event.
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// Lists events, newest first.
    async fn list_audit(&self, filter: &AuditFilter, page: Page) -> Result<PageResult<AuditEvent>>;
    /// Counts events by action and result.
    async fn audit_stats(&self, filter: &AuditFilter) -> Result<Vec<AuditCount>>;
}

/// Everything CyberHub keeps in its relational database.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + RoleStore
    + OrgStore
    + ContentStore
    + ProgressStore
    + AuditStore
    + std::fmt::Debug
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers (for readiness probes).
    async fn ping(&self) -> Result<()>;
    /// Closes the pools, waiting for connections in use.
    async fn close(&self);
}
