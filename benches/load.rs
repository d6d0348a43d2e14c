//! HTTP load test of the reference server: requests per second and latency percentiles for
//! `GET /api/v1/progress` and `POST /api/v1/auth/login` (production argon2 parameters), on
//! SQLite and, when `DATABASE_URL` points at PostgreSQL, on PostgreSQL too.
//!
//! `cargo bench --bench load` measures (10 s per scenario, 32 concurrent clients, loopback
//! only); under `cargo test --bench load` it runs a one-second smoke pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // bench code may fail loudly

use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct Scenario {
    name: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: Option<Value>,
    token: Option<String>,
}

async fn run(
    base: &str,
    s: &Scenario,
    clients: usize,
    duration: Duration,
) -> (f64, Duration, Duration, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let deadline = Instant::now() + duration;
    let url = format!("{base}{}", s.path);
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..clients {
        let (client, url, method, body, token) = (
            client.clone(),
            url.clone(),
            s.method.clone(),
            s.body.clone(),
            s.token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let mut rb = client.request(method.clone(), &url);
                if let Some(t) = &token {
                    rb = rb.bearer_auth(t);
                }
                if let Some(b) = &body {
                    rb = rb.json(b);
                }
                let t0 = Instant::now();
                match rb.send().await {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.ok();
                        lat.push(t0.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99), errors)
}

async fn bench_backend(label: &str, database_url: String, duration: Duration, clients: usize) {
    let cfg = cyberhub_server::Config {
        database_url,
        jwt_secret: Some("a-load-test-secret-of-at-least-32-bytes".to_owned().into()),
        // Progress is recorded against catalog items: the seed catalog has 62.
        seed_catalog: true,
        // The login scenario measures throughput from one address, which the per-client
        // limits exist to stop.
        rate_limits: cyberhub_auth::RateLimits::off(),
        // The scenarios are core routes: no model is loaded.
        service: cyberhub_server::Service::Core,
        ..Default::default()
    };
    let app = cyberhub_server::build(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.serve(listener, async {
            rx.await.ok();
        })
        .await
        .unwrap()
    });
    let http = reqwest::Client::new();
    let email = format!("load-{}@example.org", uuid::Uuid::new_v4().simple());
    let signup: Value = http
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": "load-test-password-2026", "first_name": "Load", "last_name": "Test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let catalog: Value = http
        .get(format!("{base}/api/v1/content?page_size=50"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = catalog["results"]
        .as_array()
        .unwrap_or_else(|| panic!("GET /content answered {catalog}"));
    assert!(!items.is_empty(), "the seed catalog is empty");
    for (i, item) in items.iter().enumerate() {
        http.post(format!("{base}/api/v1/progress"))
            .bearer_auth(&token)
            .json(&json!({"content_id": item["content_id"], "content_type": item["content_type"], "completion_percentage": i}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    let scenarios = [
        Scenario {
            name: "GET /api/v1/progress (20 of 50 rows)",
            method: reqwest::Method::GET,
            path: "/api/v1/progress",
            body: None,
            token: Some(token),
        },
        Scenario {
            name: "POST /api/v1/auth/login (argon2id m=19MiB t=2)",
            method: reqwest::Method::POST,
            path: "/api/v1/auth/login",
            body: Some(json!({"email": email, "password": "load-test-password-2026"})),
            token: None,
        },
    ];
    for s in &scenarios {
        let (rps, p50, p99, errors) = run(&base, s, clients, duration).await;
        println!(
            "{label:<10} {:<48} {rps:>9.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {errors}",
            s.name,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    tx.send(()).ok();
    server.await.unwrap();
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (duration, clients) = if measuring {
        (Duration::from_secs(10), 32)
    } else {
        (Duration::from_secs(1), 4)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir =
            std::env::temp_dir().join(format!("cyberhub-load-{}", uuid::Uuid::new_v4().simple()));
        bench_backend(
            "sqlite",
            format!("sqlite://{}/load.db", dir.display()),
            duration,
            clients,
        )
        .await;
        std::fs::remove_dir_all(&dir).ok();
        match std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            Some(admin) => {
                let (url, name) =
                    cyberhub_store::conformance::create_postgres_database(&admin).await;
                bench_backend("postgres", url, duration, clients).await;
                cyberhub_store::conformance::drop_postgres_database(&admin, &name).await;
            }
            None => println!("postgres   skipped (set DATABASE_URL=postgres://...)"),
        }
    });
    // Keep the test-mode closing line unambiguous for CI log readers.
    if !measuring {
        println!("load smoke pass: ok");
    }
}
