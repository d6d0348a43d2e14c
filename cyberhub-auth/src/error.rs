//! The auth crate's error type.

pub use cyberhub_domain::ErrorKind;
use std::time::Duration;

/// An authentication or authorization failure. Match on [`AuthError::kind`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    fields: Vec<cyberhub_domain::FieldError>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Result alias for the auth crate.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

impl AuthError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            fields: Vec::new(),
            source: None,
        }
    }

    /// The one answer for a wrong password, an unknown e-mail and an inactive account.
    pub fn invalid_credentials() -> Self {
        Self::new(ErrorKind::Unauthenticated, "Invalid credentials")
    }

    /// A token that is missing, malformed, expired, revoked or of the wrong type.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    /// Authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// Too many attempts: retry after `after`.
    pub fn rate_limited(after: Duration) -> Self {
        let secs = after.as_secs().max(1);
        Self {
            retry_after: Some(Duration::from_secs(secs)),
            ..Self::new(
                ErrorKind::RateLimited,
                format!("Too many attempts; try again in {secs} seconds."),
            )
        }
    }

    /// A rate limit refused the request: retry after `after`.
    pub fn too_many_requests(after: Duration) -> Self {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        Self {
            retry_after: Some(Duration::from_secs(secs)),
            ..Self::new(
                ErrorKind::RateLimited,
                format!("Too many requests; try again in {secs} seconds."),
            )
        }
    }

    /// An internal failure, with its source kept for logs.
    pub fn internal(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(ErrorKind::Internal, message)
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For [`ErrorKind::RateLimited`]: when to retry.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Field-level errors for validation failures.
    pub fn fields(&self) -> &[cyberhub_domain::FieldError] {
        &self.fields
    }

    /// A validation failure on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            fields: vec![cyberhub_domain::FieldError {
                field: field.to_owned(),
                message: message.clone(),
            }],
            ..Self::new(ErrorKind::Validation, format!("Invalid input: {field}"))
        }
    }
}

impl From<cyberhub_store::StoreError> for AuthError {
    fn from(e: cyberhub_store::StoreError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
            retry_after: None,
            fields: e.fields().to_vec(),
            source: Some(Box::new(e)),
        }
    }
}

impl From<cyberhub_domain::Error> for AuthError {
    fn from(e: cyberhub_domain::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.message().to_owned(),
            retry_after: None,
            fields: e.fields().to_vec(),
            source: None,
        }
    }
}
