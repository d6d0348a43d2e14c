//! A real server on a free port, for tests (feature `testing`).
//!
//! The HTTP, AI, SDK and generated-client suites all start their servers here: one
//! configuration for tests (fast password hashing, a first administrator, a fresh SQLite
//! database or PostgreSQL database, an embedded vector store in a temporary directory),
//! one way to call it (JSON in, status + headers + JSON out) and typed calls for what
//! every suite needs (sign-up, login). [`TestServer::stop`] removes what the server used:
//! the temporary directory, the PostgreSQL database, a pgvector collection.
//!
//! ```no_run
//! # async fn demo() {
//! use cyberhub_server::testing::{TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};
//! let server = TestServer::start(|_| {}).await;
//! let admin = server.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
//! let me = server.get("/auth/me", Some(&admin.access_token)).await;
//! assert_eq!(me.status, 200);
//! server.stop().await;
//! # }
//! ```
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{Config, Running};
use cyberhub_domain::api::{AuthResponse, SignupRequest};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// E-mail of the first administrator every test server creates.
pub const ADMIN_EMAIL: &str = "admin@cyberhub.test";
/// Password of that administrator.
pub const ADMIN_PASSWORD: &str = "admin-pass-for-tests-2026";
/// The password [`TestServer::signup`] gives new accounts.
pub const PASSWORD: &str = "blue-team-2026";

/// The relational database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A fresh SQLite file in the server's temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `DATABASE_URL` (or
    /// `CYBERHUB_TEST_DATABASE_URL`), dropped by [`TestServer::stop`].
    Postgres,
}

/// One answer: status, headers, and the body as JSON (`Null` when empty, a JSON string
/// when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The status as a number.
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }
}

/// A server on `127.0.0.1` and a free port, with what it must clean up.
#[derive(Debug)]
pub struct TestServer {
    base: String,
    client: reqwest::Client,
    running: Option<Running>,
    dir: PathBuf,
    postgres: Option<(String, String)>,
    collection: Option<(String, String)>,
}

impl TestServer {
    /// The test configuration on `dir`: a JWT secret, cheap password hashing, the first
    /// administrator ([`ADMIN_EMAIL`]), SQLite and embedded vectors under `dir`, the model
    /// from `CYBERHUB_MODEL_DIR` when set, a 5 s shutdown grace, a 100 ms indexing poll.
    pub fn config(dir: &std::path::Path) -> Config {
        let mut cfg = Config {
            database_url: format!("sqlite://{}/api.db", dir.display()),
            jwt_secret: Some(
                "a-test-server-secret-of-at-least-32-bytes"
                    .to_owned()
                    .into(),
            ),
            insecure_fast_password_hashing: true,
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.to_owned().into()),
            shutdown_grace_secs: 5,
            vector_url: format!("embedded://{}/vectors", dir.display()),
            index_poll_ms: 100,
            ..Default::default()
        };
        if let Some(model) = std::env::var_os("CYBERHUB_MODEL_DIR") {
            cfg.model_dir = model.into();
        }
        cfg
    }

    /// A server on SQLite with the test configuration, changed by `tweak`.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(Database::Sqlite, tweak)
            .await
            .expect("SQLite is always available")
    }

    /// A server on `database`; `None` when that database is not configured (PostgreSQL
    /// without `DATABASE_URL` outside CI; under CI a missing URL panics).
    pub async fn start_on(database: Database, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("cyberhub-test-{}", uuid::Uuid::new_v4().simple()));
        let mut cfg = Self::config(&dir);
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres => {
                let admin = cyberhub_store::conformance::postgres_admin_url()?;
                let (url, name) =
                    cyberhub_store::conformance::create_postgres_database(&admin).await;
                cfg.database_url = url;
                Some((admin, name))
            }
        };
        tweak(&mut cfg);
        let collection = cfg
            .vector_url
            .starts_with("pgvector+")
            .then(|| (cfg.vector_url.clone(), cfg.vector_collection.clone()));
        let running = crate::build(cfg)
            .await
            .expect("the test server builds")
            .start(([127, 0, 0, 1], 0).into())
            .await
            .expect("the test server starts");
        Some(Self {
            base: running.base_url(),
            client: reqwest::Client::new(),
            running: Some(running),
            dir,
            postgres,
            collection,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The server's temporary directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The HTTP client the calls use (for requests the typed calls cannot make: raw
    /// bodies, other content types).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request for `path` (see [`TestServer::url`]) on the shared client, to finish and
    /// send by hand.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// The running server, e.g. to begin a graceful shutdown and wait for it; panics once
    /// stopped.
    pub fn running_mut(&mut self) -> &mut Running {
        self.running.as_mut().expect("the test server is running")
    }

    /// The URL of `path`: paths of the API (`/auth/login`) get the `/api/v1` prefix;
    /// `/health`, `/ready`, `/metrics`, `/docs...`, `/api/...` and the dashboard's do not.
    pub fn url(&self, path: &str) -> String {
        let outside_api = !path.starts_with('/')
            || path.starts_with("/api/")
            || path.starts_with("/docs")
            || path.starts_with("/sdk")
            || matches!(path, "/" | "/health" | "/ready" | "/metrics")
            || path.starts_with("/ready?");
        if outside_api {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        }
    }

    /// A request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, token, body, &[]).await
    }

    /// [`TestServer::call`] with extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Signs `request` up; panics unless the answer is 201.
    pub async fn signup_as(&self, request: &SignupRequest) -> AuthResponse {
        let r = self
            .post(
                "/auth/signup",
                None,
                serde_json::to_value(request).expect("a sign-up serialises"),
            )
            .await;
        assert_eq!(r.code(), 201, "sign-up of {}: {}", request.email, r.body);
        serde_json::from_value(r.body).expect("an AuthResponse")
    }

    /// A new learner `email` with [`PASSWORD`].
    pub async fn signup(&self, email: &str) -> AuthResponse {
        self.signup_as(&SignupRequest {
            email: email.into(),
            password: PASSWORD.into(),
            first_name: "Test".into(),
            last_name: "Learner".into(),
            country: None,
            timezone: None,
            language: None,
            roles: None,
        })
        .await
    }

    /// Logs in; panics unless the answer is 200.
    pub async fn login(&self, email: &str, password: &str) -> AuthResponse {
        let r = self
            .post(
                "/auth/login",
                None,
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.code(), 200, "login of {email}: {}", r.body);
        serde_json::from_value(r.body).expect("an AuthResponse")
    }

    /// An access token of the first administrator.
    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.access_token
    }

    /// Runs `case` on this server (see [`run_case`]), then stops it: the server stops and its
    /// database is dropped also when the case panics.
    pub async fn run<Fut>(self, case: impl FnOnce(Arc<Self>) -> Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        run_case(self, case, Self::stop).await;
    }

    /// Stops the server and removes its directory, database and pgvector collection.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("the test server stops");
        }
        if let Some((admin, name)) = self.postgres.take() {
            cyberhub_store::conformance::drop_postgres_database(&admin, &name).await;
        }
        if let Some((url, collection)) = self.collection.take() {
            if let Ok(v) = cyberhub_vector::open(&url).await {
                let _ = v.drop_collection(&collection).await;
            }
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Runs `case` on `fixture` in a task of its own, then `teardown(fixture)` whether the case
/// passed or panicked, then reports the case's panic: a failing case still stops its server
/// and removes its database. Tasks the case spawned get 30 s to let go of the fixture; if
/// one still holds it, the teardown is skipped and the test fails saying so.
pub async fn run_case<T, F, Fut, D, DFut>(fixture: T, case: F, teardown: D)
where
    T: Send + Sync + 'static,
    F: FnOnce(Arc<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    D: FnOnce(T) -> DFut,
    DFut: Future<Output = ()>,
{
    let mut shared = Arc::new(fixture);
    let outcome = tokio::spawn(case(Arc::clone(&shared))).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let fixture = loop {
        match Arc::try_unwrap(shared) {
            Ok(f) => break Some(f),
            Err(still) if Instant::now() < deadline => {
                shared = still;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => break None,
        }
    };
    let torn_down = match fixture {
        Some(f) => {
            teardown(f).await;
            true
        }
        None => false,
    };
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the case did not finish: {e}"),
        }
    }
    assert!(
        torn_down,
        "the case left tasks holding its fixture: not torn down"
    );
}
