//! The store traits: one per aggregate, and [`Store`], which has them all.
//!
//! Every write that changes what a person may see or do takes the [`AuditEvent`] that
//! records it and writes it in the same transaction: the change and its audit row commit
//! together or not at all (the conformance suite checks both directions). Catalog writes
//! also append their index-outbox event in that transaction. A new backend can be written
//! trait by trait; nothing here exposes a driver type.

use crate::error::Result;
use crate::session::{EndSessions, RotateOutcome, Session};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cyberhub_domain::{
    AuditCount, AuditEvent, AuditFilter, ContentFilter, ContentItem, ContentPatch, ContentUuid,
    Invitation, InvitationFilter, InvitationId, InvitationStatus, Membership, OrgFilter, OrgId,
    OrgPatch, OrgRole, Organization, Page, PageResult, Progress, ProgressFilter, ProgressId,
    ProgressPatch, Role, RoleGrant, RoleScope, SessionId, User, UserFilter, UserId, UserPatch,
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
        audit: &AuditEvent,
    ) -> Result<()>;
    /// One user.
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// A user and their password hash, by normalised e-mail.
    async fn get_credentials_by_email(&self, email: &str) -> Result<UserCredentials>;
    /// Applies a validated patch and returns the new state. Taking the last active platform
    /// administrator out of `active` is [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
    async fn update_user(
        &self,
        id: UserId,
        patch: &UserPatch,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User>;
    /// Replaces the password hash and ends the sessions `end_sessions` names, in one
    /// transaction with `audit`; returns how many sessions ended.
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
        end_sessions: EndSessions,
        audit: &AuditEvent,
    ) -> Result<u64>;
    /// Replaces the e-mail address (already normalised by the caller) and returns the
    /// user. An address another account holds is [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
    async fn set_email(
        &self,
        id: UserId,
        email: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User>;
    /// Deletes a user with their sessions, grants, memberships and progress, in one
    /// transaction. Refused with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the
    /// user is the only admin of an organization, or the last active platform administrator.
    async fn delete_user(&self, id: UserId, audit: &AuditEvent) -> Result<()>;
    /// Lists users, newest first.
    async fn list_users(&self, filter: &UserFilter, page: Page) -> Result<PageResult<User>>;
}

/// Login sessions (refresh-token families). Every write takes the [`AuditEvent`] that
/// records it (the login, the refresh, the logout, the detected reuse) and writes it in the
/// same transaction.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a new session (a login) with its audit row. A user keeps at most `max_live`
    /// live (unrevoked, unexpired) sessions: should this one exceed it, their oldest (by
    /// login time) are revoked with reason `session_limit`, in the same transaction. Returns
    /// how many were revoked.
    async fn create_session(
        &self,
        session: &Session,
        max_live: u32,
        audit: &AuditEvent,
    ) -> Result<u64>;
    /// One session.
    async fn get_session(&self, id: SessionId) -> Result<Session>;
    /// Atomically replaces `expected_jti` by `new_jti` if the session is active at `now`
    /// and `expected_jti` is the current one, recording `audit` with it; otherwise changes
    /// nothing and records nothing.
    async fn rotate_refresh(
        &self,
        id: SessionId,
        expected_jti: Uuid,
        new_jti: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<RotateOutcome>;
    /// Revokes one session (the revocation time and reason of an already revoked one are
    /// kept) and records `audit`. An unknown session is `NotFound` and records nothing.
    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Revokes every active session of a user except `keep` and records `audit`; returns
    /// how many.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64>;
}

/// Platform role grants.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Grants a role; a duplicate grant is `AlreadyExists`, an unknown user or organization `NotFound`.
    async fn grant_role(&self, grant: &RoleGrant, audit: &AuditEvent) -> Result<()>;
    /// Revokes a role in a scope; `NotFound` when it was not granted. Revoking the global
    /// `admin` role of the last active platform administrator is
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
    async fn revoke_role(
        &self,
        user_id: UserId,
        role: Role,
        scope: RoleScope,
        audit: &AuditEvent,
    ) -> Result<()>;
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
        audit: &AuditEvent,
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
        audit: &AuditEvent,
    ) -> Result<Organization>;
    /// Deletes an organization with its memberships and org-scoped grants.
    async fn delete_org(&self, id: OrgId, audit: &AuditEvent) -> Result<()>;
    /// Adds a member; `AlreadyExists` if they are one.
    async fn add_member(&self, membership: &Membership, audit: &AuditEvent) -> Result<()>;
    /// Changes a member's role; refuses (`Conflict`) to demote the last admin.
    async fn update_member(
        &self,
        org: OrgId,
        user: UserId,
        role: OrgRole,
        audit: &AuditEvent,
    ) -> Result<Membership>;
    /// Removes a member; refuses (`Conflict`) to remove the last admin.
    async fn remove_member(&self, org: OrgId, user: UserId, audit: &AuditEvent) -> Result<()>;
    /// One membership.
    async fn get_member(&self, org: OrgId, user: UserId) -> Result<Membership>;
    /// Members by join time.
    async fn list_members(&self, org: OrgId, page: Page) -> Result<PageResult<Membership>>;
    /// Organizations both users belong to, with `user`'s role in each.
    async fn shared_orgs(&self, user: UserId, other: UserId) -> Result<Vec<(OrgId, OrgRole)>>;
    /// Every membership of a user.
    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Organization, OrgRole)>>;
}

/// Invitations to join an organization.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Records a pending invitation. `AlreadyExists` when the user is already a member or
    /// has an open invitation to the organization; a lapsed one is marked `expired` first.
    async fn create_invitation(&self, invitation: &Invitation, audit: &AuditEvent) -> Result<()>;
    /// One invitation (as stored: a lapsed pending one still reads `pending`, see
    /// [`Invitation::at`]).
    async fn get_invitation(&self, id: InvitationId) -> Result<Invitation>;
    /// Invitations, newest first.
    async fn list_invitations(
        &self,
        filter: &InvitationFilter,
        page: Page,
    ) -> Result<PageResult<Invitation>>;
    /// The invited `user` accepts: the invitation becomes `accepted` and the membership is
    /// written, in one transaction. `NotFound` when it is not `user`'s, `Conflict` when it is
    /// no longer open at `now`.
    async fn accept_invitation(
        &self,
        id: InvitationId,
        user: UserId,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Membership>;
    /// Closes an open invitation as `declined` or `revoked` (`Conflict` when it is no
    /// longer open at `now`); returns its new state.
    async fn close_invitation(
        &self,
        id: InvitationId,
        status: InvitationStatus,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Invitation>;
}

/// The content catalog.
#[async_trait]
pub trait ContentStore: Send + Sync {
    /// Inserts an item; a taken `content_id` is `AlreadyExists`.
    async fn insert_content(&self, item: &ContentItem, audit: &AuditEvent) -> Result<()>;
    /// One item by internal id.
    async fn get_content(&self, id: ContentUuid) -> Result<ContentItem>;
    /// One item by public key.
    async fn get_content_by_key(&self, content_id: &str) -> Result<ContentItem>;
    /// The items with these public keys, in one round trip per 500 keys; unknown keys are
    /// left out (the order of the answer is unspecified).
    async fn contents_by_keys(&self, content_ids: &[String]) -> Result<Vec<ContentItem>>;
    /// The items with these internal ids, in one round trip per 500 ids; unknown ids are
    /// left out (the order of the answer is unspecified). The indexing worker's read.
    async fn contents_by_ids(&self, ids: &[ContentUuid]) -> Result<Vec<ContentItem>>;
    /// Applies a validated patch.
    async fn update_content(
        &self,
        id: ContentUuid,
        patch: &ContentPatch,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ContentItem>;
    /// Deletes an item.
    async fn delete_content(&self, id: ContentUuid, audit: &AuditEvent) -> Result<()>;
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
    async fn delete_progress(
        &self,
        id: ProgressId,
        owner: Option<UserId>,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// One learner's rows.
    async fn list_progress(
        &self,
        filter: &ProgressFilter,
        page: Page,
    ) -> Result<PageResult<Progress>>;
    /// How many learners started and completed each item, over every learner's rows: the
    /// `limit` most started items, most started first (ties: most completed, then key).
    async fn content_popularity(
        &self,
        limit: u32,
    ) -> Result<Vec<cyberhub_domain::ContentPopularity>>;
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

/// One leased catalog-indexing event: "content item `content` changed; index its current state".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEvent {
    /// Outbox row id (increasing in write order).
    pub id: i64,
    /// The item that changed (it may be gone: then its vector is deleted).
    pub content: ContentUuid,
    /// How many times the event has been leased, this lease included.
    pub attempts: u32,
}

/// The catalog-indexing outbox. Every content write appends an event in the same
/// transaction; workers lease events, index the item's current state and complete them.
///
/// Leases make concurrent workers safe: a claim never returns an event that another
/// worker holds an unexpired lease on, nor an event for an item another worker is
/// indexing; an expired lease (a worker that died) makes its events claimable again.
#[async_trait]
pub trait IndexOutbox: Send + Sync {
    /// Leases up to `limit` pending events to `worker` until `now + lease`, oldest first.
    async fn claim_index_events(
        &self,
        worker: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<IndexEvent>>;
    /// Deletes events `worker` still holds the lease on; returns how many.
    async fn complete_index_events(&self, worker: &str, ids: &[i64]) -> Result<u64>;
    /// Gives a failed event back: it becomes claimable at `retry_at`; the error is kept.
    async fn release_index_event(
        &self,
        worker: &str,
        id: i64,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Appends one event per catalog item (a full re-index) and `audit`, in one
    /// transaction; returns how many events.
    async fn enqueue_full_reindex(&self, now: DateTime<Utc>, audit: &AuditEvent) -> Result<u64>;
    /// Events not yet completed.
    async fn index_backlog(&self) -> Result<u64>;
}

/// Stored personality analyses (opaque JSON documents, newest wins).
#[async_trait]
pub trait PersonalityStore: Send + Sync {
    /// Appends an analysis of `user` made at `at`.
    async fn save_personality(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        analysis: &serde_json::Value,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// The newest analysis of `user`, if any.
    async fn latest_personality(&self, user: UserId) -> Result<Option<serde_json::Value>>;
}

/// What [`RetentionStore::purge`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Sessions that ended (expired or revoked) before this instant are deleted.
    pub sessions_ended_before: DateTime<Utc>,
    /// Personality analyses kept per user (the newest); older ones are deleted.
    pub analyses_per_user: u32,
    /// Audit rows older than this are deleted; `None` keeps the whole log (the default).
    pub audit_before: Option<DateTime<Utc>>,
}

/// How many rows [`RetentionStore::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Ended sessions.
    pub sessions: u64,
    /// Superseded personality analyses.
    pub analyses: u64,
    /// Audit rows past their retention.
    pub audit_rows: u64,
}

/// Bounded storage: what grows with use and is no longer needed is deleted on a schedule.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes what `retention` no longer keeps.
    async fn purge(&self, retention: &Retention) -> Result<Purged>;
}

/// A server instance that shares this database, as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance's id (unique per process start).
    pub id: String,
    /// The routes it serves (`all`, `core` or `ai`).
    pub service: String,
    /// Whether it keeps its guarantees in shared state (Redis) rather than its memory.
    pub shared_state: bool,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub seen_at: DateTime<Utc>,
}

/// The instances that share this database, each keeping a heartbeat: the start-up check
/// that several instances do not each keep their own lock-out and rate limits.
#[async_trait]
pub trait InstanceRegistry: Send + Sync {
    /// Records that `instance` is alive (inserted, or its heartbeat and settings updated).
    async fn heartbeat(&self, instance: &Instance) -> Result<()>;
    /// Instances whose last heartbeat is at or after `since`, oldest start first.
    async fn live_instances(&self, since: DateTime<Utc>) -> Result<Vec<Instance>>;
    /// Removes `id` (a clean shutdown); also drops instances silent since before `before`.
    async fn leave(&self, id: &str, before: DateTime<Utc>) -> Result<()>;
}

/// Everything CyberHub keeps in its relational database.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + RoleStore
    + OrgStore
    + InvitationStore
    + ContentStore
    + ProgressStore
    + AuditStore
    + IndexOutbox
    + PersonalityStore
    + RetentionStore
    + InstanceRegistry
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
