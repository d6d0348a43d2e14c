//! One error type for every route, mapped from the crates' error kinds in one place, and the
//! catch-all that turns every other error (poem's own parse errors, 404, 405, 413, wrong
//! content type) into the same `{"detail": ...}` JSON.

use cyberhub_domain::api::ErrorBody;
use cyberhub_domain::{ErrorKind, FieldError};
use poem::http::StatusCode;
use poem::Response;
use poem_openapi::payload::Json;
use poem_openapi::ApiResponse;

/// Every error a route can answer with.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// Invalid input (`errors` lists the fields).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid or expired token, or bad credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Signed in but not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Missing, or not visible to the caller.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Duplicate, or conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Body too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// Too many attempts or locked out.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// A bug; never caused by client input.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// An upstream service (the core service, in split mode) answered with an error.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// A dependency is not available.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

/// Result of every route.
pub type ApiResult<T> = Result<T, ApiError>;

fn body(detail: impl Into<String>, fields: &[FieldError]) -> Json<ErrorBody> {
    Json(ErrorBody {
        detail: detail.into(),
        errors: (!fields.is_empty()).then(|| fields.to_vec()),
    })
}

fn bad_request(err: poem::Error) -> ApiError {
    ApiError::BadRequest(body(client_message(&err), &[]))
}

/// A readable message for poem's request errors, without internals.
fn client_message(err: &poem::Error) -> String {
    let text = err.to_string();
    if text.len() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

impl ApiError {
    /// An error of `kind` with `detail` and field errors.
    pub fn from_kind(
        kind: ErrorKind,
        detail: impl Into<String>,
        fields: &[FieldError],
        retry_after: Option<std::time::Duration>,
    ) -> Self {
        let detail = detail.into();
        match kind {
            ErrorKind::Validation => ApiError::BadRequest(body(detail, fields)),
            ErrorKind::Unauthenticated => ApiError::Unauthorized(body(detail, &[])),
            ErrorKind::PermissionDenied => ApiError::Forbidden(body(detail, &[])),
            ErrorKind::NotFound => ApiError::NotFound(body(detail, &[])),
            ErrorKind::AlreadyExists | ErrorKind::Conflict => ApiError::Conflict(body(detail, &[])),
            ErrorKind::TooLarge => ApiError::PayloadTooLarge(body(detail, &[])),
            ErrorKind::Upstream => ApiError::BadGateway(body(detail, &[])),
            ErrorKind::RateLimited => ApiError::TooManyRequests(
                body(detail, &[]),
                retry_after.map_or(1, |d| d.as_secs().max(1)),
            ),
            ErrorKind::Unavailable => ApiError::Unavailable(
                body(detail, &[]),
                retry_after.map_or(1, |d| d.as_secs().max(1)),
            ),
            ErrorKind::ConfigInvalid | ErrorKind::Unsupported | ErrorKind::Internal => {
                ApiError::Internal(body("Internal server error", &[]))
            }
        }
    }

    /// 400 with one field error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest(body(
            format!("Invalid input: {field}"),
            &[FieldError {
                field: field.into(),
                message,
            }],
        ))
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden(body(detail, &[]))
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(body(format!("{what} not found"), &[]))
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::Unauthorized(body(detail, &[]))
    }

    /// 400 without field errors.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest(body(detail, &[]))
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> Self {
        ApiError::PayloadTooLarge(body(detail, &[]))
    }

    /// 502.
    pub fn bad_gateway(detail: impl Into<String>) -> Self {
        ApiError::BadGateway(body(detail, &[]))
    }

    /// 503.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::Unavailable(body(detail, &[]), 1)
    }
}

impl From<cyberhub_ai::AiError> for ApiError {
    fn from(e: cyberhub_ai::AiError) -> Self {
        use cyberhub_ai::AiErrorKind as K;
        match e.kind() {
            K::InvalidInput => ApiError::bad_request(e.to_string()),
            K::Unavailable => {
                tracing::warn!(error = %e, "AI dependency unavailable");
                ApiError::unavailable(e.to_string())
            }
            _ => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "AI error");
                ApiError::Internal(body("Internal server error", &[]))
            }
        }
    }
}

impl From<cyberhub_store::StoreError> for ApiError {
    fn from(e: cyberhub_store::StoreError) -> Self {
        if matches!(
            e.kind(),
            ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::ConfigInvalid
        ) {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "store error");
        }
        ApiError::from_kind(e.kind(), e.to_string(), e.fields(), None)
    }
}

impl From<cyberhub_auth::AuthError> for ApiError {
    fn from(e: cyberhub_auth::AuthError) -> Self {
        if matches!(
            e.kind(),
            ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::ConfigInvalid
        ) {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "auth error");
        }
        ApiError::from_kind(e.kind(), e.to_string(), e.fields(), e.retry_after())
    }
}

impl From<cyberhub_domain::Error> for ApiError {
    fn from(e: cyberhub_domain::Error) -> Self {
        ApiError::from_kind(e.kind(), e.message(), e.fields(), None)
    }
}

/// A `{"detail": ...}` response.
pub fn json_error(status: StatusCode, detail: &str) -> Response {
    let text = serde_json::to_string(&ErrorBody {
        detail: detail.to_owned(),
        errors: None,
    })
    .unwrap_or_else(|_| "{\"detail\":\"error\"}".to_owned());
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(text)
}

/// The catch-all: keeps our JSON errors, rewrites every other error as `{"detail"}`.
pub async fn render_error(err: poem::Error) -> Response {
    let status = err.status();
    let message = client_message(&err);
    let resp = err.into_response();
    let is_json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "Not found.".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large.".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => format!("Unsupported content type: {message}"),
        StatusCode::UNAUTHORIZED => {
            "Authentication credentials were not provided or are invalid.".to_owned()
        }
        s if s.is_server_error() => {
            tracing::error!(%status, error = %message, "unhandled server error");
            "Internal server error".to_owned()
        }
        _ if message.is_empty() => status.canonical_reason().unwrap_or("Error").to_owned(),
        _ => message,
    };
    let mut out = json_error(status, &detail);
    for name in ["retry-after", "allow"] {
        if let Some(v) = resp.headers().get(name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
