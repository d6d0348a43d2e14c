//! The AI layer's error: a kind, a message safe to show, and the source.

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AiErrorKind {
    /// Bad input: empty batch, too many texts, a text too long.
    InvalidInput,
    /// The model files are missing or unreadable (fetch them with `scripts/fetch-model.sh`).
    ModelMissing,
    /// Inference is saturated or a dependency is down; retry later.
    Unavailable,
    /// Model inference failed unexpectedly.
    Internal,
}

impl AiErrorKind {
    /// The shared kind (the server maps it to an HTTP status).
    pub fn error_kind(self) -> cyberhub_domain::ErrorKind {
        use cyberhub_domain::ErrorKind as K;
        match self {
            Self::InvalidInput => K::Validation,
            Self::ModelMissing => K::ConfigInvalid,
            Self::Unavailable => K::Unavailable,
            Self::Internal => K::Internal,
        }
    }
}

/// An error from the AI layer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AiError {
    kind: AiErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Result alias for the AI crate.
pub type Result<T, E = AiError> = std::result::Result<T, E>;

impl AiError {
    /// A new error without a source.
    pub fn new(kind: AiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An `InvalidInput` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(AiErrorKind::InvalidInput, message)
    }

    /// Attaches the underlying error.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> AiErrorKind {
        self.kind
    }
}

impl From<cyberhub_vector::VectorError> for AiError {
    fn from(e: cyberhub_vector::VectorError) -> Self {
        use cyberhub_domain::ErrorKind as K;
        let kind = match e.kind().error_kind() {
            K::Validation => AiErrorKind::InvalidInput,
            K::Unavailable | K::RateLimited => AiErrorKind::Unavailable,
            _ => AiErrorKind::Internal,
        };
        Self::new(kind, format!("vector store: {e}")).with_source(e)
    }
}

impl From<AiError> for cyberhub_domain::Error {
    fn from(e: AiError) -> Self {
        cyberhub_domain::Error::new(e.kind.error_kind(), e.message)
    }
}
