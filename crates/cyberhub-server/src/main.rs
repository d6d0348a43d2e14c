//! `cyberhub-server`: runs the reference server, or prints its OpenAPI document.
//!
//! ```text
//! cyberhub-server [serve] [--config FILE]   run (defaults: SQLite under ./data, port 8000)
//! cyberhub-server openapi [--config FILE]   print the OpenAPI document (JSON)
//! ```

use cyberhub_server::{build, shutdown_signal, Config};
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: cyberhub-server [serve|openapi] [--config FILE]\n(settings: see the README; CYBERHUB_* variables override the file)");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut command = None;
    let mut file: Option<PathBuf> = std::env::var_os("CYBERHUB_CONFIG").map(PathBuf::from);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(f) => file = Some(PathBuf::from(f)),
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            "serve" | "openapi" if command.is_none() => command = Some(a),
            _ => return usage(),
        }
    }
    let config = match Config::load(file.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cyberhub-server: {e}");
            return ExitCode::from(2);
        }
    };
    if command.as_deref() == Some("openapi") {
        let mut cfg = config;
        cfg.database_url = "sqlite::memory:".into();
        cfg.seed_catalog = false;
        cfg.admin_email = None;
        cfg.admin_password = None;
        return match build(cfg).await {
            Ok(app) => {
                println!("{}", app.spec_json());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cyberhub-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    init_logging(&config);
    tracing::info!(config = ?config, "starting cyberhub-server {}", env!("CARGO_PKG_VERSION"));
    for name in &config.ignored_env {
        tracing::warn!(variable = %name, "ignoring an environment variable that is not a CyberHub setting (typo?)");
    }
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(bind = %config.bind, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let app = match build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    match app.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if config.log_json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
