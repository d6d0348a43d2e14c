//! Rate limits on the costly and the unauthenticated use cases, per client and per account.
//!
//! The algorithm is GCRA (the generic cell rate algorithm of ATM networks, the one behind
//! `redis-cell` and the `governor` crate): each key keeps one timestamp, its *theoretical
//! arrival time* (TAT). A [`Quota`] of `burst` per `period` admits `burst` requests at
//! once and then one every `period / burst`; a request of cost `n` (e.g. `n` texts to
//! embed) takes `n` cells. It needs no background refill, stores 8 bytes per key, and is
//! the same arithmetic in this process ([`InMemoryRateLimiter`]) and in a shared store (a
//! Redis script, so that several instances share one budget): the two answer alike for
//! the same sequence of requests.
//!
//! Time comes from the caller, so tests are exact. Which limits apply to which use case is
//! [`RateLimits`]; [`AuthService`](crate::AuthService) and [`App`](crate::App) apply them.

use crate::error::{AuthError, Result};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// `burst` cells per `period`: `burst` at once, then one every `period / burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    burst: NonZeroU32,
    period: Duration,
}

impl Quota {
    /// `burst` cells per `period` (`None` when `period` is zero).
    pub fn new(burst: NonZeroU32, period: Duration) -> Option<Self> {
        (!period.is_zero()).then_some(Self { burst, period })
    }

    /// `burst` per `secs` seconds; a zero argument gives `None`.
    pub fn per_secs(burst: u32, secs: u64) -> Option<Self> {
        Self::new(NonZeroU32::new(burst)?, Duration::from_secs(secs))
    }

    /// Cells admitted at once.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The window `burst` refers to.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Time one cell takes to come back (`period / burst`), in nanoseconds (at least 1).
    pub fn interval_nanos(&self) -> u64 {
        let n = self.period.as_nanos() / u128::from(self.burst.get());
        u64::try_from(n).unwrap_or(u64::MAX).max(1)
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.burst, self.period.as_secs())
    }
}

impl std::str::FromStr for Quota {
    type Err = String;

    /// `"40/60s"`, `"100/10m"`, `"5/1h"`: burst, then the period with its unit (`s`, `m`,
    /// `h`; seconds when there is none).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s:?}: expected BURST/PERIOD, e.g. 40/60s, 100/10m or 5/1h");
        let (burst, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let (digits, unit) = match period.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => period.split_at(i),
            None => (period, "s"),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => Some(n),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            _ => None,
        }
        .ok_or_else(bad)?;
        Self::per_secs(burst, secs).ok_or_else(bad)
    }
}

impl<'de> serde::Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// GCRA on one key's theoretical arrival time `tat` (nanoseconds since the epoch; 0 for
/// a key never seen). Returns the new TAT when `cost` cells fit, or how long to wait.
/// A cost above the burst is charged as the whole burst (it could never fit otherwise).
pub fn gcra(tat: u64, now: u64, quota: Quota, cost: u32) -> std::result::Result<u64, Duration> {
    let interval = quota.interval_nanos();
    let cost = u64::from(cost.clamp(1, quota.burst()));
    let tolerance = interval.saturating_mul(u64::from(quota.burst()));
    let new_tat = tat.max(now).saturating_add(interval.saturating_mul(cost));
    let allow_at = new_tat.saturating_sub(tolerance);
    if allow_at > now {
        Err(Duration::from_nanos(allow_at - now))
    } else {
        Ok(new_tat)
    }
}

/// Where the GCRA timestamps live: this process ([`InMemoryRateLimiter`]) or a store that
/// several instances share.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Takes `cost` cells of `quota` for `key` at `now`: `Ok(None)` when admitted,
    /// `Ok(Some(wait))` when refused (nothing is taken), `Err` when the limiter itself
    /// failed.
    async fn take(
        &self,
        key: &str,
        quota: Quota,
        cost: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>>;
}

/// Nanoseconds since the epoch (0 before it).
pub fn epoch_nanos(t: DateTime<Utc>) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// GCRA timestamps in this process's memory, at most `max_keys` of them. When full, a tenth
/// is freed in one pass: keys whose TAT has passed first (they are as good as new), then
/// the stalest; so a new key costs O(1) amortised, not a scan of the map per request.
#[derive(Debug)]
pub struct InMemoryRateLimiter {
    tats: Mutex<HashMap<String, u64>>,
    max_keys: usize,
}

impl InMemoryRateLimiter {
    /// A limiter that tracks at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        Self {
            tats: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(1),
        }
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.tats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The synchronous step behind [`RateLimiter::take`].
    pub fn take_now(
        &self,
        key: &str,
        quota: Quota,
        cost: u32,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let now = epoch_nanos(now);
        let mut tats = self.lock();
        let tat = tats.get(key).copied().unwrap_or(0);
        match gcra(tat, now, quota, cost) {
            Err(wait) => Some(wait),
            Ok(new_tat) => {
                if !tats.contains_key(key) {
                    crate::lockout::make_room(&mut tats, self.max_keys, |t| *t <= now, |t| *t);
                }
                tats.insert(key.to_owned(), new_tat);
                None
            }
        }
    }
}

impl Default for InMemoryRateLimiter {
    fn default() -> Self {
        Self::new(200_000)
    }
}

#[async_trait::async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn take(
        &self,
        key: &str,
        quota: Quota,
        cost: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>> {
        Ok(self.take_now(key, quota, cost, now))
    }
}

/// The use cases that are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Costly {
    /// `POST /auth/signup` (a password hash each).
    Signup,
    /// `POST /auth/login` (a password verification each).
    Login,
    /// `POST /auth/refresh`.
    Refresh,
    /// `POST /auth/password` (a verification and a hash).
    PasswordChange,
    /// `POST /embeddings`, charged per text.
    Embeddings,
    /// `POST /search` (an inference and an index query).
    Search,
    /// `POST /recommendations` and `GET /recommendations/{user_id}`.
    Recommendations,
    /// `POST /personality/analyze`.
    Personality,
    /// `POST /index/rebuild` (re-embeds the whole catalog).
    Reindex,
}

impl Costly {
    /// Every limited use case.
    pub const ALL: [Costly; 9] = [
        Costly::Signup,
        Costly::Login,
        Costly::Refresh,
        Costly::PasswordChange,
        Costly::Embeddings,
        Costly::Search,
        Costly::Recommendations,
        Costly::Personality,
        Costly::Reindex,
    ];

    /// The name in configuration and in keys (`signup`, `password_change`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Costly::Signup => "signup",
            Costly::Login => "login",
            Costly::Refresh => "refresh",
            Costly::PasswordChange => "password_change",
            Costly::Embeddings => "embeddings",
            Costly::Search => "search",
            Costly::Recommendations => "recommendations",
            Costly::Personality => "personality",
            Costly::Reindex => "reindex",
        }
    }
}

/// The quotas of one use case: per client address (IPv6 by /64) and per account. `None`
/// is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// Per client address.
    pub per_client: Option<Quota>,
    /// Per account (the authenticated caller).
    pub per_account: Option<Quota>,
}

impl Rule {
    fn of(per_client: Option<Quota>, per_account: Option<Quota>) -> Self {
        Self {
            per_client,
            per_account,
        }
    }
}

/// Every use case's quotas. The defaults admit a classroom behind one NAT address (100
/// sign-ups or logins at once) and a person at work, and stop a flood; see the README's
/// security section for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Sign-up.
    pub signup: Rule,
    /// Login (failed logins also count towards the lock-out).
    pub login: Rule,
    /// Token refresh.
    pub refresh: Rule,
    /// Password change (failures also count towards the lock-out).
    pub password_change: Rule,
    /// Embeddings, in texts.
    pub embeddings: Rule,
    /// Semantic search.
    pub search: Rule,
    /// Recommendations.
    pub recommendations: Rule,
    /// Personality analysis.
    pub personality: Rule,
    /// Index rebuild.
    pub reindex: Rule,
}

impl Default for RateLimits {
    fn default() -> Self {
        let q = Quota::per_secs;
        Self {
            signup: Rule::of(q(100, 100), None),
            login: Rule::of(q(100, 20), None),
            refresh: Rule::of(q(120, 20), None),
            password_change: Rule::of(q(20, 60), q(10, 600)),
            embeddings: Rule::of(q(8192, 60), q(4096, 60)),
            search: Rule::of(q(240, 60), q(120, 60)),
            recommendations: Rule::of(q(240, 60), q(120, 60)),
            personality: Rule::of(q(60, 60), q(20, 60)),
            reindex: Rule::of(q(10, 60), q(5, 60)),
        }
    }
}

impl RateLimits {
    /// No limit anywhere.
    pub fn off() -> Self {
        let none = Rule::default();
        Self {
            signup: none,
            login: none,
            refresh: none,
            password_change: none,
            embeddings: none,
            search: none,
            recommendations: none,
            personality: none,
            reindex: none,
        }
    }

    /// The quotas of `what`.
    pub fn rule(&self, what: Costly) -> Rule {
        *self.rule_ref(what)
    }

    fn rule_ref(&self, what: Costly) -> &Rule {
        match what {
            Costly::Signup => &self.signup,
            Costly::Login => &self.login,
            Costly::Refresh => &self.refresh,
            Costly::PasswordChange => &self.password_change,
            Costly::Embeddings => &self.embeddings,
            Costly::Search => &self.search,
            Costly::Recommendations => &self.recommendations,
            Costly::Personality => &self.personality,
            Costly::Reindex => &self.reindex,
        }
    }

    fn rule_mut(&mut self, what: Costly) -> &mut Rule {
        match what {
            Costly::Signup => &mut self.signup,
            Costly::Login => &mut self.login,
            Costly::Refresh => &mut self.refresh,
            Costly::PasswordChange => &mut self.password_change,
            Costly::Embeddings => &mut self.embeddings,
            Costly::Search => &mut self.search,
            Costly::Recommendations => &mut self.recommendations,
            Costly::Personality => &mut self.personality,
            Costly::Reindex => &mut self.reindex,
        }
    }

    /// Sets one quota from a setting such as `signup_per_client = "40/60s"` (`off` or
    /// `none` removes it). Names are case-insensitive.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        let name = name.to_ascii_lowercase();
        let (what, which) = Costly::ALL
            .iter()
            .find_map(|c| {
                let rest = name.strip_prefix(c.name())?.strip_prefix('_')?;
                Some((*c, rest.to_owned()))
            })
            .ok_or_else(|| format!("unknown rate limit {name:?}"))?;
        let quota = match value.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "0" => None,
            v => Some(v.parse::<Quota>()?),
        };
        let rule = self.rule_mut(what);
        match which.as_str() {
            "per_client" => rule.per_client = quota,
            "per_account" => rule.per_account = quota,
            _ => return Err(format!("unknown rate limit {name:?}")),
        }
        Ok(())
    }
}

/// Applies [`RateLimits`] through a [`RateLimiter`].
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: RateLimits,
    limiter: std::sync::Arc<dyn RateLimiter>,
}

impl Throttle {
    /// `limits` kept in `limiter`.
    pub fn new(limits: RateLimits, limiter: std::sync::Arc<dyn RateLimiter>) -> Self {
        Self { limits, limiter }
    }

    /// The quotas.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Takes `cost` cells of `what` for the client bucket and the account (either may be
    /// absent). A refusal is [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited)
    /// with the wait. The client's cells are taken first; when the account then refuses,
    /// the client's cells stay spent (a refused request still cost the server a check).
    pub async fn check(
        &self,
        what: Costly,
        client_bucket: Option<&str>,
        account: Option<&str>,
        cost: u32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let rule = self.limits.rule(what);
        let keys = [
            rule.per_client
                .zip(client_bucket)
                .map(|(q, c)| (q, format!("rl:{}:c:{c}", what.name()))),
            rule.per_account
                .zip(account)
                .map(|(q, a)| (q, format!("rl:{}:a:{a}", what.name()))),
        ];
        for (quota, key) in keys.into_iter().flatten() {
            if let Some(wait) = self.limiter.take(&key, quota, cost, now).await? {
                return Err(AuthError::too_many_requests(wait));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn quota_parses_and_prints() {
        let q: Quota = "40/60s".parse().unwrap();
        assert_eq!((q.burst(), q.period().as_secs()), (40, 60));
        assert_eq!("5/1h".parse::<Quota>().unwrap().period().as_secs(), 3600);
        assert_eq!("100/10m".parse::<Quota>().unwrap().period().as_secs(), 600);
        assert_eq!("7/9".parse::<Quota>().unwrap().period().as_secs(), 9);
        assert_eq!(q.to_string(), "40/60s");
        for bad in ["", "40", "0/60s", "40/0s", "40/60d", "x/60s", "40/-1s"] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn gcra_admits_the_burst_then_one_per_interval() {
        let q = Quota::per_secs(4, 4).unwrap(); // 4 at once, then one per second
        let mut tat = 0;
        let t0 = 1_000 * S;
        for _ in 0..4 {
            tat = gcra(tat, t0, q, 1).unwrap();
        }
        let wait = gcra(tat, t0, q, 1).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        // Half a second later: still refused, half a second to go.
        assert_eq!(
            gcra(tat, t0 + S / 2, q, 1).unwrap_err(),
            Duration::from_millis(500)
        );
        // After a second exactly one more fits.
        tat = gcra(tat, t0 + S, q, 1).unwrap();
        assert!(gcra(tat, t0 + S, q, 1).is_err());
        // A long pause refills the whole burst, and no more than it.
        let later = t0 + 100 * S;
        for _ in 0..4 {
            tat = gcra(tat, later, q, 1).unwrap();
        }
        assert!(gcra(tat, later, q, 1).is_err());
    }

    #[test]
    fn gcra_charges_the_cost() {
        let q = Quota::per_secs(10, 10).unwrap();
        let t0 = 5 * S;
        let tat = gcra(0, t0, q, 7).unwrap();
        assert_eq!(gcra(tat, t0, q, 4).unwrap_err(), Duration::from_secs(1));
        let tat = gcra(tat, t0, q, 3).unwrap();
        assert!(gcra(tat, t0, q, 1).is_err());
        // A cost above the burst is charged as the burst: it fits into an empty bucket.
        assert!(gcra(0, t0, q, 1_000).is_ok());
    }

    #[tokio::test]
    async fn throttle_keys_client_and_account_apart() {
        let limits = RateLimits {
            search: Rule::of(Quota::per_secs(3, 60), Quota::per_secs(2, 60)),
            ..RateLimits::off()
        };
        let t = Throttle::new(limits, std::sync::Arc::new(InMemoryRateLimiter::default()));
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        let s = Costly::Search;
        t.check(s, Some("10.0.0.1"), Some("u1"), 1, now)
            .await
            .unwrap();
        t.check(s, Some("10.0.0.1"), Some("u1"), 1, now)
            .await
            .unwrap();
        let e = t
            .check(s, Some("10.0.0.1"), Some("u1"), 1, now)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        // Another account from the same client: the client has one cell left (the refused
        // request spent one of its three).
        let e = t
            .check(s, Some("10.0.0.1"), Some("u2"), 1, now)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::RateLimited);
        // The same account from elsewhere is refused by the account's quota.
        assert!(t
            .check(s, Some("10.0.0.2"), Some("u1"), 1, now)
            .await
            .is_err());
        assert!(t
            .check(s, Some("10.0.0.2"), Some("u3"), 1, now)
            .await
            .is_ok());
        // Other use cases are not limited here.
        for _ in 0..100 {
            t.check(Costly::Login, Some("10.0.0.1"), None, 1, now)
                .await
                .unwrap();
        }
    }

    #[test]
    fn memory_is_bounded() {
        let l = InMemoryRateLimiter::new(10);
        let q = Quota::per_secs(1, 3600).unwrap();
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        for i in 0..100 {
            assert!(l.take_now(&format!("k{i}"), q, 1, now).is_none());
        }
        assert!(l.len() <= 10);
    }

    /// A full limiter frees a tenth in one pass, keeping the keys still being limited.
    #[test]
    fn eviction_frees_a_batch() {
        let l = InMemoryRateLimiter::new(1_000);
        let q = Quota::per_secs(1, 3600).unwrap();
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        for i in 0..1_000 {
            let at = now + chrono::Duration::milliseconds(i);
            assert!(l.take_now(&format!("k{i}"), q, 1, at).is_none());
        }
        assert_eq!(l.len(), 1_000);
        let at = now + chrono::Duration::seconds(2);
        assert!(l.take_now("new", q, 1, at).is_none());
        assert_eq!(l.len(), 901);
        assert!(
            l.take_now("k999", q, 1, at).is_some(),
            "a recent key is still limited"
        );
        for i in 0..50_000 {
            l.take_now(&format!("flood{i}"), q, 1, at);
            assert!(l.len() <= 1_000);
        }
    }

    #[test]
    fn settings_by_name() {
        let mut l = RateLimits::default();
        l.set("SIGNUP_PER_CLIENT", "3/1m").unwrap();
        assert_eq!(l.signup.per_client, Quota::per_secs(3, 60));
        l.set("password_change_per_account", "off").unwrap();
        assert_eq!(l.password_change.per_account, None);
        assert!(l.set("signup_per_planet", "3/1m").is_err());
        assert!(l.set("nothing_per_client", "3/1m").is_err());
        assert!(l.set("login_per_client", "lots").is_err());
    }
}
