//! State that several server instances share through Redis (feature `redis`, setting
//! `redis_url`): rate-limit counters, failed-login counters, session revocations and the
//! recommendation cache.
//!
//! One multiplexed, self-reconnecting connection per process ([`redis::aio::ConnectionManager`]),
//! every command bounded by `redis_timeout_ms`.
//!
//! **When Redis is down** every part falls back to this process's memory, and says so in
//! the log (at most once a minute) and in `/ready` (as a warning; the instance stays
//! ready): logins and the rest of the API stay available, while counters are kept per
//! instance until Redis answers again, so a client may get up to one budget per
//! instance for that time. Revocations fall back to the database check every
//! `session_check_ttl` (1 s). Availability over strictness, for the length of the outage.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cyberhub_ai::cache::{CacheKey, RecommendationCache};
use cyberhub_auth::throttle::{InMemoryRateLimiter, Quota, RateLimiter};
use cyberhub_domain::api_ai::RecommendationResponse;
use cyberhub_domain::UserId;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Prefix of every key this crate writes.
pub const KEY_PREFIX: &str = "cyberhub:";

/// A connection to the shared Redis, and the state of the last command.
#[derive(Clone)]
pub struct SharedRedis {
    conn: ConnectionManager,
    client: redis::Client,
    timeout: Duration,
    last_warning: Arc<AtomicI64>,
    last_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("timeout", &self.timeout)
            .field("last_error", &self.last_error())
            .finish()
    }
}

impl SharedRedis {
    /// A connection to `url` (`redis://host:port/db`) with `timeout` per command. Connects
    /// on first use and reconnects after failures, so an instance starts while Redis is
    /// down (and falls back meanwhile). Must be called inside a Tokio runtime.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url: {e}"))?;
        let timeout = timeout.max(Duration::from_millis(10));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("redis_url: {e}"))?;
        Ok(Self {
            conn,
            client,
            timeout,
            last_warning: Arc::new(AtomicI64::new(0)),
            last_error: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// The client (for a connection of its own, such as a subscription).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The per-command timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `f` on the connection within the timeout; records the outcome.
    async fn run<T, F, Fut>(&self, what: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let outcome = match tokio::time::timeout(self.timeout, f(self.conn.clone())).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("Redis did not answer in time".to_owned()),
        };
        let mut last = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &outcome {
            Ok(_) => *last = None,
            Err(e) => {
                *last = Some(e.clone());
                let now = Utc::now().timestamp();
                let before = self.last_warning.load(Ordering::Relaxed);
                if now - before >= 60
                    && self
                        .last_warning
                        .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::warn!(error = %e, what, "Redis unavailable: falling back to this instance's memory");
                }
            }
        }
        outcome
    }

    /// `PING`: `Ok` when Redis answers.
    pub async fn ping(&self) -> Result<(), String> {
        self.run("ping", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .map(|_| ())
    }

    /// The error of the last command, if it failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// GCRA in Redis: the same arithmetic as [`cyberhub_auth::throttle::gcra`], in
/// microseconds (Lua numbers are doubles: nanoseconds since the epoch would lose
/// precision). Returns 0 when admitted, else the wait in microseconds.
const GCRA_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return allow_at - now
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
return 0
";

/// Rate limits counted in Redis, so that several instances share one budget per key;
/// this process's [`InMemoryRateLimiter`] while Redis does not answer.
pub struct RedisRateLimiter {
    redis: SharedRedis,
    script: redis::Script,
    fallback: InMemoryRateLimiter,
}

impl RedisRateLimiter {
    /// A limiter on `redis`.
    pub fn new(redis: SharedRedis) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA_SCRIPT),
            fallback: InMemoryRateLimiter::default(),
        }
    }
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("redis", &self.redis)
            .finish()
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn take(
        &self,
        key: &str,
        quota: Quota,
        cost: u32,
        now: DateTime<Utc>,
    ) -> cyberhub_auth::Result<Option<Duration>> {
        let now_us = now.timestamp_micros().max(0);
        let interval_us = (quota.interval_nanos() / 1000).max(1);
        let cost = cost.clamp(1, quota.burst());
        let redis_key = format!("{KEY_PREFIX}rl:{key}");
        let script = &self.script;
        let answer = self
            .redis
            .run("rate limit", |mut c| async move {
                script
                    .key(&redis_key)
                    .arg(now_us)
                    .arg(interval_us)
                    .arg(quota.burst())
                    .arg(cost)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        match answer {
            Ok(0) => Ok(None),
            Ok(wait_us) => Ok(Some(Duration::from_micros(
                u64::try_from(wait_us).unwrap_or(1),
            ))),
            Err(_) => self.fallback.take(key, quota, cost, now).await,
        }
    }
}

/// Recommendation answers in Redis, shared by every instance for `ttl`; a miss while Redis
/// does not answer. Keys carry the learner's progress fingerprint, so an entry is never
/// served after a change, on any instance.
#[derive(Debug)]
pub struct RedisCache {
    redis: SharedRedis,
    ttl: Duration,
}

impl RedisCache {
    /// A cache on `redis` whose entries live `ttl`.
    pub fn new(redis: SharedRedis, ttl: Duration) -> Self {
        Self { redis, ttl }
    }

    fn key(key: &CacheKey) -> String {
        format!(
            "{KEY_PREFIX}rec:{}:{}:{}:{:016x}",
            key.user.0,
            key.content_type.map_or("any", |t| t.as_str()),
            key.limit,
            key.fingerprint
        )
    }
}

#[async_trait]
impl RecommendationCache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Option<Arc<RecommendationResponse>> {
        let k = Self::key(key);
        let text: String = self
            .redis
            .run("cache get", |mut c| async move {
                redis::cmd("GET")
                    .arg(&k)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await
            .ok()??;
        serde_json::from_str(&text).ok().map(Arc::new)
    }

    async fn put(&self, key: CacheKey, value: Arc<RecommendationResponse>) {
        let Ok(text) = serde_json::to_string(&*value) else {
            return;
        };
        let k = Self::key(&key);
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = self
            .redis
            .run("cache put", |mut c| async move {
                redis::cmd("SET")
                    .arg(&k)
                    .arg(text)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    fn invalidate_user(&self, _user: UserId) {
        // Entries are keyed by the progress fingerprint and expire after `ttl`: nothing
        // stale can be served, so no round trip is spent here.
    }
}
