//! CyberHub reference server: the REST API of `docs/API.md` on poem + poem-openapi.
//!
//! - [`Config`]: defaults, a TOML file and `CYBERHUB_*` variables;
//! - [`build`]: wires the store, auth and routes into an [`App`];
//! - [`App::serve`]: listens with graceful shutdown.
//!
//! The spec is served at `/api/v1/openapi.json`, interactive docs at `/docs`; every error is
//! `{"detail": ...}` JSON. The dashboard (a static page over the browser SDK) is at `/`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod ai;
pub mod api;
pub mod body_limit;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod hardening;
pub mod indexer;
pub mod instances;
pub mod metrics;
pub mod models;
pub mod openapi_doc;
pub mod proxies;
pub mod seed;
#[cfg(feature = "redis")]
pub mod shared;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Config, ConfigError, EmbedderKind, Mode, Service};
pub use cyberhub_auth as auth;
pub use cyberhub_domain as domain;
pub use cyberhub_store as store;

use crate::api::{
    accounts::AccountsApi, ai::AiApi, audit::AuditApi, content::ContentApi, health::HealthApi,
};
use crate::api::{organizations::OrganizationsApi, progress::ProgressApi};
use crate::metrics::{Metrics, Observe};
use crate::state::AppState;
use cyberhub_auth::{AuthConfig, AuthService, JwtKey, PasswordPolicy};
use cyberhub_domain::{SharedClock, SystemClock};
use poem::endpoint::make_sync;
use poem::middleware::{Cors, NormalizePath, TrailingSlash};
use poem::{get, EndpointExt, IntoEndpoint, Route};
use poem_openapi::OpenApiService;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// The API's base path.
pub const BASE_PATH: &str = "/api/v1";

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] cyberhub_store::StoreError),
    /// Auth set-up failed (e.g. a weak JWT secret).
    #[error("auth: {0}")]
    Auth(#[from] cyberhub_auth::AuthError),
    /// Seed data could not be loaded.
    #[error("seed: {0}")]
    Seed(String),
    /// The embedding model could not be loaded (the message names the install command).
    #[error("model: {0}")]
    Model(String),
    /// The vector store could not be opened.
    #[error("vector store: {0}")]
    Vector(String),
    /// The listener failed.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A built server: its state and the OpenAPI document.
pub struct App {
    state: Arc<AppState>,
}

fn service<T: poem_openapi::OpenApi>(apis: T) -> OpenApiService<T, ()> {
    OpenApiService::new(apis, "CyberHub API", env!("CARGO_PKG_VERSION"))
        .description("Accounts, organizations, learning content, progress, audit, semantic search, recommendations and personality analysis for CyberHub. Errors are always JSON: {\"detail\": ...}.")
        .server(BASE_PATH)
}

/// Every route group, in the order the document lists them.
type AllApis = (
    HealthApi,
    AccountsApi,
    OrganizationsApi,
    ContentApi,
    ProgressApi,
    AuditApi,
    AiApi,
);

/// A mounted API: the endpoint, its OpenAPI document, its Swagger UI.
type Mounted = (
    poem::endpoint::BoxEndpoint<'static>,
    String,
    poem::endpoint::BoxEndpoint<'static>,
);

/// The routes of every service together (the committed `docs/openapi.json`).
fn full_service(state: &Arc<AppState>) -> OpenApiService<AllApis, ()> {
    service((
        HealthApi(state.clone()),
        AccountsApi(state.clone()),
        OrganizationsApi(state.clone()),
        ContentApi(state.clone()),
        ProgressApi(state.clone()),
        AuditApi(state.clone()),
        AiApi(state.clone()),
    ))
}

/// The API endpoint, its spec and its Swagger UI for this process's service.
fn mounted(state: &Arc<AppState>) -> Mounted {
    fn parts<T: poem_openapi::OpenApi + 'static>(api: OpenApiService<T, ()>) -> Mounted {
        let spec = openapi_doc::finish(&api.spec());
        let docs = api.swagger_ui().map_to_response().boxed();
        (api.map_to_response().boxed(), spec, docs)
    }
    match state.config.service {
        Service::All => parts(full_service(state)),
        Service::Core => parts(service((
            HealthApi(state.clone()),
            AccountsApi(state.clone()),
            OrganizationsApi(state.clone()),
            ContentApi(state.clone()),
            ProgressApi(state.clone()),
            AuditApi(state.clone()),
        ))),
        Service::Ai => parts(service((HealthApi(state.clone()), AiApi(state.clone())))),
    }
}

/// Signing keys from the configuration; in development a missing secret is generated.
fn signing_keys(config: &Config) -> Result<(JwtKey, Vec<JwtKey>), StartError> {
    let current = match &config.jwt_secret {
        Some(s) => JwtKey::new(config.jwt_key_id.clone(), s.clone())?,
        None => {
            tracing::warn!("no CYBERHUB_JWT_SECRET set: generated a random one (development mode); tokens will not survive a restart");
            JwtKey::random(config.jwt_key_id.clone())?
        }
    };
    let mut previous = Vec::new();
    for pair in &config.jwt_previous_keys {
        let (kid, secret) = pair
            .expose_secret()
            .split_once(':')
            .ok_or_else(|| ConfigError("jwt_previous_keys entries must be kid:secret".into()))?;
        previous.push(JwtKey::new(kid, secret.to_owned().into())?);
    }
    Ok((current, previous))
}

/// Backends the embedding program supplies itself, instead of the ones the configuration's
/// URLs name: any implementation of the store, vector store or embedder trait, from any crate.
/// Each one left `None` is opened from the configuration as usual (`database_url`,
/// `vector_url`, `embedder` + `model_dir`). `examples/custom_backends.rs` plugs in a vector
/// store and an embedder written in the example itself.
#[derive(Clone, Default)]
pub struct Backends {
    /// The relational store; migrated at start-up like a built-in one.
    pub store: Option<cyberhub_store::DynStore>,
    /// The vector store of the catalog index.
    pub vectors: Option<cyberhub_vector::DynVectorStore>,
    /// The embedder of the catalog index, search and recommendations.
    pub embedder: Option<cyberhub_ai::DynEmbedder>,
    /// Where the AI use cases read a learner's progress: by default this process's store,
    /// or the core service (`core_url`) in split mode.
    pub progress: Option<Arc<dyn cyberhub_auth::ProgressSource>>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("store", &self.store.as_ref().map(|s| s.backend()))
            .field("vectors", &self.vectors.as_ref().map(|v| v.backend()))
            .field("embedder", &self.embedder.as_ref().map(|e| e.model_id()))
            .field("progress", &self.progress)
            .finish()
    }
}

/// The Redis that several instances share, when `redis_url` is set.
#[cfg(feature = "redis")]
pub type SharedState = shared::SharedRedis;
/// Without the `redis` feature there is no shared state.
#[cfg(not(feature = "redis"))]
pub type SharedState = std::convert::Infallible;

fn shared_state(config: &Config) -> Result<Option<SharedState>, StartError> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    #[cfg(feature = "redis")]
    {
        let redis = shared::SharedRedis::new(
            url,
            std::time::Duration::from_millis(config.redis_timeout_ms),
        )
        .map_err(ConfigError)?;
        tracing::info!(url = %cyberhub_store::redact_url(url), "shared state in Redis");
        Ok(Some(redis))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(ConfigError(
            "redis_url is set but this build has no Redis support: build with the `redis` feature"
                .into(),
        )
        .into())
    }
}

/// The recommendation cache: in Redis when shared, else in this process.
fn recommendation_cache(
    shared: Option<&SharedState>,
) -> Option<Arc<dyn cyberhub_ai::RecommendationCache>> {
    #[cfg(feature = "redis")]
    {
        shared.map(|r| {
            Arc::new(shared::RedisCache::new(
                r.clone(),
                std::time::Duration::from_secs(600),
            )) as Arc<dyn cyberhub_ai::RecommendationCache>
        })
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = shared;
        None
    }
}

/// Opens the store, migrates, seeds, creates the first administrator and builds the routes,
/// every backend from the configuration.
pub async fn build(config: Config) -> Result<App, StartError> {
    build_with(config, Backends::default()).await
}

/// [`build`] with backends supplied by the caller (see [`Backends`]).
pub async fn build_with(config: Config, backends: Backends) -> Result<App, StartError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = match backends.store {
        Some(store) => {
            store.migrate().await?;
            store
        }
        None => cyberhub_store::open_with(&config.database_url, &config.pool_options()).await?,
    };
    let (current, previous) = signing_keys(&config)?;
    let shared = shared_state(&config)?;
    let mut auth_cfg = AuthConfig::new(current);
    auth_cfg.previous_keys = previous;
    auth_cfg.refresh_grace = chrono::Duration::seconds(i64::from(config.refresh_grace_secs));
    auth_cfg.rate_limits = config.rate_limits;
    #[cfg(feature = "redis")]
    if let Some(redis) = &shared {
        auth_cfg.rate_limiter = Arc::new(shared::RedisRateLimiter::new(redis.clone()));
        auth_cfg.failure_store = Some(Arc::new(shared::RedisFailures::new(redis.clone())));
        auth_cfg.known_clients = Arc::new(shared::RedisKnownClients::new(
            redis.clone(),
            cyberhub_auth::KnownClientsPolicy::default(),
        ));
        auth_cfg.session_events = Some(Arc::new(shared::RedisRevocations::new(redis.clone())));
    }
    if let Some(n) = config.max_concurrent_hashes {
        auth_cfg.max_concurrent_hashes = n;
    }
    if config.insecure_fast_password_hashing {
        tracing::warn!("insecure fast password hashing is on: for tests only");
        auth_cfg.password_policy = PasswordPolicy::INSECURE_FAST_FOR_TESTS;
    }
    let auth = Arc::new(AuthService::new(store.clone(), clock.clone(), auth_cfg)?);
    #[cfg(feature = "redis")]
    if let Some(redis) = &shared {
        shared::subscribe_revocations(redis, Arc::downgrade(&auth));
    }
    if config.seed_catalog {
        let n = seed::seed_catalog(&store, &clock)
            .await
            .map_err(StartError::Seed)?;
        if n > 0 {
            tracing::info!(items = n, "loaded the seed catalog");
        }
    }
    if seed::ensure_admin(&config, &auth)
        .await
        .map_err(StartError::Seed)?
    {
        tracing::info!(
            email = config.admin_email.as_deref().unwrap_or(""),
            "created the first administrator"
        );
    }
    if !config.service.has_ai() && (backends.embedder.is_some() || backends.vectors.is_some()) {
        tracing::warn!(
            "an embedder or vector store was supplied, but service = core has no AI routes: it is not used"
        );
    }
    let parts = if config.service.has_ai() {
        let parts = ai::build_ai(
            &config,
            &store,
            backends.embedder,
            backends.vectors,
            backends.progress,
            recommendation_cache(shared.as_ref()),
        )
        .await?;
        // A new or switched vector store with an existing catalog: index everything.
        let indexed = parts
            .recommender
            .index()
            .count()
            .await
            .map_err(|e| StartError::Vector(e.to_string()))?;
        if indexed == 0 && store.index_backlog().await? == 0 && store.count_content().await? > 0 {
            let event = auth.event(
                None,
                cyberhub_domain::AuditAction::IndexRebuild,
                ("index", Some(config.vector_collection.clone())),
                &cyberhub_auth::ClientInfo::default(),
                serde_json::json!({"reason": "the vector collection is empty"}),
            );
            let n = store.enqueue_full_reindex(clock.now(), &event).await?;
            tracing::info!(
                items = n,
                "vector collection is empty: queued the catalog for indexing"
            );
        }
        Some(parts)
    } else {
        None
    };
    let services = cyberhub_auth::App::new(
        auth.clone(),
        Arc::new(state::ServerHooks {
            cache: parts.as_ref().map(|p| p.cache.clone()),
            index_wakeup: parts.as_ref().map(|p| p.index_wakeup.clone()),
        }),
    );
    let ai = parts.map(|p| Arc::new(p.into_state(services.clone())));
    let started_at = clock.now();
    let state = Arc::new(AppState {
        config,
        store,
        auth,
        clock,
        metrics: Arc::new(Metrics::default()),
        ai,
        services,
        shared,
        instance_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        started_at,
    });
    Ok(App { state })
}

impl App {
    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The OpenAPI document of every route (JSON); each service serves its own part at
    /// `/api/v1/openapi.json`.
    pub fn spec_json(&self) -> String {
        openapi_doc::finish(&full_service(&self.state).spec())
    }

    /// A catalog-indexing worker (`None` without the AI routes).
    pub fn indexer(&self) -> Option<indexer::Indexer> {
        let ai = self.state.ai.as_ref()?;
        Some(
            indexer::Indexer::new(
                self.state.store.clone(),
                ai.index().clone(),
                self.state.clock.clone(),
            )
            .with_lease(std::time::Duration::from_secs(
                self.state.config.index_lease_secs,
            ))
            .with_metrics(self.state.metrics.clone()),
        )
    }

    /// The complete HTTP endpoint with every middleware.
    pub fn endpoint(&self) -> poem::endpoint::BoxEndpoint<'static> {
        let (api, spec, docs) = mounted(&self.state);
        let strict_spec = spec.clone();
        let state = self.state.clone();
        let ready_state = self.state.clone();
        let mut cors = Cors::new()
            .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
            .allow_headers(["authorization", "content-type", "x-request-id"]);
        for origin in &self.state.config.cors_origins {
            if origin != "*" {
                cors = cors.allow_origin(origin.as_str());
            }
        }
        let route =
            Route::new()
                .nest(BASE_PATH, api)
                .at(
                    format!("{BASE_PATH}/openapi.json"),
                    make_sync(move |_| {
                        poem::Response::builder()
                            .content_type("application/json")
                            .body(spec.clone())
                    }),
                )
                .nest("/docs", docs)
                .at(
                    "/health",
                    get(make_sync(|_| poem::web::Json(api::health::health_body()))),
                )
                .at(
                    "/ready",
                    get(poem::endpoint::make(move |_| {
                        let s = ready_state.clone();
                        async move {
                            poem::IntoResponse::into_response(api::health::readiness(&s).await)
                        }
                    })),
                )
                .at("/metrics", get(make_sync(move |_| state.metrics.render())));
        let route = dashboard::mount(route, self.state.config.sdk_dir.clone());
        let ep = route
            .with(NormalizePath::new(TrailingSlash::Trim))
            .with(hardening::StrictTypes::from_spec(&strict_spec, BASE_PATH))
            .with(hardening::RejectNul)
            .with(body_limit::BodyLimit(self.state.config.max_body_bytes))
            .with_if(!self.state.config.cors_origins.is_empty(), cors)
            .data(state::ForwardedFor(Arc::new(proxies::Proxies {
                trust_any_peer: self.state.config.trust_forwarded_for,
                trusted: self.state.config.trusted_proxy_nets(),
            })))
            .data(state::PublicUrl(
                self.state.config.public_url.as_deref().map(Into::into),
            ))
            // Outermost: renders every error (ours and poem's) as {"detail"} JSON, counts it.
            .with(Observe(self.state.metrics.clone()))
            .with(hardening::AllowHeader::from_spec(&strict_spec, BASE_PATH))
            .with(hardening::SecurityHeaders {
                hsts: self
                    .state
                    .config
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://")),
            });
        ep.into_endpoint().boxed()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish
    /// (up to the configured grace time) and closes the store.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), StartError> {
        instances::check_alone(&self.state).await?;
        self.serve_checked(listener, shutdown).await
    }

    /// [`App::serve`] once [`instances::check_alone`] has passed.
    async fn serve_checked(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), StartError> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "listening; docs at http://{addr}/docs");
        let grace = std::time::Duration::from_secs(self.state.config.shutdown_grace_secs);
        let ep = self.endpoint();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let heartbeat = tokio::spawn(instances::heartbeat_loop(
            self.state.clone(),
            stop_tx.subscribe(),
        ));
        let worker = match (self.indexer(), &self.state.ai) {
            (Some(w), Some(ai)) if self.state.config.index_worker => Some(tokio::spawn(w.run(
                std::time::Duration::from_millis(self.state.config.index_poll_ms.max(10)),
                ai.index_wakeup.clone(),
                stop_rx,
            ))),
            _ => None,
        };
        let purger = (self.state.config.purge_interval_secs > 0).then(|| {
            tokio::spawn(purge_loop(
                self.state.clone(),
                std::time::Duration::from_secs(self.state.config.purge_interval_secs),
                stop_tx.subscribe(),
            ))
        });
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener)?;
        let served = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(ep, shutdown, Some(grace))
            .await;
        stop_tx.send(true).ok();
        if let Some(w) = worker {
            w.await.ok();
        }
        if let Some(p) = purger {
            p.await.ok();
        }
        heartbeat.await.ok();
        served?;
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// What the configured retention keeps at `now`.
pub fn retention(config: &Config, now: chrono::DateTime<chrono::Utc>) -> cyberhub_store::Retention {
    cyberhub_store::Retention {
        // Ended sessions are kept a day for the audit trail of a recent logout or revocation.
        sessions_ended_before: now - chrono::Duration::days(1),
        analyses_per_user: config.keep_personality_analyses.max(1),
        audit_before: (config.audit_retention_days > 0)
            .then(|| now - chrono::Duration::days(i64::from(config.audit_retention_days))),
    }
}

/// Purges what the retention no longer keeps, every `every`, until `stop` turns true.
async fn purge_loop(
    state: Arc<AppState>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let r = retention(&state.config, state.clock.now());
        match state.store.purge(&r).await {
            Ok(p) if p != cyberhub_store::Purged::default() => tracing::info!(
                sessions = p.sessions,
                analyses = p.analyses,
                audit_rows = p.audit_rows,
                "purged ended sessions, superseded analyses and expired audit rows"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purge failed; retrying at the next interval"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A server started in this process with [`App::start`]: its address, and a handle to
/// shut it down gracefully (tests, and services that embed the server).
#[derive(Debug)]
pub struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), StartError>>>,
}

impl App {
    /// Binds `addr` (port 0: any free port) and serves in a background task until
    /// [`Running::stop`].
    pub async fn start(self, addr: std::net::SocketAddr) -> Result<Running, StartError> {
        instances::check_alone(&self.state).await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Checked above, before binding: the task does not check again.
        let task = tokio::spawn(self.serve_checked(listener, async {
            rx.await.ok();
        }));
        Ok(Running {
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts the graceful shutdown (in-flight requests finish) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            tx.send(()).ok();
        }
    }

    /// Waits until the server has stopped (after [`Running::begin_shutdown`]).
    pub async fn wait(&mut self) -> Result<(), StartError> {
        match self.task.take() {
            Some(t) => t
                .await
                .map_err(|e| StartError::Io(std::io::Error::other(e.to_string())))?,
            None => Ok(()),
        }
    }

    /// Shuts down gracefully and waits.
    pub async fn stop(mut self) -> Result<(), StartError> {
        self.begin_shutdown();
        self.wait().await
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[cfg(test)]
mod retention_tests {
    #[test]
    fn retention_follows_the_configuration() {
        let now = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let mut cfg = crate::Config::default();
        let r = super::retention(&cfg, now);
        assert_eq!(r.audit_before, None, "the audit log is kept by default");
        assert_eq!(r.analyses_per_user, 10);
        assert_eq!(r.sessions_ended_before, now - chrono::Duration::days(1));
        cfg.audit_retention_days = 30;
        cfg.keep_personality_analyses = 0;
        let r = super::retention(&cfg, now);
        assert_eq!(r.audit_before, Some(now - chrono::Duration::days(30)));
        assert_eq!(r.analyses_per_user, 1, "the newest analysis is always kept");
    }
}
