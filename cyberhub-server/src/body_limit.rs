//! Request body size limit: 413 for a declared or streamed body over the limit. Unlike
//! poem's `SizeLimit`, requests without a body need no `Content-Length`.

use crate::error::json_error;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Rejects bodies larger than the given number of bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max: self.0,
        }
    }
}

/// The endpoint produced by [`BodyLimit`].
#[derive(Debug)]
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

/// The 413 answer. It closes the connection: the rest of the body is left unread, so the
/// connection cannot carry another request, and a client that reused it (a pooled HTTP
/// client would) would see its next request fail with an incomplete message.
fn too_large(max: usize) -> Response {
    let mut resp = json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Request body too large (limit {max} bytes)."),
    );
    resp.headers_mut().insert(
        poem::http::header::CONNECTION,
        poem::http::HeaderValue::from_static("close"),
    );
    resp
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let declared = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(n) if n > self.max as u64 => return Ok(too_large(self.max)),
            Some(_) => {}
            None => {
                let body = req.take_body();
                if !body.is_empty() {
                    match body.into_bytes_limit(self.max).await {
                        Ok(bytes) => req.set_body(bytes),
                        Err(_) => return Ok(too_large(self.max)),
                    }
                }
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
