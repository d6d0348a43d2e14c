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

/// Refuses a JSON body whose values have the wrong JSON type for the operation's documented
/// schema (400 naming the field). poem-openapi would otherwise coerce a number or a boolean
/// into a string field (`{"first_name": 12345}` stored as `"12345"`).
#[derive(Debug, Clone)]
pub struct StrictTypes {
    ops: std::sync::Arc<Vec<Operation>>,
    components: std::sync::Arc<serde_json::Value>,
}

/// One documented operation with a JSON request body.
#[derive(Debug)]
struct Operation {
    method: poem::http::Method,
    /// Path segments after the base path; `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    schema: serde_json::Value,
}

impl StrictTypes {
    /// From the served OpenAPI document (its paths are relative to `base`).
    pub fn from_spec(spec: &str, base: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut ops = Vec::new();
        if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    let Ok(method) = method.to_ascii_uppercase().parse::<poem::http::Method>()
                    else {
                        continue;
                    };
                    let schema = op
                        .pointer("/requestBody/content")
                        .and_then(|c| c.as_object())
                        .and_then(|c| c.values().find_map(|m| m.get("schema")))
                        .cloned();
                    let Some(schema) = schema else { continue };
                    let full = format!("{base}{path}");
                    let segments = full
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect();
                    ops.push(Operation {
                        method,
                        segments,
                        schema,
                    });
                }
            }
        }
        Self {
            ops: std::sync::Arc::new(ops),
            components: std::sync::Arc::new(
                doc.pointer("/components/schemas")
                    .cloned()
                    .unwrap_or_default(),
            ),
        }
    }

    fn schema_for(&self, method: &poem::http::Method, path: &str) -> Option<&serde_json::Value> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.ops
            .iter()
            .filter(|op| op.method == method && op.segments.len() == parts.len())
            .find(|op| {
                op.segments
                    .iter()
                    .zip(&parts)
                    .all(|(seg, part)| seg.as_deref().is_none_or(|s| s == *part))
            })
            .map(|op| &op.schema)
    }

    /// The JSON type a schema names, through `$ref` and `allOf`; `None` for "anything".
    fn type_of(&self, schema: &serde_json::Value, depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        if let Some(t) = schema.get("type").and_then(|t| t.as_str()) {
            return Some(t.to_owned());
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return self.type_of(self.components.get(name)?, depth + 1);
        }
        schema
            .get("allOf")
            .and_then(|a| a.as_array())?
            .iter()
            .find_map(|s| self.type_of(s, depth + 1))
    }

    /// The first value whose JSON type differs from the schema's: (field, expected type).
    fn mismatch(
        &self,
        value: &serde_json::Value,
        schema: &serde_json::Value,
        field: &str,
        depth: usize,
    ) -> Option<(String, String)> {
        use serde_json::Value as V;
        if depth > 32 {
            return None;
        }
        if value.is_null() {
            // `null` only where the document says `nullable` (optional properties); a
            // defaulted array or a required field does not take it.
            if schema.get("nullable").and_then(|n| n.as_bool()) == Some(true) {
                return None;
            }
            let expected = self.type_of(schema, depth)?;
            let shown = if field.is_empty() { "body" } else { field };
            return Some((shown.to_owned(), expected));
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            let target = self.components.get(name)?;
            return self.mismatch(value, target, field, depth + 1);
        }
        if let Some(all) = schema.get("allOf").and_then(|a| a.as_array()) {
            return all
                .iter()
                .find_map(|s| self.mismatch(value, s, field, depth + 1));
        }
        let expected = schema.get("type").and_then(|t| t.as_str())?;
        let ok = match expected {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !ok {
            let shown = if field.is_empty() { "body" } else { field };
            return Some((shown.to_owned(), expected.to_owned()));
        }
        match value {
            V::Array(items) => {
                let item_schema = schema.get("items")?;
                items.iter().enumerate().find_map(|(i, v)| {
                    self.mismatch(v, item_schema, &format!("{field}[{i}]"), depth + 1)
                })
            }
            V::Object(map) => {
                let props = schema.get("properties")?.as_object()?;
                map.iter().find_map(|(k, v)| {
                    let s = props.get(k)?;
                    let f = if field.is_empty() {
                        k.clone()
                    } else {
                        format!("{field}.{k}")
                    };
                    self.mismatch(v, s, &f, depth + 1)
                })
            }
            _ => None,
        }
    }
}

impl<E: Endpoint> Middleware<E> for StrictTypes {
    type Output = StrictTypesEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        StrictTypesEndpoint {
            inner: ep,
            rules: self.clone(),
        }
    }
}

/// The endpoint produced by [`StrictTypes`].
#[derive(Debug)]
pub struct StrictTypesEndpoint<E> {
    inner: E,
    rules: StrictTypes,
}

impl<E: Endpoint> Endpoint for StrictTypesEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let is_json = req
            .headers()
            .get(poem::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        let path = req.uri().path().trim_end_matches('/').to_owned();
        if is_json {
            if let Some(schema) = self.rules.schema_for(req.method(), &path) {
                let bytes = req.take_body().into_bytes().await?;
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    if let Some((field, expected)) = self.rules.mismatch(&value, schema, "", 0) {
                        return Ok(type_error(&field, &expected));
                    }
                }
                req.set_body(bytes);
            }
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}

fn type_error(field: &str, expected: &str) -> Response {
    let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let message = format!("Expected {article} {expected}.");
    let body = cyberhub_domain::api::ErrorBody {
        detail: format!("Invalid input: {field}: {message}"),
        errors: Some(vec![cyberhub_domain::FieldError {
            field: field.to_owned(),
            message,
        }]),
    };
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_string(&body).unwrap_or_default())
}

#[cfg(test)]
mod strict_tests {
    use super::StrictTypes;
    use serde_json::json;

    #[test]
    fn wrong_json_types_are_found_with_their_field() {
        let spec = json!({
            "paths": {"/users/{id}": {"patch": {"requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/P"}}}}}}},
            "components": {"schemas": {"P": {"type": "object", "properties": {
                "first_name": {"type": "string", "nullable": true},
                "goal": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "prefs": {"type": "object", "properties": {"on": {"type": "boolean"}}}
            }}}}
        })
        .to_string();
        let rules = StrictTypes::from_spec(&spec, "/api/v1");
        let schema = rules
            .schema_for(&poem::http::Method::PATCH, "/api/v1/users/abc")
            .unwrap()
            .clone();
        let check = |v: serde_json::Value| rules.mismatch(&v, &schema, "", 0).map(|(f, _)| f);
        assert_eq!(
            check(json!({"first_name": 12345})).as_deref(),
            Some("first_name")
        );
        assert_eq!(check(json!({"first_name": null})), None);
        assert_eq!(
            check(json!({"tags": null})).as_deref(),
            Some("tags"),
            "not nullable"
        );
        assert_eq!(
            check(json!({"tags": ["a", null]})).as_deref(),
            Some("tags[1]")
        );
        assert_eq!(
            check(json!({"prefs": {"on": null}})).as_deref(),
            Some("prefs.on")
        );
        assert_eq!(check(json!({"goal": 1.5})).as_deref(), Some("goal"));
        assert_eq!(check(json!({"goal": "3"})).as_deref(), Some("goal"));
        assert_eq!(check(json!({"tags": ["a", 1]})).as_deref(), Some("tags[1]"));
        assert_eq!(
            check(json!({"prefs": {"on": "yes"}})).as_deref(),
            Some("prefs.on")
        );
        assert_eq!(check(json!([1])).as_deref(), Some("body"));
        assert_eq!(
            check(json!({"first_name": "Ada", "goal": 3, "unknown": 1})),
            None
        );
        assert!(rules
            .schema_for(&poem::http::Method::GET, "/api/v1/users/abc")
            .is_none());
        assert!(rules
            .schema_for(&poem::http::Method::PATCH, "/api/v1/users")
            .is_none());
    }
}

/// Adds the `Allow` header (the path's documented methods) to 405 answers, as HTTP requires.
#[derive(Debug, Clone)]
pub struct AllowHeader {
    paths: std::sync::Arc<Vec<(Vec<Option<String>>, String)>>,
}

impl AllowHeader {
    /// From the served OpenAPI document (its paths are relative to `base`).
    pub fn from_spec(spec: &str, base: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut paths = Vec::new();
        if let Some(items) = doc.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in items {
                let mut methods: Vec<String> = item
                    .as_object()
                    .map(|m| m.keys().map(|k| k.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                let full = format!("{base}{path}");
                let segments = full
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                paths.push((segments, methods.join(", ")));
            }
        }
        Self {
            paths: std::sync::Arc::new(paths),
        }
    }

    fn allowed(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.paths
            .iter()
            .filter(|(segs, _)| segs.len() == parts.len())
            .find(|(segs, _)| {
                segs.iter()
                    .zip(&parts)
                    .all(|(seg, part)| seg.as_deref().is_none_or(|s| s == *part))
            })
            .map(|(_, m)| m.as_str())
    }
}

impl<E: Endpoint> Middleware<E> for AllowHeader {
    type Output = AllowHeaderEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AllowHeaderEndpoint {
            inner: ep,
            rules: self.clone(),
        }
    }
}

/// The endpoint produced by [`AllowHeader`].
#[derive(Debug)]
pub struct AllowHeaderEndpoint<E> {
    inner: E,
    rules: AllowHeader,
}

impl<E: Endpoint> Endpoint for AllowHeaderEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let path = req.uri().path().trim_end_matches('/').to_owned();
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
            if let Some(v) = self
                .rules
                .allowed(&path)
                .and_then(|m| HeaderValue::from_str(m).ok())
            {
                resp.headers_mut().insert(poem::http::header::ALLOW, v);
            }
        }
        Ok(resp)
    }
}
