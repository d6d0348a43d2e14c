//! The account use cases: sign-up, login, refresh with reuse detection, logout, password
//! change and request authentication — wiring the store, the hasher, the tokens, the
//! lock-out and the audit log together, with time from the [`Clock`].

use crate::error::{AuthError, ErrorKind, Result};
use crate::lockout::{Lockout, LockoutPolicy};
use crate::password::{check_new_password, PasswordHasher, PasswordPolicy};
use crate::rbac::Principal;
use crate::tokens::{JwtKey, TokenConfig, TokenService};
use chrono::{DateTime, Duration, Utc};
use cyberhub_domain::{
    AccountStatus, AuditAction, AuditEvent, AuditId, AuditResult, NewUser, Role, RoleGrant,
    RoleScope, SessionId, SharedClock, User, UserId, Validate,
};
use cyberhub_store::{DynStore, EndSessions, RotateOutcome, Session};
use secrecy::SecretString;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Everything [`AuthService`] needs besides the store and the clock.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Token settings.
    pub tokens: TokenConfig,
    /// Current signing key.
    pub signing_key: JwtKey,
    /// Previous keys still accepted for verification (rotation).
    pub previous_keys: Vec<JwtKey>,
    /// argon2id parameters.
    pub password_policy: PasswordPolicy,
    /// Most password hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Lock-out per (account, client).
    pub account_lockout: LockoutPolicy,
    /// Lock-out per account across every client (a higher threshold: slows distributed
    /// guessing of one account). It never applies to a client that signed in to the
    /// account before (see `known_clients`), so strangers cannot lock the owner out.
    pub account_wide_lockout: LockoutPolicy,
    /// The clients that signed in to each account before (this process by default; a
    /// shared store when several instances serve one deployment).
    pub known_clients: std::sync::Arc<dyn crate::lockout::KnownClients>,
    /// Where failed-login counts live: `None` keeps each lock-out in this process; a store
    /// that several instances share makes them count together.
    pub failure_store: Option<std::sync::Arc<dyn crate::lockout::FailureStore>>,
    /// Lock-out per client address.
    pub client_lockout: LockoutPolicy,
    /// How long a session's "still active" answer is cached by [`AuthService::authenticate`]
    /// (1 s): the longest another instance may still accept a token of a session that was
    /// ended elsewhere when no [`SessionEvents`] broadcast reaches it.
    pub session_check_ttl: Duration,
    /// Tells other instances that a session ended or a user changed, so they drop what they
    /// cached at once (the server's Redis broadcast); `None` for a single instance.
    pub session_events: Option<std::sync::Arc<dyn SessionEvents>>,
    /// How long after a rotation the replaced refresh token still gets the new pair (two tabs
    /// refreshing at once, a response lost on the way) instead of counting as reuse: 10 s by
    /// default. Zero: any second use of a refresh token is a reuse. Once the successor has
    /// been used, or after this long, the replaced token is a reuse either way.
    pub refresh_grace: Duration,
    /// Live sessions a user keeps at most; a login beyond it revokes their oldest (50).
    pub max_sessions_per_user: u32,
    /// Rate limits on sign-up, login, refresh, password change and the AI use cases.
    pub rate_limits: crate::throttle::RateLimits,
    /// Where the rate limits' state lives (this process by default; a shared store when
    /// several instances serve one deployment).
    pub rate_limiter: std::sync::Arc<dyn crate::throttle::RateLimiter>,
}

impl AuthConfig {
    /// Production defaults around a signing key.
    pub fn new(signing_key: JwtKey) -> Self {
        Self {
            tokens: TokenConfig::default(),
            signing_key,
            previous_keys: Vec::new(),
            password_policy: PasswordPolicy::OWASP,
            max_concurrent_hashes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            account_lockout: LockoutPolicy::per_account(),
            account_wide_lockout: LockoutPolicy::per_account_all_clients(),
            known_clients: std::sync::Arc::new(crate::lockout::InMemoryKnownClients::default()),
            failure_store: None,
            client_lockout: LockoutPolicy::per_client(),
            session_check_ttl: Duration::seconds(1),
            session_events: None,
            refresh_grace: Duration::seconds(10),
            max_sessions_per_user: 50,
            rate_limits: crate::throttle::RateLimits::default(),
            rate_limiter: std::sync::Arc::new(crate::throttle::InMemoryRateLimiter::default()),
        }
    }
}

/// Where a request came from (for the audit log and the per-client lock-out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client address.
    pub addr: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// A freshly issued token pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// Access token (JWT).
    pub access_token: String,
    /// Refresh token (JWT).
    pub refresh_token: String,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// The result of sign-up and login.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSession {
    /// The user.
    pub user: User,
    /// Their global roles.
    pub roles: Vec<Role>,
    /// The tokens.
    pub tokens: TokenPair,
    /// The new session's id.
    pub session_id: SessionId,
}

#[derive(Debug, Clone)]
struct CachedSession {
    checked_at: DateTime<Utc>,
    principal: Principal,
    /// A request is checking the session again ahead of this answer's expiry.
    refreshing: bool,
}

/// The account use cases. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct AuthService {
    store: DynStore,
    clock: SharedClock,
    hasher: PasswordHasher,
    tokens: TokenService,
    account_locks: Lockout,
    account_wide_locks: Lockout,
    known_clients: std::sync::Arc<dyn crate::lockout::KnownClients>,
    client_locks: Lockout,
    session_check_ttl: Duration,
    session_events: Option<std::sync::Arc<dyn SessionEvents>>,
    refresh_grace: Duration,
    max_sessions_per_user: u32,
    throttle: crate::throttle::Throttle,
    sessions: Mutex<HashMap<SessionId, CachedSession>>,
}

const SESSION_CACHE_MAX: usize = 50_000;

/// Where [`AuthService`] announces that a session ended or a user's roles, status or
/// sessions changed, for the other instances of a deployment (which then call
/// [`AuthService::evict_session`] / [`AuthService::evict_user`]). Called after the change
/// committed; must not block.
pub trait SessionEvents: Send + Sync + std::fmt::Debug {
    /// Session `sid` ended.
    fn session_ended(&self, sid: SessionId);
    /// `user`'s roles, status or sessions changed.
    fn user_changed(&self, user: UserId);
}

/// A lock-out in `shared` (namespaced), or in this process's memory.
fn lockout(
    policy: LockoutPolicy,
    namespace: &'static str,
    shared: &Option<std::sync::Arc<dyn crate::lockout::FailureStore>>,
) -> Lockout {
    match shared {
        Some(store) => Lockout::with_store(policy, namespace, store.clone()),
        None => Lockout::new(policy),
    }
}

impl AuthService {
    /// Builds the service (computes the dummy hash once).
    pub fn new(store: DynStore, clock: SharedClock, config: AuthConfig) -> Result<Self> {
        Ok(Self {
            hasher: PasswordHasher::new(config.password_policy, config.max_concurrent_hashes)?,
            tokens: TokenService::new(config.tokens, config.signing_key, config.previous_keys)?,
            account_locks: lockout(config.account_lockout, "account", &config.failure_store),
            account_wide_locks: lockout(
                config.account_wide_lockout,
                "account_wide",
                &config.failure_store,
            ),
            known_clients: config.known_clients,
            client_locks: lockout(config.client_lockout, "client", &config.failure_store),
            session_check_ttl: config.session_check_ttl,
            session_events: config.session_events,
            refresh_grace: config.refresh_grace,
            max_sessions_per_user: config.max_sessions_per_user,
            throttle: crate::throttle::Throttle::new(config.rate_limits, config.rate_limiter),
            sessions: Mutex::new(HashMap::new()),
            store,
            clock,
        })
    }

    /// Takes `cost` cells of `what`'s rate limits for `client` (by its address bucket) and
    /// `account`; a refusal is [`ErrorKind::RateLimited`] with the wait.
    pub async fn throttle(
        &self,
        what: crate::throttle::Costly,
        client: &ClientInfo,
        account: Option<UserId>,
        cost: u32,
    ) -> Result<()> {
        let bucket = client
            .addr
            .as_deref()
            .and_then(crate::lockout::client_bucket);
        let account = account.map(|a| a.to_string());
        self.throttle
            .check(
                what,
                bucket.as_deref(),
                account.as_deref(),
                cost,
                self.clock.now(),
            )
            .await
    }

    /// The rate limits in force.
    pub fn rate_limits(&self) -> &crate::throttle::RateLimits {
        self.throttle.limits()
    }

    /// The password hasher (shared, bounded).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The token service.
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// The store.
    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// An audit event stamped now, for a write that records it in its own transaction.
    pub fn event(
        &self,
        actor: Option<UserId>,
        action: AuditAction,
        resource: (&str, Option<String>),
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            AuditId(Uuid::new_v4()),
            actor,
            action,
            resource,
            AuditResult::Success,
            self.clock.now(),
        )
        .from_addr(client.addr.clone())
        .with_details(details)
    }

    /// Records an event that changes nothing else (a refused or failed attempt, a grace
    /// retry); every write records its own event in its transaction. A failure to record
    /// here is logged, never hides the outcome.
    pub async fn audit(
        &self,
        actor: Option<UserId>,
        action: AuditAction,
        resource: (&str, Option<String>),
        result: AuditResult,
        client: &ClientInfo,
        details: serde_json::Value,
    ) {
        let event = AuditEvent {
            id: AuditId(Uuid::new_v4()),
            actor_id: actor,
            action,
            resource_type: resource.0.to_owned(),
            resource_id: resource.1,
            result,
            client_addr: client.addr.clone(),
            details,
            created_at: self.clock.now(),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::warn!(error = %e, action = %action, "could not record audit event");
        }
    }

    /// Creates an account (validated, password checked and hashed) with `roles` (global),
    /// recorded in the audit log as `action` by `granted_by` (the new user when `None`), in
    /// the same transaction. Does not log in.
    pub async fn create_account(
        &self,
        new: NewUser,
        password: &SecretString,
        roles: &[Role],
        granted_by: Option<UserId>,
        (action, client): (AuditAction, &ClientInfo),
    ) -> Result<User> {
        let new = new.validated()?;
        check_new_password(password, "password")?;
        // A taken e-mail is found before the (costly) hash: a flood of sign-ups for a known
        // address costs a lookup each, not an argon2 run. The insert still checks (races).
        match self.store.get_credentials_by_email(&new.email).await {
            Ok(_) => {
                return Err(AuthError::new(
                    ErrorKind::AlreadyExists,
                    "A user with this email already exists.",
                ))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        let user = User::new(UserId(Uuid::new_v4()), new, now);
        let grants: Vec<RoleGrant> = roles
            .iter()
            .map(|r| RoleGrant {
                user_id: user.id,
                role: *r,
                scope: RoleScope::Global,
                granted_by,
                granted_at: now,
            })
            .collect();
        let event = self.event(
            Some(granted_by.unwrap_or(user.id)),
            action,
            ("user", Some(user.id.to_string())),
            client,
            serde_json::json!({"roles": roles}),
        );
        self.store
            .create_user(&user, &hash, &grants, &event)
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::AlreadyExists {
                    AuthError::new(
                        ErrorKind::AlreadyExists,
                        "A user with this email already exists.",
                    )
                } else {
                    e.into()
                }
            })?;
        Ok(user)
    }

    /// Self-registration: a `mentee` account, signed in.
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        new: NewUser,
        password: &SecretString,
        client: &ClientInfo,
    ) -> Result<AuthSession> {
        self.throttle(crate::throttle::Costly::Signup, client, None, 1)
            .await?;
        let user = self
            .create_account(
                new,
                password,
                &[Role::Mentee],
                None,
                (AuditAction::Signup, client),
            )
            .await?;
        let session = self
            .start_session(
                user,
                vec![Role::Mentee],
                client,
                serde_json::json!({"after_signup": true}),
            )
            .await?;
        self.remember_client(&session.user.email, client).await;
        Ok(session)
    }

    /// Remembers that `client` signed in to the account `email` (see
    /// [`AuthConfig::known_clients`]); a failure only costs the exemption, so it is logged.
    async fn remember_client(&self, email: &str, client: &ClientInfo) {
        let Some(bucket) = client
            .addr
            .as_deref()
            .and_then(crate::lockout::client_bucket)
        else {
            return;
        };
        let account = format!("account:{}", email.to_lowercase());
        if let Err(e) = self
            .known_clients
            .remember(&account, &bucket, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "could not remember a signed-in client");
        }
    }

    /// Self-registration from the API's request: a `roles` field is refused
    /// ([`ErrorKind::Forbidden`]: only an administrator sets roles, when creating an account
    /// for someone else), else [`Self::signup`]. The rule lives here, not in a handler.
    pub async fn signup_request(
        &self,
        body: &cyberhub_domain::api::SignupRequest,
        client: &ClientInfo,
    ) -> Result<AuthSession> {
        if body.roles.is_some() {
            return Err(AuthError::forbidden("Only administrators can set roles."));
        }
        self.signup(
            body.new_user(),
            &SecretString::from(body.password.clone()),
            client,
        )
        .await
    }

    /// Starts a session, recorded as `login_success` (with `details`) in its transaction.
    async fn start_session(
        &self,
        user: User,
        roles: Vec<Role>,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> Result<AuthSession> {
        let now = self.clock.now();
        let session = Session {
            id: SessionId(Uuid::new_v4()),
            user_id: user.id,
            refresh_jti: Uuid::new_v4(),
            generation: 0,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.tokens.config().refresh_ttl,
            revoked_at: None,
            revoked_reason: None,
            user_agent: client
                .user_agent
                .as_ref()
                .map(|u| u.chars().take(256).collect()),
            client_addr: client.addr.clone(),
            previous_refresh_jti: None,
        };
        let event = self.event(
            Some(user.id),
            AuditAction::LoginSuccess,
            ("session", Some(session.id.to_string())),
            client,
            details,
        );
        let capped = self
            .store
            .create_session(&session, self.max_sessions_per_user, &event)
            .await?;
        if capped > 0 {
            self.forget_user(user.id);
        }
        let tokens = self.issue_pair(&session, &roles, now)?;
        Ok(AuthSession {
            user,
            roles,
            tokens,
            session_id: session.id,
        })
    }

    fn issue_pair(
        &self,
        session: &Session,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<TokenPair> {
        let (access_token, _) =
            self.tokens
                .issue_access(session.user_id, session.id, roles, now)?;
        let refresh_token = self.tokens.issue_refresh(
            session.user_id,
            session.id,
            session.refresh_jti,
            session.expires_at,
            now,
        )?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.tokens.config().access_ttl.num_seconds(),
        })
    }

    async fn global_roles(&self, user: UserId) -> Result<Vec<Role>> {
        let grants = self.store.list_roles(user).await?;
        let mut roles: Vec<Role> = grants
            .iter()
            .filter(|g| g.scope == RoleScope::Global)
            .map(|g| g.role)
            .collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// Password login. Wrong password, unknown e-mail and inactive accounts give the same
    /// error after the same work (one argon2 verification); repeated failures per account
    /// or per client give `RateLimited` with a retry time.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
        client: &ClientInfo,
    ) -> Result<AuthSession> {
        // The cheap checks first: nothing is looked up, hashed or stored for an e-mail that
        // cannot be one (RFC 5321 caps an address at 254 characters).
        let email = email.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err(AuthError::invalid_credentials());
        }
        self.throttle(crate::throttle::Costly::Login, client, None, 1)
            .await?;
        let now = self.clock.now();
        let bucket = client
            .addr
            .as_deref()
            .and_then(crate::lockout::client_bucket);
        let pair_key = format!("account:{email}|{}", bucket.as_deref().unwrap_or("-"));
        let account_key = format!("account:{email}");
        let client_key = bucket.as_ref().map(|b| format!("client:{b}"));
        // A client that signed in to this account before is its owner's: the lock-out
        // across all clients (which strangers can trigger) does not apply to it.
        let known = match &bucket {
            Some(b) => self
                .known_clients
                .is_known(&account_key, b, now)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not read the known clients");
                    false
                }),
            None => false,
        };
        let mut locked = self.account_locks.check(&pair_key, now).await.err();
        if locked.is_none() && !known {
            locked = self.account_wide_locks.check(&account_key, now).await.err();
        }
        if locked.is_none() {
            if let Some(k) = &client_key {
                locked = self.client_locks.check(k, now).await.err();
            }
        }
        if let Some(wait) = locked {
            self.audit(
                None,
                AuditAction::LoginLocked,
                ("user", None),
                AuditResult::Denied,
                client,
                serde_json::json!({"email": email}),
            )
            .await;
            return Err(AuthError::rate_limited(wait));
        }
        let creds = match self.store.get_credentials_by_email(&email).await {
            Ok(c) => Some(c),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let password_ok = self
            .hasher
            .verify(password, creds.as_ref().map(|c| c.password_hash.as_str()))
            .await?;
        let user = match creds {
            Some(c) if password_ok && c.user.status == AccountStatus::Active => c,
            other => {
                self.account_locks.record_failure(&pair_key, now).await;
                self.account_wide_locks
                    .record_failure(&account_key, now)
                    .await;
                if let Some(k) = &client_key {
                    self.client_locks.record_failure(k, now).await;
                }
                let actor = other.map(|c| c.user.id);
                self.audit(
                    actor,
                    AuditAction::LoginFailure,
                    ("user", actor.map(|a| a.to_string())),
                    AuditResult::Failure,
                    client,
                    serde_json::json!({"email": email}),
                )
                .await;
                return Err(AuthError::invalid_credentials());
            }
        };
        self.account_locks.record_success(&pair_key).await;
        if self.hasher.needs_rehash(&user.password_hash) {
            let hash = self.hasher.hash(password).await?;
            let event = self.event(
                Some(user.user.id),
                AuditAction::PasswordChange,
                ("user", Some(user.user.id.to_string())),
                client,
                serde_json::json!({"rehash": "stronger parameters"}),
            );
            self.store
                .set_password_hash(user.user.id, &hash, now, EndSessions::None, &event)
                .await?;
        }
        let roles = self.global_roles(user.user.id).await?;
        let session = self
            .start_session(user.user, roles, client, serde_json::json!({}))
            .await?;
        self.remember_client(&email, client).await;
        Ok(session)
    }

    /// Exchanges a refresh token for a new pair; the presented token dies. Presenting a
    /// token that was already exchanged revokes the whole session (every token of it),
    /// except within the refresh grace period. Each rotation or revocation is recorded in
    /// the same transaction as its audit row.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str, client: &ClientInfo) -> Result<TokenPair> {
        self.throttle(crate::throttle::Costly::Refresh, client, None, 1)
            .await?;
        let now = self.clock.now();
        let claims = self.tokens.verify_refresh(refresh_token, now)?;
        let (user_id, sid, jti) = (claims.user_id()?, claims.session_id()?, claims.jti()?);
        let session_event = |action, details| {
            self.event(
                Some(user_id),
                action,
                ("session", Some(sid.to_string())),
                client,
                details,
            )
        };
        let not_found = |e: AuthError| {
            if e.kind() == ErrorKind::NotFound {
                AuthError::invalid_token("Session not found")
            } else {
                e
            }
        };
        let user = self
            .store
            .get_user(user_id)
            .await
            .map_err(|e| not_found(e.into()))?;
        if user.status != AccountStatus::Active {
            let event = AuditEvent {
                result: AuditResult::Denied,
                ..session_event(
                    AuditAction::TokenRefresh,
                    serde_json::json!({"reason": "account_inactive"}),
                )
            };
            self.revoke(sid, "account_inactive", now, &event)
                .await
                .map_err(not_found)?;
            return Err(AuthError::invalid_token("Session revoked"));
        }
        let roles = self.global_roles(user_id).await?;
        let rotated = session_event(AuditAction::TokenRefresh, serde_json::json!({}));
        let outcome = self
            .store
            .rotate_refresh(sid, jti, Uuid::new_v4(), now, &rotated)
            .await
            .map_err(|e| not_found(e.into()))?;
        match outcome {
            RotateOutcome::Rotated(session) if session.user_id == user_id => {
                self.issue_pair(&session, &roles, now)
            }
            RotateOutcome::Rotated(_) => Err(AuthError::invalid_token("Invalid token")),
            RotateOutcome::Rejected(session)
                if session.is_active(now)
                    && session.user_id == user_id
                    && session.previous_refresh_jti == Some(jti)
                    && now - session.last_used_at <= self.refresh_grace =>
            {
                // The token the latest rotation replaced, within the grace period: the
                // client did not get (or another tab already used) the successor. It gets
                // the same successor (the session's current refresh jti), not a new one.
                // Nothing is written, so the audit row stands alone.
                self.audit(
                    Some(user_id),
                    AuditAction::TokenRefresh,
                    ("session", Some(sid.to_string())),
                    AuditResult::Success,
                    client,
                    serde_json::json!({"generation": session.generation, "grace_retry": true}),
                )
                .await;
                self.issue_pair(&session, &roles, now)
            }
            RotateOutcome::Rejected(session) => {
                if session.revoked_at.is_some() {
                    Err(AuthError::invalid_token("Session revoked"))
                } else if !session.is_active(now) {
                    Err(AuthError::invalid_token("Session expired"))
                } else {
                    // A valid signature on an old jti: the token was stolen or replayed.
                    let event = AuditEvent {
                        result: AuditResult::Denied,
                        ..session_event(
                            AuditAction::RefreshReuseDetected,
                            serde_json::json!({"presented_jti": jti}),
                        )
                    };
                    self.revoke(sid, "refresh_reuse", now, &event).await?;
                    tracing::warn!(session = %sid, "refresh token reuse detected; session revoked");
                    Err(AuthError::invalid_token(
                        "Refresh token reuse detected; the session has been revoked",
                    ))
                }
            }
        }
    }

    async fn revoke(
        &self,
        sid: SessionId,
        reason: &str,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<()> {
        self.store.revoke_session(sid, reason, now, event).await?;
        self.forget_session(sid);
        Ok(())
    }

    fn forget_session(&self, sid: SessionId) {
        self.evict_session(sid);
        if let Some(events) = &self.session_events {
            events.session_ended(sid);
        }
    }

    fn forget_user(&self, user: UserId) {
        self.evict_user(user);
        if let Some(events) = &self.session_events {
            events.user_changed(user);
        }
    }

    /// Drops this process's cached answer for session `sid` (another instance ended it).
    pub fn evict_session(&self, sid: SessionId) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&sid);
    }

    /// Drops this process's cached answers for `user`'s sessions (another instance changed
    /// their roles, status or sessions).
    pub fn evict_user(&self, user: UserId) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, c| c.principal.user_id != user);
    }

    /// Ends the caller's current session (or the one `refresh_token` belongs to, if it is
    /// theirs), or every session of theirs with `all`. Returns how many ended.
    pub async fn logout(
        &self,
        caller: &Principal,
        refresh_token: Option<&str>,
        all: bool,
        client: &ClientInfo,
    ) -> Result<u64> {
        let now = self.clock.now();
        let event = |sid: SessionId| {
            self.event(
                Some(caller.user_id),
                AuditAction::Logout,
                ("session", Some(sid.to_string())),
                client,
                serde_json::json!({"all": all}),
            )
        };
        if all {
            let n = self
                .store
                .revoke_user_sessions(
                    caller.user_id,
                    None,
                    "logout_all",
                    now,
                    &event(caller.session_id),
                )
                .await?;
            self.forget_user(caller.user_id);
            Ok(n)
        } else {
            let sid = match refresh_token {
                Some(t) => {
                    let c = self.tokens.verify_refresh(t, now)?;
                    if c.user_id()? != caller.user_id {
                        return Err(AuthError::invalid_token(
                            "Refresh token belongs to another user",
                        ));
                    }
                    c.session_id()?
                }
                None => caller.session_id,
            };
            self.revoke(sid, "logout", now, &event(sid)).await?;
            Ok(1)
        }
    }

    /// Checks the caller's current password before a sensitive action (password or e-mail
    /// change, deleting the account): limited like a login, under its own key, so that a
    /// stolen access token cannot be used to guess the password. A wrong password is a
    /// validation error on `current_password`, audited as `failed_action`.
    pub async fn verify_current_password(
        &self,
        caller: &Principal,
        current: &SecretString,
        client: &ClientInfo,
        failed_action: AuditAction,
    ) -> Result<()> {
        self.throttle(
            crate::throttle::Costly::PasswordChange,
            client,
            Some(caller.user_id),
            1,
        )
        .await?;
        let now = self.clock.now();
        let bucket = client
            .addr
            .as_deref()
            .and_then(crate::lockout::client_bucket);
        let key = format!(
            "password-check:{}|{}",
            caller.user_id,
            bucket.as_deref().unwrap_or("-")
        );
        if let Err(wait) = self.account_locks.check(&key, now).await {
            return Err(AuthError::rate_limited(wait));
        }
        let user = self.store.get_user(caller.user_id).await?;
        let creds = self.store.get_credentials_by_email(&user.email).await?;
        if !self
            .hasher
            .verify(current, Some(&creds.password_hash))
            .await?
        {
            self.account_locks.record_failure(&key, now).await;
            self.audit(
                Some(caller.user_id),
                failed_action,
                ("user", Some(caller.user_id.to_string())),
                AuditResult::Failure,
                client,
                serde_json::json!({"reason": "wrong current password"}),
            )
            .await;
            return Err(AuthError::field(
                "current_password",
                "The current password is not correct.",
            ));
        }
        self.account_locks.record_success(&key).await;
        Ok(())
    }

    /// Changes the caller's e-mail address (the current password is required). An address
    /// another account holds is `AlreadyExists`.
    pub async fn change_email(
        &self,
        caller: &Principal,
        current: &SecretString,
        new_email: &str,
        client: &ClientInfo,
    ) -> Result<User> {
        // The cheap check first: a bad address costs no password verification.
        let email = cyberhub_domain::normalized_email(new_email, "new_email")?;
        self.verify_current_password(caller, current, client, AuditAction::EmailChange)
            .await?;
        let event = self.event(
            Some(caller.user_id),
            AuditAction::EmailChange,
            ("user", Some(caller.user_id.to_string())),
            client,
            serde_json::json!({}),
        );
        self.store
            .set_email(caller.user_id, &email, self.clock.now(), &event)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => AuthError::new(
                    ErrorKind::AlreadyExists,
                    "Another account uses this e-mail address.",
                ),
                _ => e.into(),
            })
    }

    /// Changes the caller's password and ends their other sessions.
    pub async fn change_password(
        &self,
        caller: &Principal,
        current: &SecretString,
        new: &SecretString,
        client: &ClientInfo,
    ) -> Result<()> {
        self.verify_current_password(caller, current, client, AuditAction::PasswordChange)
            .await?;
        let now = self.clock.now();
        check_new_password(new, "new_password")?;
        let hash = self.hasher.hash(new).await?;
        // The new hash, the end of the other sessions and the audit row commit together:
        // no stolen session outlives the change, and no change goes unrecorded.
        let event = self.event(
            Some(caller.user_id),
            AuditAction::PasswordChange,
            ("user", Some(caller.user_id.to_string())),
            client,
            serde_json::json!({"other_sessions_ended": true}),
        );
        self.store
            .set_password_hash(
                caller.user_id,
                &hash,
                now,
                EndSessions::AllExcept(caller.session_id),
                &event,
            )
            .await?;
        self.forget_user(caller.user_id);
        Ok(())
    }

    /// Authenticates a request's access token: signature, claims, and that its session is
    /// still active and its user still active (cached for `session_check_ttl`, so a revoked
    /// session stops working within seconds). Roles come from the store, not the token.
    ///
    /// Once a cached answer is past half its TTL, the next request checks the session again
    /// while the others go on using the answer, which is still within its TTL: a busy
    /// session's answer is renewed before it expires, so its requests do not all miss the
    /// cache and query the store at once (before, every request in flight at the expiry did
    /// the three queries, once a second per busy session). No answer older than the TTL is
    /// ever used.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        let now = self.clock.now();
        let claims = self.tokens.verify_access(access_token, now)?;
        let (user_id, sid) = (claims.user_id()?, claims.session_id()?);
        if let Some(c) = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&sid)
        {
            let age = now - c.checked_at;
            if age < self.session_check_ttl && c.principal.user_id == user_id {
                if age * 2 < self.session_check_ttl || c.refreshing {
                    return Ok(c.principal.clone());
                }
                c.refreshing = true;
            }
        }
        let session = match self.store.get_session(sid).await {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(AuthError::invalid_token("Session not found"))
            }
            Err(e) => return Err(e.into()),
        };
        if session.user_id != user_id || !session.is_active(now) {
            self.forget_session(sid);
            return Err(AuthError::invalid_token("Session revoked or expired"));
        }
        let user = match self.store.get_user(user_id).await {
            Ok(u) => u,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(AuthError::invalid_token("User not found"))
            }
            Err(e) => return Err(e.into()),
        };
        if user.status != AccountStatus::Active {
            return Err(AuthError::invalid_token("Account is not active"));
        }
        let principal =
            Principal::from_grants(user_id, sid, &self.store.list_roles(user_id).await?);
        let mut cache = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= SESSION_CACHE_MAX {
            let ttl = self.session_check_ttl;
            cache.retain(|_, c| now - c.checked_at < ttl);
            if cache.len() >= SESSION_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            sid,
            CachedSession {
                checked_at: now,
                principal: principal.clone(),
                refreshing: false,
            },
        );
        Ok(principal)
    }

    /// Drops cached principals of a user (call after changing their roles or status).
    pub fn invalidate_user(&self, user: UserId) {
        self.forget_user(user);
    }
}
