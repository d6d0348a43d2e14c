//! The HTTP API end to end: the real server on a free port, a real HTTP client, once on
//! SQLite and once on PostgreSQL (a fresh database per case). Every route of `docs/API.md`
//! outside the AI section is exercised, with its success and error paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_server::testing::{Database, Reply, TestServer, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::sync::Arc;

/// The shared test server ([`TestServer`]) with this suite's settings (the core routes
/// only, a 64 KiB body limit) and calls that fail the test on any 5xx.
struct TestApp {
    server: TestServer,
}

type Resp = Reply;

impl TestApp {
    /// A server on `database` with this suite's settings, changed by `tweak`.
    async fn start_on(
        database: Database,
        tweak: impl FnOnce(&mut cyberhub_server::Config),
    ) -> Option<Self> {
        let server = TestServer::start_on(database, |cfg| {
            cfg.max_body_bytes = 64 * 1024;
            // The AI routes have their own suite (tests/http_ai.rs); these need no model.
            cfg.service = cyberhub_server::Service::Core;
            tweak(cfg);
        })
        .await?;
        Some(Self { server })
    }

    /// A server on SQLite with this suite's settings, changed by `tweak`.
    async fn with(tweak: impl FnOnce(&mut cyberhub_server::Config)) -> Self {
        Self::start_on(Database::Sqlite, tweak)
            .await
            .expect("SQLite is always available")
    }

    async fn sqlite() -> Option<Self> {
        Self::start_on(Database::Sqlite, |_| {}).await
    }

    async fn postgres() -> Option<Self> {
        Self::start_on(Database::Postgres, |_| {}).await
    }

    async fn stop(self) {
        self.server.stop().await;
    }

    /// `http://127.0.0.1:PORT`.
    fn base(&self) -> &str {
        self.server.base_url()
    }

    fn client(&self) -> &Client {
        self.server.client()
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// [`TestServer::call`], failing the test on a 5xx.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let r = self.server.call(method, path, token, body).await;
        if r.status.is_server_error() {
            panic!("{} from {path}: {}", r.status, r.body);
        }
        r
    }

    async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }
    async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs a new learner up; returns (user id, access token, refresh token).
    async fn signup(&self, email: &str) -> (String, String, String) {
        let r = self.server.signup(email).await;
        (r.user.id.to_string(), r.access_token, r.refresh_token)
    }

    /// Adds a catalog item (progress is recorded against catalog items only).
    async fn catalog_item(&self, content_id: &str, content_type: &str) {
        let admin = self.admin().await;
        let r = self
            .post(
                "/content",
                Some(&admin),
                json!({"content_id": content_id, "content_type": content_type,
                       "title": format!("Item {content_id}"), "description": "A test item."}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// An access token of the first administrator.
    async fn admin(&self) -> String {
        self.server.admin_token().await
    }
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn assert_detail(r: &Resp, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert!(
        r.body["detail"].is_string(),
        "every error has a detail: {}",
        r.body
    );
}

/// One test per case and backend. The case runs in a task of its own
/// ([`cyberhub_server::testing::run_case`]), so that a failing case still stops its server
/// and drops its PostgreSQL database before the failure is reported.
macro_rules! http_cases {
    ($backend:ident: $($case:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(app) = super::TestApp::$backend().await else { return };
                    cyberhub_server::testing::run_case(
                        app,
                        |app| async move { super::$case(&app).await },
                        super::TestApp::stop,
                    )
                    .await;
                }
            )+
        }
    };
}

macro_rules! all_cases {
    ($($backend:ident),+) => {
        $(http_cases!($backend: health_ready_metrics_docs, signup_login_refresh_logout, lockout_answers_429,
            users_and_roles, organizations_and_members, content_catalog, progress_rules_and_visibility,
            audit_log, framework_errors_are_json, concurrent_progress_writers,
            viewer_standing_never_reveals_member_data, last_admins_are_kept, invitations_need_consent,
            writes_and_audit_rows_commit_together, nul_bytes_are_400_on_every_backend,
            security_headers_on_every_answer, wrong_json_types_are_400_naming_the_field);)+
    };
}

all_cases!(sqlite, postgres);

async fn health_ready_metrics_docs(app: &TestApp) {
    let r = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("healthy"))
    );
    let r = app.call(Method::GET, "/api/v1/health/", None, None).await;
    assert_eq!(r.body["service"], "cyberhub-server");
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("ready"))
    );
    let r = app.call(Method::GET, "/metrics", None, None).await;
    assert!(s(&r.body).contains("cyberhub_http_requests_total{class=\"2xx\"}"));
    let r = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.body["openapi"], "3.0.0");
    for path in [
        "/auth/login",
        "/users/{id}",
        "/organizations/{slug}/members/{user_id}",
        "/progress/{id}",
        "/audit-logs/stats",
    ] {
        assert!(r.body["paths"][path].is_object(), "spec documents {path}");
    }
    let docs = app.client().get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

async fn signup_login_refresh_logout(app: &TestApp) {
    let (id, access, refresh) = app.signup("Ada@Example.org").await;
    let dup = app.post("/auth/signup", None, json!({"email": "ada@example.org", "password": PASSWORD, "first_name": "A", "last_name": "B"})).await;
    assert_detail(&dup, 409);
    let weak = app.post("/auth/signup", None, json!({"email": "weak@example.org", "password": "password123", "first_name": "A", "last_name": "B"})).await;
    assert_detail(&weak, 400);
    assert_eq!(weak.body["errors"][0]["field"], "password");
    let bad = app
        .post(
            "/auth/signup",
            None,
            json!({"email": "nope", "password": PASSWORD, "first_name": "", "last_name": "B"}),
        )
        .await;
    let fields: Vec<String> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["field"]))
        .collect();
    assert_eq!(fields, ["email", "first_name"]);
    let roles = app.post("/auth/signup", None, json!({"email": "sneaky@example.org", "password": PASSWORD, "first_name": "A", "last_name": "B", "roles": ["admin"]})).await;
    assert_detail(&roles, 403);
    // The original registration flow: POST /users without a token.
    let legacy = app.post("/users", None, json!({"email": "legacy@example.org", "password": PASSWORD, "first_name": "Old", "last_name": "Flow"})).await;
    assert_eq!(legacy.status, 201, "{}", legacy.body);
    assert!(legacy.body["access_token"].is_string());

    let me = app.get("/auth/me", &access).await;
    assert_eq!(
        (s(&me.body["user"]["id"]), me.body["roles"].clone()),
        (id.clone(), json!(["mentee"]))
    );
    assert_eq!(
        app.get("/users/me", &access).await.body["email"],
        "ada@example.org"
    );

    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.org", "password": "not-my-password"}),
        )
        .await;
    let unknown = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ghost@example.org", "password": "not-my-password"}),
        )
        .await;
    assert_detail(&wrong, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "wrong password and unknown e-mail look the same"
    );
    assert_eq!(wrong.body["detail"], "Invalid credentials");

    let r1 = app
        .post(
            "/auth/token/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    let (access2, refresh2) = (s(&r1.body["access_token"]), s(&r1.body["refresh_token"]));
    assert_eq!(r1.body["token_type"], "Bearer");
    let as_access = app.get("/auth/me", &refresh2).await;
    assert_detail(&as_access, 401);
    let as_refresh = app
        .post(
            "/auth/token/refresh",
            None,
            json!({"refresh_token": access2}),
        )
        .await;
    assert_detail(&as_refresh, 401);
    // The successor is used; from then on the first refresh token is a reuse (before, within
    // the 10 s grace period, it would get the same successor), and a reuse kills the family.
    let r2 = app
        .post(
            "/auth/token/refresh",
            None,
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.body);
    let (access3, refresh3) = (s(&r2.body["access_token"]), s(&r2.body["refresh_token"]));
    let reuse = app
        .post(
            "/auth/token/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_detail(&reuse, 401);
    assert_detail(
        &app.post(
            "/auth/token/refresh",
            None,
            json!({"refresh_token": refresh3}),
        )
        .await,
        401,
    );
    assert_detail(&app.get("/auth/me", &access2).await, 401);
    assert_detail(&app.get("/auth/me", &access3).await, 401);

    // Logout: the access token stops working.
    let login = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.org", "password": PASSWORD}),
        )
        .await;
    let tok = s(&login.body["access_token"]);
    assert_eq!(app.get("/auth/me", &tok).await.status, 200);
    let out = app.post("/auth/logout", Some(&tok), json!({})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_detail(&app.get("/auth/me", &tok).await, 401);
    assert_detail(&app.post("/auth/logout", None, json!({})).await, 401);

    // Password change ends the other sessions.
    let a = s(&app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.org", "password": PASSWORD}),
        )
        .await
        .body["access_token"]);
    let b = s(&app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.org", "password": PASSWORD}),
        )
        .await
        .body["access_token"]);
    let bad_current = app
        .post(
            "/auth/password/change",
            Some(&a),
            json!({"current_password": "nope-nope-nope", "new_password": "a-new-password-2026"}),
        )
        .await;
    assert_detail(&bad_current, 400);
    let ok = app
        .post(
            "/auth/password/change",
            Some(&a),
            json!({"current_password": PASSWORD, "new_password": "a-new-password-2026"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(app.get("/auth/me", &a).await.status, 200);
    assert_detail(&app.get("/auth/me", &b).await, 401);
    let all = app
        .post("/auth/logout", Some(&a), json!({"all": true}))
        .await;
    assert_eq!(all.status, 200);
    assert_detail(&app.get("/auth/me", &a).await, 401);
}

async fn lockout_answers_429(app: &TestApp) {
    app.signup("locked@example.org").await;
    for _ in 0..5 {
        assert_detail(
            &app.post(
                "/auth/login",
                None,
                json!({"email": "locked@example.org", "password": "wrong-password!"}),
            )
            .await,
            401,
        );
    }
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "locked@example.org", "password": PASSWORD}),
        )
        .await;
    assert_detail(&r, 429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
}

async fn users_and_roles(app: &TestApp) {
    let admin = app.admin().await;
    let (ada, ada_tok, _) = app.signup("ada@example.org").await;
    let (bob, bob_tok, _) = app.signup("bob@example.org").await;

    let mine = app.get("/users", &ada_tok).await;
    assert_eq!(
        (
            mine.body["count"].as_u64(),
            s(&mine.body["results"][0]["id"])
        ),
        (Some(1), ada.clone())
    );
    let all = app.get("/users?page_size=2", &admin).await;
    assert_eq!(all.body["count"], 3);
    assert!(all.body["next"].as_str().unwrap().contains("page=2"));
    assert_eq!(app.get("/users?search=BOB", &admin).await.body["count"], 1);
    assert_eq!(app.get("/users?role=admin", &admin).await.body["count"], 1);
    assert_detail(&app.get("/users?role=wizard", &admin).await, 400);

    assert_detail(&app.get(&format!("/users/{bob}"), &ada_tok).await, 404);
    assert_eq!(app.get(&format!("/users/{bob}"), &admin).await.status, 200);
    let ok = app.patch(&format!("/users/{ada}"), &ada_tok, json!({"bio": "Blue teamer", "learning_preferences": {"preferred_tracks": ["defender"]}})).await;
    assert_eq!(
        (ok.status.as_u16(), ok.body["bio"].as_str()),
        (200, Some("Blue teamer"))
    );
    for forbidden in [
        json!({"roles": ["admin"]}),
        json!({"status": "active"}),
        json!({"email": "x@y.co"}),
        json!({"is_superuser": true}),
    ] {
        assert_detail(
            &app.patch(&format!("/users/{ada}"), &ada_tok, forbidden)
                .await,
            403,
        );
    }
    assert_detail(
        &app.patch(
            &format!("/users/{ada}"),
            &ada_tok,
            json!({"favourite_colour": "red"}),
        )
        .await,
        400,
    );
    assert_detail(
        &app.patch(&format!("/users/{bob}"), &ada_tok, json!({"bio": "x"}))
            .await,
        404,
    );
    assert_detail(
        &app.patch(
            &format!("/users/{ada}"),
            &ada_tok,
            json!({"country": "Germany"}),
        )
        .await,
        400,
    );

    // Administrators suspend; the suspended user's token stops working.
    let sus = app
        .patch(
            &format!("/users/{bob}"),
            &admin,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(sus.body["status"], "suspended");
    assert_detail(&app.get("/auth/me", &bob_tok).await, 401);
    assert_detail(
        &app.post(
            "/auth/login",
            None,
            json!({"email": "bob@example.org", "password": PASSWORD}),
        )
        .await,
        401,
    );
    app.patch(
        &format!("/users/{bob}"),
        &admin,
        json!({"status": "active"}),
    )
    .await;

    // Admin creates users; anyone else with a token gets 403.
    let created = app.post("/users", Some(&admin), json!({"email": "mentor@example.org", "password": PASSWORD, "first_name": "Men", "last_name": "Tor", "roles": ["mentor"]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body["access_token"].is_null());
    assert_detail(&app.post("/users", Some(&ada_tok), json!({"email": "x@example.org", "password": PASSWORD, "first_name": "A", "last_name": "B"})).await, 403);

    // Roles: admin only.
    assert_detail(
        &app.post(
            &format!("/users/{bob}/roles"),
            Some(&ada_tok),
            json!({"role": "admin"}),
        )
        .await,
        403,
    );
    let g = app
        .post(
            &format!("/users/{bob}/roles"),
            Some(&admin),
            json!({"role": "analyst"}),
        )
        .await;
    assert_eq!(
        (g.status.as_u16(), g.body["scope"].as_str()),
        (201, Some("global"))
    );
    assert_detail(
        &app.post(
            &format!("/users/{bob}/roles"),
            Some(&admin),
            json!({"role": "analyst"}),
        )
        .await,
        409,
    );
    assert_detail(
        &app.post(
            &format!("/users/{bob}/roles"),
            Some(&admin),
            json!({"role": "mentor", "scope": "org", "scope_ref": "no-such-org"}),
        )
        .await,
        404,
    );
    assert_detail(
        &app.delete(&format!("/users/{bob}/roles/analyst"), &ada_tok)
            .await,
        403,
    );
    assert_eq!(
        app.delete(&format!("/users/{bob}/roles/analyst"), &admin)
            .await
            .status,
        204
    );
    assert_detail(
        &app.delete(&format!("/users/{bob}/roles/analyst"), &admin)
            .await,
        404,
    );
    let roles = app.get("/roles", &ada_tok).await;
    assert_eq!(roles.body.as_array().unwrap().len(), 8);

    assert_detail(&app.delete(&format!("/users/{bob}"), &ada_tok).await, 404);

    // Changing one's e-mail needs the current password; a taken address is 409.
    let wrong = app
        .post(
            "/auth/email/change",
            Some(&ada_tok),
            json!({"current_password": "not-it-at-all", "new_email": "ada2@example.org"}),
        )
        .await;
    assert_detail(&wrong, 400);
    assert_eq!(wrong.body["errors"][0]["field"], "current_password");
    let bad = app
        .post(
            "/auth/email/change",
            Some(&ada_tok),
            json!({"current_password": PASSWORD, "new_email": "no at sign"}),
        )
        .await;
    assert_detail(&bad, 400);
    assert_eq!(bad.body["errors"][0]["field"], "new_email");
    let bob_email = s(&app.get(&format!("/users/{bob}"), &admin).await.body["email"]);
    let taken = app
        .post(
            "/auth/email/change",
            Some(&ada_tok),
            json!({"current_password": PASSWORD, "new_email": bob_email}),
        )
        .await;
    assert_detail(&taken, 409);
    let ok = app
        .post(
            "/auth/email/change",
            Some(&ada_tok),
            json!({"current_password": PASSWORD, "new_email": "Ada.New@Example.org"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["email"], "ada.new@example.org");
    let relogin = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada.new@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(relogin.status, 200, "{}", relogin.body);

    // Deleting one's own account needs the current password too.
    assert_detail(&app.delete(&format!("/users/{ada}"), &ada_tok).await, 403);
    let wrong = app
        .post(
            "/auth/account/delete",
            Some(&ada_tok),
            json!({"current_password": "not-it-at-all"}),
        )
        .await;
    assert_detail(&wrong, 400);
    assert_eq!(app.get("/auth/me", &ada_tok).await.status, 200);
    let gone = app
        .post(
            "/auth/account/delete",
            Some(&ada_tok),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_detail(&app.get("/auth/me", &ada_tok).await, 401);
}

async fn organizations_and_members(app: &TestApp) {
    let admin = app.admin().await;
    let (_, mentee, _) = app.signup("mentee@example.org").await;
    let (dir_id, _, _) = app.signup("director@example.org").await;
    let (other_id, other, _) = app.signup("other@example.org").await;
    app.post(
        &format!("/users/{dir_id}/roles"),
        Some(&admin),
        json!({"role": "program_director"}),
    )
    .await;
    let director = s(&app
        .post(
            "/auth/login",
            None,
            json!({"email": "director@example.org", "password": PASSWORD}),
        )
        .await
        .body["access_token"]);

    let body = json!({"name": "Acme Security", "slug": "acme-security", "org_type": "employer", "website": "https://acme.example"});
    assert_detail(
        &app.post("/organizations", Some(&mentee), body.clone())
            .await,
        403,
    );
    let created = app
        .post("/organizations", Some(&director), body.clone())
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_detail(&app.post("/organizations", Some(&admin), body).await, 409);
    assert_detail(
        &app.post(
            "/organizations",
            Some(&director),
            json!({"name": "X", "slug": "Bad Slug", "org_type": "sponsor"}),
        )
        .await,
        400,
    );
    assert_detail(
        &app.post(
            "/organizations",
            Some(&director),
            json!({"name": "X", "slug": "x-org", "org_type": "charity"}),
        )
        .await,
        400,
    );
    let other_org = app
        .post(
            "/organizations",
            Some(&admin),
            json!({"name": "Other", "slug": "other-org", "org_type": "partner"}),
        )
        .await;
    assert_eq!(other_org.status, 201);

    assert_eq!(app.get("/organizations", &director).await.body["count"], 1);
    assert_eq!(app.get("/organizations", &admin).await.body["count"], 2);
    assert_eq!(app.get("/organizations", &mentee).await.body["count"], 0);
    assert_detail(&app.get("/organizations/acme-security", &mentee).await, 404);
    assert_detail(
        &app.get("/organizations/acme-security/members", &mentee)
            .await,
        404,
    );

    let me_id = s(&app.get("/auth/me", &mentee).await.body["user"]["id"]);
    // The organization's admin invites (202); the user joins by accepting.
    let add = app
        .post(
            "/organizations/acme-security/members",
            Some(&director),
            json!({"user_id": me_id}),
        )
        .await;
    assert_eq!(
        (
            add.status.as_u16(),
            add.body["role"].as_str(),
            add.body["status"].as_str()
        ),
        (202, Some("member"), Some("pending")),
        "{}",
        add.body
    );
    assert_detail(
        &app.post(
            "/organizations/acme-security/members",
            Some(&director),
            json!({"user_id": me_id}),
        )
        .await,
        409,
    );
    let accepted = app
        .post(
            &format!("/invitations/{}/accept", s(&add.body["id"])),
            Some(&mentee),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["role"], "member");
    assert_detail(
        &app.post(
            "/organizations/acme-security/members",
            Some(&director),
            json!({"user_id": me_id}),
        )
        .await,
        409,
    );
    assert_detail(
        &app.post(
            "/organizations/acme-security/members",
            Some(&director),
            json!({"user_id": uuid::Uuid::new_v4()}),
        )
        .await,
        404,
    );
    assert_eq!(
        app.get("/organizations/acme-security", &mentee).await.body["slug"],
        "acme-security"
    );
    assert_eq!(
        app.get("/organizations/acme-security/members", &mentee)
            .await
            .body["count"],
        2
    );
    assert_detail(
        &app.patch(
            "/organizations/acme-security",
            &mentee,
            json!({"name": "Hacked"}),
        )
        .await,
        403,
    );
    assert_detail(
        &app.post(
            "/organizations/acme-security/members",
            Some(&mentee),
            json!({"user_id": other_id}),
        )
        .await,
        403,
    );
    let me_data = app.get("/auth/me", &mentee).await;
    assert_eq!(me_data.body["organizations"][0]["role"], "member");
    // Cross-organization: the other org's admin sees nothing of acme.
    assert_detail(&app.get("/organizations/acme-security", &other).await, 404);

    let renamed = app
        .patch(
            "/organizations/acme-security",
            &director,
            json!({"name": "ACME"}),
        )
        .await;
    assert_eq!(renamed.body["name"], "ACME");
    assert_detail(
        &app.patch(
            &format!("/organizations/acme-security/members/{dir_id}"),
            &director,
            json!({"role": "member"}),
        )
        .await,
        409,
    );
    let promoted = app
        .patch(
            &format!("/organizations/acme-security/members/{me_id}"),
            &director,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.body["role"], "admin");
    assert_eq!(
        app.delete(
            &format!("/organizations/acme-security/members/{dir_id}"),
            &mentee
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get("/organizations/acme-security/members/", &mentee)
            .await
            .body["count"],
        1
    );
    assert_detail(
        &app.delete("/organizations/acme-security", &other).await,
        404,
    );
    assert_eq!(
        app.delete("/organizations/acme-security", &mentee)
            .await
            .status,
        204
    );
    assert_detail(&app.get("/organizations/acme-security", &admin).await, 404);
}

async fn content_catalog(app: &TestApp) {
    let admin = app.admin().await;
    let (_, learner, _) = app.signup("reader@example.org").await;
    let all = app.get("/content", &learner).await;
    let total = all.body["count"].as_u64().unwrap();
    assert!(total >= 60, "seed catalog loaded: {total}");
    assert_eq!(all.body["results"].as_array().unwrap().len(), 20);
    let p2 = app
        .get(&s(&all.body["next"]).replace(app.base(), ""), &learner)
        .await;
    assert_eq!(p2.status, 200);
    assert!(p2.body["previous"].is_string());
    let off = app
        .get("/content?track=offensive&content_type=lab", &learner)
        .await;
    assert!(off.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["track"] == "offensive" && i["content_type"] == "lab"));
    assert!(
        app.get("/content?search=ransomware", &learner).await.body["count"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_detail(&app.get("/content?page_size=101", &learner).await, 400);
    assert_detail(&app.get("/content?page=abc", &learner).await, 400);
    assert_detail(&app.call(Method::GET, "/content", None, None).await, 401);

    let new = json!({"content_id": "test-lab-1", "content_type": "lab", "title": "Test lab", "description": "A lab.", "track": "defender", "difficulty": "beginner", "tags": ["Test"], "estimated_minutes": 30});
    assert_detail(
        &app.post("/content", Some(&learner), new.clone()).await,
        403,
    );
    let c = app.post("/content", Some(&admin), new.clone()).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["tags"], json!(["test"]));
    assert_detail(&app.post("/content", Some(&admin), new).await, 409);
    assert_detail(
        &app.post(
            "/content",
            Some(&admin),
            json!({"content_type": "podcast", "title": "x"}),
        )
        .await,
        400,
    );
    assert_detail(
        &app.post(
            "/content",
            Some(&admin),
            json!({"content_type": "lab", "title": "", "estimated_minutes": 0}),
        )
        .await,
        400,
    );
    let id = s(&c.body["id"]);
    assert_eq!(
        app.get(&format!("/content/{id}"), &learner).await.body["content_id"],
        "test-lab-1"
    );
    assert_eq!(
        app.get("/content/test-lab-1", &learner).await.body["id"],
        id.as_str()
    );
    assert_detail(
        &app.patch(&format!("/content/{id}"), &learner, json!({"title": "x"}))
            .await,
        403,
    );
    assert_eq!(
        app.patch(
            &format!("/content/{id}"),
            &admin,
            json!({"title": "Renamed lab"})
        )
        .await
        .body["title"],
        "Renamed lab"
    );
    assert_detail(&app.delete(&format!("/content/{id}"), &learner).await, 403);
    assert_eq!(
        app.delete(&format!("/content/{id}"), &admin).await.status,
        204
    );
    assert_detail(&app.get(&format!("/content/{id}"), &learner).await, 404);
}

async fn progress_rules_and_visibility(app: &TestApp) {
    let admin = app.admin().await;
    let (ada_id, ada, _) = app.signup("ada@example.org").await;
    let (_, eve, _) = app.signup("eve@example.org").await;
    let (mentor_id, _, _) = app.signup("mentor@example.org").await;
    app.post(
        &format!("/users/{mentor_id}/roles"),
        Some(&admin),
        json!({"role": "mentor"}),
    )
    .await;
    let mentor = s(&app
        .post(
            "/auth/login",
            None,
            json!({"email": "mentor@example.org", "password": PASSWORD}),
        )
        .await
        .body["access_token"]);

    let p = app.post("/progress", Some(&ada), json!({"content_id": "def-soc-foundations", "content_type": "course", "completion_percentage": 40})).await;
    assert_eq!(
        (p.status.as_u16(), p.body["status"].as_str()),
        (201, Some("in_progress"))
    );
    assert!(p.body["started_at"].is_string());
    let pid = s(&p.body["id"]);
    assert_detail(
        &app.post(
            "/progress",
            Some(&ada),
            json!({"content_id": "def-soc-foundations", "content_type": "course"}),
        )
        .await,
        409,
    );
    assert_detail(
        &app.post(
            "/progress",
            Some(&ada),
            json!({"content_id": "x", "content_type": "course", "completion_percentage": 150}),
        )
        .await,
        400,
    );
    assert_detail(
        &app.post(
            "/progress",
            Some(&ada),
            json!({"content_id": "x", "content_type": "course", "score": -1}),
        )
        .await,
        400,
    );
    assert_detail(&app.post("/progress", Some(&ada), json!({"content_id": "x", "content_type": "course", "status": "completed", "completion_percentage": 50})).await, 400);
    assert_detail(
        &app.post(
            "/progress",
            Some(&ada),
            json!({"content_id": "x", "content_type": "course", "status": "done"}),
        )
        .await,
        400,
    );
    // Only catalog items take progress, of their own type.
    let r = app
        .post(
            "/progress",
            Some(&ada),
            json!({"content_id": "not-in-the-catalog", "content_type": "lab"}),
        )
        .await;
    assert_detail(&r, 400);
    assert_eq!(r.body["errors"][0]["field"], "content_id");
    let r = app
        .post(
            "/progress",
            Some(&ada),
            json!({"content_id": "def-soc-foundations", "content_type": "lab"}),
        )
        .await;
    assert_detail(&r, 400);
    assert_eq!(r.body["errors"][0]["field"], "content_type");
    for i in 0..4 {
        app.catalog_item(&format!("lab-{i}"), "lab").await;
    }
    for i in 0..4 {
        let r = app.post("/progress", Some(&ada), json!({"content_id": format!("lab-{i}"), "content_type": "lab", "completion_percentage": i * 10, "metadata": {"n": i}})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    let done = app
        .patch(
            &format!("/progress/{pid}"),
            &ada,
            json!({"completion_percentage": 100, "score": 91.5}),
        )
        .await;
    assert_eq!(
        (
            done.body["status"].as_str(),
            done.body["completed_at"].is_string()
        ),
        (Some("completed"), true)
    );
    assert_detail(
        &app.patch(
            &format!("/progress/{pid}"),
            &ada,
            json!({"status": "not_started"}),
        )
        .await,
        409,
    );
    assert_eq!(
        app.get(&format!("/progress/{pid}"), &ada).await.body["status"],
        "completed"
    );

    let list = app
        .get(
            "/progress?content_type=lab&ordering=-completion_percentage&page_size=3",
            &ada,
        )
        .await;
    assert_eq!(list.body["count"], 4);
    assert_eq!(list.body["results"][0]["content_id"], "lab-3");
    assert!(list.body["next"]
        .as_str()
        .unwrap()
        .contains("content_type=lab"));
    assert_eq!(
        app.get("/progress?status=completed", &ada).await.body["count"],
        1
    );
    assert_eq!(
        app.get("/progress?search=LAB-", &ada).await.body["count"],
        4
    );
    assert_detail(&app.get("/progress?ordering=password", &ada).await, 400);

    // Others: 404 for rows and for ?user=.
    assert_detail(&app.get(&format!("/progress/{pid}"), &eve).await, 404);
    assert_detail(
        &app.patch(&format!("/progress/{pid}"), &eve, json!({"score": 1}))
            .await,
        404,
    );
    assert_detail(&app.delete(&format!("/progress/{pid}"), &eve).await, 404);
    assert_detail(
        &app.get(&format!("/progress?user={ada_id}"), &eve).await,
        404,
    );
    assert_eq!(app.get("/progress", &eve).await.body["count"], 0);
    // A mentor sees Ada's progress only once they share an organization.
    assert_detail(
        &app.get(&format!("/progress?user={ada_id}"), &mentor).await,
        404,
    );
    app.post(
        "/organizations",
        Some(&admin),
        json!({"name": "Cohort", "slug": "cohort-one", "org_type": "sponsor"}),
    )
    .await;
    for u in [&ada_id, &mentor_id] {
        assert_eq!(
            app.post(
                "/organizations/cohort-one/members",
                Some(&admin),
                json!({"user_id": u})
            )
            .await
            .status,
            201
        );
    }
    assert_eq!(
        app.get(&format!("/progress?user={ada_id}"), &mentor)
            .await
            .body["count"],
        5
    );
    assert_eq!(
        app.get(&format!("/progress?user={ada_id}"), &admin)
            .await
            .body["count"],
        5
    );
    assert_eq!(
        app.get(&format!("/progress/{pid}"), &admin).await.status,
        200
    );
    assert_eq!(
        app.delete(&format!("/progress/{pid}"), &ada).await.status,
        204
    );
    assert_detail(&app.get(&format!("/progress/{pid}"), &ada).await, 404);
}

async fn audit_log(app: &TestApp) {
    let admin = app.admin().await;
    let (ada_id, ada, _) = app.signup("audited@example.org").await;
    app.post(
        "/auth/login",
        None,
        json!({"email": "audited@example.org", "password": "wrong-password"}),
    )
    .await;
    let mine = app.get("/audit-logs", &ada).await;
    let actions: Vec<String> = mine.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["action"]))
        .collect();
    assert!(
        actions.contains(&"signup".to_owned()) && actions.contains(&"login_failure".to_owned()),
        "{actions:?}"
    );
    assert!(
        mine.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_id"] == ada_id.as_str()),
        "the admin's login is not Ada's event: {}",
        mine.body
    );
    // Her sign-up started her session: one login_success, hers (the admin's are not).
    assert_eq!(
        actions.iter().filter(|a| *a == "login_success").count(),
        1,
        "{actions:?}"
    );
    let all = app.get("/audit-logs?action=login_success", &admin).await;
    assert!(all.body["count"].as_u64().unwrap() >= 1);
    let failures = app.get("/audit-logs?result=failure", &admin).await;
    assert!(failures.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["result"] == "failure"));
    let stats = app.get("/audit-logs/stats", &admin).await;
    assert!(stats.body["total"].as_u64().unwrap() >= 3);
    let future = app
        .get("/audit-logs?since=2999-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(future.body["count"], 0);
    assert_detail(&app.get("/audit-logs?since=yesterday", &admin).await, 400);
    let own_stats = app.get("/audit-logs/stats", &ada).await;
    assert!(own_stats.body["counts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["action"] != "login_success" || c["count"] == 1));
}

async fn framework_errors_are_json(app: &TestApp) {
    let (_, tok, _) = app.signup("errors@example.org").await;
    let raw = |m: Method, p: &str| app.client().request(m, app.url(p)).bearer_auth(&tok);
    let malformed = raw(Method::POST, "/progress")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed.json::<Value>().await.unwrap()["detail"].is_string());
    let wrong_type = raw(Method::POST, "/progress")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert!(wrong_type.json::<Value>().await.unwrap()["detail"].is_string());
    let missing = raw(Method::GET, "/no/such/route").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.json::<Value>().await.unwrap()["detail"].is_string());
    let method = raw(Method::PUT, "/progress").send().await.unwrap();
    assert_eq!(method.status(), 405);
    assert!(method.json::<Value>().await.unwrap()["detail"].is_string());
    let huge = json!({"content_id": "x", "content_type": "lab", "metadata": {"blob": "x".repeat(100 * 1024)}});
    let too_big = raw(Method::POST, "/progress")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        too_big.headers()["connection"],
        "close",
        "the unread body ends the connection"
    );
    assert!(too_big.json::<Value>().await.unwrap()["detail"].is_string());
    assert_eq!(
        app.get("/progress/", &tok).await.status,
        200,
        "trailing slash tolerated"
    );
    assert_eq!(app.get("/auth/me/", &tok).await.status, 200);
    assert_detail(&app.get("/progress/not-a-uuid", &tok).await, 400);
    assert_detail(&app.get("/auth/me", "garbage.token.here").await, 401);
    let no_bearer = app
        .client()
        .get(app.url("/auth/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(no_bearer.status(), 401);
    assert!(no_bearer.json::<Value>().await.unwrap()["detail"].is_string());
    let unicode = app
        .post(
            "/progress",
            Some(&tok),
            json!({"content_id": "ünï\u{0000}cödé", "content_type": "lab"}),
        )
        .await;
    assert_detail(&unicode, 400);
}

async fn concurrent_progress_writers(app: &Arc<TestApp>) {
    for j in 0..3 {
        app.catalog_item(&format!("item-{j}"), "module").await;
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let (_, tok, _) = app.signup(&format!("racer{i}@example.org")).await;
            let mut ids = Vec::new();
            for j in 0..3 {
                let r = app.post("/progress", Some(&tok), json!({"content_id": format!("item-{j}"), "content_type": "module", "completion_percentage": 10})).await;
                assert_eq!(r.status, 201, "{}", r.body);
                ids.push(s(&r.body["id"]));
            }
            for id in &ids {
                let r = app.patch(&format!("/progress/{id}"), &tok, json!({"completion_percentage": 60 + i % 30})).await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
            (tok, i)
        }));
    }
    // Every writer finishes before any is judged: no task outlives a failing case.
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await);
    }
    for outcome in outcomes {
        let (tok, i) = outcome.unwrap();
        let list = app.get("/progress", &tok).await;
        assert_eq!(list.body["count"], 3, "no write lost");
        assert!(list.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["completion_percentage"].as_f64() == Some(f64::from(60 + i % 30))));
    }
}

/// SIGTERM-style shutdown lets a request that is already in flight finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = TestApp::sqlite().await.unwrap();
    let body = json!({"email": "late@example.org", "password": PASSWORD, "first_name": "Late", "last_name": "Comer"}).to_string();
    let addr = app.base().trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST /api/v1/auth/signup HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
    conn.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(10);
    conn.write_all(first.as_bytes()).await.unwrap();
    // Wait until the server is serving it (in flight: it and the /metrics call itself), so
    // that a busy machine cannot start the shutdown before the request was accepted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = app.call(Method::GET, "/metrics", None, None).await;
        let text = m.body.as_str().unwrap_or_default().to_owned();
        let in_flight = text
            .lines()
            .find_map(|l| l.strip_prefix("cyberhub_http_requests_in_flight "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if in_flight >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the request never arrived: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.server.running_mut().begin_shutdown(); // shutdown starts while the body is half sent
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    app.server.running_mut().wait().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no new connections after shutdown"
    );
    app.stop().await;
}

/// Behind a trusted proxy the per-client lock-out follows `X-Forwarded-For`; otherwise the
/// header is ignored (a client cannot dodge the lock-out by inventing addresses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_address_from_trusted_proxy_only() {
    for trust in [true, false] {
        let app = TestApp::with(|c| c.trust_forwarded_for = trust).await;
        let login = |email: String, xff: &'static str| {
            app.client()
                .post(app.url("/auth/login"))
                .header("x-forwarded-for", xff)
                .json(&json!({"email": email, "password": "Winter2026!x"}))
                .send()
        };
        for i in 0..20 {
            assert_eq!(
                login(format!("spray{i}@example.org"), "203.0.113.7")
                    .await
                    .unwrap()
                    .status(),
                401
            );
        }
        assert_eq!(
            login("next@example.org".into(), "203.0.113.7")
                .await
                .unwrap()
                .status(),
            429
        );
        let other = login("next@example.org".into(), "198.51.100.9")
            .await
            .unwrap()
            .status();
        assert_eq!(
            other,
            if trust { 401 } else { 429 },
            "trust_forwarded_for = {trust}"
        );
        app.stop().await;
    }
}

/// Behind a trusted proxy the client address is the rightmost `X-Forwarded-For` entry that
/// is not a trusted proxy: a client rotating a forged leftmost entry stays one client. And a
/// stranger's wrong passwords lock only the stranger's client out of the account, never its
/// owner on another client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarded_for_and_lockout_of_owners() {
    let app = TestApp::with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let login = |email: String, password: &'static str, xff: String| {
        app.client()
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for i in 0..20 {
        let r = login(
            format!("spray{i}@example.org"),
            "Winter2026!x",
            format!("6.6.6.{i}, 203.0.113.7"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = login(
        "next@example.org".into(),
        "Winter2026!x",
        "7.7.7.7, 203.0.113.7".into(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        429,
        "the forged leftmost entry does not make a new client"
    );
    assert!(r.headers().get("retry-after").is_some());

    app.signup("owner-locked@example.org").await;
    for _ in 0..6 {
        let r = login(
            "owner-locked@example.org".into(),
            "not-the-password-1",
            "198.51.100.20".into(),
        )
        .await
        .unwrap();
        assert!(matches!(r.status().as_u16(), 401 | 429));
    }
    let stranger = login(
        "owner-locked@example.org".into(),
        "not-the-password-1",
        "198.51.100.20".into(),
    )
    .await
    .unwrap();
    assert_eq!(stranger.status(), 429);
    let owner = login(
        "owner-locked@example.org".into(),
        PASSWORD,
        "192.0.2.44".into(),
    )
    .await
    .unwrap();
    assert_eq!(
        owner.status(),
        200,
        "the owner, on their own client, still signs in"
    );
    app.stop().await;
}

/// Guessing one account from many clients (20 addresses x 5 wrong passwords, the
/// account-wide threshold) slows every new client down, but a stranger's guesses never stop
/// the owner signing in from a client they used before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_guessing_cannot_lock_the_owner_out() {
    let app = TestApp::with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let post = |path: &'static str, body: Value, xff: String| {
        app.client()
            .post(app.url(path))
            .header("x-forwarded-for", xff)
            .json(&body)
            .send()
    };
    let email = "owner-wide@example.org";
    let r = post(
        "/auth/signup",
        json!({"email": email, "password": PASSWORD, "first_name": "O", "last_name": "W"}),
        "192.0.2.10".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let login = |password: &'static str, addr: String| {
        post(
            "/auth/login",
            json!({"email": email, "password": password}),
            addr,
        )
    };
    for c in 0..20 {
        for _ in 0..5 {
            let r = login("not-the-password-1", format!("198.51.100.{c}"))
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "client {c}");
        }
    }
    let owner = login(PASSWORD, "192.0.2.10".into()).await.unwrap();
    assert_eq!(
        owner.status(),
        200,
        "the owner, on a client that signed in before, is not locked out"
    );
    for password in ["not-the-password-1", PASSWORD] {
        let stranger = login(password, "203.0.113.99".into()).await.unwrap();
        assert_eq!(stranger.status(), 429, "a new client is slowed");
        let retry: u64 = stranger.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
    app.stop().await;
}

/// By default (`refresh_grace_secs` = 10) the replaced refresh token gets the same
/// successor for a while (two tabs refreshing at once, a lost response); once the successor
/// is used, the old token is a reuse that revokes the family. With the grace set to 0 a
/// second use is a reuse at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_grace_by_default_and_off_at_zero() {
    let app = TestApp::with(|_| {}).await;
    let refresh_with = |app: &TestApp, token: String| {
        let app_url = app.url("/auth/token/refresh");
        let client = app.client().clone();
        async move {
            let r = client
                .post(app_url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (_, _, refresh) = app.signup("tabs@example.org").await;
    let (status, r1) = refresh_with(&app, refresh.clone()).await;
    assert_eq!(status, 200, "{r1}");
    let refresh2 = s(&r1["refresh_token"]);
    // Within the grace period the replaced token gets the same successor instead of
    // revoking the session (two tabs refreshing at once, a lost response).
    let (status, retry) = refresh_with(&app, refresh.clone()).await;
    assert_eq!(status, 200, "{retry}");
    let jti = |t: &str| {
        use base64::Engine;
        let payload = t.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["jti"].clone()
    };
    assert_eq!(jti(&s(&retry["refresh_token"])), jti(&refresh2));
    // The successor is used: from then on the first token is a reuse.
    let (status, r2) = refresh_with(&app, refresh2).await;
    assert_eq!(status, 200, "{r2}");
    let (status, reuse) = refresh_with(&app, refresh).await;
    assert_eq!(status, 401, "{reuse}");
    let (status, _) = refresh_with(&app, s(&r2["refresh_token"])).await;
    assert_eq!(status, 401, "the family is revoked");
    app.stop().await;

    let strict = TestApp::with(|c| {
        c.refresh_grace_secs = 0;
    })
    .await;
    let (_, _, refresh) = strict.signup("one-tab@example.org").await;
    let (status, r1) = refresh_with(&strict, refresh.clone()).await;
    assert_eq!(status, 200, "{r1}");
    let (status, reuse) = refresh_with(&strict, refresh).await;
    assert_eq!(
        status, 401,
        "no grace: a second use is a reuse at once: {reuse}"
    );
    let (status, _) = refresh_with(&strict, s(&r1["refresh_token"])).await;
    assert_eq!(status, 401, "the family is revoked");
    strict.stop().await;
}

/// CORS is off by default and answers preflights for configured origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_configurable() {
    let app = TestApp::with(|c| {
        c.cors_origins = vec!["http://localhost:5173".into()];
    })
    .await;
    let pre = app
        .client()
        .request(Method::OPTIONS, app.url("/progress"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let other = app
        .client()
        .get(app.url("/health"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

/// Logs in with the test password; the access token.
async fn login(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s(&r.body["access_token"])
}

/// A platform mentor who is only a `viewer` of an organization sees nothing of its members;
/// as a `member` they do; an organization admin always does.
async fn viewer_standing_never_reveals_member_data(app: &TestApp) {
    let admin = app.admin().await;
    let (learner_id, learner, _) = app.signup("learner@example.org").await;
    let (mentor_id, _, _) = app.signup("watcher@example.org").await;
    let r = app
        .post(
            &format!("/users/{mentor_id}/roles"),
            Some(&admin),
            json!({"role": "mentor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mentor = login(app, "watcher@example.org").await;
    let r = app.post("/progress", Some(&learner), json!({"content_id": "def-soc-foundations", "content_type": "course", "completion_percentage": 40})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    app.post(
        "/organizations",
        Some(&admin),
        json!({"name": "Viewers", "slug": "viewers-org", "org_type": "employer"}),
    )
    .await;
    for (u, role) in [(&learner_id, "member"), (&mentor_id, "viewer")] {
        let r = app
            .post(
                "/organizations/viewers-org/members",
                Some(&admin),
                json!({"user_id": u, "role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let as_viewer = app
        .get(&format!("/progress?user={learner_id}"), &mentor)
        .await;
    assert_detail(&as_viewer, 404);
    // the same mentor as a member of the organization
    let r = app
        .patch(
            &format!("/organizations/viewers-org/members/{mentor_id}"),
            &admin,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let as_member = app
        .get(&format!("/progress?user={learner_id}"), &mentor)
        .await;
    assert_eq!(as_member.status, 200, "{}", as_member.body);
    assert_eq!(as_member.body["count"], 1);
}

/// The last platform administrator cannot delete themselves, and nobody who is an
/// organization's only admin can be deleted; the refusal is a 409 that changes nothing.
async fn last_admins_are_kept(app: &TestApp) {
    let admin = app.admin().await;
    let me = app.get("/auth/me", &admin).await;
    let admin_id = s(&me.body["user"]["id"]);
    let r = app
        .post(
            "/auth/account/delete",
            Some(&admin),
            json!({"current_password": ADMIN_PASSWORD}),
        )
        .await;
    assert_detail(&r, 409);
    assert_eq!(app.get("/auth/me", &admin).await.status, 200);
    // deactivating or demoting oneself stays refused too
    assert_detail(
        &app.patch(
            &format!("/users/{admin_id}"),
            &admin,
            json!({"status": "deactivated"}),
        )
        .await,
        403,
    );
    assert_detail(
        &app.delete(&format!("/users/{admin_id}/roles/admin"), &admin)
            .await,
        403,
    );

    // A sponsor admin who created an organization is its only admin.
    let (owner_id, _, _) = app.signup("owner@example.org").await;
    app.post(
        &format!("/users/{owner_id}/roles"),
        Some(&admin),
        json!({"role": "sponsor_admin"}),
    )
    .await;
    let owner = login(app, "owner@example.org").await;
    let r = app
        .post(
            "/organizations",
            Some(&owner),
            json!({"name": "Sole", "slug": "sole-org", "org_type": "sponsor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            "/auth/account/delete",
            Some(&owner),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_detail(&r, 409);
    assert!(s(&r.body["detail"]).contains("sole-org"), "{}", r.body);
    let r = app.delete(&format!("/users/{owner_id}"), &admin).await;
    assert_detail(&r, 409);
    let members = app.get("/organizations/sole-org/members", &owner).await;
    assert_eq!(members.body["count"], 1, "{}", members.body);
    // Once the organization is gone, the account may go.
    assert_eq!(
        app.delete("/organizations/sole-org", &owner).await.status,
        204
    );
    assert_eq!(
        app.post(
            "/auth/account/delete",
            Some(&owner),
            json!({"current_password": PASSWORD})
        )
        .await
        .status,
        204
    );
}

/// Pagination links come from the configured public URL, or are relative; a client's
/// `Host` header never reaches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_links_never_use_the_host_header() {
    for public_url in [None, Some("https://cyberhub.example.org")] {
        let app = TestApp::with(|c| {
            c.public_url = public_url.map(Into::into);
        })
        .await;
        let admin = app.admin().await;
        let r = app
            .client()
            .get(app.url("/content?page_size=5&track=defender"))
            .bearer_auth(&admin)
            .header("host", "attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let next = s(&body["next"]);
        let expected = format!("{}/api/v1/content?", public_url.unwrap_or(""));
        assert!(next.starts_with(&expected), "{next}");
        assert!(!next.contains("attacker"), "{next}");
        assert!(
            next.contains("track=defender") && next.contains("page=2"),
            "{next}"
        );
        app.stop().await;
    }
}

/// An organization admin cannot make someone a member: the add is an invitation (202) that
/// only the invited user can accept or decline; until then the organization's admins and
/// mentors see nothing of the user. Admins list and revoke pending invitations; the audit
/// log records invitation, acceptance and refusal. A platform administrator adds directly.
async fn invitations_need_consent(app: &TestApp) {
    let admin = app.admin().await;
    let (owner_id, _, _) = app.signup("inv-owner@example.org").await;
    let r = app
        .post(
            &format!("/users/{owner_id}/roles"),
            Some(&admin),
            json!({"role": "sponsor_admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let owner = login(app, "inv-owner@example.org").await;
    let (ada_id, ada, _) = app.signup("inv-ada@example.org").await;
    let (bob_id, bob, _) = app.signup("inv-bob@example.org").await;
    let (_, eve, _) = app.signup("inv-eve@example.org").await;
    let r = app
        .post("/progress", Some(&ada), json!({"content_id": "def-soc-foundations", "content_type": "course", "completion_percentage": 30}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            "/organizations",
            Some(&owner),
            json!({"name": "Consent Org", "slug": "consent-org", "org_type": "sponsor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Invited: 202 with the invitation's shape; not a member, nothing visible.
    let inv = app
        .post(
            "/organizations/consent-org/members",
            Some(&owner),
            json!({"user_id": ada_id, "role": "member"}),
        )
        .await;
    assert_eq!(inv.status, 202, "{}", inv.body);
    for key in [
        "id",
        "organization",
        "user_id",
        "role",
        "status",
        "created_at",
        "expires_at",
    ] {
        assert!(!inv.body[key].is_null(), "{key} missing: {}", inv.body);
    }
    assert_eq!(inv.body["organization"], "consent-org");
    assert_eq!(inv.body["user_id"], ada_id.as_str());
    assert_eq!(inv.body["status"], "pending");
    let inv_id = s(&inv.body["id"]);
    assert_detail(
        &app.get(&format!("/progress?user={ada_id}"), &owner).await,
        404,
    );
    let members = app.get("/organizations/consent-org/members", &owner).await;
    assert_eq!(members.body["count"], 1, "{}", members.body);
    assert_detail(&app.get("/organizations/consent-org", &ada).await, 404);

    // The invitee sees it; nobody else can answer it (404, as if it did not exist).
    let mine = app.get("/invitations", &ada).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["count"], 1);
    assert_eq!(mine.body["results"][0]["id"], inv_id.as_str());
    assert_eq!(app.get("/invitations", &eve).await.body["count"], 0);
    for who in [&eve, &owner] {
        assert_detail(
            &app.post(
                &format!("/invitations/{inv_id}/accept"),
                Some(who),
                json!({}),
            )
            .await,
            404,
        );
    }
    assert_detail(
        &app.post(
            &format!("/invitations/{inv_id}/decline"),
            Some(&eve),
            json!({}),
        )
        .await,
        404,
    );
    // The organization's admins list pending invitations; members and strangers cannot.
    let pending = app
        .get(
            "/organizations/consent-org/invitations?status=pending",
            &owner,
        )
        .await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!(pending.body["count"], 1);
    assert_detail(
        &app.get("/organizations/consent-org/invitations", &eve)
            .await,
        404,
    );
    assert_detail(
        &app.get(
            "/organizations/consent-org/invitations?status=bogus",
            &owner,
        )
        .await,
        400,
    );

    // Accepted: a member with the invited role, and visible from then on.
    let m = app
        .post(
            &format!("/invitations/{inv_id}/accept"),
            Some(&ada),
            json!({}),
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["role"], "member");
    assert_eq!(m.body["user_id"], ada_id.as_str());
    assert_detail(
        &app.post(
            &format!("/invitations/{inv_id}/accept"),
            Some(&ada),
            json!({}),
        )
        .await,
        409,
    );
    let seen = app.get(&format!("/progress?user={ada_id}"), &owner).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.body["count"], 1);
    assert_eq!(
        app.get("/organizations/consent-org", &ada).await.body["slug"],
        "consent-org"
    );

    // Declined: no membership. Revoked: cannot be accepted.
    let inv = app
        .post(
            "/organizations/consent-org/members",
            Some(&owner),
            json!({"user_id": bob_id}),
        )
        .await;
    assert_eq!(inv.status, 202, "{}", inv.body);
    let declined = app
        .post(
            &format!("/invitations/{}/decline", s(&inv.body["id"])),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(declined.status, 200, "{}", declined.body);
    assert_eq!(declined.body["status"], "declined");
    assert_detail(&app.get("/organizations/consent-org", &bob).await, 404);
    let inv = app
        .post(
            "/organizations/consent-org/members",
            Some(&owner),
            json!({"user_id": bob_id}),
        )
        .await;
    assert_eq!(inv.status, 202, "{}", inv.body);
    let again = s(&inv.body["id"]);
    assert_detail(
        &app.delete(
            &format!("/organizations/consent-org/invitations/{again}"),
            &ada,
        )
        .await,
        403,
    );
    assert_eq!(
        app.delete(
            &format!("/organizations/consent-org/invitations/{again}"),
            &owner
        )
        .await
        .status,
        204
    );
    assert_detail(
        &app.post(
            &format!("/invitations/{again}/accept"),
            Some(&bob),
            json!({}),
        )
        .await,
        409,
    );
    assert_detail(
        &app.delete(
            &format!(
                "/organizations/consent-org/invitations/{}",
                uuid::Uuid::new_v4()
            ),
            &owner,
        )
        .await,
        404,
    );
    assert_eq!(app.get("/invitations", &bob).await.body["count"], 2);
    assert_eq!(
        app.get("/invitations?status=pending", &bob).await.body["count"],
        0
    );
    assert_detail(
        &app.post("/invitations/not-a-uuid/accept", Some(&bob), json!({}))
            .await,
        400,
    );

    // A platform administrator adds directly.
    let direct = app
        .post(
            "/organizations/consent-org/members",
            Some(&admin),
            json!({"user_id": bob_id, "role": "viewer"}),
        )
        .await;
    assert_eq!(direct.status, 201, "{}", direct.body);
    assert_eq!(direct.body["role"], "viewer");

    // The audit log has each step.
    for (action, n) in [
        ("invitation_create", 3),
        ("invitation_accept", 1),
        ("invitation_decline", 1),
        ("invitation_revoke", 1),
    ] {
        let r = app
            .get(&format!("/audit-logs?action={action}"), &admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["count"], n, "{action}: {}", r.body);
    }
}

/// Every change the API makes has its audit row, written with it: after a sequence of
/// writes the log holds one success row per write, and a refused write leaves none.
async fn writes_and_audit_rows_commit_together(app: &TestApp) {
    let admin = app.admin().await;
    let count = |action: &'static str| {
        let admin = admin.clone();
        async move {
            app.get(
                &format!("/audit-logs?action={action}&result=success"),
                &admin,
            )
            .await
            .body["count"]
                .as_u64()
                .unwrap()
        }
    };
    let (uid, _, _) = app.signup("audited-user@example.org").await;
    let before = count("content_change").await;
    let r = app
        .post(
            "/content",
            Some(&admin),
            json!({"content_id": "audited-lab", "content_type": "lab", "title": "Audited lab", "description": "x"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            "/content",
            Some(&admin),
            json!({"content_id": "audited-lab", "content_type": "lab", "title": "Again", "description": "x"}),
        )
        .await;
    assert_detail(&r, 409);
    assert_eq!(count("content_change").await, before + 1);
    let before = count("user_update").await;
    let r = app
        .patch(&format!("/users/{uid}"), &admin, json!({"bio": "audited"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .patch(
            &format!("/users/{uid}"),
            &admin,
            json!({"country": "Nowhere-land"}),
        )
        .await;
    assert_detail(&r, 400);
    assert_eq!(count("user_update").await, before + 1);
}

/// NUL characters (which PostgreSQL cannot store in text: it answered 500) are a 400 with a
/// detail on every backend, in a JSON body, a query string or a path, and change nothing.
async fn nul_bytes_are_400_on_every_backend(app: &TestApp) {
    let (uid, token, _) = app.signup("nul-victim@example.org").await;
    // serde_json writes the NUL character as the escape \u0000.
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nul\u{0}@example.org", "password": PASSWORD}),
        )
        .await;
    assert_detail(&r, 400);
    assert!(s(&r.body["detail"]).contains("NUL"), "{}", r.body);
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nul-victim@example.org", "password": "pass\u{0}word"}),
        )
        .await;
    assert_detail(&r, 400);
    // An escaped backslash followed by "u0000" is text, not a NUL: an ordinary wrong login.
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nul-victim@example.org", "password": "pass\\u0000word"}),
        )
        .await;
    assert_detail(&r, 401);
    assert_detail(&app.get("/progress?search=%00", &token).await, 400);
    assert_detail(&app.get("/content?search=a%00b", &token).await, 400);
    assert_detail(&app.get("/organizations/acme%00", &token).await, 400);
    let r = app
        .patch(
            &format!("/users/{uid}"),
            &token,
            json!({"bio": "hello\u{0}world"}),
        )
        .await;
    assert_detail(&r, 400);
    let me = app.get("/users/me", &token).await;
    assert!(me.body["bio"].is_null(), "nothing stored: {}", me.body);
    let r = app
        .post(
            "/progress",
            Some(&token),
            json!({"content_id": "def-soc\u{0}", "content_type": "course"}),
        )
        .await;
    assert_detail(&r, 400);
    assert_eq!(app.get("/progress", &token).await.body["count"], 0);
}

/// Every answer, JSON or page, carries the security headers; the API's policy allows
/// nothing to load, the dashboard's nothing inline.
async fn security_headers_on_every_answer(app: &TestApp) {
    let (_, token, _) = app.signup("headers@example.org").await;
    for r in [
        app.get("/progress", &token).await,
        app.get("/no-such-route-here", &token).await,
        app.post("/auth/login", None, json!({"email": "x"})).await,
    ] {
        let h = &r.headers;
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "plain http here"
        );
    }
    // A 405 names the methods the path has.
    let r = app
        .call(Method::PUT, "/progress", Some(&token), Some(json!({})))
        .await;
    assert_detail(&r, 405);
    let allow = r.headers["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let api = app.get("/progress", &token).await;
    assert!(api.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let page = app
        .client()
        .get(format!("{}/", app.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

/// A wrong JSON type is a 400 naming the field, on every route family (it was coerced:
/// `{"first_name": 12345}` was stored as "12345"), and nothing is stored.
async fn wrong_json_types_are_400_naming_the_field(app: &TestApp) {
    let admin = app.admin().await;
    let (uid, token, _) = app.signup("types@example.org").await;
    let cases: Vec<(Method, String, Option<&str>, Value, &str)> = vec![
        (
            Method::POST,
            "/auth/login".into(),
            None,
            json!({"email": 12345, "password": "x"}),
            "email",
        ),
        (
            Method::POST,
            "/auth/signup".into(),
            None,
            json!({"email": "t2@example.org", "password": PASSWORD, "first_name": true, "last_name": "X"}),
            "first_name",
        ),
        (
            Method::PATCH,
            format!("/users/{uid}"),
            Some(&token),
            json!({"first_name": 12345}),
            "first_name",
        ),
        (
            Method::PATCH,
            format!("/users/{uid}"),
            Some(&token),
            json!({"learning_preferences": {"weekly_goal_minutes": "90"}}),
            "learning_preferences.weekly_goal_minutes",
        ),
        (
            Method::POST,
            "/organizations".into(),
            Some(&admin),
            json!({"name": 1, "slug": "typed-org", "org_type": "sponsor"}),
            "name",
        ),
        (
            Method::POST,
            "/content".into(),
            Some(&admin),
            json!({"content_type": "lab", "title": "T", "description": "d", "tags": ["a", 2]}),
            "tags[1]",
        ),
        (
            Method::POST,
            "/progress".into(),
            Some(&token),
            json!({"content_id": "def-soc-foundations", "content_type": "course", "completion_percentage": "50"}),
            "completion_percentage",
        ),
        (
            Method::POST,
            "/auth/token/refresh".into(),
            None,
            json!({"refresh_token": 7}),
            "refresh_token",
        ),
    ];
    for (method, path, tok, body, field) in cases {
        let r = app.call(method.clone(), &path, tok, Some(body)).await;
        assert_detail(&r, 400);
        assert_eq!(
            r.body["errors"][0]["field"], field,
            "{method} {path}: {}",
            r.body
        );
    }
    let me = app.get(&format!("/users/{uid}"), &token).await;
    assert_eq!(me.body["first_name"], "Test", "{}", me.body);
    assert_eq!(app.get("/progress", &token).await.body["count"], 0);
    assert_detail(&app.get("/organizations/typed-org", &admin).await, 404);
}

/// Every costly or unauthenticated route has a rate limit per client (and, once signed in,
/// per account): `429` with `Retry-After` and a detail, another client unaffected. Sign-up
/// runs on the default limits (100 per client, then one a second); the others are set tight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_per_client_and_account() {
    let app = TestApp::with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
        for (k, v) in [
            ("login_per_client", "5/60s"),
            ("refresh_per_client", "3/60s"),
            ("password_change_per_account", "2/60s"),
            ("password_change_per_client", "off"),
        ] {
            c.rate_limits.set(k, v).unwrap();
        }
    })
    .await;
    let post = |path: &'static str, xff: &'static str, body: Value, token: Option<String>| {
        let mut rb = app
            .client()
            .post(app.url(path))
            .header("x-forwarded-for", xff);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.json(&body).send()
    };
    let signup = |i: usize, xff: &'static str| {
        post(
            "/auth/signup",
            xff,
            json!({"email": format!("flood{i}@example.org"), "password": PASSWORD,
                   "first_name": "F", "last_name": "L"}),
            None,
        )
    };
    // Sign-up: the default burst of 100 from one client, then 429.
    let mut created = 0;
    let mut refused = None;
    for i in 0..120 {
        let r = signup(i, "203.0.113.50").await.unwrap();
        match r.status().as_u16() {
            201 => created += 1,
            429 => {
                refused = Some(r);
                break;
            }
            other => panic!("sign-up {i}: {other}"),
        }
    }
    assert!(
        (100..=101).contains(&created),
        "{created} sign-ups before a 429"
    );
    let r = refused.expect("a flood of sign-ups is refused");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let body: Value = r.json().await.unwrap();
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("Too many requests"));
    assert_eq!(
        signup(100, "198.51.100.60").await.unwrap().status(),
        201,
        "another client still signs up"
    );
    // Nothing was stored for the refused sign-up.
    let admin = app.admin().await;
    let r = app.get("/users?search=flood&page_size=100", &admin).await;
    assert_eq!(r.body["count"], created + 1, "{}", r.body);

    // Login: 5 per client, right or wrong password alike.
    for _ in 0..5 {
        let r = post(
            "/auth/login",
            "203.0.113.51",
            json!({"email": "flood0@example.org", "password": PASSWORD}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = post(
        "/auth/login",
        "203.0.113.51",
        json!({"email": "flood0@example.org", "password": PASSWORD}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());

    // Refresh: 3 per client.
    let (_, access, mut refresh) = app.signup("rl-refresh@example.org").await;
    for _ in 0..3 {
        let r = post(
            "/auth/token/refresh",
            "203.0.113.52",
            json!({"refresh_token": refresh}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        refresh = s(&b["refresh_token"]);
    }
    let r = post(
        "/auth/token/refresh",
        "203.0.113.52",
        json!({"refresh_token": refresh}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    // The refused refresh did not spend the token: another client can still use it.
    let r = post(
        "/auth/token/refresh",
        "203.0.113.53",
        json!({"refresh_token": refresh}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);

    // Password change: 2 per account, whichever client asks.
    for xff in ["203.0.113.54", "203.0.113.55"] {
        let r = post(
            "/auth/password/change",
            xff,
            json!({"current_password": "wrong-password-1", "new_password": "a-new-password-2026"}),
            Some(access.clone()),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = post(
        "/auth/password/change",
        "203.0.113.56",
        json!({"current_password": PASSWORD, "new_password": "a-new-password-2026"}),
        Some(access.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        429,
        "the account's budget is spent on every client"
    );
    app.stop().await;
}
