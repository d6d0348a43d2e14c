//! argon2id password hashing on a bounded blocking pool, with timing-safe verification.

use crate::error::{AuthError, ErrorKind, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in characters (bounds hashing cost per request).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl PasswordPolicy {
    /// OWASP's recommended argon2id parameters: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Cheap parameters for tests only: never use in production.
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| {
                AuthError::new(
                    ErrorKind::ConfigInvalid,
                    format!("invalid argon2 parameters: {e}"),
                )
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Checks a new password: 8–128 characters, not a common password. No composition rules.
pub fn check_new_password(password: &SecretString, field: &str) -> Result<()> {
    let p = password.expose_secret();
    let n = p.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AuthError::field(
            field,
            format!("Ensure this field has at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AuthError::field(
            field,
            format!("Ensure this field has no more than {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    if crate::common_passwords::is_common_password(p) {
        return Err(AuthError::field(field, "This password is too common."));
    }
    Ok(())
}

/// Hashes and verifies passwords with argon2id on tokio's blocking pool.
///
/// At most `max_concurrent` hashes run at once (each takes `memory_kib` of RAM), so a login
/// storm queues instead of exhausting memory; a caller that waits longer than the queue
/// timeout gets [`ErrorKind::Unavailable`]. Verifications (logins) come first: new hashes
/// (sign-ups, password changes) hold at most `max_concurrent - 1` of the slots (one when
/// `max_concurrent` is 1), so a sign-up flood never queues a login behind more than that many
/// hashes. Verifying for an unknown user runs against a
/// dummy hash with the same parameters, so both paths cost the same.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: PasswordPolicy,
    permits: Semaphore,
    /// Slots new hashes may hold: the rest are kept for verifications.
    new_hash_permits: Semaphore,
    queue_timeout: Duration,
    dummy_hash: String,
    verifications: AtomicU64,
    hashes: AtomicU64,
}

impl PasswordHasher {
    /// A hasher with `policy`, running at most `max_concurrent` hashes at once.
    pub fn new(policy: PasswordPolicy, max_concurrent: usize) -> Result<Self> {
        let argon = policy.argon2()?;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let dummy_hash = argon
            .hash_password(b"cyberhub dummy password for unknown users", &salt)
            .map_err(|e| AuthError::new(ErrorKind::Internal, format!("argon2 failed: {e}")))?
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                policy,
                permits: Semaphore::new(max_concurrent.max(1)),
                new_hash_permits: Semaphore::new(max_concurrent.saturating_sub(1).max(1)),
                queue_timeout: Duration::from_secs(30),
                dummy_hash,
                verifications: AtomicU64::new(0),
                hashes: AtomicU64::new(0),
            }),
        })
    }

    /// The policy new hashes use.
    pub fn policy(&self) -> PasswordPolicy {
        self.inner.policy
    }

    /// How many verifications ran (real or dummy): lets tests prove that unknown users
    /// cost a verification too.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// How many new hashes were computed (lets tests prove that cheap checks come first).
    pub fn hashes(&self) -> u64 {
        self.inner.hashes.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        new_hash: bool,
        f: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T> {
        let acquire = async {
            let reserved = match new_hash {
                true => Some(self.inner.new_hash_permits.acquire().await?),
                false => None,
            };
            let slot = self.inner.permits.acquire().await?;
            Ok::<_, tokio::sync::AcquireError>((reserved, slot))
        };
        let _permits = tokio::time::timeout(self.inner.queue_timeout, acquire)
            .await
            .map_err(|_| {
                AuthError::new(
                    ErrorKind::Unavailable,
                    "The server is busy; try again shortly.",
                )
            })?
            .map_err(|e| AuthError::internal("password hasher closed", e))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| AuthError::internal("password hashing task failed", e))
    }

    /// A PHC-format argon2id hash of `password` with a fresh salt.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let password = password.clone();
        self.run(true, move |inner| {
            inner.hashes.fetch_add(1, Ordering::Relaxed);
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            inner
                .policy
                .argon2()?
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AuthError::new(ErrorKind::Internal, format!("argon2 failed: {e}")))
        })
        .await?
    }

    /// Whether `password` matches `stored`; with `stored = None` (unknown user) a dummy
    /// hash is checked and the answer is `false`. An unparsable stored hash is `false`.
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> Result<bool> {
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run(false, move |inner| {
            inner.verifications.fetch_add(1, Ordering::Relaxed);
            let known = stored.is_some();
            let hash = stored.as_deref().unwrap_or(&inner.dummy_hash);
            let ok = match PasswordHash::new(hash) {
                Ok(parsed) => Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            };
            known && ok
        })
        .await
    }

    /// Whether `stored` was made with other parameters than the current policy (re-hash on login).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let p = self.inner.policy;
        let get = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm.as_str() != "argon2id"
            || get("m") != Some(p.memory_kib)
            || get("t") != Some(p.iterations)
            || get("p") != Some(p.parallelism)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str) -> SecretString {
        SecretString::from(p.to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_hashes_leave_a_slot_for_logins() {
        let h = PasswordHasher::new(PasswordPolicy::OWASP, 2).unwrap();
        let stored = h.hash(&s("correct horse battery")).await.unwrap();
        let flood: Vec<_> = (0..6)
            .map(|i| {
                let h = h.clone();
                tokio::spawn(async move { h.hash(&s(&format!("sign-up flood {i}"))).await })
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while h.inner.new_hash_permits.available_permits() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the flood never started"
            );
            tokio::task::yield_now().await;
        }
        // One hash runs, five wait for the new-hash slot: a slot stays free for logins.
        assert!(h.inner.permits.available_permits() >= 1);
        assert!(h
            .verify(&s("correct horse battery"), Some(&stored))
            .await
            .unwrap());
        let done_before_login = flood.iter().filter(|t| t.is_finished()).count();
        assert!(
            done_before_login < 6,
            "the login waited for the whole flood"
        );
        for t in flood {
            t.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::new(PasswordPolicy::INSECURE_FAST_FOR_TESTS, 2).unwrap();
        let hash = h.hash(&s("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h
            .verify(&s("correct horse battery"), Some(&hash))
            .await
            .unwrap());
        assert!(!h
            .verify(&s("wrong horse battery"), Some(&hash))
            .await
            .unwrap());
        assert!(!h.verify(&s("anything"), None).await.unwrap());
        assert!(!h
            .verify(&s("anything"), Some("not a phc string"))
            .await
            .unwrap());
        assert_eq!(h.verifications(), 4);
        assert!(!h.needs_rehash(&hash));
        let owasp = PasswordHasher::new(PasswordPolicy::OWASP, 1).unwrap();
        assert!(owasp.needs_rehash(&hash));
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(
            check_new_password(&s("short"), "password")
                .unwrap_err()
                .kind(),
            ErrorKind::Validation
        );
        assert!(check_new_password(&s(&"x1".repeat(65)), "password").is_err());
        assert!(check_new_password(&s("password123"), "password").is_err());
        assert!(check_new_password(&s("tv7#Lq-pX9"), "password").is_ok());
        assert!(check_new_password(&s("ünïcödé-pässwörd"), "password").is_ok());
    }

    #[test]
    fn bad_policy_is_a_config_error() {
        let bad = PasswordPolicy {
            memory_kib: 1,
            iterations: 0,
            parallelism: 0,
        };
        assert_eq!(
            PasswordHasher::new(bad, 1).unwrap_err().kind(),
            ErrorKind::ConfigInvalid
        );
    }
}
