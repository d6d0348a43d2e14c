//! The vector store's error: a kind, a message that is safe to show, and the source.

/// What went wrong, precisely enough for callers to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VectorErrorKind {
    /// A vector's length differs from the collection's dimension.
    DimensionMismatch,
    /// A vector has a NaN or infinite component, or is zero where cosine needs a direction.
    InvalidVector,
    /// Other bad input: empty or oversized batch, bad limit, bad collection name, bad filter.
    InvalidInput,
    /// The named collection does not exist.
    CollectionNotFound,
    /// A collection of that name exists with a different dimension or distance.
    CollectionExists,
    /// The backend (server, disk) is not reachable or is busy; retrying may help.
    Unavailable,
    /// The URL or configuration is invalid, or names a backend not compiled in.
    ConfigInvalid,
    /// Stored data is unreadable, or a backend answered something unexpected.
    Internal,
}

impl VectorErrorKind {
    /// The shared, transport-level kind (the server maps it to an HTTP status).
    pub fn error_kind(self) -> cyberhub_domain::ErrorKind {
        use cyberhub_domain::ErrorKind as K;
        match self {
            Self::DimensionMismatch | Self::InvalidVector | Self::InvalidInput => K::Validation,
            Self::CollectionNotFound => K::NotFound,
            Self::CollectionExists => K::AlreadyExists,
            Self::Unavailable => K::Unavailable,
            Self::ConfigInvalid => K::ConfigInvalid,
            Self::Internal => K::Internal,
        }
    }
}

/// An error from a vector store operation. Match on [`VectorError::kind`]; the message names
/// the problem without backend internals (those stay in the source, for logs).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct VectorError {
    kind: VectorErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Result alias for the vector crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

impl VectorError {
    /// A new error without a source.
    pub fn new(kind: VectorErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> VectorErrorKind {
        self.kind
    }

    /// Whether retrying later may help.
    pub fn is_retryable(&self) -> bool {
        self.kind == VectorErrorKind::Unavailable
    }

    /// [`VectorErrorKind::InvalidInput`] (for backends outside this crate too).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(VectorErrorKind::InvalidInput, message)
    }

    /// [`VectorErrorKind::CollectionNotFound`] for `collection`.
    pub fn not_found(collection: &str) -> Self {
        Self::new(
            VectorErrorKind::CollectionNotFound,
            format!("collection {collection:?} not found"),
        )
    }

    /// [`VectorErrorKind::CollectionExists`]: `existing` has another dimension or distance.
    pub fn collection_exists(existing: &crate::CollectionSpec) -> Self {
        Self::new(
            VectorErrorKind::CollectionExists,
            format!(
                "collection {:?} already exists with dimension {} and distance {}",
                existing.name,
                existing.dimension,
                existing.distance.as_str()
            ),
        )
    }

    /// [`VectorErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(VectorErrorKind::Internal, message)
    }

    /// [`VectorErrorKind::Unavailable`] (retryable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(VectorErrorKind::Unavailable, message)
    }
}

impl From<VectorError> for cyberhub_domain::Error {
    fn from(e: VectorError) -> Self {
        cyberhub_domain::Error::new(e.kind.error_kind(), e.message)
    }
}
