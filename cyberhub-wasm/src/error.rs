//! The SDK's error: the HTTP status and the server's `detail` (status 0: no answer).

use cyberhub_domain::FieldError;

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkError {
    /// HTTP status; 0 when the server could not be reached or answered garbage.
    pub status: u16,
    /// The server's `detail`, or what went wrong on the way.
    pub detail: String,
    /// Field-level problems (validation errors).
    pub errors: Vec<FieldError>,
}

impl SdkError {
    /// A transport-level failure (no HTTP answer).
    pub fn network(detail: impl Into<String>) -> Self {
        Self {
            status: 0,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// An error answer, read from its `{"detail", "errors"?}` body when it has one.
    pub fn from_response(status: u16, body: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            detail: String,
            #[serde(default)]
            errors: Option<Vec<FieldError>>,
        }
        match serde_json::from_str::<Body>(body) {
            Ok(b) => Self {
                status,
                detail: b.detail,
                errors: b.errors.unwrap_or_default(),
            },
            Err(_) => Self {
                status,
                detail: format!("HTTP {status}"),
                errors: Vec::new(),
            },
        }
    }

    /// Whether the caller must sign in (again).
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

impl std::fmt::Display for SdkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.detail)
        } else {
            write!(f, "{} ({})", self.detail, self.status)
        }
    }
}

impl std::error::Error for SdkError {}

/// Result alias of the SDK.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;
