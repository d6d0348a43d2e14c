//! The PostgreSQL backend (sqlx connection pool).

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// A PostgreSQL-backed [`Store`](crate::Store).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    read: PgPool,
    write: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL with a pool of `max_connections`. Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(
            url,
            &crate::PoolOptions {
                max_connections,
                ..Default::default()
            },
        )
        .await
    }

    /// Connects with the pool size and timeouts of `options`. Does not migrate.
    pub async fn connect_with(url: &str, options: &crate::PoolOptions) -> Result<Self> {
        let statement_ms = options.statement_timeout.as_millis().max(1).to_string();
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::from_sqlx("database URL", e))?
            .options([("statement_timeout", statement_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout.max(Duration::from_millis(100)))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::from_sqlx("database", e))?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
    }

    /// Connects with 10 connections and migrates.
    pub async fn open(url: &str) -> Result<Self> {
        let s = Self::connect(url, 10).await?;
        crate::Store::migrate(&s).await?;
        Ok(s)
    }
}

crate::sql_store::impl_sql_store!(
    PostgresStore,
    sqlx::Postgres,
    backend = "postgres",
    migrations = "./migrations/postgres",
    for_update = " FOR UPDATE",
    for_update_of_i = " FOR UPDATE OF i",
    claim_lock = "SELECT pg_advisory_xact_lock(7202611260)",
    skip_locked = " FOR UPDATE SKIP LOCKED"
);
