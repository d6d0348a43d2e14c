//! Escalating lock-out after repeated failed logins, per (account, client), per account
//! across clients and per client (see [`client_bucket`]); and the clients that signed in to
//! an account before ([`KnownClients`]), which the lock-out across clients spares.
//!
//! After `threshold` failures a key is locked for `base_lock`; each further lock doubles
//! the duration up to `max_lock`. A key with no failure for `forget_after` starts over.
//! Time comes from the caller (a [`Clock`](cyberhub_domain::Clock)), so tests are exact.
//! Memory is bounded: at most `max_keys` keys are tracked; when full, a tenth is freed at
//! once (the forgotten, then the stalest), so a new key costs O(1) amortised.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Lock-out thresholds and durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures before a lock.
    pub threshold: u32,
    /// First lock's length.
    pub base_lock: Duration,
    /// Longest lock.
    pub max_lock: Duration,
    /// Quiet time after which a key's history is forgotten.
    pub forget_after: Duration,
    /// Most keys tracked at once.
    pub max_keys: usize,
}

impl LockoutPolicy {
    /// Per (account, client): 5 failures → 30 s, doubling to at most 15 min; forgotten after
    /// 1 h quiet.
    pub fn per_account() -> Self {
        Self {
            threshold: 5,
            base_lock: Duration::seconds(30),
            max_lock: Duration::minutes(15),
            forget_after: Duration::hours(1),
            max_keys: 100_000,
        }
    }

    /// Per account across every client: 100 failures → 60 s, doubling to at most 15 min.
    /// Slows guessing one account from many clients. It is a slow-down for new clients
    /// only: a client that signed in to the account before ([`KnownClients`]) is exempt, so
    /// strangers, from however many addresses, cannot lock the owner out of their devices.
    pub fn per_account_all_clients() -> Self {
        Self {
            threshold: 100,
            base_lock: Duration::seconds(60),
            max_lock: Duration::minutes(15),
            forget_after: Duration::hours(1),
            max_keys: 100_000,
        }
    }

    /// Per client address (IPv6: per /64): 20 failures → 60 s, doubling to at most 30 min.
    pub fn per_client() -> Self {
        Self {
            threshold: 20,
            base_lock: Duration::seconds(60),
            max_lock: Duration::minutes(30),
            forget_after: Duration::hours(1),
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    level: u32,
    locked_until: Option<DateTime<Utc>>,
    last_failure: DateTime<Utc>,
}

/// Where failure counts and locks live: this process ([`InMemoryFailures`]) or a store that
/// several instances share (the server's Redis store), so that the lock-out triggers after
/// the same number of attempts however many instances a client spreads them over. Keys
/// come namespaced by their [`Lockout`]; the policy comes with every call.
#[async_trait::async_trait]
pub trait FailureStore: Send + Sync + std::fmt::Debug {
    /// `Err(remaining)` while `key` is locked at `now`.
    async fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration>;
    /// Records a failure under `policy`; returns the lock length when this failure
    /// triggered a lock.
    async fn record_failure(
        &self,
        policy: &LockoutPolicy,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<Duration>;
    /// Forgets `key`'s failures (after a successful login).
    async fn record_success(&self, key: &str);
}

/// Failure counts in this process's memory: at most `max_keys` keys (the stalest are
/// dropped first, locked keys last).
#[derive(Debug)]
pub struct InMemoryFailures {
    max_keys: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

impl InMemoryFailures {
    /// A store of at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        Self {
            max_keys: max_keys.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`FailureStore::check`], synchronously.
    pub fn check_now(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
        let entries = self.lock();
        match entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err((until - now).to_std().unwrap_or_default()),
            _ => Ok(()),
        }
    }

    /// [`FailureStore::record_failure`], synchronously.
    pub fn failure_now(
        &self,
        p: &LockoutPolicy,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let mut entries = self.lock();
        if !entries.contains_key(key) {
            make_room(
                &mut entries,
                self.max_keys,
                |e| {
                    now - e.last_failure > p.forget_after && e.locked_until.is_none_or(|u| u <= now)
                },
                // Locked keys go last.
                |e| (e.locked_until.is_some_and(|u| u > now), e.last_failure),
            );
        }
        let e = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            level: 0,
            locked_until: None,
            last_failure: now,
        });
        if now - e.last_failure > p.forget_after {
            *e = Entry {
                failures: 0,
                level: 0,
                locked_until: None,
                last_failure: now,
            };
        }
        e.last_failure = now;
        e.failures += 1;
        if e.failures >= p.threshold {
            e.failures = 0;
            e.level = e.level.saturating_add(1);
            let lock = p.lock_for_level(e.level);
            e.locked_until = Some(now + lock);
            return Some(lock);
        }
        None
    }

    /// [`FailureStore::record_success`], synchronously.
    pub fn success_now(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[async_trait::async_trait]
impl FailureStore for InMemoryFailures {
    async fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
        self.check_now(key, now)
    }

    async fn record_failure(
        &self,
        policy: &LockoutPolicy,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        self.failure_now(policy, key, now)
    }

    async fn record_success(&self, key: &str) {
        self.success_now(key);
    }
}

impl LockoutPolicy {
    /// The lock after the `level`-th lock of a key: `base_lock` doubling per level, at most
    /// `max_lock`.
    pub fn lock_for_level(&self, level: u32) -> Duration {
        let factor = 1i32
            .checked_shl(level.saturating_sub(1).min(20))
            .unwrap_or(i32::MAX);
        (self.base_lock * factor).min(self.max_lock)
    }
}

/// Tracks failures for a set of keys (e-mails or client addresses) under one policy, in a
/// [`FailureStore`] (this process's memory unless a shared one is given).
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    namespace: &'static str,
    store: std::sync::Arc<dyn FailureStore>,
}

impl Lockout {
    /// A tracker with `policy`, in this process's memory.
    pub fn new(policy: LockoutPolicy) -> Self {
        Self::with_store(
            policy,
            "lockout",
            std::sync::Arc::new(InMemoryFailures::new(policy.max_keys)),
        )
    }

    /// A tracker with `policy` whose keys live in `store` under `namespace`.
    pub fn with_store(
        policy: LockoutPolicy,
        namespace: &'static str,
        store: std::sync::Arc<dyn FailureStore>,
    ) -> Self {
        Self {
            policy,
            namespace,
            store,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }

    /// `Err(remaining)` while `key` is locked at `now`.
    pub async fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
        self.store.check(&self.key(key), now).await
    }

    /// Records a failure; returns the lock length when this failure triggered a lock.
    pub async fn record_failure(&self, key: &str, now: DateTime<Utc>) -> Option<Duration> {
        self.store
            .record_failure(&self.policy, &self.key(key), now)
            .await
    }

    /// Forgets `key`'s failures (after a successful login).
    pub async fn record_success(&self, key: &str) {
        self.store.record_success(&self.key(key)).await;
    }
}

/// Makes room in a full in-process map at amortised O(1) per new key: once `map` holds
/// `max` keys, the entries `done` says are no longer needed are dropped and, should that free
/// less than a tenth of `max`, the stalest (smallest `stamp`) go until a tenth is free. So
/// one O(n) pass pays for the next `max / 10` new keys, instead of a scan per request.
pub(crate) fn make_room<K, V, S>(
    map: &mut HashMap<K, V>,
    max: usize,
    done: impl Fn(&V) -> bool,
    stamp: impl Fn(&V) -> S,
) where
    K: Eq + std::hash::Hash + Clone,
    S: Ord + Copy,
{
    if map.len() < max {
        return;
    }
    map.retain(|_, v| !done(v));
    let target = max.saturating_sub((max / 10).max(1));
    let Some(excess) = map.len().checked_sub(target).filter(|e| *e > 0) else {
        return;
    };
    let mut stamps: Vec<(S, K)> = map.iter().map(|(k, v)| (stamp(v), k.clone())).collect();
    stamps.select_nth_unstable_by_key(excess - 1, |(s, _)| *s);
    for (_, k) in stamps.into_iter().take(excess) {
        map.remove(&k);
    }
}

/// The client buckets (see [`client_bucket`]) that signed in to an account before. Such a
/// client is its owner's, so the lock-out per account across clients does not apply to it:
/// a stranger's wrong passwords, from however many clients, cannot stop the owner signing
/// in from a device they used before. Kept in this process by [`InMemoryKnownClients`]; a
/// store that several instances share can implement this trait.
#[async_trait::async_trait]
pub trait KnownClients: Send + Sync + std::fmt::Debug {
    /// Remembers that `bucket` signed in to `account` at `now`.
    async fn remember(&self, account: &str, bucket: &str, now: DateTime<Utc>) -> crate::Result<()>;
    /// Whether `bucket` signed in to `account` recently enough to be remembered at `now`.
    async fn is_known(
        &self,
        account: &str,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<bool>;
}

/// How many clients [`InMemoryKnownClients`] remembers, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownClientsPolicy {
    /// Client buckets remembered per account (the most recent sign-ins win).
    pub per_account: usize,
    /// How long a sign-in keeps its client known.
    pub remember_for: Duration,
    /// Most accounts remembered at once (the stalest are forgotten first).
    pub max_accounts: usize,
}

impl Default for KnownClientsPolicy {
    /// 8 clients per account for 30 days, 100,000 accounts: at most 800,000 remembered
    /// clients (a bound on entries, not a measured memory figure).
    fn default() -> Self {
        Self {
            per_account: 8,
            remember_for: Duration::days(30),
            max_accounts: 100_000,
        }
    }
}

/// [`KnownClients`] in this process's memory, bounded by [`KnownClientsPolicy`]. Accounts
/// and buckets are kept as 64-bit keyed hashes (the key is random per process, so nobody
/// can aim for a collision).
#[derive(Debug)]
pub struct InMemoryKnownClients {
    policy: KnownClientsPolicy,
    hasher: std::collections::hash_map::RandomState,
    accounts: Mutex<HashMap<u64, Clients>>,
}

/// One account's known clients: (bucket hash, last sign-in).
type Clients = Vec<(u64, DateTime<Utc>)>;

impl InMemoryKnownClients {
    /// An empty memory with `policy`.
    pub fn new(policy: KnownClientsPolicy) -> Self {
        Self {
            policy: KnownClientsPolicy {
                per_account: policy.per_account.max(1),
                max_accounts: policy.max_accounts.max(1),
                ..policy
            },
            hasher: std::collections::hash_map::RandomState::new(),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Accounts remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no account is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Clients>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hash(&self, s: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(s)
    }

    /// The synchronous step behind [`KnownClients::remember`].
    pub fn remember_now(&self, account: &str, bucket: &str, now: DateTime<Utc>) {
        let p = self.policy;
        let (a, b) = (self.hash(account), self.hash(bucket));
        let newest = |v: &Clients| v.iter().map(|(_, t)| *t).max();
        let mut accounts = self.lock();
        if !accounts.contains_key(&a) {
            make_room(
                &mut accounts,
                p.max_accounts,
                |v| newest(v).is_none_or(|t| now - t >= p.remember_for),
                newest,
            );
        }
        let clients = accounts.entry(a).or_default();
        clients.retain(|(_, t)| now - *t < p.remember_for);
        if let Some(c) = clients.iter_mut().find(|(h, _)| *h == b) {
            c.1 = now;
            return;
        }
        if clients.len() >= p.per_account {
            if let Some(oldest) = clients
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(i, _)| i)
            {
                clients.swap_remove(oldest);
            }
        }
        clients.push((b, now));
    }

    /// The synchronous step behind [`KnownClients::is_known`].
    pub fn is_known_now(&self, account: &str, bucket: &str, now: DateTime<Utc>) -> bool {
        let (a, b) = (self.hash(account), self.hash(bucket));
        self.lock().get(&a).is_some_and(|clients| {
            clients
                .iter()
                .any(|(h, t)| *h == b && now - *t < self.policy.remember_for)
        })
    }
}

impl Default for InMemoryKnownClients {
    fn default() -> Self {
        Self::new(KnownClientsPolicy::default())
    }
}

#[async_trait::async_trait]
impl KnownClients for InMemoryKnownClients {
    async fn remember(&self, account: &str, bucket: &str, now: DateTime<Utc>) -> crate::Result<()> {
        self.remember_now(account, bucket, now);
        Ok(())
    }

    async fn is_known(
        &self,
        account: &str,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<bool> {
        Ok(self.is_known_now(account, bucket, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cyberhub_domain::{Clock, ManualClock};

    /// The in-process store under one policy, called synchronously.
    struct Local {
        policy: LockoutPolicy,
        store: InMemoryFailures,
    }

    impl Local {
        fn new(policy: LockoutPolicy) -> Self {
            Self {
                policy,
                store: InMemoryFailures::new(policy.max_keys),
            }
        }
        fn record_failure(&self, key: &str, now: DateTime<Utc>) -> Option<Duration> {
            self.store.failure_now(&self.policy, key, now)
        }
        fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
            self.store.check_now(key, now)
        }
        fn record_success(&self, key: &str) {
            self.store.success_now(key);
        }
        fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
            self.store.lock()
        }
    }

    #[tokio::test]
    async fn a_lockout_namespaces_its_keys_in_a_shared_store() {
        let store: std::sync::Arc<dyn FailureStore> =
            std::sync::Arc::new(InMemoryFailures::new(100));
        let policy = LockoutPolicy {
            threshold: 2,
            ..LockoutPolicy::per_account()
        };
        let a = Lockout::with_store(policy, "a", store.clone());
        let b = Lockout::with_store(policy, "b", store.clone());
        let t = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        assert_eq!(a.record_failure("k", t).await, None);
        assert_eq!(a.record_failure("k", t).await, Some(Duration::seconds(30)));
        assert!(a.check("k", t).await.is_err());
        assert!(b.check("k", t).await.is_ok(), "another namespace");
        // A second handle on the same store (another instance) sees the lock.
        let a2 = Lockout::with_store(policy, "a", store);
        assert!(a2.check("k", t).await.is_err());
        a2.record_success("k").await;
        assert!(a.check("k", t).await.is_ok());
    }

    #[test]
    fn escalates_and_expires() {
        let clock = ManualClock::new(DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000));
        let l = Local::new(LockoutPolicy::per_account());
        for _ in 0..4 {
            assert_eq!(l.record_failure("a", clock.now()), None);
            assert!(l.check("a", clock.now()).is_ok());
        }
        assert_eq!(
            l.record_failure("a", clock.now()),
            Some(Duration::seconds(30))
        );
        assert_eq!(l.check("a", clock.now()).unwrap_err().as_secs(), 30);
        assert!(
            l.check("b", clock.now()).is_ok(),
            "other keys are unaffected"
        );
        clock.advance(Duration::seconds(29));
        assert!(l.check("a", clock.now()).is_err());
        clock.advance(Duration::seconds(1));
        assert!(l.check("a", clock.now()).is_ok(), "the lock expires");
        // The next lock is twice as long, then four times, ... up to the cap.
        let mut expected = vec![60, 120, 240, 480, 900, 900];
        expected.reverse();
        while let Some(secs) = expected.pop() {
            let mut got = None;
            for _ in 0..5 {
                got = l.record_failure("a", clock.now());
            }
            assert_eq!(got, Some(Duration::seconds(secs)));
            clock.advance(Duration::seconds(secs));
        }
        // A long quiet period forgets the history.
        clock.advance(Duration::hours(2));
        for _ in 0..4 {
            l.record_failure("a", clock.now());
        }
        assert_eq!(
            l.record_failure("a", clock.now()),
            Some(Duration::seconds(30))
        );
        l.record_success("a");
        assert!(l.check("a", clock.now()).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let p = LockoutPolicy {
            max_keys: 10,
            ..LockoutPolicy::per_client()
        };
        let l = Local::new(p);
        let t = DateTime::<Utc>::UNIX_EPOCH;
        for i in 0..100 {
            l.record_failure(&format!("k{i}"), t + Duration::seconds(i));
        }
        assert!(l.lock().len() <= 10);
    }

    /// A full map frees a tenth at once (one scan per `max / 10` new keys, not one per key),
    /// keeping locked and recent keys.
    #[test]
    fn eviction_frees_a_batch_and_keeps_locks() {
        let p = LockoutPolicy {
            max_keys: 1_000,
            threshold: 2,
            ..LockoutPolicy::per_client()
        };
        let l = Local::new(p);
        let t = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        l.record_failure("locked", t);
        l.record_failure("locked", t); // locked for 60 s, and the stalest key
        for i in 1..1_000 {
            l.record_failure(&format!("k{i}"), t + Duration::milliseconds(i));
        }
        assert_eq!(l.lock().len(), 1_000);
        l.record_failure("new", t + Duration::seconds(2));
        assert_eq!(
            l.lock().len(),
            901,
            "a tenth freed in one pass, then the new key"
        );
        for i in 0..99 {
            l.record_failure(&format!("more{i}"), t + Duration::seconds(3));
        }
        assert_eq!(l.lock().len(), 1_000, "no eviction until full again");
        assert!(
            l.check("locked", t + Duration::seconds(3)).is_err(),
            "a locked key stays"
        );
        assert!(l.lock().contains_key("k999"), "the newest stay");
        assert!(!l.lock().contains_key("k1"), "the stalest went");
        // Under a flood of new keys the map never exceeds its bound.
        for i in 0..10_000 {
            l.record_failure(&format!("flood{i}"), t + Duration::seconds(4));
            assert!(l.lock().len() <= 1_000);
        }
    }

    #[test]
    fn make_room_prefers_what_is_done() {
        let mut m: HashMap<u32, (bool, u32)> = (0..100).map(|i| (i, (i % 2 == 0, i))).collect();
        make_room(&mut m, 100, |v| v.0, |v| v.1);
        assert_eq!(m.len(), 50, "every finished entry goes first");
        assert!(m.values().all(|v| !v.0));
        make_room(&mut m, 50, |v| v.0, |v| v.1);
        assert_eq!(m.len(), 45);
        assert!(m.keys().all(|k| *k > 9), "then the stalest: {m:?}");
        make_room(&mut m, 100, |_| true, |v| v.1);
        assert_eq!(m.len(), 45, "below the bound nothing is touched");
    }

    #[test]
    fn known_clients_are_bounded_and_expire() {
        let k = InMemoryKnownClients::new(KnownClientsPolicy {
            per_account: 3,
            remember_for: Duration::days(30),
            max_accounts: 50,
        });
        let t = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        k.remember_now("account:a", "10.0.0.1", t);
        assert!(k.is_known_now("account:a", "10.0.0.1", t));
        assert!(!k.is_known_now("account:a", "10.0.0.2", t));
        assert!(!k.is_known_now("account:b", "10.0.0.1", t), "per account");
        // The most recent three clients are kept.
        for (i, c) in ["10.0.0.2", "10.0.0.3", "10.0.0.4"].iter().enumerate() {
            k.remember_now("account:a", c, t + Duration::seconds(i as i64 + 1));
        }
        assert!(!k.is_known_now("account:a", "10.0.0.1", t + Duration::seconds(5)));
        assert!(k.is_known_now("account:a", "10.0.0.4", t + Duration::seconds(5)));
        // Thirty days on, forgotten.
        assert!(!k.is_known_now("account:a", "10.0.0.4", t + Duration::days(31)));
        // At most `max_accounts` accounts.
        for i in 0..1_000 {
            k.remember_now(
                &format!("account:{i}"),
                "10.0.0.1",
                t + Duration::seconds(i),
            );
            assert!(k.len() <= 50);
        }
        assert!(k.is_known_now("account:999", "10.0.0.1", t + Duration::seconds(1_000)));
    }
}

/// The client key for lock-outs and limits: an IPv4 address as it is, an IPv6 address by
/// its /64 prefix (one subscriber usually holds a whole /64, so /128 keys would let one
/// client rotate addresses freely). Anything else (no address) is `None`.
pub fn client_bucket(addr: &str) -> Option<String> {
    match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.to_string()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(v4.to_string()),
            None => {
                let s = v6.segments();
                Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
        },
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::client_bucket;

    #[test]
    fn ipv6_by_64_ipv4_as_is() {
        assert_eq!(client_bucket("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            client_bucket("2001:db8:1:2:aaaa::1"),
            client_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(
            client_bucket("2001:db8:1:2::1"),
            client_bucket("2001:db8:1:3::1")
        );
        assert_eq!(
            client_bucket("::ffff:198.51.100.9").as_deref(),
            Some("198.51.100.9")
        );
        assert_eq!(client_bucket("not an address"), None);
    }
}
