//! The application layer: every use case behind the HTTP API, with its rules.
//!
//! Each method takes the [`Caller`] (who, from where), decides permission from the one
//! permission table (`cyberhub_domain::permission`, through [`Principal`]), does the work
//! in one store transaction that also writes its audit row (and, for catalog writes, its
//! index-outbox event), and then tells the [`Hooks`] what changed (recommendation cache,
//! indexing worker). This is the only place those rules live: the reference server's
//! handlers parse a request, call one method here and map the result, and a Rust service
//! that embeds the crates gets the same rules by calling [`App`] instead of the store.
//!
//! The application layer lives in `cyberhub-auth` rather than in a crate of its own: every
//! use case starts from the caller's identity and the permission decisions this crate
//! owns, and it shares this crate's error type ([`AuthError`](crate::AuthError), with a
//! kind), so a separate crate would only re-export them.
//!
//! | area | module | methods |
//! |---|---|---|
//! | organizations, members, invitations | `organizations` | [`App::create_org`], [`App::add_member`], [`App::accept_invitation`], ... |
//! | user administration | `users` | [`App::update_user`], [`App::delete_user`], [`App::grant_role`], ... |
//! | the catalog | `catalog` | [`App::create_content`], [`App::update_content`], [`App::delete_content`] |
//! | learning progress and who may read a learner's data | `progress` | [`App::may_read_member_data`], [`App::list_progress`], ... |
//! | audit log, personality analyses | `records` | [`App::list_audit`], [`App::save_personality`] |
//! | embeddings, search, recommendations, analyses, the catalog index (feature `ai`) | `ai` | `AiApp::embed`, `AiApp::recommend`, `AiApp::analyze`, `AiApp::reindex`, ... |
//!
//! Sign-up, login, tokens and password changes are [`AuthService`]'s ([`App::auth`]).

#[cfg(feature = "ai")]
pub mod ai;
mod catalog;
mod organizations;
mod progress;
mod records;
mod users;

pub use organizations::MemberAdded;

use crate::error::Result;
use crate::rbac::Principal;
use crate::service::{AuthService, ClientInfo};
use cyberhub_domain::{AuditAction, AuditEvent, SharedClock, UserId};
use cyberhub_store::DynStore;
use std::sync::Arc;

/// Who is asking, and from where (the address goes into the audit log).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// Their client.
    pub client: &'a ClientInfo,
    /// The bearer token the caller presented, when a use case must act on their behalf
    /// elsewhere (split mode reads progress from the core service with it). Never logged.
    pub token: Option<&'a str>,
}

impl std::fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("principal", &self.principal)
            .field("client", &self.client)
            .field("token", &self.token.map(|_| "[redacted]"))
            .finish()
    }
}

impl<'a> Caller<'a> {
    /// A caller.
    pub fn new(principal: &'a Principal, client: &'a ClientInfo) -> Self {
        Self {
            principal,
            client,
            token: None,
        }
    }

    /// The same caller, carrying the bearer token they presented.
    pub fn with_token(self, token: &'a str) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// The caller's user id.
    pub fn id(&self) -> UserId {
        self.principal.user_id
    }
}

/// What the application layer tells the rest of a process after a committed change.
/// The reference server invalidates its recommendation cache and wakes its indexing
/// worker; [`NoHooks`] does nothing.
pub trait Hooks: Send + Sync + std::fmt::Debug {
    /// A learner's progress or personality changed (their recommendations are stale).
    fn learner_changed(&self, _user: UserId) {}
    /// The catalog changed (its outbox has new events).
    fn catalog_changed(&self) {}
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// The use cases. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct App {
    auth: Arc<AuthService>,
    hooks: Arc<dyn Hooks>,
}

impl App {
    /// The application layer over an [`AuthService`] (which holds the store and clock).
    pub fn new(auth: Arc<AuthService>, hooks: Arc<dyn Hooks>) -> Self {
        Self { auth, hooks }
    }

    /// Accounts: sign-up, login, tokens, password changes.
    pub fn auth(&self) -> &Arc<AuthService> {
        &self.auth
    }

    /// The store (reads that need no rule, e.g. health checks).
    pub fn store(&self) -> &DynStore {
        self.auth.store()
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        self.auth.clock()
    }

    /// Takes `cost` cells of `what`'s rate limits for the caller's client and account (the
    /// AI use cases: embeddings are charged per text). A refusal is
    /// [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited) with the wait.
    pub async fn throttle(
        &self,
        what: crate::throttle::Costly,
        caller: Caller<'_>,
        cost: u32,
    ) -> Result<()> {
        self.auth
            .throttle(what, caller.client, Some(caller.id()), cost)
            .await
    }

    /// The audit event of a successful `action` by `caller` on `resource`.
    fn event(
        &self,
        caller: Caller<'_>,
        action: AuditAction,
        resource: (&str, String),
        details: serde_json::Value,
    ) -> AuditEvent {
        self.auth.event(
            Some(caller.id()),
            action,
            (resource.0, Some(resource.1)),
            caller.client,
            details,
        )
    }

    /// Records a refused attempt (`access_denied`) and returns `err`.
    async fn denied<T>(
        &self,
        caller: Caller<'_>,
        resource: (&str, String),
        err: crate::AuthError,
    ) -> Result<T> {
        self.auth
            .audit(
                Some(caller.id()),
                AuditAction::AccessDenied,
                (resource.0, Some(resource.1)),
                cyberhub_domain::AuditResult::Denied,
                caller.client,
                serde_json::json!({"reason": err.to_string()}),
            )
            .await;
        Err(err)
    }
}
