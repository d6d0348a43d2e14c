//! Several real `cyberhub-server` processes behind a real HAProxy, on one PostgreSQL
//! database, one pgvector collection and one Redis (issue 15): the guarantees that must hold
//! whichever instance a request lands on, and the faults the deployment must survive.
//!
//! Every case is `#[ignore]`d: `scripts/multi-instance.sh` runs them (one at a time) with
//! the environment they need, and `scripts/test.sh` runs that script. Each case starts its
//! own processes (instances, HAProxy, and for the outage cases a private PostgreSQL or
//! pgvector server) and stops them when it ends, also when it fails.
//!
//! Environment: `CYBERHUB_SERVER_BIN` (the server binary), `DATABASE_URL` (a PostgreSQL
//! server where databases may be created: each cluster gets a fresh one), `PGVECTOR_DATABASE_URL`,
//! `CYBERHUB_MODEL_DIR`, `CYBERHUB_MI_REDIS_URL` (the shared Redis, a database of its own;
//! `off` runs the instances without shared state, to see which guarantees fail without it),
//! `CYBERHUB_MI_RUN_DIR` (logs, configuration files, private data directories),
//! `CYBERHUB_MI_PG_BIN` and `CYBERHUB_MI_PGVECTOR_BIN` (bin directories of PostgreSQL and of
//! the pgvector build, for the private servers of the outage cases), `CYBERHUB_MI_PG_USER`
//! and `CYBERHUB_MI_PGVECTOR_USER` (who runs those servers when the tests run as root),
//! `CYBERHUB_MI_HAPROXY` (default `haproxy`). Under `CI` a missing one fails the case;
//! elsewhere the case is skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_vector::conformance::service_url;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN_EMAIL: &str = "admin@cyberhub.test";
const ADMIN_PASSWORD: &str = "admin-pass-for-tests-2026";
const PASSWORD: &str = "blue-team-2026";
const JWT_SECRET: &str = "a-multi-instance-test-secret-of-at-least-32-bytes";

/// `Err(message)` unless `cond`: the checks of one cluster report every broken guarantee
/// together instead of stopping at the first.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

// ---------------------------------------------------------------------------------------
// The environment
// ---------------------------------------------------------------------------------------

/// What every case needs from the environment.
#[derive(Debug, Clone)]
struct Env {
    bin: PathBuf,
    pg_admin: String,
    pgvector: String,
    model_dir: String,
    /// `None`: no shared state (`CYBERHUB_MI_REDIS_URL=off`).
    redis: Option<String>,
    haproxy: String,
    run: PathBuf,
}

impl Env {
    /// The environment, or `None` (skipped) outside CI when part of it is missing.
    fn get() -> Option<Self> {
        let bin = PathBuf::from(service_url("CYBERHUB_SERVER_BIN")?);
        let pg_admin = service_url("DATABASE_URL")?;
        let pgvector = service_url("PGVECTOR_DATABASE_URL")?;
        let model_dir = service_url("CYBERHUB_MODEL_DIR")?;
        let redis = service_url("CYBERHUB_MI_REDIS_URL")?;
        let redis = (redis != "off").then_some(redis);
        let haproxy = std::env::var("CYBERHUB_MI_HAPROXY").unwrap_or_else(|_| "haproxy".into());
        let run = std::env::var("CYBERHUB_MI_RUN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir().join("cyberhub-multi-instance"));
        assert!(bin.is_file(), "no server binary at {}", bin.display());
        std::fs::create_dir_all(run.join("pids")).unwrap();
        Some(Self {
            bin,
            pg_admin,
            pgvector,
            model_dir,
            redis,
            haproxy,
            run,
        })
    }
}

/// A free port below the kernel's ephemeral range (`ip_local_port_range`), each one used
/// once per run. A port the kernel hands out for `bind(0)` is an ephemeral one: between
/// releasing it and the instance binding it, an outgoing connection (a client, HAProxy's
/// checks) may take it; below the range only listeners ever bind.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (first, last) = (10_000u16, low.saturating_sub(1).max(10_500));
    let span = last - first;
    // A random start per process, so that two runs side by side rarely meet.
    let _ = NEXT.compare_exchange(
        0,
        (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u16 + 1,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = first + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {first} and {last}");
}

fn unique(what: &str) -> String {
    format!(
        "{what}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Runs as root (then the private database servers run as another user).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One SQL statement through `psql` (`-tA`: bare values, `|` between columns).
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn psql_count(url: &str, sql: &str) -> i64 {
    let v = psql(url, sql);
    v.parse()
        .unwrap_or_else(|_| panic!("not a number from {sql}: {v:?}"))
}

/// Polls `f` every `every` until it returns `Some`, or gives up after `within`.
async fn wait_for<T, F, Fut>(within: Duration, every: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// One answer: status and JSON body (`Null` when empty, a string when not JSON).
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

impl Reply {
    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
}

/// A call to `base` + `/api/v1` + `path` (or `base` + `path` for `/ready`, `/metrics`):
/// `Err` on a transport error.
async fn call(
    client: &Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    forwarded_for: Option<&str>,
) -> Result<Reply, String> {
    let url = if path.starts_with("/ready") || path.starts_with("/metrics") {
        format!("{base}{path}")
    } else {
        format!("{base}/api/v1{path}")
    };
    let mut req = client.request(method.clone(), &url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp
        .text()
        .await
        .map_err(|e| format!("{method} {url}: body: {e}"))?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(Reply {
        status,
        body,
        retry_after,
    })
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// Which routes an instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    All,
    Core,
    Ai,
}

/// One `cyberhub-server serve` process (started again on the same port after a stop).
struct Instance {
    name: String,
    role: Role,
    port: u16,
    env: Vec<(String, String)>,
    bin: PathBuf,
    log: PathBuf,
    pid_file: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn start(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve").env_clear();
        for k in ["PATH", "HOME", "TMPDIR", "LANG"] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        std::fs::write(&self.pid_file, child.id().to_string()).ok();
        self.child = Some(child);
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Whether the process still runs (reaps it when it has exited).
    fn alive(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                std::fs::remove_file(&self.pid_file).ok();
                false
            }
            None => false,
        }
    }

    async fn wait_exit(&mut self, within: Duration) -> bool {
        wait_for(within, Duration::from_millis(50), || {
            let gone = !self.alive();
            async move { gone.then_some(()) }
        })
        .await
        .is_some()
    }

    /// SIGTERM (graceful: in-flight requests finish), SIGKILL after `within`.
    async fn stop(&mut self, within: Duration) {
        self.signal("TERM");
        if !self.wait_exit(within).await {
            eprintln!("{} ignored SIGTERM for {within:?}: killing it", self.name);
            self.kill();
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
            std::fs::remove_file(&self.pid_file).ok();
        }
    }

    async fn wait_ready(&mut self, client: &Client, within: Duration) {
        let start = Instant::now();
        loop {
            let ok = client
                .get(format!("{}/ready", self.url()))
                .timeout(Duration::from_secs(3))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return;
            }
            if !self.alive() {
                panic!(
                    "{} exited during start-up; its log:\n{}",
                    self.name,
                    tail(&self.log, 40)
                );
            }
            if start.elapsed() > within {
                panic!(
                    "{} not ready after {within:?}; its log:\n{}",
                    self.name,
                    tail(&self.log, 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// `cyberhub_index_items_total` of this process.
    async fn indexed_items(&self, client: &Client) -> u64 {
        let text = client
            .get(format!("{}/metrics", self.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("cyberhub_index_items_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no cyberhub_index_items_total in /metrics:\n{text}"))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy in front of the instances: `GET /ready` health checks, retries with
/// redispatch, `X-Forwarded-For`; in split mode the AI paths go to the `ai` backend.
struct Balancer {
    port: u16,
    stats_port: u16,
    cfg: PathBuf,
    log: PathBuf,
    pid_file: PathBuf,
    child: Option<Child>,
}

/// The AI routes, which a split deployment sends to the `ai` instances.
const AI_PATHS: &str =
    "/api/v1/embeddings /api/v1/search /api/v1/recommendations /api/v1/personality /api/v1/index";

fn haproxy_config(
    dir: &Path,
    port: u16,
    stats_port: u16,
    core: &[(String, u16)],
    ai: &[(String, u16)],
) -> String {
    let detail = r#"{"detail":"No CyberHub instance is available behind the load balancer; try again shortly."}"#;
    let errorfile = dir.join("503.http");
    std::fs::write(
        &errorfile,
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nCache-Control: no-cache\r\nRetry-After: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{detail}",
            detail.len()
        ),
    )
    .unwrap();
    let backend = |name: &str, servers: &[(String, u16)]| {
        let mut b = format!("backend {name}\n    balance roundrobin\n    option allbackups\n");
        for (s, p) in servers {
            b.push_str(&format!("    server {s} 127.0.0.1:{p} check\n"));
        }
        // The same instances again, unchecked, as backups: used only while every checked
        // one is marked down (a database outage makes all of them not ready), so that
        // clients get the instances' own 503 with its detail rather than no answer.
        for (s, p) in servers {
            b.push_str(&format!("    server {s}-direct 127.0.0.1:{p} backup\n"));
        }
        b
    };
    let mut cfg = format!(
        "global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout queue 30s
    timeout check 2s
    # A request whose connection is refused or closed before any answer (an instance that
    # is stopping) is sent again, to another instance: a rolling restart loses nothing.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response
    option forwardfor
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 400ms fastinter 200ms downinter 1s fall 2 rise 2
    errorfile 503 {errorfile}

frontend api
    bind 127.0.0.1:{port}
",
        errorfile = errorfile.display()
    );
    if !ai.is_empty() {
        cfg.push_str(&format!(
            "    acl ai_route path_beg {AI_PATHS}\n    use_backend ai if ai_route\n"
        ));
    }
    cfg.push_str("    default_backend core\n\n");
    cfg.push_str(&backend("core", core));
    if !ai.is_empty() {
        cfg.push('\n');
        cfg.push_str(&backend("ai", ai));
    }
    cfg.push_str(&format!(
        "\nlisten stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n"
    ));
    cfg
}

impl Balancer {
    fn start(
        env: &Env,
        dir: &Path,
        name: &str,
        core: &[(String, u16)],
        ai: &[(String, u16)],
    ) -> Self {
        let (port, stats_port) = (free_port(), free_port());
        let cfg = dir.join(format!("{name}.cfg"));
        std::fs::write(&cfg, haproxy_config(dir, port, stats_port, core, ai)).unwrap();
        let log = dir.join(format!("{name}.log"));
        let check = Command::new(&env.haproxy)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", env.haproxy));
        assert!(
            check.status.success(),
            "haproxy -c: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(&env.haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let pid_file = env.run.join("pids").join(format!("{}.pid", unique(name)));
        std::fs::write(&pid_file, child.id().to_string()).ok();
        Self {
            port,
            stats_port,
            cfg,
            log,
            pid_file,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Per server (`backend/server`): status, retries, redispatches (the stats CSV).
    async fn stats(&self, client: &Client) -> BTreeMap<String, (String, u64, u64)> {
        let Ok(resp) = client
            .get(format!("http://127.0.0.1:{}/stats;csv", self.stats_port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        else {
            return BTreeMap::new();
        };
        let text = resp.text().await.unwrap_or_default();
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or("")
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |n: &str| header.iter().position(|h| *h == n);
        let (Some(px), Some(sv), Some(st), Some(wretr), Some(wredis)) = (
            col("pxname"),
            col("svname"),
            col("status"),
            col("wretr"),
            col("wredis"),
        ) else {
            return BTreeMap::new();
        };
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > wredis)
            .map(|f| {
                (
                    format!("{}/{}", f[px], f[sv]),
                    (
                        f[st].to_owned(),
                        f[wretr].parse().unwrap_or(0),
                        f[wredis].parse().unwrap_or(0),
                    ),
                )
            })
            .collect()
    }

    /// Waits until HAProxy reports every one of `servers` (`backend/server`) UP.
    async fn wait_up(&self, client: &Client, servers: &[String], within: Duration) {
        let ok = wait_for(within, Duration::from_millis(100), || async {
            let s = self.stats(client).await;
            servers
                .iter()
                .all(|name| s.get(name).is_some_and(|(st, _, _)| st.starts_with("UP")))
                .then_some(())
        })
        .await;
        if ok.is_none() {
            panic!(
                "HAProxy did not report {servers:?} UP within {within:?}: {:?}\n{}",
                self.stats(client).await,
                tail(&self.log, 20)
            );
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
        std::fs::remove_file(&self.pid_file).ok();
        let _ = &self.cfg;
    }
}

/// A private PostgreSQL server (Debian's binaries, or the pgvector build) on a free port
/// with its own data directory, which a case may stop and start: the shared servers other
/// tests use are never touched.
struct PrivatePostgres {
    bin: PathBuf,
    user: Option<String>,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    db: String,
    running: bool,
}

impl PrivatePostgres {
    /// Initialises and starts a server from `bin` (pgvector's `CREATE EXTENSION` when
    /// `vector`), with database `cyberhub`.
    fn start(bin_var: &str, user_var: &str, dir: &Path, vector: bool) -> Option<Self> {
        let bin = PathBuf::from(service_url(bin_var)?);
        let user = is_root().then(|| std::env::var(user_var).unwrap_or_else(|_| "postgres".into()));
        let base = dir.join(if vector { "pgvector" } else { "postgres" });
        let data = base.join("data");
        let logdir = base.join("log");
        std::fs::create_dir_all(&logdir).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        for d in [dir, &base] {
            // The server's user must reach its directories.
            Command::new("chmod").arg("755").arg(d).status().ok();
        }
        if let Some(u) = &user {
            let ok = Command::new("chown")
                .arg("-R")
                .arg(format!("{u}:"))
                .arg(&data)
                .arg(&logdir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown {} to {u}", data.display());
        }
        Command::new("chmod").arg("700").arg(&data).status().ok();
        // For the clean-up of scripts/multi-instance.sh if this process dies.
        std::fs::write(
            base.join("pg.ctl"),
            format!(
                "{} {}\n",
                bin.display(),
                user.clone().unwrap_or_else(|| "-".into())
            ),
        )
        .unwrap();
        let me = Self {
            bin,
            user,
            data,
            log: logdir.join("postgres.log"),
            port: free_port(),
            db: "cyberhub".into(),
            running: false,
        };
        let out = me
            .command("initdb")
            .arg("-D")
            .arg(&me.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\nmax_connections = 100\nfsync = off\nfull_page_writes = off\n",
            me.port
        );
        let mut f = OpenOptions::new()
            .append(true)
            .open(me.data.join("postgresql.conf"))
            .or_else(|_| {
                // The data directory belongs to the server's user: write as root anyway.
                OpenOptions::new()
                    .append(true)
                    .open(me.data.join("postgresql.conf"))
            })
            .unwrap();
        f.write_all(conf.as_bytes()).unwrap();
        let mut me = me;
        me.resume();
        psql(
            &me.url_of("postgres"),
            &format!("CREATE DATABASE {}", me.db),
        );
        if vector {
            psql(&me.url(), "CREATE EXTENSION IF NOT EXISTS vector");
        }
        Some(me)
    }

    fn command(&self, tool: &str) -> Command {
        let prog = self.bin.join(tool);
        match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(prog).current_dir("/");
                c
            }
            None => Command::new(prog),
        }
    }

    fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn url(&self) -> String {
        self.url_of(&self.db)
    }

    fn ctl(&self, args: &[&str]) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the server (again) and waits until it accepts connections.
    fn resume(&mut self) {
        let log = self.log.display().to_string();
        assert!(
            self.ctl(&["-l", &log, "-w", "-t", "30", "start"]),
            "pg_ctl start failed: {}",
            tail(&self.log, 20)
        );
        self.running = true;
    }

    /// Stops the server (`fast`: open connections are ended).
    fn halt(&mut self) {
        assert!(
            self.ctl(&["-m", "fast", "-w", "-t", "30", "stop"]),
            "pg_ctl stop failed"
        );
        self.running = false;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            self.ctl(&["-m", "immediate", "-w", "-t", "10", "stop"]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A cluster
// ---------------------------------------------------------------------------------------

/// What a cluster runs on.
struct Plan {
    name: &'static str,
    roles: Vec<Role>,
    /// A database URL of the case's own (a private server); default: a fresh database on
    /// `DATABASE_URL`'s server.
    database_url: Option<String>,
    /// A pgvector URL of the case's own; default `PGVECTOR_DATABASE_URL`.
    pgvector_url: Option<String>,
    /// More `CYBERHUB_*` settings for every instance.
    extra: Vec<(&'static str, String)>,
}

impl Plan {
    fn new(name: &'static str, roles: Vec<Role>) -> Self {
        Self {
            name,
            roles,
            database_url: None,
            pgvector_url: None,
            extra: Vec::new(),
        }
    }
}

/// Instances on one database, one vector collection and (unless switched off) one Redis,
/// behind one HAProxy; the administrator signed in.
struct Cluster {
    env: Env,
    dir: PathBuf,
    database_url: String,
    fresh_db: Option<String>,
    pgvector_url: String,
    collection: String,
    instances: Vec<Instance>,
    lb: Balancer,
    client: Client,
    admin: String,
}

/// The client address the harness's own calls come from (through `X-Forwarded-For`).
const HARNESS_IP: &str = "192.0.2.10";

impl Cluster {
    async fn start(env: &Env, plan: Plan) -> Self {
        let dir = env.run.join(unique(plan.name));
        std::fs::create_dir_all(&dir).unwrap();
        let (database_url, fresh_db) = match plan.database_url {
            Some(u) => (u, None),
            None => {
                let (url, name) =
                    cyberhub_store::conformance::create_postgres_database(&env.pg_admin).await;
                (url, Some(name))
            }
        };
        let pgvector_url = plan.pgvector_url.unwrap_or_else(|| env.pgvector.clone());
        // `t_` names are removed by scripts/test.sh if a run dies before dropping them.
        let collection = format!("t_mi_{}", uuid::Uuid::new_v4().simple());
        let mut names = (0..plan.roles.len()).map(|i| {
            let role = plan.roles[i];
            let n = plan.roles[..i].iter().filter(|r| **r == role).count() + 1;
            match role {
                Role::All => format!("all{n}"),
                Role::Core => format!("core{n}"),
                Role::Ai => format!("ai{n}"),
            }
        });
        let specs: Vec<(String, Role, u16)> = plan
            .roles
            .iter()
            .map(|r| (names.next().unwrap(), *r, free_port()))
            .collect();
        let core: Vec<(String, u16)> = specs
            .iter()
            .filter(|(_, r, _)| *r != Role::Ai)
            .map(|(n, _, p)| (n.clone(), *p))
            .collect();
        let ai: Vec<(String, u16)> = specs
            .iter()
            .filter(|(_, r, _)| *r == Role::Ai)
            .map(|(n, _, p)| (n.clone(), *p))
            .collect();
        let lb = Balancer::start(env, &dir, "haproxy", &core, &ai);
        let mut instances: Vec<Instance> = specs
            .iter()
            .map(|(name, role, port)| {
                let mut e: Vec<(String, String)> = vec![
                    ("CYBERHUB_BIND", format!("127.0.0.1:{port}")),
                    ("CYBERHUB_DATABASE_URL", database_url.clone()),
                    ("CYBERHUB_DATABASE_MAX_CONNECTIONS", "5".into()),
                    ("CYBERHUB_VECTOR_URL", format!("pgvector+{pgvector_url}")),
                    ("CYBERHUB_VECTOR_COLLECTION", collection.clone()),
                    ("CYBERHUB_MODEL_DIR", env.model_dir.clone()),
                    ("CYBERHUB_JWT_SECRET", JWT_SECRET.into()),
                    ("CYBERHUB_INSECURE_FAST_PASSWORD_HASHING", "true".into()),
                    ("CYBERHUB_ADMIN_EMAIL", ADMIN_EMAIL.into()),
                    ("CYBERHUB_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                    ("CYBERHUB_TRUSTED_PROXIES", "127.0.0.1".into()),
                    ("CYBERHUB_INDEX_POLL_MS", "200".into()),
                    ("CYBERHUB_SHUTDOWN_GRACE_SECS", "10".into()),
                    ("CYBERHUB_PURGE_INTERVAL_SECS", "0".into()),
                    (
                        "CYBERHUB_LOG",
                        std::env::var("CYBERHUB_MI_LOG").unwrap_or_else(|_| "warn".into()),
                    ),
                    (
                        "CYBERHUB_SERVICE",
                        match role {
                            Role::All => "all",
                            Role::Core => "core",
                            Role::Ai => "ai",
                        }
                        .into(),
                    ),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                if let Some(r) = &env.redis {
                    e.push(("CYBERHUB_REDIS_URL".into(), r.clone()));
                }
                if *role == Role::Ai {
                    e.push(("CYBERHUB_CORE_URL".into(), lb.url()));
                }
                for (k, v) in &plan.extra {
                    e.push(((*k).to_owned(), v.clone()));
                }
                Instance {
                    name: name.clone(),
                    role: *role,
                    port: *port,
                    env: e,
                    bin: env.bin.clone(),
                    log: dir.join(format!("{name}.log")),
                    pid_file: env.run.join("pids").join(format!("{}.pid", unique(name))),
                    child: None,
                }
            })
            .collect();
        let client = client();
        // The first instance alone (migrations, the seed catalog, the administrator), then
        // the others together; the AI instances after the core ones they read progress from.
        let boot = Duration::from_secs(120);
        instances[0].start();
        instances[0].wait_ready(&client, boot).await;
        for i in instances.iter_mut().skip(1).filter(|i| i.role != Role::Ai) {
            i.start();
        }
        for i in instances.iter_mut().skip(1).filter(|i| i.role != Role::Ai) {
            i.wait_ready(&client, boot).await;
        }
        for i in instances.iter_mut().skip(1).filter(|i| i.role == Role::Ai) {
            i.start();
            i.wait_ready(&client, boot).await;
        }
        let servers: Vec<String> = instances
            .iter()
            .map(|i| {
                let backend = if i.role == Role::Ai { "ai" } else { "core" };
                format!("{backend}/{}", i.name)
            })
            .collect();
        lb.wait_up(&client, &servers, Duration::from_secs(30)).await;
        let login = call(
            &client,
            &lb.url(),
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            Some(HARNESS_IP),
        )
        .await
        .unwrap();
        assert_eq!(login.status, 200, "{:?}", login.body);
        let admin = login.body["access_token"].as_str().unwrap().to_owned();
        Self {
            env: env.clone(),
            dir,
            database_url,
            fresh_db,
            pgvector_url,
            collection,
            instances,
            lb,
            client,
            admin,
        }
    }

    fn lb(&self) -> String {
        self.lb.url()
    }

    async fn call(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        call(
            &self.client,
            base,
            method,
            path,
            token,
            body,
            Some(HARNESS_IP),
        )
        .await
    }

    /// A new learner signed up through the balancer: (user id, email, access token).
    async fn learner(&self) -> (String, String, String) {
        let email = format!("{}@cyberhub.test", unique("mi"));
        let r = self
            .call(&self.lb(), Method::POST, "/auth/signup", None, Some(json!({"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "L"})))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
        (
            r.body["user"]["id"].as_str().unwrap().to_owned(),
            email,
            r.body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Index status through the balancer once nothing is pending and every catalog item is
    /// indexed, or `Err` with the last status after `within`.
    async fn wait_indexed(&self, within: Duration) -> Result<Value, String> {
        let last = Mutex::new(Value::Null);
        let done = wait_for(within, Duration::from_millis(200), || async {
            let r = self
                .call(
                    &self.lb(),
                    Method::GET,
                    "/index/status",
                    Some(&self.admin),
                    None,
                )
                .await
                .ok()?;
            *last.lock().unwrap() = r.body.clone();
            (r.status == 200 && r.body["pending"] == 0 && r.body["indexed"] == r.body["catalog"])
                .then_some(r.body)
        })
        .await;
        done.ok_or_else(|| {
            let outbox = Command::new("psql")
                .args(["-X", "-q", "-tA", &self.database_url, "-c"])
                .arg("SELECT (extract(epoch from now()) * 1000)::bigint AS now_ms, leased_by, leased_until_ms, attempts, last_error FROM index_outbox ORDER BY id LIMIT 3")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            format!(
                "not indexed after {within:?}: {}; outbox (now, leased by, until, attempts, error): {outbox}",
                last.lock().unwrap()
            )
        })
    }

    /// Catalog items of a track: (content_id, content_type).
    async fn items(&self, track: &str) -> Vec<(String, String)> {
        let r = self
            .call(
                &self.lb(),
                Method::GET,
                &format!("/content?track={track}&page_size=50"),
                Some(&self.admin),
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["content_id"].as_str().unwrap().to_owned(),
                    i["content_type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The whole catalog: (content_id, content_type).
    async fn catalog(&self) -> Vec<(String, String)> {
        let r = self
            .call(
                &self.lb(),
                Method::GET,
                "/content?page_size=100",
                Some(&self.admin),
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["content_id"].as_str().unwrap().to_owned(),
                    i["content_type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for i in &self.instances {
            s.push_str(&format!(
                "--- {} ({}) ---\n{}\n",
                i.name,
                i.log.display(),
                tail(&i.log, 15)
            ));
        }
        s
    }

    /// Stops every process and removes the database and the collection.
    async fn stop(mut self) {
        for i in &mut self.instances {
            if i.alive() {
                i.stop(Duration::from_secs(15)).await;
            }
        }
        if let Some(name) = &self.fresh_db {
            cyberhub_store::conformance::drop_postgres_database(&self.env.pg_admin, name).await;
        }
        let _ = Command::new("psql")
            .args(["-X", "-q", &self.pgvector_url, "-c"])
            .arg(format!(
                "DROP TABLE IF EXISTS \"cvec_{c}\"; DELETE FROM cyberhub_vector_collections WHERE name = '{c}'",
                c = self.collection
            ))
            .env("PGCONNECT_TIMEOUT", "5")
            .output();
        if std::env::var_os("CYBERHUB_MI_KEEP").is_none() {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}

/// Runs named checks one after another, then fails naming every one that failed (with
/// the instances' last log lines), or passes.
async fn report(cluster: Cluster, results: Vec<(&str, Result<(), String>)>) {
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    for (name, r) in &results {
        eprintln!(
            "[multi-instance] {name}: {}",
            if r.is_ok() { "ok" } else { "FAILED" }
        );
    }
    let logs = if failed.is_empty() {
        String::new()
    } else {
        cluster.logs()
    };
    cluster.stop().await;
    assert!(
        failed.is_empty(),
        "{} guarantee(s) broken:\n{}\n{logs}",
        failed.len(),
        failed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The guarantees, on three instances
// ---------------------------------------------------------------------------------------

/// Wrong passwords for `email` from `ip` against `base` until a 429: how many attempts
/// were answered 401 first (`None`: no lock within `max` attempts).
async fn failures_until_locked(
    c: &Cluster,
    base: &str,
    email: &str,
    ip: &str,
    max: usize,
) -> Result<Option<usize>, String> {
    for n in 0..max {
        let r = call(
            &c.client,
            base,
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": email, "password": "not-the-password"})),
            Some(ip),
        )
        .await?;
        match r.status {
            401 => {}
            429 => return Ok(Some(n)),
            s => return Err(format!("attempt {}: {s} {}", n + 1, r.body)),
        }
    }
    Ok(None)
}

async fn lockout_counts_across_instances(c: &Cluster) -> Result<(), String> {
    // The same attempts against one instance directly, for the number to expect.
    let (_, solo, _) = c.learner().await;
    let one = failures_until_locked(c, &c.instances[0].url(), &solo, "203.0.113.20", 30)
        .await?
        .ok_or("one instance alone never locked the account")?;
    let (_, email, _) = c.learner().await;
    let ip = "203.0.113.21";
    let through_lb = failures_until_locked(c, &c.lb(), &email, ip, 30).await?;
    ensure!(
        through_lb == Some(one),
        "one instance locks after {one} failed logins; through the balancer over {} instances the lock came after {through_lb:?} (None: not within 30)",
        c.instances.len()
    );
    // Locked on every instance, even with the right password.
    for i in &c.instances {
        let r = call(
            &c.client,
            &i.url(),
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": email, "password": PASSWORD})),
            Some(ip),
        )
        .await?;
        ensure!(
            r.status == 429 && r.retry_after.is_some(),
            "{} let the locked client in: {} {}",
            i.name,
            r.status,
            r.body
        );
    }
    Ok(())
}

/// Polls `GET /auth/me` with `token` on `base` until 401; the time it took.
async fn refused_after(c: &Cluster, base: &str, token: &str, since: Instant) -> Option<Duration> {
    wait_for(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async {
            let r = c
                .call(base, Method::GET, "/auth/me", Some(token), None)
                .await
                .ok()?;
            (r.status == 401).then(|| since.elapsed())
        },
    )
    .await
}

async fn revocation_reaches_every_instance(c: &Cluster) -> Result<(), String> {
    let (_, email, first) = c.learner().await;
    let login = || async {
        let r = c
            .call(
                &c.lb(),
                Method::POST,
                "/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    };
    let (second, third) = (login().await, login().await);
    let mut bases: Vec<(String, String)> = c
        .instances
        .iter()
        .map(|i| (i.name.clone(), i.url()))
        .collect();
    bases.push(("balancer".into(), c.lb()));
    // Every instance has checked every token (and cached the answer).
    for (name, base) in &bases {
        for t in [&first, &second, &third] {
            let r = c.call(base, Method::GET, "/auth/me", Some(t), None).await?;
            ensure!(r.status == 200, "{name}: {} {}", r.status, r.body);
        }
    }
    let mut slow = Vec::new();
    let mut worst = [Duration::ZERO; 2];
    // A logout on one instance...
    let r = c
        .call(
            &c.instances[0].url(),
            Method::POST,
            "/auth/logout",
            Some(&first),
            Some(json!({})),
        )
        .await?;
    ensure!(r.status == 200, "logout: {} {}", r.status, r.body);
    let since = Instant::now();
    for (name, base) in &bases {
        match refused_after(c, base, &first, since).await {
            Some(d) if d <= Duration::from_secs(1) => worst[0] = worst[0].max(d),
            other => slow.push(format!(
                "after a logout on {}, {name} refused the token after {other:?}",
                c.instances[0].name
            )),
        }
    }
    // ... and a password change on another (the caller's other sessions end).
    let r = c
        .call(
            &c.instances[1].url(),
            Method::POST,
            "/auth/password/change",
            Some(&second),
            Some(json!({"current_password": PASSWORD, "new_password": "red-team-2027-new"})),
        )
        .await?;
    ensure!(r.status == 200, "password change: {} {}", r.status, r.body);
    let since = Instant::now();
    for (name, base) in &bases {
        match refused_after(c, base, &third, since).await {
            Some(d) if d <= Duration::from_secs(1) => worst[1] = worst[1].max(d),
            other => slow.push(format!(
                "after a password change on {}, {name} refused the other session's token after {other:?}",
                c.instances[1].name
            )),
        }
    }
    eprintln!(
        "[multi-instance] old token refused on every instance and the balancer within {:?} (logout) and {:?} (password change)",
        worst[0], worst[1]
    );
    ensure!(slow.is_empty(), "{}", slow.join("; "));
    Ok(())
}

async fn progress_changes_recommendations_everywhere(c: &Cluster) -> Result<(), String> {
    // Recommendations from progress need the catalog's vectors.
    c.wait_indexed(Duration::from_secs(120)).await?;
    let (uid, _, token) = c.learner().await;
    let path = format!("/recommendations/{uid}?limit=10");
    // Every instance answers (and caches) the cold start.
    for i in &c.instances {
        let r = c
            .call(&i.url(), Method::GET, &path, Some(&token), None)
            .await?;
        ensure!(
            r.status == 200 && r.body["cold_start"] == true,
            "{}: {} {}",
            i.name,
            r.status,
            r.body
        );
    }
    let offensive = c.items("offensive").await;
    let done: Vec<&(String, String)> = offensive.iter().take(3).collect();
    for item in &done {
        let r = c
            .call(&c.instances[0].url(), Method::POST, "/progress", Some(&token), Some(json!({"content_id": item.0, "content_type": item.1, "status": "completed", "completion_percentage": 100.0, "score": 90})))
            .await?;
        ensure!(r.status == 201, "progress: {} {}", r.status, r.body);
    }
    // At once, on the others and through the balancer.
    let mut bases: Vec<(String, String)> = c.instances[1..]
        .iter()
        .map(|i| (i.name.clone(), i.url()))
        .collect();
    bases.push(("balancer".into(), c.lb()));
    for (name, base) in &bases {
        let r = c.call(base, Method::GET, &path, Some(&token), None).await?;
        ensure!(r.status == 200, "{name}: {} {}", r.status, r.body);
        ensure!(
            r.body["cold_start"] == false,
            "{name} still serves the cold start after progress was written on {}: {}",
            c.instances[0].name,
            r.body
        );
        let recs = r.body["recommendations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for item in &done {
            ensure!(
                recs.iter().all(|x| x["content_id"] != item.0.as_str()),
                "{name} recommends {} which was completed on {}",
                item.0,
                c.instances[0].name
            );
        }
        ensure!(
            recs.iter().filter(|x| x["track"] == "offensive").count() >= 5,
            "{name}: the recommendations do not follow the offensive progress: {}",
            r.body
        );
    }
    Ok(())
}

async fn catalog_writes_indexed_once(c: &Cluster) -> Result<(), String> {
    c.wait_indexed(Duration::from_secs(120)).await?;
    let mut before = 0;
    for i in &c.instances {
        before += i.indexed_items(&c.client).await;
    }
    // Twelve new items, written four through each instance at once: each write wakes its
    // own instance's worker while the others poll, all three racing for the events.
    let n_items = 12;
    let mut writes = tokio::task::JoinSet::new();
    for k in 0..n_items {
        let base = c.instances[k % c.instances.len()].url();
        let (client, admin) = (c.client.clone(), c.admin.clone());
        writes.spawn(async move {
            let id = unique(&format!("mi-once-{k}"));
            let r = call(&client, &base, Method::POST, "/content", Some(&admin), Some(json!({"content_id": id, "content_type": "article", "title": format!("Incident response drill {k}"), "description": "Walk through detection, containment and recovery for a ransomware outbreak on a small network.", "track": "defender"})), Some(HARNESS_IP))
                .await?;
            if r.status == 201 {
                Ok(())
            } else {
                Err(format!("POST /content: {} {}", r.status, r.body))
            }
        });
    }
    while let Some(r) = writes.join_next().await {
        r.unwrap()?;
    }
    let status = c.wait_indexed(Duration::from_secs(90)).await?;
    let mut after = 0;
    let mut per = Vec::new();
    for i in &c.instances {
        let n = i.indexed_items(&c.client).await;
        after += n;
        per.push(format!("{}={n}", i.name));
    }
    ensure!(
        after - before == n_items as u64,
        "{n_items} new items were indexed {} times in all by three workers (cyberhub_index_items_total: {})",
        after - before,
        per.join(", ")
    );
    let (rows, distinct) = {
        let v = psql(
            &c.pgvector_url,
            &format!(
                "SELECT count(*), count(DISTINCT content_id) FROM \"cvec_{}\"",
                c.collection
            ),
        );
        let (a, b) = v.split_once('|').unwrap();
        (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap())
    };
    ensure!(
        rows == distinct && status["catalog"].as_u64() == Some(rows),
        "{rows} vectors for {distinct} items, catalog {}",
        status["catalog"]
    );
    Ok(())
}

/// What a client loop saw: requests, acknowledged writes as (user id, content id),
/// failures, answers by status.
#[derive(Debug, Default)]
struct LoadLog {
    requests: u64,
    acked: Vec<(String, String)>,
    failures: Vec<String>,
    statuses: BTreeMap<u16, u64>,
}

impl LoadLog {
    fn record(&mut self, r: &Result<Reply, String>, what: &str) -> bool {
        self.requests += 1;
        match r {
            Ok(r) => {
                *self.statuses.entry(r.status).or_default() += 1;
                if (200..300).contains(&r.status) {
                    return true;
                }
                self.failures
                    .push(format!("{what}: {} {}", r.status, r.body));
            }
            Err(e) => self.failures.push(e.clone()),
        }
        false
    }

    /// The acknowledged writes missing from the database at `url`.
    fn missing_from(&self, url: &str) -> Vec<(String, String)> {
        let users: HashSet<&str> = self.acked.iter().map(|(u, _)| u.as_str()).collect();
        if users.is_empty() {
            return Vec::new();
        }
        let list: Vec<String> = users.iter().map(|u| format!("'{u}'")).collect();
        let stored: HashSet<String> = psql(
            url,
            &format!(
                "SELECT user_id::text || ' ' || content_id FROM progress WHERE user_id::text IN ({})",
                list.join(",")
            ),
        )
        .lines()
        .map(str::to_owned)
        .collect();
        self.acked
            .iter()
            .filter(|(u, c)| !stored.contains(&format!("{u} {c}")))
            .cloned()
            .collect()
    }
}

/// `workers` clients looping through the balancer at `lb` until `stop`. Each signs up a
/// learner and records progress on one catalog item after another (a new learner when the
/// catalog is done); with `reads`, each write is followed by the learner's progress and a
/// catalog page. After a failure a client waits 50 ms.
fn client_loop(
    client: Client,
    lb: String,
    catalog: Vec<(String, String)>,
    workers: usize,
    reads: bool,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<LoadLog> {
    let log = Arc::new(Mutex::new(LoadLog::default()));
    tokio::spawn(async move {
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (log, stop, client, lb, catalog) = (
                log.clone(),
                stop.clone(),
                client.clone(),
                lb.clone(),
                catalog.clone(),
            );
            loops.spawn(async move {
                let mut learner: Option<(String, String)> = None;
                let mut next = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Some((uid, token)) = learner.clone() else {
                        let email = format!("{}@cyberhub.test", unique("mi-load"));
                        let r = call(&client, &lb, Method::POST, "/auth/signup", None, Some(json!({"email": email, "password": PASSWORD, "first_name": "Load", "last_name": "L"})), Some(HARNESS_IP)).await;
                        if log.lock().unwrap().record(&r, "POST /auth/signup") {
                            let b = r.unwrap().body;
                            learner = Some((
                                b["user"]["id"].as_str().unwrap_or_default().to_owned(),
                                b["access_token"].as_str().unwrap_or_default().to_owned(),
                            ));
                            next = 0;
                        } else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        continue;
                    };
                    let (content_id, content_type) = &catalog[next];
                    next += 1;
                    if next == catalog.len() {
                        learner = None;
                    }
                    let r = call(&client, &lb, Method::POST, "/progress", Some(&token), Some(json!({"content_id": content_id, "content_type": content_type, "status": "in_progress", "completion_percentage": 50.0})), Some(HARNESS_IP)).await;
                    let ok = log.lock().unwrap().record(&r, "POST /progress");
                    if ok {
                        log.lock().unwrap().acked.push((uid.clone(), content_id.clone()));
                    } else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if reads {
                        for path in ["/progress?page_size=5", "/content?page_size=5"] {
                            let r = call(&client, &lb, Method::GET, path, Some(&token), None, Some(HARNESS_IP)).await;
                            log.lock().unwrap().record(&r, &format!("GET {path}"));
                        }
                    }
                }
            });
        }
        while loops.join_next().await.is_some() {}
        Arc::try_unwrap(log).unwrap().into_inner().unwrap()
    })
}

async fn rolling_restart_loses_nothing(c: &mut Cluster) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let catalog = c.catalog().await;
    let load = client_loop(c.client.clone(), c.lb(), catalog, 4, true, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let servers: Vec<String> = c
        .instances
        .iter()
        .map(|i| format!("core/{}", i.name))
        .collect();
    let mut restarted = Vec::new();
    for k in 0..c.instances.len() {
        let started = Instant::now();
        let inst = &mut c.instances[k];
        inst.stop(Duration::from_secs(20)).await;
        inst.start();
        inst.wait_ready(&c.client, Duration::from_secs(120)).await;
        c.lb.wait_up(&c.client, &servers, Duration::from_secs(30))
            .await;
        restarted.push(format!(
            "{} in {:?}",
            c.instances[k].name,
            started.elapsed()
        ));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let log = load.await.unwrap();
    let stats = c.lb.stats(&c.client).await;
    let (retries, redispatches) = stats
        .values()
        .fold((0, 0), |(a, b), (_, r, d)| (a + r, b + d));
    eprintln!(
        "[multi-instance] rolling restart: {} requests ({:?}), {} writes acknowledged, {} failed; restarted {}; HAProxy retries {retries}, redispatches {redispatches}",
        log.requests,
        log.statuses,
        log.acked.len(),
        log.failures.len(),
        restarted.join(", ")
    );
    ensure!(
        log.failures.is_empty(),
        "{} of {} requests failed during the rolling restart, first: {:?}",
        log.failures.len(),
        log.requests,
        &log.failures[..log.failures.len().min(5)]
    );
    ensure!(
        log.requests >= 30,
        "too little load to mean anything: {} requests",
        log.requests
    );
    // Every acknowledged write is there.
    let missing = log.missing_from(&c.database_url);
    ensure!(
        missing.is_empty(),
        "acknowledged writes missing: {missing:?}"
    );
    Ok(())
}

/// Three instances serving every route, behind HAProxy: the lock-out, revocations,
/// recommendations and indexing hold across them, and a rolling restart under load loses
/// no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the multi-instance set-up: scripts/multi-instance.sh"]
async fn three_instances_behind_haproxy() {
    let Some(env) = Env::get() else { return };
    let mut c = Cluster::start(&env, Plan::new("three", vec![Role::All; 3])).await;
    let mut results = vec![
        (
            "lock-out counted across instances",
            lockout_counts_across_instances(&c).await,
        ),
        (
            "logout and password change refused everywhere within 1 s",
            revocation_reaches_every_instance(&c).await,
        ),
        (
            "a progress write changes the recommendations of every instance",
            progress_changes_recommendations_everywhere(&c).await,
        ),
        (
            "catalog writes indexed exactly once by three workers",
            catalog_writes_indexed_once(&c).await,
        ),
    ];
    results.push((
        "rolling restart under load loses no request",
        rolling_restart_loses_nothing(&mut c).await,
    ));
    report(c, results).await;
}

/// The split deployment: two `core` instances and one `ai` instance (which reads progress
/// from core through the balancer); HAProxy sends the AI paths to the `ai` backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the multi-instance set-up: scripts/multi-instance.sh"]
async fn split_core_and_ai_behind_haproxy() {
    let Some(env) = Env::get() else { return };
    let c = Cluster::start(
        &env,
        Plan::new("split", vec![Role::Core, Role::Core, Role::Ai]),
    )
    .await;
    let result = split_deployment_works(&c).await;
    report(c, vec![("split deployment behind the balancer", result)]).await;
}

async fn split_deployment_works(c: &Cluster) -> Result<(), String> {
    let status = c.wait_indexed(Duration::from_secs(120)).await?;
    ensure!(status["catalog"].as_u64() > Some(50), "{status}");
    // The core instances do not serve the AI routes: the balancer's routing does.
    let r = c
        .call(
            &c.instances[0].url(),
            Method::GET,
            "/index/status",
            Some(&c.admin),
            None,
        )
        .await?;
    ensure!(
        r.status == 404,
        "core served /index/status: {} {}",
        r.status,
        r.body
    );
    let (uid, _, token) = c.learner().await;
    let offensive = c.items("offensive").await;
    for item in offensive.iter().take(3) {
        let r = c
            .call(&c.lb(), Method::POST, "/progress", Some(&token), Some(json!({"content_id": item.0, "content_type": item.1, "status": "completed", "completion_percentage": 100.0})))
            .await?;
        ensure!(r.status == 201, "progress: {} {}", r.status, r.body);
    }
    // The ai instance reads that progress from core (through the balancer).
    let r = c
        .call(
            &c.lb(),
            Method::POST,
            "/recommendations",
            Some(&token),
            Some(json!({"user_id": uid, "limit": 10})),
        )
        .await?;
    ensure!(
        r.status == 200 && r.body["cold_start"] == false,
        "recommendations: {} {}",
        r.status,
        r.body
    );
    let recs = r.body["recommendations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        offensive
            .iter()
            .take(3)
            .all(|i| recs.iter().all(|x| x["content_id"] != i.0.as_str())),
        "completed items recommended: {}",
        r.body
    );
    // A catalog write on core is indexed by the ai instance's worker and found by search.
    let id = unique("mi-split");
    let r = c
        .call(&c.lb(), Method::POST, "/content", Some(&c.admin), Some(json!({"content_id": id, "content_type": "article", "title": "Post-quantum cryptography migration", "description": "Plan the move from RSA and elliptic curves to lattice-based algorithms before quantum computers break public-key crypto.", "track": "innovation"})))
        .await?;
    ensure!(r.status == 201, "content: {} {}", r.status, r.body);
    c.wait_indexed(Duration::from_secs(60)).await?;
    let r = c
        .call(
            &c.lb(),
            Method::POST,
            "/search",
            Some(&token),
            Some(json!({"query": "preparing for quantum computers breaking RSA", "limit": 3})),
        )
        .await?;
    ensure!(
        r.status == 200 && r.body["results"][0]["content_id"] == id.as_str(),
        "search after a catalog write: {} {}",
        r.status,
        r.body
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

/// PostgreSQL stopped and started again under a steady write load: `/ready` reports it
/// within 1 s, writes answer 503 with a detail meanwhile, service is back within 5 s of
/// PostgreSQL, and every acknowledged write is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the multi-instance set-up: scripts/multi-instance.sh"]
async fn postgres_outage_under_load() {
    let Some(env) = Env::get() else { return };
    let dir = env.run.join(unique("pg-outage"));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(mut pg) =
        PrivatePostgres::start("CYBERHUB_MI_PG_BIN", "CYBERHUB_MI_PG_USER", &dir, false)
    else {
        return;
    };
    let mut plan = Plan::new("pg-outage", vec![Role::Core, Role::Core]);
    plan.database_url = Some(pg.url());
    // A request waits at most 1 s for a connection (default 5 s) while the database is down.
    plan.extra
        .push(("CYBERHUB_DATABASE_ACQUIRE_TIMEOUT_MS", "1000".into()));
    let c = Cluster::start(&env, plan).await;
    let result = postgres_outage(&c, &mut pg).await;
    report(c, vec![("PostgreSQL outage under load", result)]).await;
    drop(pg);
    std::fs::remove_dir_all(&dir).ok();
}

async fn postgres_outage(c: &Cluster, pg: &mut PrivatePostgres) -> Result<(), String> {
    let (_, _, probe) = c.learner().await;
    let catalog = c.catalog().await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = client_loop(
        c.client.clone(),
        c.lb(),
        catalog.clone(),
        3,
        false,
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    pg.halt();
    let down_at = Instant::now();
    // /ready on every instance reports the database within 1 s (all watched at once).
    let mut watch = tokio::task::JoinSet::new();
    for i in &c.instances {
        let (client, url, name) = (c.client.clone(), i.url(), i.name.clone());
        watch.spawn(async move {
            let seen = wait_for(
                Duration::from_secs(5),
                Duration::from_millis(50),
                || async {
                    let r = call(&client, &url, Method::GET, "/ready", None, None, None)
                        .await
                        .ok()?;
                    (r.status == 503).then(|| (down_at.elapsed(), r.body))
                },
            )
            .await;
            (name, seen)
        });
    }
    let mut ready_problems = Vec::new();
    while let Some(r) = watch.join_next().await {
        match r.unwrap() {
            (name, None) => ready_problems.push(format!(
                "{name}: /ready still 200 five seconds into the outage"
            )),
            (name, Some((after, _))) if after > Duration::from_secs(1) => ready_problems.push(
                format!("{name}: /ready reported the outage after {after:?}"),
            ),
            (name, Some((_, body))) if !body.to_string().contains("relational_store") => {
                ready_problems.push(format!("{name}: /ready does not name the database: {body}"))
            }
            (name, Some((after, _))) => {
                eprintln!("[multi-instance] {name}: /ready reported the outage after {after:?}")
            }
        }
    }
    if !ready_problems.is_empty() {
        stop.store(true, Ordering::Relaxed);
        pg.resume();
        load.await.ok();
        return Err(ready_problems.join("; "));
    }
    // A write meanwhile: 503 with a detail, directly and through the balancer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for base in [c.instances[0].url(), c.lb()] {
        let r = c
            .call(&base, Method::POST, "/progress", Some(&probe), Some(json!({"content_id": catalog[0].0, "content_type": catalog[0].1, "status": "in_progress"})))
            .await?;
        ensure!(
            r.status == 503 && !r.detail().is_empty(),
            "a write during the outage via {base}: {} {}",
            r.status,
            r.body
        );
        eprintln!(
            "[multi-instance] write during the PostgreSQL outage via {base}: 503 {}",
            r.body
        );
    }
    let outage = down_at.elapsed();
    pg.resume();
    let up_at = Instant::now();
    // Service is back within 5 s: a write on every instance directly.
    for (k, i) in c.instances.iter().enumerate() {
        let item = &catalog[k + 1];
        let back = wait_for(Duration::from_secs(15), Duration::from_millis(100), || async {
            let r = c
                .call(&i.url(), Method::POST, "/progress", Some(&probe), Some(json!({"content_id": item.0, "content_type": item.1, "status": "in_progress"})))
                .await
                .ok()?;
            (r.status == 201).then(|| up_at.elapsed())
        })
        .await;
        ensure!(
            back.is_some_and(|d| d <= Duration::from_secs(5)),
            "{}: writes came back after {back:?} (None: not within 15 s)",
            i.name
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let log = load.await.unwrap();
    let bad: Vec<&String> = log
        .failures
        .iter()
        .filter(|f| !(f.contains(": 503 ") && f.contains("\"detail\"")))
        .collect();
    eprintln!(
        "[multi-instance] PostgreSQL outage of {outage:?}: {} writes, {:?}; first failure: {:?}",
        log.requests,
        log.statuses,
        log.failures.first()
    );
    ensure!(
        bad.is_empty(),
        "answers other than 503 with a detail: {:?}",
        &bad[..bad.len().min(5)]
    );
    ensure!(
        log.acked.len() >= 5,
        "too few writes acknowledged: {}",
        log.acked.len()
    );
    let missing = log.missing_from(&pg.url());
    ensure!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    Ok(())
}

/// An instance killed with SIGKILL in the middle of catalog writes and of indexing: no
/// partial rows (every item has its audit row and vice versa, every acknowledged write is
/// stored), and the outbox events it had leased are indexed by the others once the lease
/// expires (15 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the multi-instance set-up: scripts/multi-instance.sh"]
async fn instance_killed_mid_writes() {
    let Some(env) = Env::get() else { return };
    let mut plan = Plan::new("sigkill", vec![Role::All; 3]);
    // Short, but longer than indexing one batch takes here (a lease that runs out while its
    // batch is being indexed lets another worker take the batch, again and again).
    plan.extra.push(("CYBERHUB_INDEX_LEASE_SECS", "15".into()));
    let mut c = Cluster::start(&env, plan).await;
    let result = killed_mid_writes(&mut c).await;
    report(c, vec![("SIGKILL in the middle of writes", result)]).await;
}

async fn killed_mid_writes(c: &mut Cluster) -> Result<(), String> {
    c.wait_indexed(Duration::from_secs(120)).await?;
    let victim = 0;
    let victim_url = c.instances[victim].url();
    let victim_pid = c.instances[victim].pid().unwrap();
    let prefix = unique("mi-kill");
    let stop = Arc::new(AtomicBool::new(false));
    // Catalog writes straight to the victim (each one row, its outbox event and its audit
    // row in one transaction).
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..3 {
        let (client, base, admin, stop, acked, prefix) = (
            c.client.clone(),
            victim_url.clone(),
            c.admin.clone(),
            stop.clone(),
            acked.clone(),
            prefix.clone(),
        );
        writers.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("{prefix}-{w}-{n}");
                let body = json!({"content_id": id, "content_type": "article", "title": format!("Threat hunting note {w}.{n}"), "description": "Hunting for lateral movement with authentication logs and process trees.", "track": "defender"});
                match call(&client, &base, Method::POST, "/content", Some(&admin), Some(body), Some(HARNESS_IP)).await {
                    Ok(r) if r.status == 201 => acked.lock().unwrap().push(id),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
    }
    // The victim's worker leases the whole catalog.
    let r = c
        .call(
            &victim_url,
            Method::POST,
            "/index/reindex",
            Some(&c.admin),
            Some(json!({})),
        )
        .await?;
    ensure!(r.status == 202, "reindex: {} {}", r.status, r.body);
    let leased_sql = format!(
        "SELECT count(*) FROM index_outbox WHERE leased_by LIKE '{victim_pid}-%' AND leased_until_ms > 0"
    );
    let leased = wait_for(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let n = psql_count(&c.database_url, &leased_sql);
            (n > 0).then_some(n)
        },
    )
    .await
    .ok_or("the victim never held an outbox lease")?;
    c.instances[victim].signal("KILL");
    let killed_at = Instant::now();
    ensure!(
        c.instances[victim].wait_exit(Duration::from_secs(5)).await,
        "the victim survived SIGKILL"
    );
    stop.store(true, Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let held = psql_count(
        &c.database_url,
        &format!("SELECT count(DISTINCT content_uuid) FROM index_outbox WHERE leased_by LIKE '{victim_pid}-%'"),
    );
    let acked = acked.lock().unwrap().clone();
    // No partial rows: every item has its audit row, every audit row its item.
    let orphans = psql_count(
        &c.database_url,
        &format!(
            "SELECT (SELECT count(*) FROM content_items c WHERE c.content_id LIKE '{prefix}-%' AND NOT EXISTS (
                 SELECT 1 FROM audit_log a WHERE a.details->>'content_id' = c.content_id AND a.details->>'op' = 'create'))
             + (SELECT count(*) FROM audit_log a WHERE a.details->>'content_id' LIKE '{prefix}-%' AND a.details->>'op' = 'create' AND NOT EXISTS (
                 SELECT 1 FROM content_items c WHERE c.content_id = a.details->>'content_id'))"
        ),
    );
    ensure!(
        orphans == 0,
        "{orphans} items without their audit row or audit rows without their item"
    );
    let stored: HashSet<String> = psql(
        &c.database_url,
        &format!("SELECT content_id FROM content_items WHERE content_id LIKE '{prefix}-%'"),
    )
    .lines()
    .map(str::to_owned)
    .collect();
    let missing: Vec<&String> = acked.iter().filter(|a| !stored.contains(*a)).collect();
    ensure!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    // The survivors take over the dead worker's leases once they expire (15 s here).
    let mut before = 0;
    for i in &c.instances[1..] {
        before += i.indexed_items(&c.client).await;
    }
    let status = c.wait_indexed(Duration::from_secs(90)).await?;
    let mut after = 0;
    for i in &c.instances[1..] {
        after += i.indexed_items(&c.client).await;
    }
    let left = psql_count(&c.database_url, "SELECT count(*) FROM index_outbox");
    eprintln!(
        "[multi-instance] SIGKILL: the victim held {leased} leases ({held} items at the kill), {} catalog writes acknowledged, {} stored; the survivors indexed {} items; all indexed {:?} after the kill: {status}",
        acked.len(),
        stored.len(),
        after - before,
        killed_at.elapsed()
    );
    ensure!(left == 0, "{left} outbox events left");
    ensure!(
        held > 0 && after - before >= held as u64,
        "the dead worker held events of {held} items at the kill; the survivors indexed {} items",
        after - before
    );
    ensure!(
        status["catalog"].as_i64()
            == Some(psql_count(
                &c.database_url,
                "SELECT count(*) FROM content_items"
            )),
        "index status {status} does not count the catalog"
    );
    Ok(())
}

/// pgvector stopped and started again: the core routes keep working, the AI routes answer
/// 503 with a detail, and a catalog write made meanwhile is indexed once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the multi-instance set-up: scripts/multi-instance.sh"]
async fn pgvector_outage() {
    let Some(env) = Env::get() else { return };
    let dir = env.run.join(unique("pgvector-outage"));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(mut pv) = PrivatePostgres::start(
        "CYBERHUB_MI_PGVECTOR_BIN",
        "CYBERHUB_MI_PGVECTOR_USER",
        &dir,
        true,
    ) else {
        return;
    };
    let mut plan = Plan::new("pgvector-outage", vec![Role::All, Role::All]);
    plan.pgvector_url = Some(pv.url());
    let c = Cluster::start(&env, plan).await;
    let result = vectors_down(&c, &mut pv).await;
    report(c, vec![("pgvector outage", result)]).await;
    drop(pv);
    std::fs::remove_dir_all(&dir).ok();
}

async fn vectors_down(c: &Cluster, pv: &mut PrivatePostgres) -> Result<(), String> {
    c.wait_indexed(Duration::from_secs(120)).await?;
    let (uid, _, token) = c.learner().await;
    let catalog = c.catalog().await;
    pv.halt();
    let lb = c.lb();
    // Core routes work.
    let r = c
        .call(&lb, Method::GET, "/content?page_size=5", Some(&token), None)
        .await?;
    ensure!(
        r.status == 200,
        "catalog during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    let r = c
        .call(&lb, Method::POST, "/progress", Some(&token), Some(json!({"content_id": catalog[0].0, "content_type": catalog[0].1, "status": "in_progress"})))
        .await?;
    ensure!(
        r.status == 201,
        "progress during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    let id = unique("mi-pv-item");
    let r = c
        .call(&lb, Method::POST, "/content", Some(&c.admin), Some(json!({"content_id": id, "content_type": "article", "title": "Post-quantum cryptography migration", "description": "Plan the move from RSA and elliptic curves to lattice-based algorithms before quantum computers break public-key crypto.", "track": "innovation"})))
        .await?;
    ensure!(
        r.status == 201,
        "a catalog write during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    // AI routes: 503 with a detail.
    let r = c
        .call(
            &lb,
            Method::POST,
            "/search",
            Some(&token),
            Some(json!({"query": "network forensics", "limit": 3})),
        )
        .await?;
    ensure!(
        r.status == 503 && !r.detail().is_empty(),
        "search during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    eprintln!(
        "[multi-instance] search during the pgvector outage: 503 {}",
        r.body
    );
    let r = c
        .call(
            &lb,
            Method::POST,
            "/recommendations",
            Some(&token),
            Some(json!({"user_id": uid})),
        )
        .await?;
    ensure!(
        r.status == 503 && !r.detail().is_empty() || r.status == 200,
        "recommendations during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    let r = c
        .call(&c.instances[0].url(), Method::GET, "/ready", None, None)
        .await?;
    ensure!(
        r.status == 503 && r.body.to_string().contains("vector_store"),
        "/ready during the pgvector outage: {} {}",
        r.status,
        r.body
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    pv.resume();
    // Indexing resumes: the item written meanwhile is found.
    c.wait_indexed(Duration::from_secs(60)).await?;
    let r = c
        .call(
            &lb,
            Method::POST,
            "/search",
            Some(&token),
            Some(json!({"query": "preparing for quantum computers breaking RSA", "limit": 3})),
        )
        .await?;
    ensure!(
        r.status == 200 && r.body["results"][0]["content_id"] == id.as_str(),
        "search after pgvector came back: {} {}",
        r.status,
        r.body
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Throughput (a measurement, not a test: scripts/scale-throughput.sh)
// ---------------------------------------------------------------------------------------

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: the fields after it start past the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / clock_ticks()
}

/// CPU seconds of every `postgres` process on the machine now, by pid (the shared servers
/// serve other clients too: an upper bound of what this run cost them).
fn postgres_cpu() -> BTreeMap<String, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| {
            let c = cpu_secs(&pid);
            (pid, c)
        })
        .collect()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// One measured run: requests per second, p50 and p99 latency, errors, CPU seconds of each
/// process.
struct Measured {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    cpu: Vec<(String, f64)>,
    wall: f64,
}

async fn measure(
    client: &Client,
    lb: &str,
    route: &'static str,
    learners: &[(String, String)],
    concurrency: usize,
    secs: u64,
    pids: &[(String, String)],
) -> Measured {
    let cpu0: Vec<f64> = pids.iter().map(|(_, p)| cpu_secs(p)).collect();
    let pg0 = postgres_cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let learners = Arc::new(learners.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, lb, next, learners) = (
            client.clone(),
            lb.to_owned(),
            next.clone(),
            learners.clone(),
        );
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0_u64;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (uid, token) = &learners[(i % learners.len() as u64) as usize];
                // Each (learner, limit) pair once in a run: no answer comes from the cache.
                let limit = 1 + (i / learners.len() as u64) % 50;
                let t = Instant::now();
                let r = match route {
                    "GET /progress" => {
                        call(
                            &client,
                            &lb,
                            Method::GET,
                            "/progress?page_size=20",
                            Some(token),
                            None,
                            None,
                        )
                        .await
                    }
                    _ => {
                        call(
                            &client,
                            &lb,
                            Method::POST,
                            "/recommendations",
                            Some(token),
                            Some(json!({"user_id": uid, "limit": limit})),
                            None,
                        )
                        .await
                    }
                };
                lat.push(t.elapsed());
                if !r.is_ok_and(|r| r.status == 200) {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r.unwrap();
        lat.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Measured {
        rps: lat.len() as f64 / wall,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        errors,
        cpu: pids
            .iter()
            .zip(cpu0)
            .map(|((n, p), c0)| (n.clone(), cpu_secs(p) - c0))
            .chain(std::iter::once((
                "postgres".to_owned(),
                postgres_cpu()
                    .iter()
                    .map(|(pid, c)| c - pg0.get(pid).copied().unwrap_or(0.0))
                    .sum(),
            )))
            .collect(),
        wall,
    }
}

/// `GET /progress` and `POST /recommendations` through the balancer over 1, 2 and 3
/// instances; prints a table with the CPU each process used.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement: scripts/scale-throughput.sh"]
async fn throughput_by_instance_count() {
    let Some(env) = Env::get() else { return };
    let num = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let secs = num("CYBERHUB_MI_SECONDS", 10);
    let concurrency = num("CYBERHUB_MI_CONCURRENCY", 16) as usize;
    let mut plan = Plan::new("throughput", vec![Role::All; 3]);
    plan.extra.push(("CYBERHUB_RATE_LIMITS", "off".into()));
    let c = Cluster::start(&env, plan).await;
    c.wait_indexed(Duration::from_secs(180)).await.unwrap();
    let servers: Vec<(String, u16)> = c
        .instances
        .iter()
        .map(|i| (i.name.clone(), i.port))
        .collect();
    let lbs: Vec<Balancer> = (1..=3)
        .map(|n| Balancer::start(&env, &c.dir, &format!("lb{n}"), &servers[..n], &[]))
        .collect();
    for (n, lb) in lbs.iter().enumerate() {
        let names: Vec<String> = servers[..=n]
            .iter()
            .map(|(s, _)| format!("core/{s}"))
            .collect();
        lb.wait_up(&c.client, &names, Duration::from_secs(30)).await;
    }
    // Learners with some progress each, a set per run (so no run is served from a cache
    // another one filled).
    let offensive = c.items("offensive").await;
    let mut sets = Vec::new();
    for _ in 0..6 {
        let mut set = Vec::new();
        for _ in 0..40 {
            let (uid, _, token) = c.learner().await;
            for item in offensive.iter().take(4) {
                let r = c
                    .call(&c.lb(), Method::POST, "/progress", Some(&token), Some(json!({"content_id": item.0, "content_type": item.1, "status": "completed", "completion_percentage": 100.0})))
                    .await
                    .unwrap();
                assert_eq!(r.status, 201, "{:?}", r.body);
            }
            set.push((uid, token));
        }
        sets.push(set);
    }
    let mut rows = Vec::new();
    let mut k = 0;
    for route in ["GET /progress", "POST /recommendations"] {
        for n in 1..=3 {
            let lb = &lbs[n - 1];
            let mut pids: Vec<(String, String)> = c.instances[..n]
                .iter()
                .map(|i| (i.name.clone(), i.pid().unwrap().to_string()))
                .collect();
            pids.push((
                "haproxy".into(),
                lb.child.as_ref().unwrap().id().to_string(),
            ));
            pids.push(("client".into(), "self".into()));
            // A short warm-up (connections, HAProxy's checks) that fills no recommendation
            // cache, then the measured run.
            measure(
                &c.client,
                &lb.url(),
                "GET /progress",
                &sets[k],
                concurrency,
                2,
                &[],
            )
            .await;
            let m = measure(
                &c.client,
                &lb.url(),
                route,
                &sets[k],
                concurrency,
                secs,
                &pids,
            )
            .await;
            k = (k + 1) % sets.len();
            rows.push((route, n, m));
        }
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let avx512 = cpu.contains(" avx512f");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\nThroughput through HAProxy ({cores} cores, {model}, AVX-512: {}; {concurrency} concurrent clients, {secs} s per run, debug build, shared state in {}):\n",
        if avx512 { "yes" } else { "no" },
        if env.redis.is_some() { "Redis" } else { "each instance (no Redis)" }
    );
    println!("| route | instances | requests/s | p50 ms | p99 ms | errors | CPU % per instance | HAProxy CPU % | client CPU % | PostgreSQL + pgvector CPU % |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (route, n, m) in &rows {
        let pct = |name: &str| {
            m.cpu
                .iter()
                .find(|(k, _)| k == name)
                .map_or(0.0, |(_, s)| 100.0 * s / m.wall)
        };
        let per: Vec<String> = m
            .cpu
            .iter()
            .filter(|(k, _)| k.starts_with("all"))
            .map(|(_, s)| format!("{:.0}", 100.0 * s / m.wall))
            .collect();
        println!(
            "| {route} | {n} | {:.0} | {:.1} | {:.1} | {} | {} | {:.0} | {:.0} | {:.0} |",
            m.rps,
            m.p50_ms,
            m.p99_ms,
            m.errors,
            per.join(" / "),
            pct("haproxy"),
            pct("client"),
            pct("postgres")
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\n(CPU %: CPU seconds of the process over the run's wall time; 100 = one core. PostgreSQL + pgvector: every postgres process on the machine, other clients' included; Redis not counted. Load average at the end: {})", load.trim());
    drop(lbs);
    c.stop().await;
}
