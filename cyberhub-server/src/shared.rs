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
    /// After a failure, commands go straight to the fallback until this instant (ms since
    /// the epoch), so an unreachable Redis costs one timeout per [`DOWN_FOR`], not one per
    /// command.
    down_until_ms: Arc<AtomicI64>,
}

/// How long a failed command keeps the next ones from trying Redis.
pub const DOWN_FOR: Duration = Duration::from_secs(1);

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
            down_until_ms: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The client (for a connection of its own, such as a subscription).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs `f` on the connection within the timeout; records the outcome.
    async fn run<T, F, Fut>(&self, what: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let now_ms = Utc::now().timestamp_millis();
        if now_ms < self.down_until_ms.load(Ordering::Relaxed) {
            return Err("Redis did not answer a moment ago (falling back)".to_owned());
        }
        let outcome = match tokio::time::timeout(self.timeout, f(self.conn.clone())).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("Redis did not answer in time".to_owned()),
        };
        if outcome.is_err() {
            let until =
                Utc::now().timestamp_millis() + i64::try_from(DOWN_FOR.as_millis()).unwrap_or(1000);
            self.down_until_ms.store(until, Ordering::Relaxed);
        }
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

    /// `PING`: `Ok` when Redis answers (tried even while marked down, so that `/ready` and
    /// the recovery see it come back).
    pub async fn ping(&self) -> Result<(), String> {
        self.down_until_ms.store(0, Ordering::Relaxed);
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

/// Failed-login counts and locks in Redis (one hash per key), with the same escalation as
/// the in-process store; that store while Redis does not answer.
pub struct RedisFailures {
    redis: SharedRedis,
    script: redis::Script,
    fallback: cyberhub_auth::InMemoryFailures,
}

impl std::fmt::Debug for RedisFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFailures")
            .field("redis", &self.redis)
            .finish()
    }
}

/// `check`: the lock's remaining milliseconds (0: not locked). `fail`: records a failure
/// and returns the lock it triggered in milliseconds (0: none). Times in milliseconds.
const FAILURE_SCRIPT: &str = r"
local now = tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'f', 'l', 'u', 't')
local f = tonumber(h[1] or '0')
local l = tonumber(h[2] or '0')
local u = tonumber(h[3] or '0')
local t = tonumber(h[4] or '0')
if ARGV[1] == 'check' then
  if u > now then return u - now end
  return 0
end
local threshold = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local maxl = tonumber(ARGV[5])
local forget = tonumber(ARGV[6])
if t > 0 and now - t > forget then f = 0; l = 0; u = 0 end
f = f + 1
local lock = 0
if f >= threshold then
  f = 0
  l = l + 1
  local level = l - 1
  if level > 20 then level = 20 end
  lock = base * (2 ^ level)
  if lock > maxl then lock = maxl end
  u = now + lock
end
redis.call('HSET', KEYS[1], 'f', f, 'l', l, 'u', string.format('%.0f', u), 't', string.format('%.0f', now))
local keep = forget
if u - now > keep then keep = u - now end
redis.call('PEXPIRE', KEYS[1], math.floor(keep) + 1000)
return lock
";

impl RedisFailures {
    /// Failure counts on `redis`.
    pub fn new(redis: SharedRedis) -> Self {
        Self {
            redis,
            script: redis::Script::new(FAILURE_SCRIPT),
            fallback: cyberhub_auth::InMemoryFailures::new(100_000),
        }
    }

    fn key(key: &str) -> String {
        format!("{KEY_PREFIX}lock:{key}")
    }
}

fn millis(d: chrono::Duration) -> i64 {
    d.num_milliseconds().max(1)
}

#[async_trait]
impl cyberhub_auth::FailureStore for RedisFailures {
    async fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        let k = Self::key(key);
        let script = &self.script;
        let now_ms = now.timestamp_millis();
        match self
            .redis
            .run("lock-out", |mut c| async move {
                script
                    .key(&k)
                    .arg("check")
                    .arg(now_ms)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
        {
            Ok(0) => self.fallback.check_now(key, now),
            Ok(ms) => Err(Duration::from_millis(u64::try_from(ms).unwrap_or(1))),
            Err(_) => self.fallback.check_now(key, now),
        }
    }

    async fn record_failure(
        &self,
        policy: &cyberhub_auth::LockoutPolicy,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<chrono::Duration> {
        let k = Self::key(key);
        let script = &self.script;
        let now_ms = now.timestamp_millis();
        let p = *policy;
        match self
            .redis
            .run("lock-out", |mut c| async move {
                script
                    .key(&k)
                    .arg("fail")
                    .arg(now_ms)
                    .arg(p.threshold.max(1))
                    .arg(millis(p.base_lock))
                    .arg(millis(p.max_lock))
                    .arg(millis(p.forget_after))
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
        {
            Ok(0) => None,
            Ok(ms) => Some(chrono::Duration::milliseconds(ms)),
            Err(_) => self.fallback.failure_now(policy, key, now),
        }
    }

    async fn record_success(&self, key: &str) {
        self.fallback.success_now(key);
        let k = Self::key(key);
        let _ = self
            .redis
            .run("lock-out", |mut c| async move {
                redis::cmd("DEL").arg(&k).query_async::<()>(&mut c).await
            })
            .await;
    }
}

/// The clients each account signed in from, in Redis (a sorted set per account, scored by
/// the sign-in time); this process's memory while Redis does not answer.
#[derive(Debug)]
pub struct RedisKnownClients {
    redis: SharedRedis,
    policy: cyberhub_auth::KnownClientsPolicy,
    fallback: cyberhub_auth::InMemoryKnownClients,
}

impl RedisKnownClients {
    /// Known clients on `redis`, remembered under `policy`.
    pub fn new(redis: SharedRedis, policy: cyberhub_auth::KnownClientsPolicy) -> Self {
        Self {
            redis,
            policy,
            fallback: cyberhub_auth::InMemoryKnownClients::new(policy),
        }
    }
}

#[async_trait]
impl cyberhub_auth::KnownClients for RedisKnownClients {
    async fn remember(
        &self,
        account: &str,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> cyberhub_auth::Result<()> {
        self.fallback.remember(account, bucket, now).await?;
        let k = format!("{KEY_PREFIX}known:{account}");
        let now_ms = now.timestamp_millis();
        let keep = millis(self.policy.remember_for);
        let per_account = i64::try_from(self.policy.per_account.max(1)).unwrap_or(8);
        let bucket = bucket.to_owned();
        let _ = self
            .redis
            .run("known clients", |mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("ZADD")
                    .arg(&k)
                    .arg(now_ms)
                    .arg(&bucket)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&k)
                    .arg("-inf")
                    .arg(now_ms - keep)
                    .ignore()
                    .cmd("ZREMRANGEBYRANK")
                    .arg(&k)
                    .arg(0)
                    .arg(-(per_account + 1))
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&k)
                    .arg(keep)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }

    async fn is_known(
        &self,
        account: &str,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> cyberhub_auth::Result<bool> {
        let k = format!("{KEY_PREFIX}known:{account}");
        let b = bucket.to_owned();
        match self
            .redis
            .run("known clients", |mut c| async move {
                redis::cmd("ZSCORE")
                    .arg(&k)
                    .arg(&b)
                    .query_async::<Option<f64>>(&mut c)
                    .await
            })
            .await
        {
            Ok(Some(at)) => {
                Ok(now.timestamp_millis() as f64 - at <= millis(self.policy.remember_for) as f64)
            }
            // Remembered during an outage (in memory only): still known.
            Ok(None) | Err(_) => self.fallback.is_known(account, bucket, now).await,
        }
    }
}

/// The channel session revocations are announced on.
pub const REVOCATIONS_CHANNEL: &str = "cyberhub:revocations";

/// Announces ended sessions and changed users to every instance (Redis pub/sub); each
/// instance's [`subscribe_revocations`] task drops its cached answers at once.
#[derive(Debug, Clone)]
pub struct RedisRevocations {
    redis: SharedRedis,
}

impl RedisRevocations {
    /// Announcements on `redis`.
    pub fn new(redis: SharedRedis) -> Self {
        Self { redis }
    }

    fn publish(&self, message: String) {
        let redis = self.redis.clone();
        // Fire and forget: the change has committed; a lost announcement costs at most
        // `session_check_ttl` of staleness on the other instances.
        tokio::spawn(async move {
            let _ = redis
                .run("revocation", |mut c| async move {
                    redis::cmd("PUBLISH")
                        .arg(REVOCATIONS_CHANNEL)
                        .arg(&message)
                        .query_async::<i64>(&mut c)
                        .await
                })
                .await;
        });
    }
}

impl cyberhub_auth::SessionEvents for RedisRevocations {
    fn session_ended(&self, sid: cyberhub_domain::SessionId) {
        self.publish(format!("s:{}", sid.0));
    }

    fn user_changed(&self, user: UserId) {
        self.publish(format!("u:{}", user.0));
    }
}

/// Listens for [`RedisRevocations`] announcements and evicts them from `auth`'s cache;
/// reconnects after a failure; ends when `auth` is dropped.
pub fn subscribe_revocations(
    redis: &SharedRedis,
    auth: std::sync::Weak<cyberhub_auth::AuthService>,
) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    let client = redis.client().clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            if auth.strong_count() == 0 {
                return;
            }
            let connect = async {
                let mut pubsub = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
                pubsub
                    .subscribe(REVOCATIONS_CHANNEL)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(pubsub)
            };
            let mut pubsub = match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "revocation subscription: Redis unavailable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(_) => {
                    tracing::debug!("revocation subscription: connecting timed out");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let mut messages = pubsub.on_message();
            loop {
                let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
                let Some(service) = auth.upgrade() else {
                    return;
                };
                match next {
                    Err(_) => continue, // quiet: check that the service still exists
                    Ok(None) => break,  // the connection ended: reconnect after a pause
                    Ok(Some(msg)) => {
                        backoff = Duration::from_millis(100);
                        let Ok(text) = msg.get_payload::<String>() else {
                            continue;
                        };
                        let id = text.get(2..).and_then(|s| uuid::Uuid::parse_str(s).ok());
                        match (text.get(..2), id) {
                            (Some("s:"), Some(id)) => {
                                service.evict_session(cyberhub_domain::SessionId(id))
                            }
                            (Some("u:"), Some(id)) => service.evict_user(UserId(id)),
                            _ => {}
                        }
                    }
                }
            }
            drop(messages);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}
