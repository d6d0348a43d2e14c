//! Shared server state and the helpers every route uses: authentication, client info,
//! pagination links.

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use cyberhub_auth::{AuthService, ClientInfo, Principal};
use cyberhub_domain::{Page, PageResult, SharedClock};
use cyberhub_store::DynStore;
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;
use std::sync::Arc;

/// What every route shares.
#[derive(Debug)]
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// The relational store.
    pub store: DynStore,
    /// Accounts, tokens, lock-out, audit.
    pub auth: Arc<AuthService>,
    /// Time.
    pub clock: SharedClock,
    /// Request counters.
    pub metrics: Arc<Metrics>,
    /// The AI side (`service = all` or `ai`); `None` in the core service.
    pub ai: Option<Arc<crate::ai::AiState>>,
    /// The use cases with their rules (permissions, audit, transactions); handlers call these.
    pub services: cyberhub_auth::App,
    /// The Redis that several instances share (`redis_url`), if any.
    pub shared: Option<crate::SharedState>,
    /// This process's id in the instance registry (see [`crate::instances`]).
    pub instance_id: String,
    /// When this instance was built (its age in the registry).
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// What the server does after a committed change: the use cases call these.
#[derive(Debug, Default)]
pub struct ServerHooks {
    /// The recommendation cache, when this process has the AI side.
    pub cache: Option<Arc<dyn cyberhub_ai::RecommendationCache>>,
    /// Wakes this process's indexing worker, when it has one.
    pub index_wakeup: Option<Arc<tokio::sync::Notify>>,
}

impl cyberhub_auth::Hooks for ServerHooks {
    fn learner_changed(&self, user: cyberhub_domain::UserId) {
        if let Some(cache) = &self.cache {
            cache.invalidate_user(user);
        }
    }

    fn catalog_changed(&self) {
        if let Some(wakeup) = &self.index_wakeup {
            wakeup.notify_one();
        }
    }
}

/// An authenticated request's caller and client, for [`cyberhub_auth::App`]'s methods.
pub struct Who {
    /// The caller.
    pub principal: Principal,
    /// Their client.
    pub client: ClientInfo,
    /// The bearer token they presented (split mode passes it on to the core service).
    token: String,
}

impl std::fmt::Debug for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.caller().fmt(f)
    }
}

impl Who {
    /// The caller as the use cases take it.
    pub fn caller(&self) -> cyberhub_auth::Caller<'_> {
        cyberhub_auth::Caller::new(&self.principal, &self.client).with_token(&self.token)
    }
}

/// `Authorization: Bearer <access token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerAuth(pub Bearer);

impl AppState {
    /// The caller of a request with a bearer token (401 when it is not valid), with the
    /// client it came from.
    pub async fn who(&self, auth: &BearerAuth, req: &Request) -> ApiResult<Who> {
        Ok(Who {
            principal: self.principal(auth).await?,
            client: client_info(req),
            token: auth.0.token.clone(),
        })
    }

    /// The caller behind a bearer token (401 when the token or its session is not valid).
    pub async fn principal(&self, auth: &BearerAuth) -> ApiResult<Principal> {
        Ok(self.auth.authenticate(&auth.0.token).await?)
    }

    /// The caller, if the request carries an `Authorization: Bearer` header (for routes
    /// that also serve anonymous callers).
    pub async fn optional_principal(&self, req: &Request) -> ApiResult<Option<Principal>> {
        let Some(value) = req.headers().get("authorization") else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                ApiError::unauthorized("Malformed Authorization header; expected 'Bearer <token>'.")
            })?;
        Ok(Some(self.auth.authenticate(token.trim()).await?))
    }
}

/// Client address and user agent of a request. The address is the peer's or, behind a
/// trusted proxy, the rightmost `X-Forwarded-For` entry that is not a trusted proxy
/// ([`crate::proxies`]).
pub fn client_info(req: &Request) -> ClientInfo {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let addr = match req.data::<ForwardedFor>() {
        Some(p) => p.0.client_addr(peer, &forwarded),
        None => peer,
    }
    .map(|ip| ip.to_string());
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect());
    ClientInfo { addr, user_agent }
}

/// A validated page from `?page=&page_size=`.
pub fn page(page: Option<u32>, page_size: Option<u32>) -> ApiResult<Page> {
    Ok(Page::new(page, page_size)?)
}

/// The `next` and `previous` URLs of a page, keeping the request's other query parameters:
/// on the configured public base URL ([`PublicUrl`]), else relative to the server's root.
/// The client's `Host` header is never used (a client could point the links anywhere).
pub fn page_links<T>(req: &Request, result: &PageResult<T>) -> (Option<String>, Option<String>) {
    let base = req
        .data::<PublicUrl>()
        .and_then(|p| p.0.as_deref())
        .unwrap_or("")
        .trim_end_matches('/');
    let path = req.original_uri().path();
    let others: Vec<(String, String)> = req
        .original_uri()
        .query()
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "page" && k != "page_size")
        .collect();
    let link = |n: u32| {
        let mut q = others.clone();
        q.push(("page".into(), n.to_string()));
        q.push(("page_size".into(), result.page.size().to_string()));
        format!(
            "{base}{path}?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let n = result.page.number();
    (
        result.has_next().then(|| link(n + 1)),
        result.has_previous().then(|| link(n - 1)),
    )
}

/// Request data: the configured public base URL (`public_url`), if any.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub Option<Arc<str>>);

/// Request data: whose `X-Forwarded-For` is trusted, and how it is read (set from the
/// configuration).
#[derive(Debug, Clone)]
pub struct ForwardedFor(pub Arc<crate::proxies::Proxies>);
