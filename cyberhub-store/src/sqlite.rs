//! The embedded default backend: SQLite in WAL mode with a single writer connection.
//!
//! Writes go through a pool of exactly one connection, so concurrent writers queue in
//! the process instead of failing with "database is locked"; reads use a separate pool
//! and see every committed write (WAL). A busy timeout covers other processes.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// A SQLite-backed [`Store`](crate::Store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://` URL, e.g.
    /// `sqlite://./data/cyberhub.db` or `sqlite::memory:`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &crate::PoolOptions::default()).await
    }

    /// [`SqliteStore::connect`] with the reader pool's size and the timeouts of `options`.
    pub async fn connect_with(url: &str, options: &crate::PoolOptions) -> Result<Self> {
        let acquire = options.acquire_timeout.max(Duration::from_millis(100));
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::from_sqlx("database URL", e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.statement_timeout);
        if let Some(parent) = opts.get_filename().parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::new(
                        crate::ErrorKind::ConfigInvalid,
                        format!(
                            "cannot create the database directory {}: {e}",
                            parent.display()
                        ),
                    )
                })?;
            }
        }
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire.max(Duration::from_secs(30)))
            .connect_with(opts.clone())
            .await
            .map_err(|e| StoreError::from_sqlx("database", e))?;
        // An in-memory database exists once per connection: share the writer.
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(acquire.max(Duration::from_secs(30)))
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::from_sqlx("database", e))?
        };
        Ok(Self { read, write })
    }

    /// Opens and migrates.
    pub async fn open(url: &str) -> Result<Self> {
        let s = Self::connect(url).await?;
        crate::Store::migrate(&s).await?;
        Ok(s)
    }
}

crate::sql_store::impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    backend = "sqlite",
    migrations = "./migrations/sqlite",
    for_update = "",
    for_update_of_i = "",
    claim_lock = "SELECT 1",
    skip_locked = ""
);
