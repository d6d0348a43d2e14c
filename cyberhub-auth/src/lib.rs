//! CyberHub authentication and authorization.
//!
//! - [`password`]: argon2id (OWASP parameters by default) on a bounded pool of its own threads,
//!   timing-safe verification for unknown users, a common-password check;
//! - [`tokens`]: HS256 JWT access (15 min) and refresh (30 days, absolute) tokens with key
//!   ids and rotation, strict validation against an injected clock;
//! - [`lockout`]: escalating lock-out per account and per client;
//! - [`throttle`]: GCRA rate limits per client and per account on the costly use cases;
//! - [`rbac`]: decisions from the domain's permission table;
//! - [`app`]: the application layer — every use case of the API with its permission
//!   rule, audit row and transaction (organizations, invitations, users, catalog,
//!   progress, audit log), in one place;
//! - [`AuthService`]: the account use cases (sign-up, login, refresh with reuse detection that
//!   revokes the whole session family, logout, password change, authentication).
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod app;
mod common_passwords;
mod error;
pub mod lockout;
pub mod password;
pub mod rbac;
mod service;
pub mod throttle;
pub mod tokens;

#[cfg(feature = "ai")]
pub use app::ai::{AiApp, ProgressSource, StoreProgress};
pub use app::{App, Caller, Hooks, MemberAdded, NoHooks};
pub use common_passwords::is_common_password;
pub use error::{AuthError, ErrorKind, Result};
pub use lockout::{
    client_bucket, FailureStore, InMemoryFailures, InMemoryKnownClients, KnownClients,
    KnownClientsPolicy, Lockout, LockoutPolicy,
};
pub use password::{check_new_password, PasswordHasher, PasswordPolicy};
pub use rbac::Principal;
pub use service::{AuthConfig, AuthService, AuthSession, ClientInfo, SessionEvents, TokenPair};
pub use throttle::{Costly, InMemoryRateLimiter, Quota, RateLimiter, RateLimits, Rule, Throttle};
pub use tokens::{Claims, JwtKey, TokenConfig, TokenService, TokenType};
