//! Connection-pool sizes and timeouts.

use std::time::Duration;

/// How a store connects: pool size and the timeouts an operator tunes. The defaults suit
/// one instance on a small machine; several instances on one PostgreSQL server share its
/// `max_connections` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections in the pool (PostgreSQL; for SQLite, the reader pool: it always
    /// writes through one connection). Default 10.
    pub max_connections: u32,
    /// Longest wait for a connection (a free one from the pool, or a new one to a server
    /// that does not answer) before the call fails as
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable). Default 5 s. (SQLite's
    /// callers queue for its one writer connection: they wait at least 30 s.)
    pub acquire_timeout: Duration,
    /// Longest one statement may run before the server cancels it (PostgreSQL's
    /// `statement_timeout`; SQLite's busy timeout, how long a write waits for a lock held by
    /// another process). Default 30 s.
    pub statement_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}
