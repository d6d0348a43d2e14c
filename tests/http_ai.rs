//! The AI routes end to end over HTTP: the real server with the real all-MiniLM-L6-v2
//! (candle) on SQLite, once with the embedded vector store (the default) and once with
//! pgvector. The seed catalog (62 items over five tracks) is indexed by the outbox worker.
//! Needs `CYBERHUB_MODEL_DIR` (and `PGVECTOR_DATABASE_URL` for the pgvector cases);
//! under `CI=true` a missing one fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_vector::conformance::service_url;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use cyberhub_server::testing::TestServer;

/// The shared test server with the AI routes (the model from `CYBERHUB_MODEL_DIR`), a
/// collection of its own, and its administrator signed in.
struct AiApp {
    server: TestServer,
    admin: String,
}

impl AiApp {
    async fn spawn(vector_url: Option<String>) -> Option<Self> {
        Self::spawn_with(vector_url, |_| {}).await
    }

    async fn spawn_with(
        vector_url: Option<String>,
        tweak: impl FnOnce(&mut cyberhub_server::Config),
    ) -> Option<Self> {
        let model_dir = service_url("CYBERHUB_MODEL_DIR")?;
        let server = TestServer::start(|cfg| {
            cfg.model_dir = model_dir.into();
            if let Some(url) = vector_url {
                cfg.vector_url = url;
            }
            cfg.vector_collection = format!("content_{}", uuid::Uuid::new_v4().simple());
            tweak(cfg);
        })
        .await;
        let admin = server.admin_token().await;
        let me = Self { server, admin };
        me.wait_indexed().await;
        Some(me)
    }

    async fn embedded() -> Option<Self> {
        Self::spawn(None).await
    }

    async fn pgvector() -> Option<Self> {
        let url = service_url("PGVECTOR_DATABASE_URL")?;
        Self::spawn(Some(format!("pgvector+{url}"))).await
    }

    async fn wait_indexed(&self) -> Value {
        let start = Instant::now();
        loop {
            let (st, body) = self
                .call(Method::GET, "/index/status", Some(&self.admin), None)
                .await;
            assert_eq!(st, 200, "{body}");
            if body["pending"] == 0 && body["indexed"] == body["catalog"] {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "indexing stalled: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.server.stop().await;
    }

    /// A call whose answer is never a 5xx other than 503, and whose errors have a detail.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.server.call(method, path, token, body).await;
        let (status, body) = (r.code(), r.body);
        assert!(status < 500 || status == 503, "{status}: {body}");
        if status >= 400 {
            assert!(
                body["detail"].is_string(),
                "every error has a detail: {body}"
            );
        }
        (status, body)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// A new learner: (user id, token).
    async fn learner(&self) -> (String, String) {
        let email = format!("l{}@cyberhub.test", uuid::Uuid::new_v4().simple());
        let (st, b) = self
            .call(Method::POST, "/auth/signup", None, Some(json!({"email": email, "password": "blue-team-2026", "first_name": "Ada", "last_name": "L"})))
            .await;
        assert_eq!(st, 201, "{b}");
        (
            b["user"]["id"].as_str().unwrap().into(),
            b["access_token"].as_str().unwrap().into(),
        )
    }

    /// Catalog items of a track: (content_id, content_type, title).
    async fn track_items(&self, track: &str) -> Vec<(String, String, String)> {
        let (st, b) = self
            .get(
                &format!("/content?track={track}&page_size=100"),
                &self.admin,
            )
            .await;
        assert_eq!(st, 200, "{b}");
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["content_id"].as_str().unwrap().into(),
                    i["content_type"].as_str().unwrap().into(),
                    i["title"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    async fn record(&self, token: &str, item: &(String, String, String), status: &str, pct: f64) {
        let (st, b) = self
            .post("/progress", token, json!({"content_id": item.0, "content_type": item.1, "status": status, "completion_percentage": pct, "score": 85}))
            .await;
        assert_eq!(st, 201, "{b}");
    }
}

macro_rules! ai_cases {
    ($backend:ident: $($case:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(app) = super::AiApp::$backend().await else { return };
                    super::$case(&app).await;
                    app.stop().await;
                }
            )+
        }
    };
}

ai_cases!(embedded: search_ranks_by_meaning, recommendations_follow_progress, personality_analysis,
    embeddings_endpoint, catalog_writes_are_indexed, ready_checks_every_part,
    personality_is_stored_only_by_the_learner);
ai_cases!(pgvector: search_ranks_by_meaning, recommendations_follow_progress, personality_analysis,
    catalog_writes_are_indexed);

async fn search_ranks_by_meaning(app: &AiApp) {
    let (_, token) = app.learner().await;
    let (st, b) = app
        .post("/search", &token, json!({"query": "break into web applications and exploit vulnerabilities like an attacker", "limit": 5}))
        .await;
    assert_eq!(st, 200, "{b}");
    let results = b["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(b["total"], 5);
    let offensive = results.iter().filter(|r| r["track"] == "offensive").count();
    assert!(
        offensive >= 3,
        "an attacker's query finds offensive content: {b}"
    );
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );

    let (st, b) = app
        .post("/search", &token, json!({"query": "compliance audits", "content_type": "lab", "track": "defender", "limit": 50}))
        .await;
    assert_eq!(st, 200, "{b}");
    assert!(!b["results"].as_array().unwrap().is_empty());
    for r in b["results"].as_array().unwrap() {
        assert_eq!(r["content_type"], "lab");
        assert_eq!(r["track"], "defender");
    }
    for bad in [
        json!({"query": ""}),
        json!({"query": "x", "limit": 0}),
        json!({"query": "x", "limit": 51}),
        json!({"query": "x", "track": "purple"}),
    ] {
        let (st, b) = app.post("/search", &token, bad.clone()).await;
        assert_eq!(st, 400, "{bad} -> {b}");
    }
    let (st, _) = app
        .call(Method::POST, "/search", None, Some(json!({"query": "x"})))
        .await;
    assert_eq!(st, 401);
}

async fn recommendations_follow_progress(app: &AiApp) {
    let (uid, token) = app.learner().await;
    // Cold start: starters across tracks.
    let (st, cold) = app.get(&format!("/recommendations/{uid}"), &token).await;
    assert_eq!(st, 200, "{cold}");
    assert_eq!(cold["cold_start"], true);
    assert_eq!(cold["total"], 10);
    let tracks: HashSet<&str> = cold["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["track"].as_str().unwrap())
        .collect();
    assert!(tracks.len() >= 4, "starters span the tracks: {cold}");
    assert!(cold["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["reason"].as_str().unwrap().contains("starter")));
    // Nobody has started anything yet: no pick may claim to be popular.
    assert!(
        cold["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["reason"].as_str().unwrap().contains("popular")),
        "{cold}"
    );

    // Complete four offensive items, start a fifth.
    let offensive = app.track_items("offensive").await;
    assert!(offensive.len() >= 8);
    let done = &offensive[..4];
    for item in done {
        app.record(&token, item, "completed", 100.0).await;
    }
    app.record(&token, &offensive[4], "in_progress", 40.0).await;
    let (st, b) = app
        .post(
            "/recommendations",
            &token,
            json!({"user_id": uid, "limit": 10}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["cold_start"], false);
    let recs = b["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 10);
    let done_ids: HashSet<&str> = done.iter().map(|i| i.0.as_str()).collect();
    let done_titles: Vec<&str> = done.iter().map(|i| i.2.as_str()).collect();
    for r in recs {
        assert!(
            !done_ids.contains(r["content_id"].as_str().unwrap()),
            "completed item came back: {r}"
        );
        assert!(!r["reason"].as_str().unwrap().is_empty());
    }
    let off: Vec<&Value> = recs.iter().filter(|r| r["track"] == "offensive").collect();
    assert!(off.len() >= 6, "mostly offensive: {b}");
    let naming = off
        .iter()
        .filter(|r| {
            let reason = r["reason"].as_str().unwrap();
            done_titles.iter().any(|t| reason.contains(t)) || reason.contains(&offensive[4].2)
        })
        .count();
    assert!(
        naming >= off.len() - 1,
        "reasons name the completed items: {b}"
    );
    assert!(
        recs.iter()
            .any(|r| r["content_id"] == offensive[4].0.as_str()
                && r["reason"].as_str().unwrap().contains("continues")),
        "in-progress work is continued: {b}"
    );

    // A progress write is seen at once (the cache is invalidated): complete the in-progress one.
    let (_, rows) = app
        .get(&format!("/progress?search={}", offensive[4].0), &token)
        .await;
    let pid = rows["results"][0]["id"].as_str().unwrap().to_owned();
    let (st, _) = app
        .call(
            Method::PATCH,
            &format!("/progress/{pid}"),
            Some(&token),
            Some(json!({"status": "completed", "completion_percentage": 100})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, again) = app
        .get(&format!("/recommendations/{uid}?limit=20"), &token)
        .await;
    assert!(
        again["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["content_id"] != offensive[4].0.as_str()),
        "{again}"
    );
    let (_, labs) = app
        .get(
            &format!("/recommendations/{uid}?content_type=lab&limit=5"),
            &token,
        )
        .await;
    assert!(
        labs["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["content_type"] == "lab"),
        "{labs}"
    );

    // Visibility: another learner gets 404, an administrator may look.
    let (_, other) = app.learner().await;
    let (st, _) = app.get(&format!("/recommendations/{uid}"), &other).await;
    assert_eq!(st, 404);
    let (st, _) = app
        .get(&format!("/recommendations/{uid}"), &app.admin)
        .await;
    assert_eq!(st, 200);
    let (st, _) = app
        .post(
            "/recommendations",
            &token,
            json!({"user_id": uid, "limit": 0}),
        )
        .await;
    assert_eq!(st, 400);
}

async fn personality_analysis(app: &AiApp) {
    let (uid, token) = app.learner().await;
    let (st, q) = app
        .call(Method::GET, "/personality/questionnaire", None, None)
        .await;
    assert_eq!(st, 200);
    let questions = q["questions"].as_array().unwrap();
    assert!(questions.len() >= 15);
    // No data: a clear, non-error answer, nothing stored.
    let (st, empty) = app
        .post("/personality/analyze", &token, json!({"user_id": uid}))
        .await;
    assert_eq!(st, 200, "{empty}");
    assert_eq!(empty["enough_data"], false);
    assert!(empty["summary"]
        .as_str()
        .unwrap()
        .contains("Not enough data"));
    let (st, _) = app.get(&format!("/personality/{uid}"), &token).await;
    assert_eq!(st, 404);

    // Plant answers for GRC: per question, the option whose text is about rules, policy, risk.
    let grc_words = [
        "policy",
        "control",
        "risk",
        "compliance",
        "regulat",
        "standard",
        "rules",
        "audit",
        "ISO",
        "GRC",
        "law",
        "documented",
        "certif",
    ];
    let mut answers = Vec::new();
    for qn in questions {
        let opts = qn["options"].as_array().unwrap();
        if let Some(o) = opts.iter().find(|o| {
            let t = o["text"].as_str().unwrap();
            grc_words.iter().any(|w| t.contains(w))
        }) {
            answers.push(json!({"question_id": qn["id"], "option_id": o["id"]}));
        }
    }
    assert!(answers.len() >= 12, "{answers:?}");
    let (st, a) = app
        .post(
            "/personality/analyze",
            &token,
            json!({"user_id": uid, "answers": answers}),
        )
        .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["enough_data"], true);
    assert_eq!(a["track_fit"][0]["track"], "grc", "{a}");
    assert_eq!(a["track_fit"].as_array().unwrap().len(), 5);
    let (st, stored) = app.get(&format!("/personality/{uid}"), &token).await;
    assert_eq!(st, 200);
    assert_eq!(stored["track_fit"], a["track_fit"]);
    // The fit steers cold-start recommendations.
    let (_, recs) = app
        .get(&format!("/recommendations/{uid}?limit=5"), &token)
        .await;
    assert_eq!(recs["recommendations"][0]["track"], "grc", "{recs}");

    // Progress adds the five traits.
    let items = app.track_items("defender").await;
    for item in &items[..3] {
        app.record(&token, item, "completed", 100.0).await;
    }
    let (_, a) = app
        .post("/personality/analyze", &token, json!({"user_id": uid}))
        .await;
    let names: Vec<&str> = a["traits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "learning_style",
            "persistence",
            "performance",
            "engagement",
            "adaptability"
        ]
    );
    for t in a["traits"].as_array().unwrap() {
        let s = t["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s) && !t["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        a["traits"][1]["score"], 1.0,
        "persistence: all started items finished"
    );

    for bad in [
        json!({"user_id": uid, "answers": [{"question_id": "q99", "option_id": "a"}]}),
        json!({"user_id": uid, "answers": [{"question_id": "q01", "option_id": "z"}]}),
        json!({"user_id": uid, "answers": [{"question_id": "q01", "option_id": "a"}, {"question_id": "q01", "option_id": "b"}]}),
    ] {
        let (st, b) = app.post("/personality/analyze", &token, bad).await;
        assert_eq!(st, 400, "{b}");
    }
    let (_, other) = app.learner().await;
    let (st, _) = app.get(&format!("/personality/{uid}"), &other).await;
    assert_eq!(st, 404);
}

async fn embeddings_endpoint(app: &AiApp) {
    let (_, token) = app.learner().await;
    let (st, b) = app
        .post(
            "/embeddings",
            &token,
            json!({"texts": ["phishing awareness", "SQL injection"]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["dimension"], 384);
    assert!(b["model"].as_str().unwrap().contains("all-MiniLM-L6-v2"));
    for e in b["embeddings"].as_array().unwrap() {
        let v: Vec<f64> = e["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(v.len(), 384);
        let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3);
    }
    assert_eq!(b["embeddings"][1]["text"], "SQL injection");
    let (st, _) = app.post("/embeddings", &token, json!({"texts": []})).await;
    assert_eq!(st, 400);
    // A number is not a text (it was embedded as "1").
    let (st, b) = app
        .post("/embeddings", &token, json!({"texts": ["ok", 1]}))
        .await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0]["field"], "texts[1]", "{b}");
    let (st, b) = app.post("/search", &token, json!({"query": 42})).await;
    assert_eq!(
        (st, &b["errors"][0]["field"]),
        (400, &json!("query")),
        "{b}"
    );
    let many: Vec<String> = (0..257).map(|i| format!("t{i}")).collect();
    let (st, _) = app
        .post("/embeddings", &token, json!({"texts": many}))
        .await;
    assert_eq!(st, 413);
    let (st, _) = app
        .post("/embeddings", &token, json!({"texts": ["x".repeat(9000)]}))
        .await;
    assert_eq!(st, 413);
    let (st, _) = app
        .call(
            Method::POST,
            "/embeddings",
            None,
            Some(json!({"texts": ["x"]})),
        )
        .await;
    assert_eq!(st, 401);
}

async fn catalog_writes_are_indexed(app: &AiApp) {
    let (_, token) = app.learner().await;
    let (st, b) = app
        .post("/content", &app.admin, json!({"content_id": "inn-quantum-crypto", "content_type": "article", "title": "Post-quantum cryptography migration", "description": "Plan the move from RSA and elliptic curves to lattice-based algorithms before quantum computers break today's public-key crypto.", "track": "innovation"}))
        .await;
    assert_eq!(st, 201, "{b}");
    app.wait_indexed().await;
    let query = json!({"query": "preparing for quantum computers breaking RSA", "limit": 3});
    let (_, found) = app.post("/search", &token, query.clone()).await;
    assert_eq!(
        found["results"][0]["content_id"], "inn-quantum-crypto",
        "{found}"
    );
    // An edit re-embeds, a delete removes the vector.
    let (st, _) = app
        .call(
            Method::PATCH,
            "/content/inn-quantum-crypto",
            Some(&app.admin),
            Some(json!({"title": "Lattice algorithms in practice"})),
        )
        .await;
    assert_eq!(st, 200);
    app.wait_indexed().await;
    let (_, found) = app.post("/search", &token, query.clone()).await;
    assert_eq!(
        found["results"][0]["title"], "Lattice algorithms in practice",
        "{found}"
    );
    let (st, _) = app
        .call(
            Method::DELETE,
            "/content/inn-quantum-crypto",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let status = app.wait_indexed().await;
    assert_eq!(status["catalog"], 62);
    let (_, found) = app.post("/search", &token, query).await;
    assert!(found["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["content_id"] != "inn-quantum-crypto"));
    // Reindex: admins only; everything comes back.
    let (st, _) = app.post("/index/reindex", &token, json!({})).await;
    assert_eq!(st, 403);
    let (st, q) = app.post("/index/reindex", &app.admin, json!({})).await;
    assert_eq!(st, 202, "{q}");
    let status = app.wait_indexed().await;
    assert_eq!(status["indexed"], 62);
    // The re-index is in the audit log (written with the outbox events), with the admin as
    // its actor; the refused attempt is there as access_denied.
    let (st, log) = app
        .call(
            Method::GET,
            "/audit-logs?action=index_rebuild",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(st, 200, "{log}");
    let by_admin = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actor_id"].is_string() && r["result"] == "success")
        .count();
    assert_eq!(by_admin, 1, "{log}");
}

async fn ready_checks_every_part(app: &AiApp) {
    let (st, b) = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(st, 200, "{b}");
    let names: Vec<&str> = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("vector_store")), "{b}");
    assert!(names.iter().any(|n| n.starts_with("embedder")), "{b}");
}

#[tokio::test]
async fn missing_model_fails_start_naming_the_command() {
    let dir = std::env::temp_dir().join(format!(
        "cyberhub-nomodel-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let cfg = cyberhub_server::Config {
        database_url: "sqlite::memory:".into(),
        model_dir: dir.join("nowhere"),
        vector_url: format!("embedded://{}/v", dir.display()),
        ..Default::default()
    };
    let err = cyberhub_server::build(cfg)
        .await
        .err()
        .expect("no model, no start");
    assert!(
        err.to_string().contains("cyberhub-server models pull"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn pending_indexing_survives_a_restart() {
    let Some(model_dir) = service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "cyberhub-restart-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let cfg = cyberhub_server::Config {
        database_url: format!("sqlite://{}/api.db", dir.display()),
        model_dir: model_dir.into(),
        vector_url: format!("embedded://{}/vectors", dir.display()),
        index_worker: false,
        ..Default::default()
    };
    // First start: the seed catalog is written and its events queued; nothing indexes them.
    let first = cyberhub_server::build(cfg.clone()).await.unwrap();
    let backlog = first.state().store.index_backlog().await.unwrap();
    assert_eq!(backlog, 62);
    let ai = first.state().ai.clone().unwrap();
    assert_eq!(ai.index().count().await.unwrap(), 0);
    first.state().store.close().await;
    drop((first, ai));
    // Second start (the "restarted" process): its worker finds the pending events.
    let second = cyberhub_server::build(cfg).await.unwrap();
    let worker = second.indexer().unwrap();
    let mut done = 0;
    loop {
        let n = worker.run_once().await.unwrap();
        if n == 0 {
            break;
        }
        done += n;
    }
    assert_eq!(done, 62);
    assert_eq!(second.state().store.index_backlog().await.unwrap(), 0);
    assert_eq!(
        second
            .state()
            .ai
            .as_ref()
            .unwrap()
            .index()
            .count()
            .await
            .unwrap(),
        62
    );
    second.state().store.close().await;
    drop(second);
    std::fs::remove_dir_all(dir).ok();
}

/// A mentor who may read a learner's analysis (a fellow member of an organization) may not
/// store one for them: only the learner or an administrator does.
async fn personality_is_stored_only_by_the_learner(app: &AiApp) {
    let (learner_id, learner) = app.learner().await;
    let (mentor_id, mentor) = app.learner().await;
    let (st, b) = app
        .post(
            &format!("/users/{mentor_id}/roles"),
            &app.admin,
            json!({"role": "mentor"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = app
        .post(
            "/organizations",
            &app.admin,
            json!({"name": "Cohort", "slug": format!("c-{}", &mentor_id[..8]), "org_type": "sponsor"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let slug = b["slug"].as_str().unwrap().to_owned();
    for u in [&learner_id, &mentor_id] {
        let (st, b) = app
            .post(
                &format!("/organizations/{slug}/members"),
                &app.admin,
                json!({"user_id": u, "role": "member"}),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    // (roles are read per request: the mentor's sign-up token carries the new role)
    let answers = json!([{"question_id": "q01", "option_id": "a"}]);
    let (st, b) = app
        .post(
            "/personality/analyze",
            &mentor,
            json!({"user_id": learner_id, "answers": answers}),
        )
        .await;
    assert_eq!(st, 403, "{b}");
    let (st, _) = app
        .get(&format!("/personality/{learner_id}"), &learner)
        .await;
    assert_eq!(st, 404, "nothing was stored for the learner");
    // the learner and an administrator may
    let (st, b) = app
        .post(
            "/personality/analyze",
            &learner,
            json!({"user_id": learner_id, "answers": answers}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = app
        .post(
            "/personality/analyze",
            &app.admin,
            json!({"user_id": learner_id, "answers": answers}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // the mentor still reads it (a member with the mentor role)
    let (st, b) = app
        .get(&format!("/personality/{learner_id}"), &mentor)
        .await;
    assert_eq!(st, 200, "{b}");
}

/// The AI routes are limited per account: embeddings by the number of texts, search,
/// recommendations and personality analyses by request; `429` with `Retry-After` and a
/// detail, and another account keeps its own budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_routes_have_per_account_budgets() {
    let Some(app) = AiApp::spawn_with(None, |c| {
        for (k, v) in [
            ("embeddings_per_account", "300/3600s"),
            ("search_per_account", "3/60s"),
            ("recommendations_per_account", "2/60s"),
            ("personality_per_account", "1/60s"),
        ] {
            c.rate_limits.set(k, v).unwrap();
        }
    })
    .await
    else {
        return;
    };
    let (me, token) = app.learner().await;
    let (_, other) = app.learner().await;
    let batch = |n: usize| json!({"texts": vec!["threat hunting basics"; n]});
    assert_eq!(app.post("/embeddings", &token, batch(256)).await.0, 200);
    let refused = app
        .server
        .post("/embeddings", Some(&token), batch(64))
        .await;
    assert_eq!(refused.code(), 429);
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "Retry-After {wait}");
    let body = refused.body;
    assert!(body["detail"].is_string(), "{body}");
    assert_eq!(
        app.post("/embeddings", &token, batch(40)).await.0,
        200,
        "what is left fits"
    );
    assert_eq!(
        app.post("/embeddings", &other, batch(256)).await.0,
        200,
        "another account"
    );

    for _ in 0..3 {
        assert_eq!(
            app.post("/search", &token, json!({"query": "firewalls"}))
                .await
                .0,
            200
        );
    }
    let (st, b) = app
        .post("/search", &token, json!({"query": "firewalls"}))
        .await;
    assert_eq!(st, 429, "{b}");
    assert_eq!(
        app.post("/search", &other, json!({"query": "firewalls"}))
            .await
            .0,
        200
    );

    for _ in 0..2 {
        assert_eq!(
            app.get(&format!("/recommendations/{me}"), &token).await.0,
            200
        );
    }
    assert_eq!(
        app.post("/recommendations", &token, json!({"user_id": me}))
            .await
            .0,
        429,
        "GET and POST share one budget"
    );

    let answers = json!({"user_id": me, "answers": []});
    let (st, b) = app
        .post("/personality/analyze", &token, answers.clone())
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        app.post("/personality/analyze", &token, answers).await.0,
        429
    );
    app.stop().await;
}
