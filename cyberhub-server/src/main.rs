//! `cyberhub-server`: runs the reference server, prints its OpenAPI document, installs the
//! embedding model, or rebuilds the vector index.
//!
//! ```text
//! cyberhub-server [serve] [--config FILE] [--pull-model]
//!                                                run (defaults: SQLite and vectors under ./data, port 8000);
//!                                                --pull-model first installs the model when missing
//! cyberhub-server openapi [--config FILE]        print the OpenAPI document (JSON)
//! cyberhub-server models pull [--dir DIR] [--fastembed]
//!                                                install all-MiniLM-L6-v2 offline (default DIR: the configured model_dir)
//! cyberhub-server reindex [--config FILE]        re-embed the whole catalog into a fresh collection, with progress
//! ```

use cyberhub_server::{build, shutdown_signal, Config, Service};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: cyberhub-server [serve|openapi|reindex] [--config FILE] [--pull-model]\n       cyberhub-server models pull [--dir DIR] [--fastembed]\n(settings: see the README; CYBERHUB_* variables override the file)"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut command: Option<String> = None;
    let mut file: Option<PathBuf> = std::env::var_os("CYBERHUB_CONFIG").map(PathBuf::from);
    let mut dir: Option<PathBuf> = None;
    let mut fastembed = false;
    let mut pull_model = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(f) => file = Some(PathBuf::from(f)),
                None => return usage(),
            },
            "--dir" => match args.next() {
                Some(d) => dir = Some(PathBuf::from(d)),
                None => return usage(),
            },
            "--fastembed" => fastembed = true,
            "--pull-model" => pull_model = true,
            "-h" | "--help" => return usage(),
            "serve" | "openapi" | "reindex" | "models" if command.is_none() => command = Some(a),
            "pull" if command.as_deref() == Some("models") => command = Some("models pull".into()),
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
    match command.as_deref() {
        Some("openapi") => openapi(config).await,
        Some("models pull") => {
            let dir = dir.unwrap_or_else(|| config.model_dir.clone());
            match cyberhub_server::models::pull(&dir, fastembed) {
                Ok(()) => {
                    eprintln!("model ready in {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cyberhub-server: models pull: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("models") => usage(),
        Some("reindex") => reindex(config).await,
        _ => {
            if pull_model && config.service.has_ai() {
                let fast = config.embedder == cyberhub_server::EmbedderKind::Fastembed;
                if let Err(e) = cyberhub_server::models::pull(&config.model_dir, fast) {
                    eprintln!("cyberhub-server: models pull: {e}");
                    return ExitCode::FAILURE;
                }
            }
            serve(config).await
        }
    }
}

async fn openapi(mut cfg: Config) -> ExitCode {
    cfg.database_url = "sqlite::memory:".into();
    cfg.seed_catalog = false;
    cfg.admin_email = None;
    cfg.admin_password = None;
    cfg.service = Service::Core; // the document covers every route; no model needed
    match build(cfg).await {
        Ok(app) => {
            println!("{}", app.spec_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cyberhub-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn reindex(mut cfg: Config) -> ExitCode {
    init_logging(&cfg);
    if cfg.service == Service::Core {
        cfg.service = Service::All;
    }
    let app = match build(cfg).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cyberhub-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Some(ai), Some(worker)) = (app.state().ai.clone(), app.indexer()) else {
        return ExitCode::FAILURE;
    };
    let store = &app.state().store;
    let steps = async {
        ai.index().reset().await.map_err(|e| e.to_string())?;
        store
            .enqueue_full_reindex(app.state().clock.now())
            .await
            .map_err(|e| e.to_string())?;
        let total = store.index_backlog().await.map_err(|e| e.to_string())?;
        let mut last_err = None;
        loop {
            let left = store.index_backlog().await.map_err(|e| e.to_string())?;
            progress_bar(total.saturating_sub(left), total);
            if left == 0 {
                break;
            }
            match worker.run_once().await {
                Ok(0) => {
                    // Leased by another process, or waiting for a retry.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Ok(_) => {}
                Err(e) if last_err.as_ref() == Some(&e) => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        eprintln!();
        ai.index().count().await.map_err(|e| e.to_string())
    };
    match steps.await {
        Ok(n) => {
            eprintln!("re-indexed: {n} items in '{}'", ai.index().collection());
            app.state().store.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ncyberhub-server: reindex: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress_bar(done: u64, total: u64) {
    let width = 40;
    let filled = if total == 0 {
        width
    } else {
        (done * width / total.max(1)) as usize as u64
    };
    let bar: String = (0..width)
        .map(|i| if i < filled { '#' } else { '-' })
        .collect();
    eprint!("\r[{bar}] {done}/{total}");
    std::io::stderr().flush().ok();
}

async fn serve(config: Config) -> ExitCode {
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
            eprintln!("cyberhub-server: {e}");
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
        .with_target(false)
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
