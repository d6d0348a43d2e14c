//! Server configuration: defaults that run with nothing set, overridden by a TOML file and
//! then by `CYBERHUB_*` environment variables. The effective configuration is logged at
//! start-up with secrets redacted (`Debug` never shows them).
//!
//! Each setting is written once, as a field of [`Config`] (with its default in
//! `Default`): the file and the environment are both deserialised into it by serde, and
//! `Debug` is its serialised form, with secrets and URL passwords redacted by the fields'
//! `serialize_with`. `CYBERHUB_FIELD_NAME` sets `field_name`; a handful of variables are
//! shorthands (`PORT`, `LOG`, `RATE_LIMITS`, `RATE_LIMITS_<USE>_<WHO>`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Development (random JWT secret allowed, with a warning) or production (secrets required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Local development: missing secrets are generated.
    #[serde(alias = "dev")]
    Development,
    /// Production: a missing JWT secret is a start-up error.
    #[serde(alias = "prod")]
    Production,
}

/// Which routes this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Everything in one process (default, port 8000).
    All,
    /// Accounts, organizations, content, progress, audit (port 8000).
    Core,
    /// Embeddings, search, recommendations, personality (port 8001); reads progress from
    /// the core service over HTTP (`core_url`).
    Ai,
}

impl Service {
    /// Whether this process runs the AI routes (and loads the model).
    pub fn has_ai(self) -> bool {
        matches!(self, Service::All | Service::Ai)
    }

    /// Whether this process serves the core routes.
    pub fn has_core(self) -> bool {
        matches!(self, Service::All | Service::Core)
    }
}

/// Which embedding backend runs all-MiniLM-L6-v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderKind {
    /// ONNX Runtime (`model_fp32.onnx` and `lib/libonnxruntime.so`; the default: the fastest
    /// backend, 2–3× candle's throughput). `fastembed`, its former name, is accepted too.
    #[serde(alias = "fastembed")]
    Onnx,
    /// candle (pure Rust; `model.safetensors` only: no native library).
    Candle,
}

/// The default model directory: `$HOME/.cache/cyberhub/models/all-MiniLM-L6-v2`
/// (where `cyberhub-server models pull` and `scripts/fetch-model.sh` put it).
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/cyberhub/models/all-MiniLM-L6-v2")
}

/// Everything the server reads at start-up.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` (default) or `production`.
    pub mode: Mode,
    /// Address to listen on (default `127.0.0.1:8000`).
    pub bind: SocketAddr,
    /// Relational store URL (default `sqlite://./data/cyberhub.db`).
    #[serde(serialize_with = "redacted_url")]
    pub database_url: String,
    /// Most connections this instance opens to the database (several instances share the
    /// server's own limit).
    pub database_max_connections: u32,
    /// Milliseconds a request waits for a database connection before a 503.
    pub database_acquire_timeout_ms: u64,
    /// Milliseconds one SQL statement may run (PostgreSQL `statement_timeout`; SQLite busy
    /// timeout).
    pub database_statement_timeout_ms: u64,
    /// Redis that several instances share (`redis://host:6379/0`; feature `redis`): rate
    /// limits, failed-login counters, session revocations and the recommendation cache are
    /// kept there. Unset: this process's memory (one instance).
    #[serde(serialize_with = "redacted_optional_url")]
    pub redis_url: Option<String>,
    /// Milliseconds one Redis command may take before this instance falls back to its own
    /// memory for that request.
    pub redis_timeout_ms: u64,
    /// Start beside other live instances on the same database even though this one keeps
    /// its lock-out counts, rate limits and session checks in its own memory (no
    /// `redis_url`): each client then gets one budget per instance. Off by default.
    pub allow_unshared_instances: bool,
    /// JWT signing secret (at least 32 bytes). Required in production.
    #[serde(serialize_with = "redacted_secret")]
    pub jwt_secret: Option<SecretString>,
    /// Key id of `jwt_secret`.
    pub jwt_key_id: String,
    /// Previous signing secrets still accepted, as `kid:secret` pairs (key rotation).
    #[serde(serialize_with = "redacted_secrets")]
    pub jwt_previous_keys: Vec<SecretString>,
    /// Origins allowed by CORS (`*` for any; empty: CORS off).
    pub cors_origins: Vec<String>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// JSON log lines instead of human-readable ones.
    pub log_json: bool,
    /// `tracing` filter, e.g. `info,cyberhub_server=debug`.
    pub log_filter: String,
    /// Load the seed catalog into an empty catalog at start-up.
    pub seed_catalog: bool,
    /// E-mail of the first administrator, created at start-up when missing.
    pub admin_email: Option<String>,
    /// Password of the first administrator.
    #[serde(serialize_with = "redacted_secret")]
    pub admin_password: Option<SecretString>,
    /// Most argon2 hashes computed at once (default: one per core).
    pub max_concurrent_hashes: Option<usize>,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Use the cheap argon2 parameters (tests only; refused in production).
    pub insecure_fast_password_hashing: bool,
    /// Take the client address from `X-Forwarded-For` (set only behind a trusted reverse
    /// proxy: the per-client lock-out and the audit log use this address).
    pub trust_forwarded_for: bool,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is trusted: the
    /// client address is the rightmost entry that is not one of them.
    pub trusted_proxies: Vec<String>,
    /// Seconds after a refresh in which the replaced refresh token still gets the same new
    /// pair (concurrent tabs, a lost response) instead of revoking the session as reuse
    /// (10 by default; 0: any second use is a reuse).
    pub refresh_grace_secs: u32,
    /// Days an audit row is kept; 0 keeps the whole log (the default).
    pub audit_retention_days: u32,
    /// Personality analyses kept per learner (the newest).
    pub keep_personality_analyses: u32,
    /// Seconds between purges of ended sessions, superseded analyses and expired audit rows
    /// (0: never).
    pub purge_interval_secs: u64,
    /// The public base URL clients reach the server at (`https://cyberhub.example.org`):
    /// pagination links are built on it. Unset: links are relative (`/api/v1/...?page=2`).
    /// The request's `Host` header is never used.
    pub public_url: Option<String>,
    /// `all` (default), `core` or `ai`.
    pub service: Service,
    /// Base URL of the core service (required with `service = "ai"`), e.g. `http://127.0.0.1:8000`.
    #[serde(serialize_with = "redacted_optional_url")]
    pub core_url: Option<String>,
    /// Seconds the AI service waits for the core service.
    pub core_timeout_secs: u64,
    /// Vector store URL (default `embedded://./data/vectors`; also `pgvector+postgres://...`,
    /// `qdrant+http://...`).
    #[serde(serialize_with = "redacted_url")]
    pub vector_url: String,
    /// Vector collection of the catalog.
    pub vector_collection: String,
    /// `onnx` (default) or `candle`.
    pub embedder: EmbedderKind,
    /// Model directory (default `~/.cache/cyberhub/models/all-MiniLM-L6-v2`).
    pub model_dir: PathBuf,
    /// ONNX Runtime library for `onnx` (default `MODEL_DIR/lib/libonnxruntime.so`).
    pub onnxruntime_lib: Option<PathBuf>,
    /// Most inference calls run at once (default: one per core).
    pub inference_concurrency: Option<usize>,
    /// Run the catalog-indexing worker in this process (AI services only).
    pub index_worker: bool,
    /// Milliseconds the idle worker waits before looking at the outbox again.
    pub index_poll_ms: u64,
    /// Seconds a worker's claim on outbox events lasts: the events of an instance that
    /// died are taken by another one after this. Must be longer than indexing one batch
    /// (64 items) takes: a batch whose lease runs out is taken by another worker and never
    /// completed by the first.
    pub index_lease_secs: u64,
    /// Where the dashboard at `/` loads the browser SDK from: the `--target web` package of
    /// `scripts/build-sdk.sh` (default `target/pkg/web`).
    pub sdk_dir: PathBuf,
    /// Rate limits per client and per account (`[rate_limits.signup] per_client = "40/40s"`
    /// in the file, `CYBERHUB_RATE_LIMITS_SIGNUP_PER_CLIENT=40/40s` or `=off` in the
    /// environment; `CYBERHUB_RATE_LIMITS=off` turns every limit off).
    #[serde(serialize_with = "as_debug")]
    pub rate_limits: cyberhub_auth::RateLimits,
    /// `CYBERHUB_*` variables that are not settings (logged as warnings at start-up).
    #[serde(skip)]
    pub ignored_env: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: "sqlite://./data/cyberhub.db".into(),
            database_max_connections: 10,
            database_acquire_timeout_ms: 5000,
            database_statement_timeout_ms: 30_000,
            redis_url: None,
            redis_timeout_ms: 250,
            allow_unshared_instances: false,
            jwt_secret: None,
            jwt_key_id: "k1".into(),
            jwt_previous_keys: Vec::new(),
            cors_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            log_json: false,
            log_filter: "info".into(),
            seed_catalog: true,
            admin_email: None,
            admin_password: None,
            max_concurrent_hashes: None,
            shutdown_grace_secs: 20,
            insecure_fast_password_hashing: false,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            refresh_grace_secs: 10,
            audit_retention_days: 0,
            keep_personality_analyses: 10,
            purge_interval_secs: 3600,
            public_url: None,
            service: Service::All,
            core_url: None,
            core_timeout_secs: 10,
            vector_url: "embedded://./data/vectors".into(),
            vector_collection: cyberhub_ai::CONTENT_COLLECTION.into(),
            embedder: EmbedderKind::Onnx,
            model_dir: default_model_dir(),
            onnxruntime_lib: None,
            inference_concurrency: None,
            index_worker: true,
            sdk_dir: PathBuf::from("target/pkg/web"),
            index_poll_ms: 1000,
            index_lease_secs: 120,
            rate_limits: cyberhub_auth::RateLimits::default(),
            ignored_env: Vec::new(),
        }
    }
}

fn redacted_secret<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

fn redacted_secrets<S: Serializer>(v: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|_| "[redacted]"))
}

fn redacted_url<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&cyberhub_store::redact_url(v))
}

fn redacted_optional_url<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(u) => s.serialize_str(&cyberhub_store::redact_url(u)),
        None => s.serialize_none(),
    }
}

fn as_debug<S: Serializer, T: std::fmt::Debug>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:?}"))
}

/// Every setting, secrets and URL passwords redacted (the serialised form: no field can be
/// left out of it).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(json) => write!(f, "Config {json}"),
            Err(e) => write!(f, "Config (unprintable: {e})"),
        }
    }
}

/// A `CYBERHUB_*` value as the JSON value the field it sets takes, judged by the type of
/// that field's default: booleans accept `1/0`, `yes/no`, `on/off`; lists are
/// comma-separated; an empty value unsets an optional setting.
fn env_value(default: &serde_json::Value, raw: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match default {
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Value::Bool(true),
            "0" | "false" | "no" | "off" => Value::Bool(false),
            _ => return Err("expected true or false".into()),
        },
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        Value::Null if raw.trim().is_empty() => Value::Null,
        Value::Number(_) | Value::Null => match raw.trim().parse::<u64>() {
            Ok(n) => Value::from(n),
            Err(_) if matches!(default, Value::Number(_)) => {
                return Err(format!("expected a non-negative number, got {raw:?}"))
            }
            Err(_) => Value::String(raw.to_owned()),
        },
        _ => Value::String(raw.to_owned()),
    })
}

/// A configuration problem (start-up error).
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then the TOML file (if given), then `CYBERHUB_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let from_file: serde_json::Map<String, serde_json::Value> = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                // Checked as a whole first, for errors that name the file's own keys; the
                // message names the line but never quotes it (it may hold a secret).
                let file_error = |e: toml::de::Error| {
                    let line = e
                        .span()
                        .map(|s| text.get(..s.start).unwrap_or("").lines().count().max(1));
                    ConfigError(match line {
                        Some(n) => format!("{} line {n}: {}", path.display(), e.message()),
                        None => format!("{}: {}", path.display(), e.message()),
                    })
                };
                toml::from_str::<Config>(&text).map_err(file_error)?;
                let table: toml::Table = toml::from_str(&text).map_err(file_error)?;
                match serde_json::to_value(table) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => return Err(ConfigError(format!("{}: not a table", path.display()))),
                }
            }
            None => serde_json::Map::new(),
        };
        let defaults = match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(ConfigError("the defaults do not serialise".into())),
        };
        let mut doc = from_file;
        let mut port = None;
        let mut limits = Vec::new();
        let mut ignored = Vec::new();
        for (key, value) in env {
            let Some(name) = key.strip_prefix("CYBERHUB_") else {
                continue;
            };
            let bad = |what: &str| ConfigError(format!("CYBERHUB_{name}: {what}"));
            let field = match name {
                "CONFIG" => continue, // the file path itself, read by main
                "PORT" => {
                    port = Some(
                        value
                            .parse::<u16>()
                            .map_err(|_| bad("expected a port number"))?,
                    );
                    continue;
                }
                n if n == "RATE_LIMITS" || n.starts_with("RATE_LIMITS_") => {
                    limits.push((name.to_owned(), value));
                    continue;
                }
                "LOG" => "log_filter".to_owned(),
                n => n.to_ascii_lowercase(),
            };
            let Some(default) = defaults.get(&field).filter(|_| field != "rate_limits") else {
                ignored.push(key.clone());
                continue;
            };
            // A secret's value never appears in an error.
            let secret = ["secret", "password", "keys", "redis_url", "database_url"]
                .iter()
                .any(|w| field.contains(w));
            let fail = |e: &str| {
                if secret {
                    bad("not a valid value (not shown: it may be a secret)")
                } else {
                    bad(e)
                }
            };
            let fits = |v: &serde_json::Value| {
                // Checked alone, so that the error names the variable.
                let mut one = serde_json::Map::new();
                one.insert(field.clone(), v.clone());
                serde_json::from_value::<Config>(serde_json::Value::Object(one))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            let mut v = env_value(default, &value).map_err(|e| fail(&e))?;
            if let Err(e) = fits(&v) {
                // An optional setting's digits may be text (a numeric password).
                let text = serde_json::Value::String(value.clone());
                if default.is_null() && v.is_number() && fits(&text).is_ok() {
                    v = text;
                } else {
                    return Err(fail(&e));
                }
            }
            doc.insert(field, v);
        }
        let mut cfg: Config = serde_json::from_value(serde_json::Value::Object(doc))
            .map_err(|e| ConfigError(format!("{e} (in the file or the environment)")))?;
        cfg.ignored_env = ignored;
        if let Some(p) = port {
            cfg.bind.set_port(p);
        }
        for (name, v) in limits {
            let bad = |what: &str| ConfigError(format!("CYBERHUB_{name}: {what}"));
            match name.strip_prefix("RATE_LIMITS_") {
                None => match v.trim().to_ascii_lowercase().as_str() {
                    "off" | "none" => cfg.rate_limits = cyberhub_auth::RateLimits::off(),
                    "default" | "on" => cfg.rate_limits = cyberhub_auth::RateLimits::default(),
                    _ => return Err(bad("expected off or default")),
                },
                Some(rest) => cfg.rate_limits.set(rest, &v).map_err(|e| bad(&e))?,
            }
        }
        for url in [&mut cfg.public_url, &mut cfg.core_url]
            .into_iter()
            .flatten()
        {
            let trimmed = url.trim_end_matches('/').len();
            url.truncate(trimmed);
        }
        // The AI service listens on 8001 unless told otherwise.
        if cfg.service == Service::Ai && cfg.bind == Config::default().bind {
            cfg.bind.set_port(8001);
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// The database pool settings.
    pub fn pool_options(&self) -> cyberhub_store::PoolOptions {
        cyberhub_store::PoolOptions {
            max_connections: self.database_max_connections.max(1),
            acquire_timeout: std::time::Duration::from_millis(self.database_acquire_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.database_statement_timeout_ms),
        }
    }

    /// The parsed `trusted_proxies` (checked at load: every entry parses).
    pub fn trusted_proxy_nets(&self) -> Vec<crate::proxies::Net> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| crate::proxies::Net::parse(p).ok())
            .collect()
    }

    fn check(&self) -> Result<(), ConfigError> {
        for p in &self.trusted_proxies {
            crate::proxies::Net::parse(p)
                .map_err(|e| ConfigError(format!("trusted_proxies: {e}")))?;
        }
        if self.mode == Mode::Production {
            if self.jwt_secret.is_none() {
                return Err(ConfigError(
                    "CYBERHUB_JWT_SECRET is required in production mode".into(),
                ));
            }
            if self.insecure_fast_password_hashing {
                return Err(ConfigError(
                    "insecure_fast_password_hashing is not allowed in production mode".into(),
                ));
            }
        }
        if self.admin_email.as_deref() == Some("")
            || self
                .admin_password
                .as_ref()
                .is_some_and(|p| p.expose_secret().is_empty())
        {
            return Err(ConfigError(
                "admin_email and admin_password must not be empty".into(),
            ));
        }
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(ConfigError(
                "set both CYBERHUB_ADMIN_EMAIL and CYBERHUB_ADMIN_PASSWORD, or neither".into(),
            ));
        }
        if self.service == Service::Ai && self.core_url.is_none() {
            return Err(ConfigError(
                "service = ai needs CYBERHUB_CORE_URL (the core service's base URL)".into(),
            ));
        }
        if let Some(u) = &self.public_url {
            let host = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"))
                .and_then(|rest| rest.split('/').next())
                .unwrap_or("");
            let ok = !host.is_empty()
                && !host.contains('@')
                && !u.contains(['?', '#', ' ', '\\'])
                && u.chars().all(|c| c.is_ascii_graphic());
            if !ok {
                return Err(ConfigError(format!(
                    "public_url must be an http(s) base URL without query or fragment, got {u:?}"
                )));
            }
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError("max_body_bytes must be at least 1024".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_file_then_env() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.bind.port(), 8000);
        assert_eq!(c.database_url, "sqlite://./data/cyberhub.db");
        let dir = std::env::temp_dir().join(format!("cyberhub-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\ndatabase_url = \"postgres://u:pw@h/db\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[("CYBERHUB_PORT", "9100"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9100);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("u:***@h") && !shown.contains("pw"),
            "{shown}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn every_setting_comes_from_the_environment_and_is_shown_redacted() {
        let c = Config::load(
            None,
            env(&[
                ("CYBERHUB_MODE", "prod"),
                (
                    "CYBERHUB_JWT_SECRET",
                    "s3cret-s3cret-s3cret-s3cret-s3cret-42",
                ),
                (
                    "CYBERHUB_JWT_PREVIOUS_KEYS",
                    "k0:old-secret-old-secret-old-secret,k00:x",
                ),
                ("CYBERHUB_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
                ("CYBERHUB_LOG_JSON", "yes"),
                ("CYBERHUB_INDEX_WORKER", "0"),
                ("CYBERHUB_INFERENCE_CONCURRENCY", "3"),
                ("CYBERHUB_CORE_TIMEOUT_SECS", "7"),
                ("CYBERHUB_ONNXRUNTIME_LIB", "/opt/ort/libonnxruntime.so"),
                ("CYBERHUB_CORE_URL", "http://u:pw@core:8000/"),
                ("CYBERHUB_EMBEDDER", "fastembed"),
                ("CYBERHUB_ADMIN_EMAIL", ""),
                ("CYBERHUB_LOG", "debug"),
                ("CYBERHUB_RATE_LIMITS_LOGIN_PER_CLIENT", "off"),
            ]),
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Production);
        assert_eq!(c.jwt_previous_keys.len(), 2);
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        assert!(c.log_json && !c.index_worker);
        assert_eq!(c.inference_concurrency, Some(3));
        assert_eq!(c.core_timeout_secs, 7);
        assert_eq!(c.core_url.as_deref(), Some("http://u:pw@core:8000"));
        assert_eq!(
            c.embedder,
            EmbedderKind::Onnx,
            "the former name still works"
        );
        assert_eq!(c.admin_email, None, "an empty value unsets");
        assert_eq!(c.log_filter, "debug");
        let shown = format!("{c:?}");
        for field in [
            "core_timeout_secs",
            "onnxruntime_lib",
            "inference_concurrency",
            "index_poll_ms",
            "rate_limits",
        ] {
            assert!(shown.contains(field), "{field} missing from {shown}");
        }
        for secret in ["s3cret", "old-secret", "pw@"] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        let numeric = Config::load(
            None,
            env(&[
                ("CYBERHUB_ADMIN_EMAIL", "root@example.org"),
                ("CYBERHUB_ADMIN_PASSWORD", "123456789012"),
            ]),
        )
        .unwrap();
        assert_eq!(
            numeric
                .admin_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
            Some("123456789012".to_owned()),
            "digits are a valid password"
        );
        for (var, value) in [
            ("CYBERHUB_LOG_JSON", "maybe"),
            ("CYBERHUB_CORE_TIMEOUT_SECS", "-1"),
            ("CYBERHUB_EMBEDDER", "tensorflow"),
            ("CYBERHUB_BIND", "nowhere"),
        ] {
            let e = Config::load(None, env(&[(var, value)])).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn public_url_must_name_a_host() {
        for good in [
            "https://cyberhub.example.org",
            "https://cyberhub.example.org/",
            "http://127.0.0.1:8000/prefix",
            "http://a",
        ] {
            let c = Config::load(None, env(&[("CYBERHUB_PUBLIC_URL", good)])).unwrap();
            assert!(c.public_url.is_some_and(|u| !u.ends_with('/')), "{good}");
        }
        for bad in [
            "cyberhub.example.org",
            "https:///path",
            "https://user@evil.example",
            "https://x.example/?q=1",
            "https://x.example/#f",
            "ftp://x.example",
            "https://x.example/a b",
        ] {
            assert!(
                Config::load(None, env(&[("CYBERHUB_PUBLIC_URL", bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn production_needs_a_secret_and_typos_fail() {
        assert!(Config::load(None, env(&[("CYBERHUB_MODE", "production")])).is_err());
        let ok = Config::load(
            None,
            env(&[
                ("CYBERHUB_MODE", "production"),
                ("CYBERHUB_JWT_SECRET", "x".repeat(40).as_str()),
            ]),
        )
        .unwrap();
        assert!(!format!("{ok:?}").contains("xxxx"));
        let typo = Config::load(None, env(&[("CYBERHUB_PROT", "1")])).unwrap();
        assert_eq!(
            typo.ignored_env,
            ["CYBERHUB_PROT"],
            "unknown variables are reported, not fatal"
        );
        assert!(Config::load(None, env(&[("CYBERHUB_PORT", "eighty")])).is_err());
        assert!(Config::load(None, env(&[("CYBERHUB_ADMIN_EMAIL", "a@b.co")])).is_err());
    }
}
