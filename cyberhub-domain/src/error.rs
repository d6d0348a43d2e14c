//! The error kinds every CyberHub crate maps its own errors onto.

use crate::validation::{FieldError, ValidationErrors};

/// What went wrong, independent of which crate or backend noticed it.
///
/// Callers (and the server's HTTP mapping) match on the kind, never on a driver's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Input failed validation (HTTP 400).
    Validation,
    /// Missing credentials, bad credentials, or an invalid/expired token (HTTP 401).
    Unauthenticated,
    /// Authenticated but not allowed (HTTP 403).
    PermissionDenied,
    /// The thing does not exist or is not visible to the caller (HTTP 404).
    NotFound,
    /// A unique key is already taken (HTTP 409).
    AlreadyExists,
    /// The request conflicts with the current state, e.g. an invalid status transition (HTTP 409).
    Conflict,
    /// The request is larger than a documented bound (HTTP 413).
    TooLarge,
    /// Too many attempts; retry later (HTTP 429).
    RateLimited,
    /// A dependency (database, model, peer service) is not available (HTTP 503). Retryable.
    Unavailable,
    /// A peer service (the core service, in split mode) answered with an error (HTTP 502).
    Upstream,
    /// Configuration is invalid (start-up error).
    ConfigInvalid,
    /// The operation is not supported by this backend.
    Unsupported,
    /// A bug or an unexpected failure (HTTP 500). Never caused by client input.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::RateLimited)
    }
}

/// The domain crate's error: a kind, a message and, for validation, field-level errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    fields: Vec<FieldError>,
}

/// Result alias for the domain crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Field-level errors (non-empty only for [`ErrorKind::Validation`]).
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// A conflict (e.g. a forbidden state transition).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
}

impl From<ValidationErrors> for Error {
    fn from(v: ValidationErrors) -> Self {
        let message = v.summary();
        Self {
            kind: ErrorKind::Validation,
            message,
            fields: v.into_inner(),
        }
    }
}
