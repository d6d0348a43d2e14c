//! argon2id password hashing on a bounded pool of its own threads, with timing-safe
//! verification.

use crate::error::{AuthError, ErrorKind, Result};
use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher as _, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Jobs that may wait per hashing thread; past that a caller gets
/// [`ErrorKind::Unavailable`] at once (about 7 s of waiting at 15 ms a hash).
pub const MAX_QUEUED_PER_THREAD: usize = 512;
/// A stored hash may ask for at most this many times the policy's memory (at least 64 MiB)
/// and passes (at least 8); past that it is not computed (an argon2 PHC string can ask for
/// terabytes and billions of passes).
pub const MAX_COST_FACTOR: u32 = 4;

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
        Ok(Argon2::new(ALGORITHM, VERSION, params))
    }
}

/// The argon2 variant and version of every new hash.
const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

/// An argon2 failure (an internal error: inputs are checked before hashing).
fn argon2_failed(e: impl std::fmt::Display) -> AuthError {
    AuthError::new(ErrorKind::Internal, format!("argon2 failed: {e}"))
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

/// Hashes and verifies passwords with argon2id on `max_concurrent` threads of its own.
///
/// Jobs wait in one queue; a thread takes the next as soon as it finishes one, so the
/// threads never idle while work is queued, and at most `max_concurrent` hashes run at once
/// (each takes `memory_kib` of RAM): a login storm queues instead of exhausting memory. Each
/// thread keeps its argon2 memory from one hash to the next, so a hash neither allocates nor
/// zeroes nor page-faults 19 MiB: once every thread has hashed, the hasher holds
/// `max_concurrent × memory_kib` for as long as it lives, and no more while it hashes. The
/// threads and their memory go when the last clone of the hasher is dropped. A caller that
/// waits longer than the queue timeout gets [`ErrorKind::Unavailable`], as does one that
/// finds [`MAX_QUEUED_PER_THREAD`] jobs per thread already waiting; a job whose caller has
/// gone (timed out, or its request cancelled) is skipped. A stored hash asking for more than
/// [`MAX_COST_FACTOR`] times the policy's memory or passes is not computed: it does not
/// match. Verifications (logins) come first: new hashes (sign-ups, password
/// changes) hold at most `max_concurrent - 1` places in the queue and the threads (one when
/// `max_concurrent` is 1), so a sign-up flood never queues a login behind more than that
/// many hashes. Verifying for an unknown user runs against a dummy hash with the same
/// parameters, so both paths cost the same.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: PasswordPolicy,
    /// Places new hashes may hold (queued or running): the rest are kept for verifications.
    new_hash_permits: Arc<Semaphore>,
    queue_timeout: Duration,
    dummy_hash: String,
    verifications: AtomicU64,
    hashes: AtomicU64,
    /// Work for the hashing threads (they end when this sender is dropped).
    jobs: mpsc::Sender<Job>,
    /// Jobs sent and not yet taken by a thread, and their bound.
    queued: AtomicUsize,
    max_queued: usize,
}

/// One hash or verification, run on a hashing thread with that thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A hashing thread's argon2 memory, kept between jobs up to `keep` blocks (the policy's
/// size); a stored hash made with more memory than that gets a buffer of its own, up to
/// `max_blocks`, and at most `max_passes` passes.
struct Memory {
    blocks: Vec<Block>,
    keep: usize,
    max_blocks: usize,
    max_passes: u32,
}

impl Memory {
    /// The memory of a thread hashing with `policy`.
    fn for_policy(policy: &PasswordPolicy) -> Self {
        let keep = policy.memory_kib as usize;
        Self {
            blocks: Vec::new(),
            keep,
            max_blocks: (keep * MAX_COST_FACTOR as usize).max(64 * 1024),
            max_passes: (policy.iterations * MAX_COST_FACTOR).max(8),
        }
    }

    /// Whether a hash with `params` is within this thread's bounds.
    fn allows(&self, params: &Params) -> bool {
        params.block_count() <= self.max_blocks && params.t_cost() <= self.max_passes
    }

    /// Runs `f` on at least `needed` blocks.
    fn with<T>(&mut self, needed: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if needed > self.keep {
            return f(&mut vec![Block::default(); needed]);
        }
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        f(&mut self.blocks)
    }
}

/// Starts `n` hashing threads taking jobs from one queue; each keeps the argon2 memory of
/// one `policy` hash.
fn start_threads(n: usize, policy: PasswordPolicy) -> Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                let mut memory = Memory::for_policy(&policy);
                loop {
                    // One thread waits on the queue at a time; the lock is released before
                    // the job runs.
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = next else { break };
                    // A panicking job drops its reply (the caller gets an error); the
                    // thread lives on.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
                    if std::panic::catch_unwind(run).is_err() {
                        memory.blocks = Vec::new();
                    }
                }
            })
            .map_err(|e| AuthError::internal("could not start a password hashing thread", e))?;
    }
    Ok(tx)
}

/// Checks `password` against a parsed PHC string the way `argon2`'s `PasswordVerifier`
/// does (its algorithm, version, parameters, salt and output length; constant-time
/// comparison), on `memory` instead of a fresh allocation.
fn verify_phc(parsed: &PasswordHash<'_>, password: &[u8], memory: &mut Memory) -> bool {
    let (Ok(algorithm), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.hash.as_ref(),
        parsed.salt.as_ref(),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    if !memory.allows(&params) {
        return false;
    }
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut buf = [0u8; Output::MAX_LENGTH];
    let Some(out) = buf.get_mut(..expected.len()) else {
        return false;
    };
    let hashed = memory.with(argon.params().block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, salt, out, blocks)
    });
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(out).is_ok_and(|o| &o == expected)
}

/// A new PHC string for `password` with `salt`, as `argon2`'s `hash_password` makes it, on
/// `memory` instead of a fresh allocation.
fn hash_phc(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &SaltString,
    memory: &mut Memory,
) -> Result<String> {
    let salt = salt.as_salt();
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(argon2_failed)?;
    let params = argon.params();
    let output = Output::init_with(
        params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
        |out| {
            memory
                .with(params.block_count(), |blocks| {
                    argon.hash_password_into_with_memory(password, salt_bytes, out, blocks)
                })
                .map_err(Into::into)
        },
    )
    .map_err(argon2_failed)?;
    let phc = PasswordHash {
        algorithm: ALGORITHM.ident(),
        version: Some(VERSION.into()),
        params: ParamsString::try_from(params).map_err(argon2_failed)?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

impl PasswordHasher {
    /// A hasher with `policy`, running at most `max_concurrent` hashes at once.
    pub fn new(policy: PasswordPolicy, max_concurrent: usize) -> Result<Self> {
        Self::with_queue(
            policy,
            max_concurrent,
            MAX_QUEUED_PER_THREAD * max_concurrent.max(1),
        )
    }

    /// [`PasswordHasher::new`] with at most `max_queued` jobs waiting.
    fn with_queue(
        policy: PasswordPolicy,
        max_concurrent: usize,
        max_queued: usize,
    ) -> Result<Self> {
        let argon = policy.argon2()?;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let dummy_hash = argon
            .hash_password(b"cyberhub dummy password for unknown users", &salt)
            .map_err(argon2_failed)?
            .to_string();
        let jobs = start_threads(max_concurrent.max(1), policy)?;
        Ok(Self {
            inner: Arc::new(Inner {
                policy,
                new_hash_permits: Arc::new(Semaphore::new(max_concurrent.saturating_sub(1).max(1))),
                queue_timeout: Duration::from_secs(30),
                dummy_hash,
                verifications: AtomicU64::new(0),
                hashes: AtomicU64::new(0),
                jobs,
                queued: AtomicUsize::new(0),
                max_queued: max_queued.max(1),
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
        f: impl FnOnce(&Inner, &mut Memory) -> T + Send + 'static,
    ) -> Result<T> {
        let busy = || {
            AuthError::new(
                ErrorKind::Unavailable,
                "The server is busy; try again shortly.",
            )
        };
        let deadline = tokio::time::Instant::now() + self.inner.queue_timeout;
        let reserved = match new_hash {
            true => Some(
                tokio::time::timeout_at(
                    deadline,
                    Arc::clone(&self.inner.new_hash_permits).acquire_owned(),
                )
                .await
                .map_err(|_| busy())?
                .map_err(|e| AuthError::internal("password hasher closed", e))?,
            ),
            false => None,
        };
        if self.inner.queued.fetch_add(1, Ordering::AcqRel) >= self.inner.max_queued {
            self.inner.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let inner = Arc::clone(&self.inner);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            inner.queued.fetch_sub(1, Ordering::AcqRel);
            // A new hash's place is given back when its thread is done with it.
            let _reserved = reserved;
            // Nobody waits for the answer any more (timed out, or the request was
            // cancelled): the hash would be wasted.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(f(&inner, memory));
        });
        if self.inner.jobs.send(job).is_err() {
            self.inner.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::new(
                ErrorKind::Internal,
                "password hashing threads stopped",
            ));
        }
        tokio::time::timeout_at(deadline, answer)
            .await
            .map_err(|_| busy())?
            .map_err(|e| AuthError::internal("password hashing job failed", e))
    }

    /// A PHC-format argon2id hash of `password` with a fresh salt.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let password = password.clone();
        self.run(true, move |inner, memory| {
            inner.hashes.fetch_add(1, Ordering::Relaxed);
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let argon = inner.policy.argon2()?;
            hash_phc(&argon, password.expose_secret().as_bytes(), &salt, memory)
        })
        .await?
    }

    /// Whether `password` matches `stored`; with `stored = None` (unknown user) a dummy
    /// hash is checked and the answer is `false`. An unparsable stored hash is `false`.
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> Result<bool> {
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run(false, move |inner, memory| {
            inner.verifications.fetch_add(1, Ordering::Relaxed);
            let known = stored.is_some();
            let hash = stored.as_deref().unwrap_or(&inner.dummy_hash);
            let ok = match PasswordHash::new(hash) {
                Ok(parsed) => verify_phc(&parsed, password.expose_secret().as_bytes(), memory),
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
        // Both threads take a job at once, so each has its argon2 memory before the flood
        // (the first use allocates 19 MiB, slow in an unoptimised test build).
        let pw = s("correct horse battery");
        let (a, b) = tokio::join!(h.verify(&pw, Some(&stored)), h.verify(&pw, Some(&stored)));
        assert!(a.unwrap() && b.unwrap());
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
        // One hash is queued or running, five wait for the new-hash place: a thread stays
        // free for logins.
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
        // The hashing threads' own encoding is what argon2's verifier reads.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(argon2::password_hash::PasswordVerifier::verify_password(
            &Argon2::default(),
            b"correct horse battery",
            &parsed
        )
        .is_ok());
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
        assert_ne!(
            hash,
            h.hash(&s("correct horse battery")).await.unwrap(),
            "fresh salt"
        );
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

    /// A PHC string made by `argon2` itself with these settings.
    fn phc(
        alg: Algorithm,
        version: Version,
        m: u32,
        t: u32,
        p: u32,
        len: usize,
        pw: &str,
    ) -> String {
        let params = Params::new(m, t, p, Some(len)).unwrap();
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::new(alg, version, params)
            .hash_password(pw.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    /// `verify_phc` answers as `argon2`'s own `PasswordVerifier` does, over algorithms,
    /// versions, costs and output lengths, on one reused memory that is first larger and
    /// then smaller than each hash needs, and past its `keep` size.
    #[test]
    fn reused_memory_verifies_like_argon2() {
        use argon2::password_hash::PasswordVerifier;
        let mut memory = Memory {
            blocks: Vec::new(),
            keep: 128,
            max_blocks: 1024,
            max_passes: 8,
        };
        let cases = [
            (Algorithm::Argon2id, Version::V0x13, 64, 1, 1, 32),
            (Algorithm::Argon2id, Version::V0x13, 128, 2, 2, 16),
            (Algorithm::Argon2i, Version::V0x13, 96, 3, 1, 32),
            (Algorithm::Argon2d, Version::V0x10, 64, 1, 1, 64),
            // More memory than `keep`: a buffer of its own, the kept one stays as it was.
            (Algorithm::Argon2id, Version::V0x13, 512, 1, 1, 32),
            (Algorithm::Argon2id, Version::V0x13, 32, 2, 4, 32),
        ];
        for (alg, version, m, t, p, len) in cases {
            let stored = phc(alg, version, m, t, p, len, "correct horse battery");
            let parsed = PasswordHash::new(&stored).unwrap();
            for (pw, want) in [
                ("correct horse battery", true),
                ("correct horse batterz", false),
                ("", false),
            ] {
                let reference = Argon2::default()
                    .verify_password(pw.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(reference, want, "{stored} {pw:?}");
                assert_eq!(
                    verify_phc(&parsed, pw.as_bytes(), &mut memory),
                    want,
                    "{stored} {pw:?}"
                );
            }
            assert!(memory.blocks.len() <= memory.keep);
        }
        // Past the bounds (memory, then passes) a hash is not computed: it does not match,
        // where argon2's own verifier would spend the memory and time.
        for (m, t) in [(2048, 1), (64, 9)] {
            let stored = phc(
                Algorithm::Argon2id,
                Version::V0x13,
                m,
                t,
                1,
                32,
                "pw-pw-pw-pw",
            );
            let parsed = PasswordHash::new(&stored).unwrap();
            assert!(Argon2::default()
                .verify_password(b"pw-pw-pw-pw", &parsed)
                .is_ok());
            assert!(
                !verify_phc(&parsed, b"pw-pw-pw-pw", &mut memory),
                "{stored}"
            );
            assert!(memory.blocks.len() <= memory.keep);
        }
        // A PHC string without a hash or salt never matches.
        let stored = phc(
            Algorithm::Argon2id,
            Version::V0x13,
            64,
            1,
            1,
            32,
            "pw-pw-pw-pw",
        );
        let no_hash = stored.rsplit_once('$').unwrap().0.to_owned();
        let parsed = PasswordHash::new(&no_hash).unwrap();
        assert!(!verify_phc(&parsed, b"pw-pw-pw-pw", &mut memory));
    }

    /// The threads answer many jobs in turn, from several tasks at once, and a hasher's
    /// clones share them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_threads_serve_concurrent_callers() {
        let h = PasswordHasher::new(PasswordPolicy::INSECURE_FAST_FOR_TESTS, 2).unwrap();
        let stored = h.hash(&s("correct horse battery")).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (h, stored) = (h.clone(), stored.clone());
                tokio::spawn(async move {
                    let pw = if i % 2 == 0 {
                        "correct horse battery"
                    } else {
                        "wrong horse battery"
                    };
                    h.verify(&s(pw), Some(&stored)).await.unwrap() == (i % 2 == 0)
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(h.verifications(), 16);
    }

    /// A queued job whose caller has gone (its request cancelled) is skipped, not hashed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoned_jobs_are_skipped() {
        let h = PasswordHasher::new(PasswordPolicy::OWASP, 1).unwrap();
        let stored = h.hash(&s("correct horse battery")).await.unwrap();
        let verify = |h: &PasswordHasher| {
            let (h, stored) = (h.clone(), stored.clone());
            tokio::spawn(async move { h.verify(&s("correct horse battery"), Some(&stored)).await })
        };
        // Four jobs ahead (at least 50 ms of hashing on the one thread), four queued behind
        // them and then abandoned.
        let ahead: Vec<_> = (0..4).map(|_| verify(&h)).collect();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let queued: Vec<_> = (0..4).map(|_| verify(&h)).collect();
        tokio::time::sleep(Duration::from_millis(3)).await;
        for t in &queued {
            t.abort();
        }
        for t in ahead {
            assert!(t.await.unwrap().unwrap());
        }
        for t in queued {
            assert!(t.await.is_err_and(|e| e.is_cancelled()));
        }
        // This one queues behind whatever is left: 4 + 4 + 1 without skipping.
        assert!(h
            .verify(&s("wrong horse battery"), Some(&stored))
            .await
            .is_ok());
        assert!(
            h.verifications() <= 6,
            "{} verifications: the abandoned jobs ran",
            h.verifications()
        );
    }

    /// Past the queue bound a caller is told the server is busy at once; the jobs already
    /// queued are served.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once() {
        let h = PasswordHasher::with_queue(PasswordPolicy::OWASP, 1, 2).unwrap();
        let stored = h.hash(&s("correct horse battery")).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, stored) = (h.clone(), stored.clone());
                tokio::spawn(async move {
                    h.verify(&s("correct horse battery"), Some(&stored))
                        .await
                        .map_err(|e| e.kind())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let busy = answers
            .iter()
            .filter(|a| **a == Err(ErrorKind::Unavailable))
            .count();
        let ok = answers.iter().filter(|a| **a == Ok(true)).count();
        assert_eq!(busy + ok, 8, "{answers:?}");
        assert!(busy >= 1 && ok >= 2, "{answers:?}");
        assert_eq!(h.inner.queued.load(Ordering::Relaxed), 0);
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
