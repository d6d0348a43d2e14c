//! Escalating lock-out after repeated failed logins, per (account, client), per account
//! across clients and per client (see [`client_bucket`]).
//!
//! After `threshold` failures a key is locked for `base_lock`; each further lock doubles
//! the duration up to `max_lock`. A key with no failure for `forget_after` starts over.
//! Time comes from the caller (a [`Clock`](cyberhub_domain::Clock)), so tests are exact.
//! Memory is bounded: at most `max_keys` keys are tracked (the stalest are dropped first).

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
    /// Slows guessing one account from many clients; one client cannot reach it (its own
    /// (account, client) lock-out stops it first), so a stranger cannot lock the owner out.
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

/// Tracks failures for a set of keys (e-mails or client addresses).
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Lockout {
    /// A tracker with `policy`.
    pub fn new(policy: LockoutPolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(remaining)` while `key` is locked at `now`.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
        let entries = self.lock();
        match entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err((until - now).to_std().unwrap_or_default()),
            _ => Ok(()),
        }
    }

    /// Records a failure; returns the lock length when this failure triggered a lock.
    pub fn record_failure(&self, key: &str, now: DateTime<Utc>) -> Option<Duration> {
        let p = self.policy;
        let mut entries = self.lock();
        if entries.len() >= p.max_keys && !entries.contains_key(key) {
            Self::evict(&mut entries, p, now);
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
            let factor = 1i32
                .checked_shl(e.level.saturating_sub(1).min(20))
                .unwrap_or(i32::MAX);
            let lock = (p.base_lock * factor).min(p.max_lock);
            e.locked_until = Some(now + lock);
            return Some(lock);
        }
        None
    }

    /// Forgets `key`'s failures (after a successful login).
    pub fn record_success(&self, key: &str) {
        self.lock().remove(key);
    }

    fn evict(entries: &mut HashMap<String, Entry>, p: LockoutPolicy, now: DateTime<Utc>) {
        entries.retain(|_, e| {
            now - e.last_failure <= p.forget_after || e.locked_until.is_some_and(|u| u > now)
        });
        while entries.len() >= p.max_keys {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cyberhub_domain::{Clock, ManualClock};

    #[test]
    fn escalates_and_expires() {
        let clock = ManualClock::new(DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000));
        let l = Lockout::new(LockoutPolicy::per_account());
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
        let l = Lockout::new(p);
        let t = DateTime::<Utc>::UNIX_EPOCH;
        for i in 0..100 {
            l.record_failure(&format!("k{i}"), t + Duration::seconds(i));
        }
        assert!(l.lock().len() <= 10);
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
