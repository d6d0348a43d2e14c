//! How requests reach the server: a [`Transport`] sends one [`HttpRequest`]. The browser
//! bindings use `fetch`; native callers use [`ReqwestTransport`] (feature `native`).

use crate::error::Result;
use async_trait::async_trait;

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One request: a full URL, an optional bearer token and an optional JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL, query included.
    pub url: String,
    /// `Authorization: Bearer` value.
    pub bearer: Option<String>,
    /// JSON body.
    pub json: Option<String>,
}

/// One answer: status and body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body (JSON, or empty for 204).
    pub body: String,
}

/// Sends requests. Not `Send`: browser futures are single-threaded.
#[async_trait(?Send)]
pub trait Transport {
    /// Sends one request; an answer of any status is `Ok`, only a failure to get one is `Err`.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

/// A pooled reqwest client (feature `native`).
#[cfg(feature = "native")]
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[cfg(feature = "native")]
impl ReqwestTransport {
    /// Uses `client` (timeouts, proxies and pooling as configured there).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "native")]
#[async_trait(?Send)]
impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut rb = self.client.request(method, &request.url);
        if let Some(t) = &request.bearer {
            rb = rb.bearer_auth(t);
        }
        if let Some(body) = request.json {
            rb = rb.header("content-type", "application/json").body(body);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| crate::SdkError::network(format!("cannot reach the server: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| crate::SdkError::network(format!("reading the answer: {e}")))?;
        Ok(HttpResponse { status, body })
    }
}
