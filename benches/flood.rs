//! Abuse load: 64 clients (distinct addresses, behind a trusted proxy) flood sign-up and
//! embeddings while one honest client logs in and reads its progress. Prints the honest
//! client's latency without the flood and under it (same run, same server), what the
//! flooders got back (2xx / 429 / 503 / other) and the process's resident memory.
//!
//! The server runs in this process on its defaults (production argon2id, the default rate
//! limits, the candle embedder on the real model, SQLite, embedded vectors), so the peak RSS
//! is the server's plus 65 small HTTP clients'.
//!
//! `cargo bench --bench flood` measures (10 s quiet, 30 s flood, 64 flooders, 120 texts of
//! 8 KiB per embeddings request: the most the default 1 MiB body limit admits); under `cargo test --bench flood` a short smoke pass runs
//! (2 s + 3 s, 8 flooders, small batches) and only checks that the honest client was served.
//! Needs `CYBERHUB_MODEL_DIR`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // bench code may fail loudly

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "flood-test-password-2026";

struct Settings {
    quiet: Duration,
    flood: Duration,
    flooders: usize,
    batch: usize,
    text_bytes: usize,
}

#[derive(Default)]
struct Outcomes {
    ok: AtomicU64,
    limited: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
    /// The last status counted as "other" (0: no answer).
    last_other: AtomicU64,
}

impl Outcomes {
    fn count(&self, status: u16) {
        let slot = match status {
            200..=299 => &self.ok,
            429 => &self.limited,
            503 => &self.busy,
            _ => {
                self.last_other.store(u64::from(status), Ordering::Relaxed);
                &self.other
            }
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        format!(
            "2xx {:>6}  429 {:>6}  503 {:>6}  other {:>4} (last: {})",
            self.ok.load(Ordering::Relaxed),
            self.limited.load(Ordering::Relaxed),
            self.busy.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
            self.last_other.load(Ordering::Relaxed)
        )
    }
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1e3
}

struct Honest {
    login: Vec<Duration>,
    progress: Vec<Duration>,
    failures: Vec<u16>,
}

/// One honest learner: log in, then read the progress page four times, every 100 ms.
async fn honest(base: String, email: String, until: Instant) -> Honest {
    let http = reqwest::Client::new();
    let mut out = Honest {
        login: Vec::new(),
        progress: Vec::new(),
        failures: Vec::new(),
    };
    while Instant::now() < until {
        let t0 = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .header("x-forwarded-for", "192.0.2.10")
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        if !r.status().is_success() {
            out.failures.push(r.status().as_u16());
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let body: Value = r.json().await.unwrap();
        out.login.push(t0.elapsed());
        let token = body["access_token"].as_str().unwrap().to_owned();
        for _ in 0..4 {
            let t0 = Instant::now();
            let r = http
                .get(format!("{base}/api/v1/progress?page_size=20"))
                .header("x-forwarded-for", "192.0.2.10")
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                r.bytes().await.ok();
                out.progress.push(t0.elapsed());
            } else {
                out.failures.push(r.status().as_u16());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}

fn report(label: &str, h: &Honest) {
    let mut login = h.login.clone();
    let mut progress = h.progress.clone();
    login.sort();
    progress.sort();
    println!(
        "{label:<6} honest login    n {:>4}  p50 {:>8.2} ms  p99 {:>8.2} ms | progress n {:>5}  p50 {:>7.2} ms  p99 {:>8.2} ms | failures {:?}",
        login.len(),
        pct(&login, 0.5),
        pct(&login, 0.99),
        progress.len(),
        pct(&progress, 0.5),
        pct(&progress, 0.99),
        h.failures
    );
}

async fn signup(http: &reqwest::Client, base: &str, email: &str, xff: &str) -> reqwest::Response {
    http.post(format!("{base}/api/v1/auth/signup"))
        .header("x-forwarded-for", xff)
        .json(&json!({"email": email, "password": PASSWORD, "first_name": "Flood", "last_name": "Test"}))
        .send()
        .await
        .unwrap()
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn scenario(model_dir: String, s: Settings) {
    let dir =
        std::env::temp_dir().join(format!("cyberhub-flood-{}", uuid::Uuid::new_v4().simple()));
    let cfg = cyberhub_server::Config {
        database_url: format!("sqlite://{}/flood.db", dir.display()),
        jwt_secret: Some("a-flood-test-secret-of-at-least-32-bytes".to_owned().into()),
        seed_catalog: true,
        model_dir: model_dir.into(),
        vector_url: format!("embedded://{}/vectors", dir.display()),
        // Every client comes through a proxy on loopback and is named by X-Forwarded-For.
        trusted_proxies: vec!["127.0.0.0/8".into()],
        ..Default::default()
    };
    let server = cyberhub_server::build(cfg)
        .await
        .unwrap()
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = server.base_url();
    let http = reqwest::Client::new();

    // The honest learner, with progress on 50 catalog items.
    let email = "honest@example.org".to_owned();
    let r = signup(&http, &base, &email, "192.0.2.10").await;
    assert!(r.status().is_success(), "signup: {}", r.status());
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let catalog: Value = http
        .get(format!("{base}/api/v1/content?page_size=50"))
        .header("x-forwarded-for", "192.0.2.10")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (i, item) in catalog["results"].as_array().unwrap().iter().enumerate() {
        http.post(format!("{base}/api/v1/progress"))
            .header("x-forwarded-for", "192.0.2.10")
            .bearer_auth(&token)
            .json(&json!({"content_id": item["content_id"], "content_type": item["content_type"], "completion_percentage": i}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    let (rss0, _) = rss_mib();
    let quiet = honest(base.clone(), email.clone(), Instant::now() + s.quiet).await;
    let (rss_quiet, _) = rss_mib();

    // The flood: even flooders sign up fresh accounts, odd ones embed batches.
    let stop = Arc::new(AtomicBool::new(false));
    let signups = Arc::new(Outcomes::default());
    let embeds = Arc::new(Outcomes::default());
    // Each text exactly `text_bytes` long: a 7-byte number and a filler.
    let filler = "a".repeat(s.text_bytes.saturating_sub(8));
    let batch: Vec<String> = (0..s.batch).map(|i| format!("{i:>7} {filler}")).collect();
    let batch = Arc::new(batch);
    let mut tasks = Vec::new();
    for i in 0..s.flooders {
        let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
        let xff = format!("10.0.{}.{}", i / 250, i % 250 + 1);
        if i % 2 == 0 {
            let out = signups.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let r = signup(&http, &base, &format!("f{i}-{n}@example.org"), &xff).await;
                    out.count(r.status().as_u16());
                }
            }));
        } else {
            let out = embeds.clone();
            let batch = batch.clone();
            tasks.push(tokio::spawn(async move {
                let r = signup(&http, &base, &format!("embedder{i}@example.org"), &xff).await;
                let Ok(body) = r.json::<Value>().await else {
                    return;
                };
                let Some(token) = body["access_token"].as_str().map(str::to_owned) else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    let r = http
                        .post(format!("{base}/api/v1/embeddings"))
                        .header("x-forwarded-for", &xff)
                        .bearer_auth(&token)
                        .json(&json!({"texts": *batch}))
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                    match r {
                        Ok(r) => out.count(r.status().as_u16()),
                        Err(_) => out.count(0),
                    }
                }
            }));
        }
    }
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib().0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    let flood = honest(base.clone(), email.clone(), Instant::now() + s.flood).await;
    stop.store(true, Ordering::Relaxed);
    let peak_sampled = sampler.await.unwrap();
    for t in tasks {
        t.await.ok();
    }
    let (rss_end, hwm) = rss_mib();

    report("quiet", &quiet);
    report("flood", &flood);
    println!(
        "flood  {} flooders for {:?}: signup {} | embeddings ({} texts x {} B) {}",
        s.flooders,
        s.flood,
        signups.line(),
        s.batch,
        s.text_bytes,
        embeds.line()
    );
    println!(
        "rss    before {rss0:.0} MiB, after quiet {rss_quiet:.0} MiB, peak sampled under flood {peak_sampled:.0} MiB, after flood {rss_end:.0} MiB, VmHWM {hwm:.0} MiB"
    );
    let (mut q, mut f) = (quiet.login.clone(), flood.login.clone());
    q.sort();
    f.sort();
    println!(
        "ratio  honest login p99 under flood / quiet: {:.2}x",
        pct(&f, 0.99) / pct(&q, 0.99)
    );
    assert!(
        !flood.login.is_empty(),
        "the honest client never logged in under the flood"
    );
    assert!(
        flood.failures.iter().all(|s| *s != 429),
        "the honest client was rate limited: {:?}",
        flood.failures
    );
    server.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let settings = if measuring {
        Settings {
            quiet: Duration::from_secs(10),
            flood: Duration::from_secs(30),
            flooders: 64,
            // As many 8 KiB texts as the default 1 MiB body limit lets through.
            batch: 120,
            text_bytes: cyberhub_ai::MAX_TEXT_BYTES,
        }
    } else {
        Settings {
            quiet: Duration::from_secs(2),
            flood: Duration::from_secs(3),
            flooders: 8,
            batch: 4,
            text_bytes: 64,
        }
    };
    let Some(model_dir) = cyberhub_vector::conformance::service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(model_dir, settings));
    if !measuring {
        println!("flood smoke pass: ok");
    }
}
