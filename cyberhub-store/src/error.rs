//! The store's error: a kind from `cyberhub-domain`, a safe message, and the source.

pub use cyberhub_domain::ErrorKind;

/// An error from a store operation. Callers match on [`StoreError::kind`]; the message is
/// safe to show to a client (driver details stay in the source, for logs).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    fields: Vec<cyberhub_domain::FieldError>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Result alias for the store crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// A new error without a source.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying later may help (connection problems, pool exhaustion).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Field-level errors, for validation failures.
    pub fn fields(&self) -> &[cyberhub_domain::FieldError] {
        &self.fields
    }

    /// `NotFound` for `what` (e.g. `"user"`).
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} not found"))
    }

    /// Maps a driver error; `what` names the entity for messages (`"organization"`).
    pub(crate) fn from_sqlx(what: &str, e: sqlx::Error) -> Self {
        let (kind, message) = match &e {
            sqlx::Error::RowNotFound => (ErrorKind::NotFound, format!("{what} not found")),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                (ErrorKind::AlreadyExists, format!("{what} already exists"))
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => (
                ErrorKind::NotFound,
                format!("{what} refers to something that does not exist"),
            ),
            sqlx::Error::Database(db) if db.is_check_violation() => (
                ErrorKind::Validation,
                format!("{what} has a value out of range"),
            ),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => (
                ErrorKind::Unavailable,
                "the database is not available".to_owned(),
            ),
            sqlx::Error::Database(db) if is_gone(db.code().as_deref()) => (
                ErrorKind::Unavailable,
                "the database is not available".to_owned(),
            ),
            sqlx::Error::Database(db) if is_busy(db.code().as_deref()) => (
                ErrorKind::Unavailable,
                "the database is busy; try again".to_owned(),
            ),
            sqlx::Error::Configuration(_) => (
                ErrorKind::ConfigInvalid,
                "invalid database configuration".to_owned(),
            ),
            _ => (
                ErrorKind::Internal,
                format!("database error while accessing {what}"),
            ),
        };
        Self {
            kind,
            message,
            fields: Vec::new(),
            source: Some(Box::new(e)),
        }
    }

    /// A stored value that does not decode into the domain type (corrupt or foreign data).
    pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::Internal,
            format!("stored {what} is invalid: {detail}"),
        )
    }
}

/// PostgreSQL ending or refusing connections: connection exceptions (class 08), a server
/// shutting down, crashed or starting up (57P01, 57P02, 57P03), too many connections
/// (53300). The database is unavailable, not the request wrong.
fn is_gone(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300"))
}

/// SQLite `SQLITE_BUSY`/`SQLITE_LOCKED` (5, 6 and extended codes) and PostgreSQL
/// serialization/deadlock failures (40001, 40P01) are transient.
fn is_busy(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "261" | "517" | "40001" | "40P01"))
}

impl From<cyberhub_domain::Error> for StoreError {
    fn from(e: cyberhub_domain::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.message().to_owned(),
            fields: e.fields().to_vec(),
            source: None,
        }
    }
}

impl StoreError {
    /// A migration that did not apply (the driver's error kept as the source only).
    pub(crate) fn migration(e: sqlx::migrate::MigrateError) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: "database migration failed".to_owned(),
            fields: Vec::new(),
            source: Some(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_going_away_is_unavailable_not_internal() {
        for code in ["57P01", "57P02", "57P03", "53300", "08006", "08001"] {
            assert!(super::is_gone(Some(code)), "{code}");
        }
        for code in ["23505", "40001", "5", "2067", "42P01"] {
            assert!(!super::is_gone(Some(code)), "{code}");
        }
        assert!(!super::is_gone(None));
    }
}
