//! The shared state of several instances in a real Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`; scripts/test.sh starts one): rate limits and failed-login
//! counts are shared by every instance, and each part falls back to its instance's memory
//! when Redis does not answer. Under `CI` a missing Redis fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use cyberhub_auth::throttle::{InMemoryRateLimiter, Quota, RateLimiter};
use cyberhub_auth::{FailureStore, KnownClients, Lockout, LockoutPolicy};
use cyberhub_server::shared::{RedisFailures, RedisKnownClients, RedisRateLimiter, SharedRedis};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A connection, or `None` (skipped) when Redis is not there outside CI.
async fn redis() -> Option<SharedRedis> {
    let r = SharedRedis::new(&url(), Duration::from_millis(500)).unwrap();
    match r.ping().await {
        Ok(()) => Some(r),
        Err(e) if std::env::var_os("CI").is_some() => panic!("no Redis at {}: {e}", url()),
        Err(e) => {
            eprintln!("skipping: no Redis at {}: {e}", url());
            None
        }
    }
}

fn unique(what: &str) -> String {
    format!("test:{what}:{}", uuid::Uuid::new_v4().simple())
}

fn t0() -> DateTime<Utc> {
    Utc::now()
}

#[tokio::test]
async fn instances_share_one_rate_limit_budget() {
    let Some(a) = redis().await else { return };
    let b = SharedRedis::new(&url(), Duration::from_millis(500)).unwrap();
    let (a, b) = (RedisRateLimiter::new(a), RedisRateLimiter::new(b));
    let quota = Quota::per_secs(5, 60).unwrap();
    let key = unique("rl");
    let now = t0();
    // 5 at once, spread over two instances, then refused on both.
    for i in 0..5 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            limiter.take(&key, quota, 1, now).await.unwrap(),
            None,
            "take {i}"
        );
    }
    let wait = a.take(&key, quota, 1, now).await.unwrap().expect("refused");
    assert!(
        wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
        "{wait:?}"
    );
    assert!(b.take(&key, quota, 1, now).await.unwrap().is_some());
    // One cell comes back every 12 s, for everyone.
    let later = now + ChronoDuration::seconds(12);
    assert_eq!(b.take(&key, quota, 1, later).await.unwrap(), None);
    assert!(a.take(&key, quota, 1, later).await.unwrap().is_some());
}

#[tokio::test]
async fn redis_and_memory_answer_alike() {
    let Some(r) = redis().await else { return };
    let shared = RedisRateLimiter::new(r);
    let local = InMemoryRateLimiter::default();
    let quota = Quota::per_secs(10, 10).unwrap();
    let key = unique("same");
    let start = t0();
    for step in 0..60i64 {
        let now = start + ChronoDuration::milliseconds(step * 137);
        let cost = 1 + u32::try_from(step % 4).unwrap();
        let x = shared.take(&key, quota, cost, now).await.unwrap();
        let y = local.take(&key, quota, cost, now).await.unwrap();
        assert_eq!(x.is_some(), y.is_some(), "step {step}: {x:?} vs {y:?}");
        if let (Some(x), Some(y)) = (x, y) {
            let diff = x.as_micros().abs_diff(y.as_micros());
            assert!(diff <= 1_000, "step {step}: waits {x:?} vs {y:?}");
        }
    }
}

#[tokio::test]
async fn failed_logins_count_across_instances() {
    let Some(a) = redis().await else { return };
    let b = SharedRedis::new(&url(), Duration::from_millis(500)).unwrap();
    let policy = LockoutPolicy::per_account();
    let ns = "t_account";
    let a: Arc<dyn FailureStore> = Arc::new(RedisFailures::new(a));
    let b: Arc<dyn FailureStore> = Arc::new(RedisFailures::new(b));
    let (la, lb) = (
        Lockout::with_store(policy, ns, a),
        Lockout::with_store(policy, ns, b),
    );
    let key = unique("owner@example.org");
    let now = t0();
    // Four failures over two instances, the fifth locks on either.
    for i in 0..4 {
        let l = if i % 2 == 0 { &la } else { &lb };
        assert_eq!(l.record_failure(&key, now).await, None);
    }
    assert!(lb.check(&key, now).await.is_ok());
    assert_eq!(
        la.record_failure(&key, now).await,
        Some(ChronoDuration::seconds(30))
    );
    let wait = lb.check(&key, now).await.expect_err("locked everywhere");
    assert!(
        wait <= Duration::from_secs(30) && wait > Duration::from_secs(29),
        "{wait:?}"
    );
    // The next lock doubles, also when counted on the other instance.
    let later = now + ChronoDuration::seconds(31);
    assert!(la.check(&key, later).await.is_ok());
    let mut got = None;
    for i in 0..5 {
        let l = if i % 2 == 0 { &lb } else { &la };
        got = l.record_failure(&key, later).await;
    }
    assert_eq!(got, Some(ChronoDuration::seconds(60)));
    la.record_success(&key).await;
    assert!(
        lb.check(&key, later).await.is_ok(),
        "a success clears it everywhere"
    );
}

#[tokio::test]
async fn known_clients_are_shared() {
    let Some(a) = redis().await else { return };
    let b = SharedRedis::new(&url(), Duration::from_millis(500)).unwrap();
    let policy = cyberhub_auth::KnownClientsPolicy::default();
    let (a, b) = (
        RedisKnownClients::new(a, policy),
        RedisKnownClients::new(b, policy),
    );
    let account = unique("account");
    let now = t0();
    assert!(!b.is_known(&account, "203.0.113.7", now).await.unwrap());
    a.remember(&account, "203.0.113.7", now).await.unwrap();
    assert!(b.is_known(&account, "203.0.113.7", now).await.unwrap());
    assert!(!b.is_known(&account, "198.51.100.1", now).await.unwrap());
    let forgotten = now + policy.remember_for + ChronoDuration::seconds(1);
    assert!(!b
        .is_known(&account, "203.0.113.7", forgotten)
        .await
        .unwrap());
}

/// Redis down: every part answers from this instance's memory, within the timeout.
#[tokio::test]
async fn without_redis_each_part_falls_back_to_memory() {
    // Nothing listens on port 1.
    let down = SharedRedis::new("redis://127.0.0.1:1", Duration::from_millis(200)).unwrap();
    assert!(down.ping().await.is_err());
    let limiter = RedisRateLimiter::new(down.clone());
    let quota = Quota::per_secs(2, 60).unwrap();
    let started = Instant::now();
    let now = t0();
    assert_eq!(limiter.take("k", quota, 1, now).await.unwrap(), None);
    assert_eq!(limiter.take("k", quota, 1, now).await.unwrap(), None);
    assert!(
        limiter.take("k", quota, 1, now).await.unwrap().is_some(),
        "the fallback still limits"
    );
    let lockout = Lockout::with_store(
        LockoutPolicy {
            threshold: 2,
            ..LockoutPolicy::per_account()
        },
        "t_down",
        Arc::new(RedisFailures::new(down.clone())),
    );
    assert_eq!(lockout.record_failure("who", now).await, None);
    assert!(lockout.record_failure("who", now).await.is_some());
    assert!(lockout.check("who", now).await.is_err(), "locked in memory");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "each call gave up within its timeout: {:?}",
        started.elapsed()
    );
    assert!(down.last_error().is_some());
}

/// A server whose Redis is down stays ready (the check says it is degraded) and serves
/// logins from its own memory; with Redis up the check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_its_redis_degrades_and_stays_ready() {
    use cyberhub_server::testing::{TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};
    let down = TestServer::start(|c| {
        c.service = cyberhub_server::Service::Core;
        c.redis_url = Some("redis://127.0.0.1:1".into());
        c.redis_timeout_ms = 100;
    })
    .await;
    let ready = down.get("/ready", None).await;
    assert_eq!(ready.code(), 200, "{}", ready.body);
    let check = ready.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shared_state (redis)")
        .cloned()
        .expect("a Redis check");
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(check["optional"], true, "{check}");
    assert!(
        check["error"].as_str().unwrap().contains("fall back"),
        "{check}"
    );
    let started = Instant::now();
    down.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    down.stop().await;

    if redis().await.is_none() {
        return;
    }
    let up = TestServer::start(|c| {
        c.service = cyberhub_server::Service::Core;
        c.redis_url = Some(url());
    })
    .await;
    let ready = up.get("/ready", None).await;
    assert_eq!(ready.code(), 200, "{}", ready.body);
    assert!(
        ready.body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "shared_state (redis)" && c["ok"] == true),
        "{}",
        ready.body
    );
    up.stop().await;
}

/// Two instances on one database that keep their guarantees in memory would give every
/// client two budgets: the second refuses to start (naming the fix). Sharing Redis, or
/// `allow_unshared_instances`, lets it start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_unshared_instance_on_one_database_refuses_to_start() {
    let Some(admin) = cyberhub_store::conformance::postgres_admin_url() else {
        return;
    };
    let (db, name) = cyberhub_store::conformance::create_postgres_database(&admin).await;
    let dir = std::env::temp_dir().join(format!("cyberhub-inst-{}", uuid::Uuid::new_v4().simple()));
    let config = |redis: Option<String>| {
        let mut c = cyberhub_server::testing::TestServer::config(&dir);
        c.database_url = db.clone();
        c.service = cyberhub_server::Service::Core;
        c.redis_url = redis;
        c
    };
    let start = |c: cyberhub_server::Config| async move {
        cyberhub_server::build(c)
            .await
            .expect("builds")
            .start(([127, 0, 0, 1], 0).into())
            .await
    };
    let first = start(config(None))
        .await
        .expect("the first instance starts");
    // Let its heartbeat land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = start(config(None))
        .await
        .expect_err("a second one without Redis");
    let msg = err.to_string();
    assert!(
        msg.contains("redis_url") && msg.contains("allow_unshared_instances"),
        "{msg}"
    );
    let mut allowed = config(None);
    allowed.allow_unshared_instances = true;
    let second = start(allowed).await.expect("allowed explicitly");
    second.stop().await.unwrap();
    first.stop().await.unwrap();
    // Both sharing Redis: fine, and a clean stop leaves the registry at once.
    if redis().await.is_some() {
        let a = start(config(Some(url()))).await.expect("a");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let b = start(config(Some(url())))
            .await
            .expect("b shares Redis with a");
        b.stop().await.unwrap();
        a.stop().await.unwrap();
        let alone = Instant::now();
        let c = start(config(None)).await.expect("everyone left");
        assert!(
            alone.elapsed() < Duration::from_secs(3),
            "{:?}",
            alone.elapsed()
        );
        c.stop().await.unwrap();
    }
    cyberhub_store::conformance::drop_postgres_database(&admin, &name).await;
    std::fs::remove_dir_all(dir).ok();
}
