//! Split mode with two real server processes: `core` (accounts, content, progress) and
//! `ai` (search, recommendations, personality) sharing one database; the AI service reads
//! progress from the core service over HTTP with the caller's token, and answers a clear
//! 503 `{"detail"}` when the core service is down. Needs `CYBERHUB_MODEL_DIR` (under
//! `CI=true` a missing one fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use reqwest::Client;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "a-split-mode-test-secret-of-at-least-32-bytes";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(envs: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cyberhub-server"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("CYBERHUB_JWT_SECRET", SECRET)
        .env("CYBERHUB_INSECURE_FAST_PASSWORD_HASHING", "true")
        .env("CYBERHUB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("server binary starts"))
}

async fn wait_up(client: &Client, base: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{base} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn call(
    client: &Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = client.request(method, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_and_ai_as_two_processes() {
    let Some(model) = cyberhub_vector::conformance::service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("cyberhub-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/split.db", dir.display());
    let (core_port, ai_port) = (free_port(), free_port());
    let core_url = format!("http://127.0.0.1:{core_port}");
    let ai_url = format!("http://127.0.0.1:{ai_port}");
    let client = Client::new();

    let core = spawn(&[
        ("CYBERHUB_SERVICE", "core".into()),
        ("CYBERHUB_BIND", format!("127.0.0.1:{core_port}")),
        ("CYBERHUB_DATABASE_URL", db.clone()),
        ("CYBERHUB_ADMIN_EMAIL", "admin@split.test".into()),
        (
            "CYBERHUB_ADMIN_PASSWORD",
            "admin-pass-for-split-2026".into(),
        ),
    ]);
    wait_up(&client, &core_url).await;
    let ai = spawn(&[
        ("CYBERHUB_SERVICE", "ai".into()),
        ("CYBERHUB_BIND", format!("127.0.0.1:{ai_port}")),
        ("CYBERHUB_DATABASE_URL", db.clone()),
        ("CYBERHUB_CORE_URL", core_url.clone()),
        (
            "CYBERHUB_VECTOR_URL",
            format!("embedded://{}/vectors", dir.display()),
        ),
        ("CYBERHUB_MODEL_DIR", model),
        ("CYBERHUB_INDEX_POLL_MS", "100".into()),
        ("CYBERHUB_CORE_TIMEOUT_SECS", "3".into()),
    ]);
    wait_up(&client, &ai_url).await;
    let api = |base: &str, path: &str| format!("{base}/api/v1{path}");
    use reqwest::Method as M;

    // Each service serves its own routes only.
    let (st, b) = call(
        &client,
        M::POST,
        api(&core_url, "/search"),
        None,
        Some(json!({"query": "x"})),
    )
    .await;
    assert_eq!(st, 404, "{b}");
    let (st, b) = call(&client, M::GET, api(&ai_url, "/content"), None, None).await;
    assert_eq!(st, 404, "{b}");
    assert!(b["detail"].is_string());

    // A learner signs up on core; the AI service accepts the same token.
    let (st, admin) = call(
        &client,
        M::POST,
        api(&core_url, "/auth/login"),
        None,
        Some(json!({"email": "admin@split.test", "password": "admin-pass-for-split-2026"})),
    )
    .await;
    assert_eq!(st, 200, "{admin}");
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let (st, s) = call(
            &client,
            M::GET,
            api(&ai_url, "/index/status"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(st, 200, "{s}");
        if s["pending"] == 0 && s["indexed"] == s["catalog"] && s["catalog"] != 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "indexing stalled: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (st, me) = call(&client, M::POST, api(&core_url, "/auth/signup"), None, Some(json!({"email": "split@learner.test", "password": "blue-team-2026", "first_name": "S", "last_name": "L"}))).await;
    assert_eq!(st, 201, "{me}");
    let uid = me["user"]["id"].as_str().unwrap().to_owned();
    let token = me["access_token"].as_str().unwrap().to_owned();
    let (_, items) = call(
        &client,
        M::GET,
        api(&core_url, "/content?track=defender&page_size=100"),
        Some(&token),
        None,
    )
    .await;
    let items = items["results"].as_array().unwrap().clone();
    for item in &items[..3] {
        let (st, b) = call(&client, M::POST, api(&core_url, "/progress"), Some(&token), Some(json!({"content_id": item["content_id"], "content_type": item["content_type"], "status": "completed", "completion_percentage": 100}))).await;
        assert_eq!(st, 201, "{b}");
    }
    let (st, recs) = call(
        &client,
        M::GET,
        api(&ai_url, &format!("/recommendations/{uid}")),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st, 200, "{recs}");
    assert_eq!(recs["cold_start"], false);
    let done: Vec<&Value> = items[..3].iter().map(|i| &i["content_id"]).collect();
    for r in recs["recommendations"].as_array().unwrap() {
        assert!(
            !done.contains(&&r["content_id"]),
            "completed item recommended: {r}"
        );
    }
    // A progress write on core is seen by the AI service at once.
    let (st, _) = call(&client, M::POST, api(&core_url, "/progress"), Some(&token), Some(json!({"content_id": recs["recommendations"][0]["content_id"], "content_type": recs["recommendations"][0]["content_type"], "status": "completed", "completion_percentage": 100}))).await;
    assert_eq!(st, 201);
    let (_, again) = call(
        &client,
        M::GET,
        api(&ai_url, &format!("/recommendations/{uid}")),
        Some(&token),
        None,
    )
    .await;
    assert!(
        again["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["content_id"] != recs["recommendations"][0]["content_id"]),
        "{again}"
    );
    let (st, a) = call(
        &client,
        M::POST,
        api(&ai_url, "/personality/analyze"),
        Some(&token),
        Some(json!({"user_id": uid})),
    )
    .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["traits"][1]["score"], 1.0);

    // Core goes down: a clear 503 with a detail, and /ready says which part.
    drop(core);
    let (st, b) = call(
        &client,
        M::GET,
        api(&ai_url, &format!("/recommendations/{uid}")),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st, 503, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("core service"),
        "{b}"
    );
    let (st, r) = call(&client, M::GET, format!("{ai_url}/ready"), None, None).await;
    assert_eq!(st, 503, "{r}");
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "core_service" && c["ok"] == false));
    drop(ai);
    std::fs::remove_dir_all(&dir).ok();
}
