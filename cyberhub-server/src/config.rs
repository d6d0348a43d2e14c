//! Server configuration: defaults that run with nothing set, overridden by a TOML file and
//! then by `CYBERHUB_*` environment variables. The effective configuration is logged at
//! start-up with secrets redacted (`Debug` never shows them).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Development (random JWT secret allowed, with a warning) or production (secrets required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Local development: missing secrets are generated.
    Development,
    /// Production: a missing JWT secret is a start-up error.
    Production,
}

/// Which routes this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderKind {
    /// candle (pure Rust; `model.safetensors`).
    Candle,
    /// fastembed on ONNX Runtime (`model_fp32.onnx` and `lib/libonnxruntime.so`).
    Fastembed,
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
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` (default) or `production`.
    pub mode: Mode,
    /// Address to listen on (default `127.0.0.1:8000`).
    pub bind: SocketAddr,
    /// Relational store URL (default `sqlite://./data/cyberhub.db`).
    pub database_url: String,
    /// JWT signing secret (at least 32 bytes). Required in production.
    pub jwt_secret: Option<SecretString>,
    /// Key id of `jwt_secret`.
    pub jwt_key_id: String,
    /// Previous signing secrets still accepted, as `kid:secret` pairs (key rotation).
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
    pub core_url: Option<String>,
    /// Seconds the AI service waits for the core service.
    pub core_timeout_secs: u64,
    /// Vector store URL (default `embedded://./data/vectors`; also `pgvector+postgres://...`,
    /// `qdrant+http://...`).
    pub vector_url: String,
    /// Vector collection of the catalog.
    pub vector_collection: String,
    /// `candle` (default) or `fastembed`.
    pub embedder: EmbedderKind,
    /// Model directory (default `~/.cache/cyberhub/models/all-MiniLM-L6-v2`).
    pub model_dir: PathBuf,
    /// ONNX Runtime library for `fastembed` (default `MODEL_DIR/lib/libonnxruntime.so`).
    pub onnxruntime_lib: Option<PathBuf>,
    /// Most inference calls run at once (default: one per core).
    pub inference_concurrency: Option<usize>,
    /// Run the catalog-indexing worker in this process (AI services only).
    pub index_worker: bool,
    /// Milliseconds the idle worker waits before looking at the outbox again.
    pub index_poll_ms: u64,
    /// Where the dashboard at `/` loads the browser SDK from: the `--target web` package of
    /// `scripts/build-sdk.sh` (default `target/pkg/web`).
    pub sdk_dir: PathBuf,
    /// Rate limits per client and per account (`[rate_limits.signup] per_client = "40/40s"`
    /// in the file, `CYBERHUB_RATE_LIMITS_SIGNUP_PER_CLIENT=40/40s` or `=off` in the
    /// environment; `CYBERHUB_RATE_LIMITS=off` turns every limit off).
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
            embedder: EmbedderKind::Candle,
            model_dir: default_model_dir(),
            onnxruntime_lib: None,
            inference_concurrency: None,
            index_worker: true,
            sdk_dir: PathBuf::from("target/pkg/web"),
            index_poll_ms: 1000,
            rate_limits: cyberhub_auth::RateLimits::default(),
            ignored_env: Vec::new(),
        }
    }
}

fn redact(s: &Option<SecretString>) -> &'static str {
    if s.is_some() {
        "[redacted]"
    } else {
        "(unset)"
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("bind", &self.bind)
            .field(
                "database_url",
                &cyberhub_store::redact_url(&self.database_url),
            )
            .field("jwt_secret", &redact(&self.jwt_secret))
            .field("jwt_key_id", &self.jwt_key_id)
            .field("jwt_previous_keys", &self.jwt_previous_keys.len())
            .field("cors_origins", &self.cors_origins)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("log_json", &self.log_json)
            .field("log_filter", &self.log_filter)
            .field("seed_catalog", &self.seed_catalog)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &redact(&self.admin_password))
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field(
                "insecure_fast_password_hashing",
                &self.insecure_fast_password_hashing,
            )
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("refresh_grace_secs", &self.refresh_grace_secs)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("keep_personality_analyses", &self.keep_personality_analyses)
            .field("purge_interval_secs", &self.purge_interval_secs)
            .field("public_url", &self.public_url)
            .field("service", &self.service)
            .field(
                "core_url",
                &self.core_url.as_deref().map(cyberhub_store::redact_url),
            )
            .field("vector_url", &cyberhub_store::redact_url(&self.vector_url))
            .field("vector_collection", &self.vector_collection)
            .field("embedder", &self.embedder)
            .field("model_dir", &self.model_dir)
            .field("index_worker", &self.index_worker)
            .field("sdk_dir", &self.sdk_dir)
            .field("rate_limits", &self.rate_limits)
            .finish()
    }
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
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        for (key, value) in env {
            let Some(name) = key.strip_prefix("CYBERHUB_") else {
                continue;
            };
            cfg.set(name, &value)?;
        }
        // The AI service listens on 8001 unless told otherwise.
        if cfg.service == Service::Ai && cfg.bind == Config::default().bind {
            cfg.bind.set_port(8001);
        }
        cfg.check()?;
        Ok(cfg)
    }

    fn set(&mut self, name: &str, v: &str) -> Result<(), ConfigError> {
        let bad = |what: &str| ConfigError(format!("CYBERHUB_{name}: {what}"));
        let parse_bool = |v: &str| match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(bad("expected true or false")),
        };
        let list = |v: &str| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        match name {
            "MODE" => {
                self.mode = match v {
                    "development" | "dev" => Mode::Development,
                    "production" | "prod" => Mode::Production,
                    _ => return Err(bad("expected development or production")),
                }
            }
            "BIND" => self.bind = v.parse().map_err(|_| bad("expected HOST:PORT"))?,
            "PORT" => self
                .bind
                .set_port(v.parse().map_err(|_| bad("expected a port number"))?),
            "DATABASE_URL" => self.database_url = v.to_owned(),
            "JWT_SECRET" => self.jwt_secret = Some(SecretString::from(v.to_owned())),
            "JWT_KEY_ID" => self.jwt_key_id = v.to_owned(),
            "JWT_PREVIOUS_KEYS" => {
                self.jwt_previous_keys = list(v).into_iter().map(SecretString::from).collect()
            }
            "CORS_ORIGINS" => self.cors_origins = list(v),
            "MAX_BODY_BYTES" => {
                self.max_body_bytes = v.parse().map_err(|_| bad("expected a number of bytes"))?
            }
            "LOG_JSON" => self.log_json = parse_bool(v)?,
            "LOG" | "LOG_FILTER" => self.log_filter = v.to_owned(),
            "SEED_CATALOG" => self.seed_catalog = parse_bool(v)?,
            "ADMIN_EMAIL" => self.admin_email = Some(v.to_owned()).filter(|s| !s.is_empty()),
            "ADMIN_PASSWORD" => {
                self.admin_password =
                    Some(SecretString::from(v.to_owned())).filter(|s| !s.expose_secret().is_empty())
            }
            "MAX_CONCURRENT_HASHES" => {
                self.max_concurrent_hashes = Some(v.parse().map_err(|_| bad("expected a number"))?)
            }
            "SHUTDOWN_GRACE_SECS" => {
                self.shutdown_grace_secs = v.parse().map_err(|_| bad("expected seconds"))?
            }
            "INSECURE_FAST_PASSWORD_HASHING" => {
                self.insecure_fast_password_hashing = parse_bool(v)?
            }
            "TRUST_FORWARDED_FOR" => self.trust_forwarded_for = parse_bool(v)?,
            "TRUSTED_PROXIES" => self.trusted_proxies = list(v),
            "AUDIT_RETENTION_DAYS" => {
                self.audit_retention_days = v.parse().map_err(|_| bad("expected days"))?
            }
            "KEEP_PERSONALITY_ANALYSES" => {
                self.keep_personality_analyses = v.parse().map_err(|_| bad("expected a number"))?
            }
            "PURGE_INTERVAL_SECS" => {
                self.purge_interval_secs = v.parse().map_err(|_| bad("expected seconds"))?
            }
            "REFRESH_GRACE_SECS" => {
                self.refresh_grace_secs = v.parse().map_err(|_| bad("expected seconds"))?
            }
            "PUBLIC_URL" => {
                self.public_url = Some(v.trim_end_matches('/').to_owned()).filter(|s| !s.is_empty())
            }
            "SERVICE" => {
                self.service = match v {
                    "all" => Service::All,
                    "core" => Service::Core,
                    "ai" => Service::Ai,
                    _ => return Err(bad("expected all, core or ai")),
                }
            }
            "CORE_URL" => self.core_url = Some(v.trim_end_matches('/').to_owned()),
            "CORE_TIMEOUT_SECS" => {
                self.core_timeout_secs = v.parse().map_err(|_| bad("expected seconds"))?
            }
            "VECTOR_URL" => self.vector_url = v.to_owned(),
            "VECTOR_COLLECTION" => self.vector_collection = v.to_owned(),
            "EMBEDDER" => {
                self.embedder = match v {
                    "candle" => EmbedderKind::Candle,
                    "fastembed" => EmbedderKind::Fastembed,
                    _ => return Err(bad("expected candle or fastembed")),
                }
            }
            "MODEL_DIR" => self.model_dir = PathBuf::from(v),
            "SDK_DIR" => self.sdk_dir = PathBuf::from(v),
            "ONNXRUNTIME_LIB" => self.onnxruntime_lib = Some(PathBuf::from(v)),
            "INFERENCE_CONCURRENCY" => {
                self.inference_concurrency = Some(v.parse().map_err(|_| bad("expected a number"))?)
            }
            "INDEX_WORKER" => self.index_worker = parse_bool(v)?,
            "INDEX_POLL_MS" => {
                self.index_poll_ms = v.parse().map_err(|_| bad("expected milliseconds"))?
            }
            "RATE_LIMITS" => match v.trim().to_ascii_lowercase().as_str() {
                "off" | "none" => self.rate_limits = cyberhub_auth::RateLimits::off(),
                "default" | "on" => self.rate_limits = cyberhub_auth::RateLimits::default(),
                _ => return Err(bad("expected off or default")),
            },
            n if n.starts_with("RATE_LIMITS_") => {
                let rest = n.trim_start_matches("RATE_LIMITS_");
                self.rate_limits.set(rest, v).map_err(|e| bad(&e))?
            }
            "CONFIG" => {} // the file path itself, read by main
            _ => self.ignored_env.push(format!("CYBERHUB_{name}")),
        }
        Ok(())
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
