//! CyberHub's relational store: one trait per aggregate, two backends chosen by URL.
//!
//! | URL | backend | feature |
//! |---|---|---|
//! | `sqlite://./data/cyberhub.db`, `sqlite::memory:` | [`SqliteStore`] (embedded default) | `sqlite` (default) |
//! | `postgres://user:pass@host/db` | [`PostgresStore`] | `postgres` |
//!
//! Unique conflicts come back as [`ErrorKind::AlreadyExists`], missing rows as
//! [`ErrorKind::NotFound`] — never as driver errors. Migrations are embedded and
//! append-only. The `conformance` feature exports the suite every backend passes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cyberhub_store::StoreError> {
//! let store = cyberhub_store::open("sqlite://./data/cyberhub.db").await?;
//! println!("{} store ready", store.backend());
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod options;
mod rows;
mod session;
mod sql_store;
mod store;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{ErrorKind, Result, StoreError};
pub use options::PoolOptions;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use session::{EndSessions, RotateOutcome, Session};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{
    AuditStore, ContentStore, IndexEvent, IndexOutbox, Instance, InstanceRegistry, InvitationStore,
    OrgStore, PersonalityStore, ProgressStore, Purged, Retention, RetentionStore, RoleStore,
    SessionStore, Store, UserCredentials, UserStore,
};

use std::sync::Arc;

/// A store chosen at run time.
pub type DynStore = Arc<dyn Store>;

/// Connects to the store a URL names and applies pending migrations.
///
/// `sqlite:` URLs need the `sqlite` feature, `postgres:`/`postgresql:` the `postgres` feature;
/// anything else is [`ErrorKind::ConfigInvalid`].
pub async fn open(url: &str) -> Result<DynStore> {
    open_with(url, &PoolOptions::default()).await
}

/// [`open`] with pool sizes and timeouts of the caller's choosing.
pub async fn open_with(url: &str, options: &PoolOptions) -> Result<DynStore> {
    let scheme = url.split(':').next().unwrap_or_default();
    #[cfg(not(all(feature = "sqlite", feature = "postgres")))]
    let _ = options;
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let s = SqliteStore::connect_with(url, options).await?;
            s.migrate().await?;
            Ok(Arc::new(s))
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let s = PostgresStore::connect_with(url, options).await?;
            s.migrate().await?;
            Ok(Arc::new(s))
        }
        #[cfg(not(feature = "sqlite"))]
        "sqlite" => Err(missing_feature("sqlite")),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => Err(missing_feature("postgres")),
        _ => Err(StoreError::new(
            ErrorKind::ConfigInvalid,
            format!(
                "unsupported database URL scheme {scheme:?}: use sqlite://PATH or postgres://... \
                 (with the matching cargo feature)"
            ),
        )),
    }
}

/// A known scheme whose backend this build leaves out.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn missing_feature(feature: &str) -> StoreError {
    StoreError::new(
        ErrorKind::ConfigInvalid,
        format!(
            "this build has no {feature} backend: rebuild with the cargo feature `{feature}` \
             (the reference server: `cargo run -p cyberhub-server --features {feature}`)"
        ),
    )
}

pub use cyberhub_domain::redact_url;

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn unknown_scheme_is_config_error() {
        let e = super::open("mysql://x").await.err().unwrap();
        assert_eq!(e.kind(), super::ErrorKind::ConfigInvalid);
    }
}
