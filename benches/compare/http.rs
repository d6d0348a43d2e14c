//! Section `http` of the comparison harness (see main.rs): the real server against what its
//! work costs without the HTTP stack, back to back on one PostgreSQL database made for the
//! run (and dropped after it).
//!
//! - `GET /api/v1/progress` (one learner with 100 progress rows, the default page of 20,
//!   32 keep-alive connections) against a raw sqlx loop that issues the SQL the server issues
//!   for that request: the page's `COUNT(*)` and `SELECT ... LIMIT/OFFSET`, plus the session
//!   check (session, user, role grants) when the server's cache would make it (its 1 s TTL,
//!   renewed by one request past half of it), on a pool of 32 connections with 32
//!   concurrent loops.
//! - `POST /api/v1/auth/login` against the raw argon2id verification rate: the same
//!   parameters (`PasswordPolicy::OWASP`), the same PHC hash, as many threads as the server
//!   hashes on (one per core).
//!
//! The server is [`TestServer`] in this process, on the bench's runtime (one worker per
//! core, as the server binary runs). The load generator is a small hand-written HTTP/1.1
//! client: each connection sends a request, reads the status line, the headers and the
//! `Content-Length` body, and sends the next; all connections run on one thread of their
//! own, whose CPU time is measured and printed beside the figures (it shares the cores with
//! the server and PostgreSQL).

use crate::table::{Better, Row, Table};
use crate::{BenchResult, Ctx};
use cyberhub_server::testing::{TestServer, PASSWORD};
use serde_json::json;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// The targets.
const PROGRESS_TARGET: f64 = 0.70;
const PROGRESS_P99_BUDGET_MS: f64 = 20.0;
const LOGIN_TARGET: f64 = 0.90;

/// The SQL of `GET /api/v1/progress` without filters, as `cyberhub-store`'s `list_progress`
/// builds it (sql_store.rs: `push_progress_filter`, `count_and_page`, the default ordering
/// `updated_at DESC, id DESC`).
const COUNT_SQL: &str = "SELECT COUNT(*) FROM progress WHERE user_id = $1";
const PAGE_SQL: &str = "SELECT id, user_id, content_id, content_type, status, completion_percentage, score, metadata, started_at, completed_at, created_at, updated_at FROM progress WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3";
/// The session check of `AuthService::authenticate` when its cached answer is older than
/// `session_check_ttl` (1 s): `get_session`, `get_user`, `list_roles`.
const SESSION_SQL: &str = "SELECT id, user_id, refresh_jti, generation, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, client_addr, previous_refresh_jti FROM sessions WHERE id = $1";
const USER_SQL: &str = "SELECT id, email, password_hash, first_name, last_name, bio, country, timezone, language, learning_preferences, status, created_at, updated_at FROM users WHERE id = $1";
const ROLES_SQL: &str = "SELECT user_id, role, scope_org_id, granted_by, granted_at FROM role_grants WHERE user_id = $1 ORDER BY granted_at, role";
const SESSION_CHECK_TTL: Duration = Duration::from_secs(1);

/// One progress row as the page query returns it.
type ProgressTuple = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    f64,
    Option<f64>,
    serde_json::Value,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
);

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Progress rows of the learner (and catalog items they are on).
    rows: usize,
    /// Concurrent connections (and raw loops).
    conns: usize,
    /// Accounts the login load cycles through.
    accounts: usize,
    /// Unmeasured lead-in of each side in each round.
    warmup: Duration,
    /// Measured time of each side in each round.
    duration: Duration,
    /// Rounds of each pair: ours, then the reference, this many times, so that a drift in
    /// the shared machine's speed falls on both sides alike.
    rounds: usize,
}

impl Sizes {
    fn of(ctx: &Ctx) -> Self {
        if ctx.smoke {
            Self {
                rows: 30,
                conns: 4,
                accounts: 4,
                warmup: Duration::from_millis(200),
                duration: Duration::from_secs(1),
                rounds: 1,
            }
        } else {
            Self {
                rows: 100,
                conns: 32,
                accounts: 64,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(4),
                rounds: 3,
            }
        }
    }
}

/// Runs the section, adding its rows to `table`.
pub async fn run(ctx: &Ctx, table: &mut Table) -> BenchResult<()> {
    let Some(admin_url) = ctx.require(
        "DATABASE_URL (PostgreSQL)",
        ctx.database_url
            .clone()
            .filter(|u| u.starts_with("postgres")),
    )?
    else {
        return Ok(());
    };
    let sizes = Sizes::of(ctx);
    let (url, name) = cyberhub_store::conformance::create_postgres_database(&admin_url).await;
    eprintln!(
        "  database {name}: {} progress rows, {} connections, {} rounds of {} s per side",
        sizes.rows,
        sizes.conns,
        sizes.rounds,
        sizes.duration.as_secs_f64()
    );
    let outcome = on_database(ctx, table, &url, sizes).await;
    cyberhub_store::conformance::drop_postgres_database(&admin_url, &name).await;
    outcome
}

async fn on_database(ctx: &Ctx, table: &mut Table, url: &str, sizes: Sizes) -> BenchResult<()> {
    let threads = ctx.threads;
    let db_url = url.to_owned();
    let server = TestServer::start(move |cfg| {
        cfg.database_url = db_url;
        // The routes measured are core routes: no model is loaded.
        cfg.service = cyberhub_server::Service::Core;
        // Production password hashing (the test default is the cheap one), one hash per core.
        cfg.insecure_fast_password_hashing = false;
        cfg.max_concurrent_hashes = Some(threads);
        // The same pool size as the raw loop's.
        cfg.database_max_connections = u32::try_from(sizes.conns).unwrap_or(u32::MAX);
        // Rate limits and lock-outs stay at their defaults. The login load comes through
        // a trusted proxy, each request from its own client address (see `login`).
        cfg.trust_forwarded_for = true;
        cfg.purge_interval_secs = 0;
    })
    .await;
    let outcome = async {
        progress(table, &server, url, sizes).await?;
        login(ctx, table, &server, url, sizes).await
    }
    .await;
    server.stop().await;
    outcome?;
    // Every figure of the section must be a number, in smoke mode too (a broken measurement
    // shows here, not as a NaN in the README).
    let broken: Vec<&str> = table
        .rows()
        .iter()
        .filter(|r| r.section == "http" && !(r.ratio().is_finite() && r.ratio() > 0.0))
        .map(|r| r.ours.as_str())
        .collect();
    check(broken.is_empty(), || {
        format!("http rows without a figure: {broken:?}")
    })?;
    table.note(format!(
        "http: server = TestServer in the bench process on its runtime ({threads} workers), \
         PostgreSQL on {} (the same machine); load generator = HTTP/1.1 keep-alive client \
         on a thread of its own",
        redact_host(url)
    ));
    Ok(())
}

/// `host:port` of a database URL, for the table.
fn redact_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or("").to_owned()
}

// ---------------------------------------------------------------------------------------
// GET /api/v1/progress

async fn progress(
    table: &mut Table,
    server: &TestServer,
    url: &str,
    sizes: Sizes,
) -> BenchResult<()> {
    // The learner and their rows, through the API: one catalog item per row (progress is
    // kept for catalog items only).
    let admin = server.admin_token().await;
    for i in 0..sizes.rows {
        let r = server
            .post(
                "/content",
                Some(&admin),
                json!({"content_id": format!("bench-course-{i:03}"), "content_type": "course",
                       "title": format!("Bench course {i}"), "description": "A course of the HTTP comparison."}),
            )
            .await;
        check(r.code() == 201, || {
            format!("POST /content: {} {}", r.code(), r.body)
        })?;
    }
    let learner = server.signup("learner@bench.test").await;
    let token = learner.access_token.clone();
    for i in 0..sizes.rows {
        let r = server
            .post(
                "/progress",
                Some(&token),
                json!({"content_id": format!("bench-course-{i:03}"), "content_type": "course",
                       "completion_percentage": (i * 7 % 101) as f64,
                       "metadata": {"source": "bench", "step": i}}),
            )
            .await;
        check(r.code() == 201, || {
            format!("POST /progress: {} {}", r.code(), r.body)
        })?;
    }
    let page = server.get("/progress", Some(&token)).await;
    let results = page.body["results"].as_array().map_or(0, Vec::len);
    check(
        page.code() == 200 && page.body["count"] == json!(sizes.rows) && results == 20,
        || format!("GET /progress: {} {}", page.code(), page.body),
    )?;
    let page_bytes = serde_json::to_vec(&page.body)?.len();

    // Ours: the server, through the load generator.
    let addr = addr_of(server)?;
    let request = format!(
        "GET /api/v1/progress HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    )
    .into_bytes();
    let make: MakeRequest = Arc::new(move |_: usize, _: usize| request.clone());

    // Reference: the same SQL, raw, on a pool of the same size.
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(sizes.conns).unwrap_or(u32::MAX))
        .min_connections(u32::try_from(sizes.conns).unwrap_or(u32::MAX))
        .connect(url)
        .await?;
    let user_id = learner.user.id.0;
    let session_id: Uuid = sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&pool)
        .await?;
    let mut rounds = Rounds::default();
    for _ in 0..sizes.rounds {
        let ours = http_load(addr, sizes, make.clone(), 200).await?;
        let raw = raw_progress_load(&pool, user_id, session_id, sizes).await?;
        rounds.push(ours, raw);
    }
    pool.close().await;
    let (ours, raw, per_round) = rounds.finish();

    let (ours_rps, raw_rps) = (ours.per_sec(), raw.per_sec());
    table.push(Row {
        section: "http",
        ours: format!("GET /api/v1/progress, {} connections", sizes.conns),
        ours_value: ours_rps,
        reference: format!(
            "raw sqlx loop, same SQL, pool {} / {} loops",
            sizes.conns, sizes.conns
        ),
        ref_value: raw_rps,
        unit: "req/s",
        better: Better::Higher,
        target: Some(PROGRESS_TARGET),
        note: format!(
            "{} rows, page of 20 ({page_bytes} B JSON); ours p50 {} / p99 {} ms, raw p50 {} / p99 {} ms; \
             server pool {} connections, session check cached 1 s; {per_round}; {}; errors {}/{}",
            sizes.rows,
            ms(ours.pct(0.50)),
            ms(ours.pct(0.99)),
            ms(raw.pct(0.50)),
            ms(raw.pct(0.99)),
            sizes.conns,
            ours.cpu_note(),
            ours.errors,
            raw.errors
        ),
    });
    let p99 = ours.pct(0.99).as_secs_f64() * 1e3;
    table.push(Row {
        section: "http",
        ours: format!("GET /api/v1/progress p99, {} connections", sizes.conns),
        ours_value: p99,
        reference: "the issue's p99 budget".into(),
        ref_value: PROGRESS_P99_BUDGET_MS,
        unit: "ms",
        better: Better::Lower,
        target: Some(1.0),
        note: format!(
            "p50 {} ms, p99.9 {} ms, max {} ms at {} req/s",
            ms(ours.pct(0.50)),
            ms(ours.pct(0.999)),
            ms(ours.pct(1.0)),
            crate::table::fmt_num(ours_rps)
        ),
    });
    check(ours.errors == 0 && raw.errors == 0, || {
        format!(
            "progress: {} failed requests, {} failed raw loops",
            ours.errors, raw.errors
        )
    })
}

/// `sizes.conns` loops on `pool`, each issuing what one `GET /progress` issues.
async fn raw_progress_load(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    sizes: Sizes,
) -> BenchResult<Load> {
    let window = Window::starting_now(sizes);
    let checked = Arc::new(Mutex::new(SessionCache::default()));
    let cpu0 = Cpu::now();
    let mut tasks = Vec::new();
    for _ in 0..sizes.conns {
        let (pool, checked) = (pool.clone(), checked.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while let Some(t0) = window.next() {
                match raw_progress_once(&pool, user_id, session_id, &checked).await {
                    Ok(()) => window.record(t0, &mut lat),
                    Err(e) => {
                        errors += 1;
                        eprintln!("  raw loop: {e}");
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut load = Load::default();
    for t in tasks {
        let (lat, errors) = t.await?;
        load.lat.extend(lat);
        load.errors += errors;
    }
    load.finish(window, None, cpu0);
    Ok(load)
}

/// The server's cached answer for the learner's session, with the rule of
/// `AuthService::authenticate`: used while younger than the TTL; past half the TTL one
/// request checks again while the others go on using it.
#[derive(Debug, Default)]
struct SessionCache {
    checked_at: Option<Instant>,
    refreshing: bool,
}

impl SessionCache {
    /// Whether this request must check the session (and if so, marks the check begun).
    fn must_check(&mut self) -> bool {
        match self.checked_at.map(|t| t.elapsed()) {
            Some(age) if age < SESSION_CHECK_TTL => {
                if age * 2 < SESSION_CHECK_TTL || self.refreshing {
                    false
                } else {
                    self.refreshing = true;
                    true
                }
            }
            _ => true,
        }
    }
}

async fn raw_progress_once(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    cache: &Mutex<SessionCache>,
) -> BenchResult<()> {
    let must_check = cache.lock().unwrap_or_else(|p| p.into_inner()).must_check();
    if must_check {
        sqlx::query(SESSION_SQL)
            .bind(session_id)
            .fetch_one(pool)
            .await?;
        sqlx::query(USER_SQL).bind(user_id).fetch_one(pool).await?;
        sqlx::query(ROLES_SQL).bind(user_id).fetch_all(pool).await?;
        *cache.lock().unwrap_or_else(|p| p.into_inner()) = SessionCache {
            checked_at: Some(Instant::now()),
            refreshing: false,
        };
    }
    let n: i64 = sqlx::query_scalar(COUNT_SQL)
        .bind(user_id)
        .fetch_one(pool)
        .await?;
    let rows: Vec<ProgressTuple> = sqlx::query_as(PAGE_SQL)
        .bind(user_id)
        .bind(20_i64)
        .bind(0_i64)
        .fetch_all(pool)
        .await?;
    check(n > 0 && rows.len() == 20, || {
        format!("raw page: count {n}, {} rows", rows.len())
    })
}

// ---------------------------------------------------------------------------------------
// POST /api/v1/auth/login

async fn login(
    ctx: &Ctx,
    table: &mut Table,
    server: &TestServer,
    url: &str,
    sizes: Sizes,
) -> BenchResult<()> {
    let emails: Vec<String> = (0..sizes.accounts)
        .map(|i| format!("login-{i:03}@bench.test"))
        .collect();
    for e in &emails {
        server.signup(e).await;
    }
    // The reference verifies the PHC string the server verifies for the first account.
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let phc: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(&emails[0])
        .fetch_one(&pool)
        .await?;
    pool.close().await;

    // Ours: connection c logs in to accounts c, c + conns, ... in turn; every request
    // comes through the trusted proxy from a client address of its own, so neither the
    // per-client rate limit (100 logins per 20 s) nor a lock-out (failures only) trips,
    // while each is still checked and recorded on every request.
    let addr = addr_of(server)?;
    let next_client = Arc::new(AtomicU32::new(1));
    let accounts = sizes.accounts;
    let conns = sizes.conns;
    let make: MakeRequest = Arc::new(move |conn: usize, seq: usize| {
        let email = &emails[(conn + seq * conns) % accounts];
        let body = json!({"email": email, "password": PASSWORD}).to_string();
        let c = next_client.fetch_add(1, Ordering::Relaxed);
        let [_, b, c2, d] = c.to_be_bytes();
        format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Forwarded-For: 10.{b}.{c2}.{d}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    // Reference: argon2id verification of the same hash, one thread per hashing slot.
    // Two references in each round: the fastest verification the crate allows (memory
    // allocated once per thread, as the server's hashing threads do), and the crate's own
    // `PasswordVerifier::verify_password`.
    let (mut rounds, mut crate_rounds) = (Rounds::default(), Rounds::default());
    for _ in 0..sizes.rounds {
        let ours = http_load(addr, sizes, make.clone(), 200).await?;
        let raw = raw_verify_load(&phc, ctx.threads, sizes, Verifier::ReusedMemory).await?;
        let crate_raw = raw_verify_load(&phc, ctx.threads, sizes, Verifier::Crate).await?;
        crate_rounds.push(ours.clone(), crate_raw);
        rounds.push(ours, raw);
    }
    let (ours, raw, per_round) = rounds.finish();
    let (_, crate_raw, crate_per_round) = crate_rounds.finish();
    let policy = cyberhub_auth::PasswordPolicy::OWASP;
    table.push(Row {
        section: "http",
        ours: format!("POST /api/v1/auth/login, {} connections", sizes.conns),
        ours_value: ours.per_sec(),
        reference: format!(
            "argon2's verify_password (allocates the memory per call), {} threads",
            ctx.threads
        ),
        ref_value: crate_raw.per_sec(),
        unit: "logins/s",
        better: Better::Higher,
        target: Some(LOGIN_TARGET),
        note: format!(
            "the same logins as the row below (same rounds); raw p50 {} ms; {crate_per_round}",
            ms(crate_raw.pct(0.50)),
        ),
    });
    table.push(Row {
        section: "http",
        ours: format!("POST /api/v1/auth/login, {} connections", sizes.conns),
        ours_value: ours.per_sec(),
        reference: format!(
            "raw argon2id verify (memory allocated once per thread), {} threads",
            ctx.threads
        ),
        ref_value: raw.per_sec(),
        unit: "logins/s",
        better: Better::Higher,
        target: Some(LOGIN_TARGET),
        note: format!(
            "m={} KiB t={} p={}; server hashes on {} slots; ours p50 {} / p99 {} ms, raw p50 {} ms; \
             {} accounts, each request from its own X-Forwarded-For address (trusted proxy), \
             rate limits and lock-outs at their defaults; {per_round}; {}; errors {}",
            policy.memory_kib,
            policy.iterations,
            policy.parallelism,
            ctx.threads,
            ms(ours.pct(0.50)),
            ms(ours.pct(0.99)),
            ms(raw.pct(0.50)),
            sizes.accounts,
            ours.cpu_note(),
            ours.errors
        ),
    });
    check(
        ours.errors == 0 && raw.errors == 0 && crate_raw.errors == 0,
        || {
            format!(
                "login: {} failed requests, {} + {} failed raw verifications",
                ours.errors, raw.errors, crate_raw.errors
            )
        },
    )
}

/// How the login references verify.
#[derive(Debug, Clone, Copy)]
enum Verifier {
    /// `hash_password_into_with_memory` on memory each thread allocated once.
    ReusedMemory,
    /// The crate's `PasswordVerifier::verify_password` (allocates and zeroes per call).
    Crate,
}

/// The reference verification: `threads` threads, each parsing the PHC string and
/// verifying the password. With [`Verifier::ReusedMemory`] a thread hashes with the PHC's
/// parameters and salt into argon2 memory it allocated once
/// (`hash_password_into_with_memory`) and compares in constant time: the fastest way the
/// `argon2` crate offers, and what the server's hashing threads do. With
/// [`Verifier::Crate`] it calls `verify_password`, which allocates and zeroes the 19 MiB
/// on every call.
async fn raw_verify_load(
    phc: &str,
    threads: usize,
    sizes: Sizes,
    how: Verifier,
) -> BenchResult<Load> {
    use argon2::password_hash::{Output, PasswordVerifier, Salt};
    use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
    let policy = cyberhub_auth::PasswordPolicy::OWASP;
    let window = Window::starting_now(sizes);
    let cpu0 = Cpu::now();
    let mut workers = Vec::new();
    for _ in 0..threads.max(1) {
        let phc = phc.to_owned();
        workers.push(tokio::task::spawn_blocking(move || {
            let mut memory = match how {
                Verifier::ReusedMemory => vec![Block::default(); policy.memory_kib as usize],
                Verifier::Crate => Vec::new(),
            };
            let verify = |phc: &str, memory: &mut [Block]| -> Option<bool> {
                let h = PasswordHash::new(phc).ok()?;
                if let Verifier::Crate = how {
                    return Some(
                        Argon2::default()
                            .verify_password(PASSWORD.as_bytes(), &h)
                            .is_ok(),
                    );
                }
                let params = Params::try_from(&h).ok()?;
                let mut salt = [0u8; Salt::MAX_LENGTH];
                let salt = h.salt?.decode_b64(&mut salt).ok()?;
                let expected = h.hash?;
                let mut out = vec![0u8; expected.len()];
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut out, memory)
                    .ok()?;
                Some(Output::new(&out).ok()? == expected)
            };
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while let Some(t0) = window.next() {
                let ok = verify(&phc, &mut memory) == Some(true);
                if ok {
                    window.record(t0, &mut lat);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut load = Load::default();
    for w in workers {
        let (lat, errors) = w.await?;
        load.lat.extend(lat);
        load.errors += errors;
    }
    load.finish(window, None, cpu0);
    Ok(load)
}

// ---------------------------------------------------------------------------------------
// The load generator and what it measures

/// The lead-in and measured window of one side: work started before `measure_from` is
/// warm-up; nothing starts after `until`.
#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    until: Instant,
}

impl Window {
    fn starting_now(sizes: Sizes) -> Self {
        let measure_from = Instant::now() + sizes.warmup;
        Self {
            measure_from,
            until: measure_from + sizes.duration,
        }
    }

    /// The start of the next operation, or `None` when the window is over.
    fn next(&self) -> Option<Instant> {
        let now = Instant::now();
        (now < self.until).then_some(now)
    }

    /// Records an operation that started at `t0` and just ended, if it started in the
    /// measured part.
    fn record(&self, t0: Instant, lat: &mut Vec<u32>) {
        if t0 >= self.measure_from {
            lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        }
    }
}

/// What one side did in its window.
#[derive(Debug, Default, Clone)]
struct Load {
    /// Latencies of the measured operations (µs), sorted by `finish`.
    lat: Vec<u32>,
    errors: usize,
    /// Measured seconds.
    secs: f64,
    /// Share of a core the load generator's thread used, if it had one.
    client_cores: Option<f64>,
    /// Its CPU time per measured request (µs).
    client_us: Option<f64>,
    /// Cores this process (server and load generator) and the machine kept busy.
    process_cores: f64,
    machine_cores: f64,
}

impl Load {
    /// Sorts the latencies and takes the times; `client` is the load generator thread's
    /// (CPU seconds, wall seconds) if it had one, `cpu0` the CPU times at the start.
    fn finish(&mut self, window: Window, client: Option<(f64, f64)>, cpu0: Cpu) {
        self.lat.sort_unstable();
        // Operations start up to `until` and finish after it: the measured time runs from
        // `measure_from` to the last finish.
        self.secs = window.measure_from.elapsed().as_secs_f64().max(1e-9);
        let n = self.lat.len().max(1) as f64;
        self.client_cores = client.map(|(cpu, wall)| cpu / wall.max(1e-9));
        self.client_us = client.map(|(cpu, wall)| {
            // The thread's CPU over the whole run (connect, warm-up, measured), per measured
            // request scaled to the measured share of the wall time.
            1e6 * cpu * (self.secs / wall.max(1e-9)).min(1.0) / n
        });
        let cpu = Cpu::now();
        let wall = cpu.at.duration_since(cpu0.at).as_secs_f64().max(1e-9);
        self.process_cores = (cpu.process - cpu0.process) / wall;
        self.machine_cores = (cpu.machine - cpu0.machine) / wall;
    }

    /// One side over several rounds: all latencies, the summed measured time, the CPU
    /// shares averaged over the rounds (the load generator's per request, weighted by them).
    fn merge(rounds: Vec<Load>) -> Load {
        let k = rounds.len().max(1) as f64;
        let n: usize = rounds.iter().map(|l| l.lat.len()).sum();
        let client_cores = rounds
            .iter()
            .map(|l| l.client_cores)
            .sum::<Option<f64>>()
            .map(|c| c / k);
        let client_us = rounds
            .iter()
            .map(|l| l.client_us.map(|us| us * l.lat.len() as f64))
            .sum::<Option<f64>>()
            .map(|total| total / n.max(1) as f64);
        let mut lat: Vec<u32> = rounds.iter().flat_map(|l| l.lat.iter().copied()).collect();
        lat.sort_unstable();
        Load {
            lat,
            errors: rounds.iter().map(|l| l.errors).sum(),
            secs: rounds.iter().map(|l| l.secs).sum(),
            client_cores,
            client_us,
            process_cores: rounds.iter().map(|l| l.process_cores).sum::<f64>() / k,
            machine_cores: rounds.iter().map(|l| l.machine_cores).sum::<f64>() / k,
        }
    }

    fn per_sec(&self) -> f64 {
        self.lat.len() as f64 / self.secs
    }

    fn pct(&self, p: f64) -> Duration {
        let i = ((self.lat.len() as f64 * p) as usize).min(self.lat.len().saturating_sub(1));
        Duration::from_micros(self.lat.get(i).copied().map_or(0, u64::from))
    }

    fn cpu_note(&self) -> String {
        let client = match (self.client_cores, self.client_us) {
            (Some(c), Some(us)) => format!(
                "load generator {:.0}% of a core ({us:.1} µs CPU/request), ",
                100.0 * c
            ),
            _ => String::new(),
        };
        format!(
            "{client}bench process (server + load generator) {:.2} cores, machine {:.2} of {} cores busy",
            self.process_cores,
            self.machine_cores,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    }
}

/// The rounds of one pair (ours, then the reference, alternating).
#[derive(Debug, Default)]
struct Rounds {
    ours: Vec<Load>,
    raw: Vec<Load>,
}

impl Rounds {
    fn push(&mut self, ours: Load, raw: Load) {
        self.ours.push(ours);
        self.raw.push(raw);
    }

    /// Both sides over all rounds, and the per-round ratios for the table's note.
    fn finish(self) -> (Load, Load, String) {
        let ratios: Vec<String> = self
            .ours
            .iter()
            .zip(&self.raw)
            .map(|(o, r)| format!("{:.2}", o.per_sec() / r.per_sec().max(1e-9)))
            .collect();
        let note = format!(
            "{} rounds (ours, then the reference, alternating), ratios per round {}",
            ratios.len(),
            ratios.join(" / ")
        );
        (Load::merge(self.ours), Load::merge(self.raw), note)
    }
}

/// Builds the bytes of request `seq` of connection `conn`.
type MakeRequest = Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync>;

/// `sizes.conns` keep-alive connections to `addr`, each sending the next request as soon
/// as the answer to the last is read; every answer must have status `expect`. Runs on a
/// thread of its own (a current-thread runtime), whose CPU time it measures.
async fn http_load(
    addr: SocketAddr,
    sizes: Sizes,
    make: MakeRequest,
    expect: u16,
) -> BenchResult<Load> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cpu0 = Cpu::now();
    std::thread::Builder::new()
        .name("http-load".into())
        .spawn(move || {
            let outcome = (|| -> BenchResult<(Load, Window, (f64, f64))> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let (cpu0, wall0) = (thread_cpu_secs(), Instant::now());
                let (load, window) = rt.block_on(http_connections(addr, sizes, make, expect))?;
                let used = (thread_cpu_secs() - cpu0, wall0.elapsed().as_secs_f64());
                Ok((load, window, used))
            })();
            tx.send(outcome.map_err(|e| e.to_string())).ok();
        })?;
    let (mut load, window, client_cpu) = rx.await??;
    load.finish(window, Some(client_cpu), cpu0);
    Ok(load)
}

async fn http_connections(
    addr: SocketAddr,
    sizes: Sizes,
    make: MakeRequest,
    expect: u16,
) -> BenchResult<(Load, Window)> {
    let mut conns = Vec::new();
    for _ in 0..sizes.conns {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        conns.push(stream);
    }
    let window = Window::starting_now(sizes);
    let mut tasks = tokio::task::JoinSet::new();
    for (conn, mut stream) in conns.into_iter().enumerate() {
        let make = make.clone();
        tasks.spawn(async move {
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut lat = Vec::new();
            let mut seq = 0;
            while let Some(t0) = window.next() {
                let request = make(conn, seq);
                seq += 1;
                let status = exchange(&mut stream, &request, &mut buf).await?;
                if status != expect {
                    let body = String::from_utf8_lossy(&buf);
                    return Err(format!("status {status}, expected {expect}: {body}").into());
                }
                window.record(t0, &mut lat);
            }
            BenchResult::Ok(lat)
        });
    }
    let mut load = Load::default();
    while let Some(done) = tasks.join_next().await {
        match done? {
            Ok(lat) => load.lat.extend(lat),
            Err(e) => {
                load.errors += 1;
                eprintln!("  connection failed: {e}");
            }
        }
    }
    Ok((load, window))
}

/// Sends `request` and reads one answer into `buf` (head and body); returns its status.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> BenchResult<u16> {
    stream.write_all(request).await?;
    buf.clear();
    let head_end = loop {
        let searched = buf.len().saturating_sub(3);
        if stream.read_buf(buf).await? == 0 {
            return Err("the server closed the connection".into());
        }
        if let Some(i) = buf
            .get(searched..)
            .and_then(|b| b.windows(4).position(|w| w == b"\r\n\r\n"))
        {
            break searched + i + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])?;
    let status: u16 = head.get(9..12).ok_or("no status line")?.parse()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim())
        })
        .ok_or_else(|| format!("no Content-Length in {head}"))?
        .parse()?;
    while buf.len() < head_end + length {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err("the server closed the connection mid-body".into());
        }
    }
    Ok(status)
}

// ---------------------------------------------------------------------------------------
// Small helpers

/// Process and machine CPU seconds so far (from /proc; zero where it cannot be read).
#[derive(Debug, Clone, Copy)]
struct Cpu {
    at: Instant,
    process: f64,
    machine: f64,
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

impl Cpu {
    fn now() -> Self {
        let process = proc_stat_cpu("/proc/self/stat");
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                let line = s.lines().next()?.strip_prefix("cpu ")?.to_owned();
                let v: Vec<f64> = line
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal: busy = all but idle, iowait.
                let busy: f64 = v
                    .iter()
                    .take(8)
                    .enumerate()
                    .filter(|(i, _)| *i != 3 && *i != 4)
                    .map(|(_, x)| x)
                    .sum();
                Some(busy / TICKS)
            })
            .unwrap_or(0.0);
        Self {
            at: Instant::now(),
            process,
            machine,
        }
    }
}

/// utime + stime of a /proc `stat` file, in seconds.
fn proc_stat_cpu(path: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1.to_owned();
            let f: Vec<&str> = rest.split_whitespace().collect();
            // Fields after the name: state is 3, utime 14, stime 15 (1-based, man proc).
            let u: f64 = f.get(11)?.parse().ok()?;
            let s: f64 = f.get(12)?.parse().ok()?;
            Some((u + s) / TICKS)
        })
        .unwrap_or(0.0)
}

fn thread_cpu_secs() -> f64 {
    proc_stat_cpu("/proc/thread-self/stat")
}

fn addr_of(server: &TestServer) -> BenchResult<SocketAddr> {
    Ok(server
        .base_url()
        .trim_start_matches("http://")
        .parse::<SocketAddr>()?)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn check(ok: bool, what: impl FnOnce() -> String) -> BenchResult<()> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}
