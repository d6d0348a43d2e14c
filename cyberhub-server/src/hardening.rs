//! Request and response hardening that applies to every route:
//!
//! - [`RejectNul`]: a NUL character anywhere in the path, the query or a JSON body is a 400
//!   before any handler runs. PostgreSQL cannot store NUL in text (it answered 500) while
//!   SQLite stored it; refusing it up front gives the same answer on every backend.
//! - [`SecurityHeaders`]: `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`,
//!   a `Content-Security-Policy` (strict for the API and the dashboard, which runs no inline
//!   script; Swagger UI's page keeps the inline script it needs) and, when the public URL is
//!   https, `Strict-Transport-Security`.

use crate::error::json_error;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Refuses NUL characters in the path, query and JSON body (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectNul;

impl<E: Endpoint> Middleware<E> for RejectNul {
    type Output = RejectNulEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RejectNulEndpoint { inner: ep }
    }
}

/// The endpoint produced by [`RejectNul`].
#[derive(Debug)]
pub struct RejectNulEndpoint<E> {
    inner: E,
}

/// Whether a percent-encoded URI part decodes to a NUL byte.
fn uri_has_nul(part: &str) -> bool {
    part.as_bytes().windows(3).any(|w| w == b"%00") || part.contains('\0')
}

/// Whether JSON text holds a NUL: a raw 0x00 byte, or a `\u0000` escape (a backslash that
/// is itself escaped, as in `"\\u0000"`, is text and not an escape).
fn json_has_nul(body: &[u8]) -> bool {
    if body.contains(&0) {
        return true;
    }
    let mut backslashes = 0usize;
    for (i, b) in body.iter().enumerate() {
        if *b == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1
            && *b == b'u'
            && body
                .get(i + 1..i + 5)
                .is_some_and(|hex| hex.eq_ignore_ascii_case(b"0000"))
        {
            return true;
        }
        backslashes = 0;
    }
    false
}

fn nul_error(where_: &str) -> Response {
    json_error(
        StatusCode::BAD_REQUEST,
        &format!("Invalid input: NUL characters are not allowed in the {where_}."),
    )
}

impl<E: Endpoint> Endpoint for RejectNulEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let uri = req.uri();
        if uri_has_nul(uri.path()) {
            return Ok(nul_error("path"));
        }
        if uri.query().is_some_and(uri_has_nul) {
            return Ok(nul_error("query"));
        }
        let is_json = req
            .headers()
            .get(poem::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        if is_json {
            // The body limit (an outer middleware) has already bounded what is read here.
            let bytes = req.take_body().into_bytes().await?;
            if json_has_nul(&bytes) {
                return Ok(nul_error("request body"));
            }
            req.set_body(bytes);
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}

/// Adds the security headers to every response.
#[derive(Debug, Clone, Default)]
pub struct SecurityHeaders {
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint {
            inner: ep,
            hsts: self.hsts,
        }
    }
}

/// The endpoint produced by [`SecurityHeaders`].
#[derive(Debug)]
pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    hsts: bool,
}

/// The API answers JSON: nothing in it may load or run anything.
const CSP_API: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// The dashboard: its own script and style files and the SDK's WebAssembly, nothing inline.
const CSP_DASHBOARD: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI's page (poem's) starts itself with an inline script.
const CSP_DOCS: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn csp_for(path: &str) -> &'static str {
    if path == "/docs" || path.starts_with("/docs/") {
        CSP_DOCS
    } else if path.starts_with(crate::BASE_PATH) || path == "/metrics" {
        CSP_API
    } else {
        CSP_DASHBOARD
    }
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let csp = csp_for(req.uri().path());
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let h = resp.headers_mut();
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h.insert("content-security-policy", HeaderValue::from_static(csp));
        if self.hsts {
            h.insert(
                "strict-transport-security",
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_json_and_uris() {
        assert!(json_has_nul(br#"{"email": "a\u0000b"}"#));
        assert!(json_has_nul(b"{\"email\": \"a\0b\"}"));
        assert!(
            json_has_nul(br#"{"x": "\\\u0000"}"#),
            "escaped backslash, then an escape"
        );
        assert!(
            !json_has_nul(br#"{"x": "\\u0000"}"#),
            "an escaped backslash and text"
        );
        assert!(!json_has_nul(br#"{"x": "\u0001 u0000"}"#));
        assert!(uri_has_nul("/progress?search=%00"));
        assert!(uri_has_nul("search=a%00b"));
        assert!(!uri_has_nul("search=a%200"));
    }
}
