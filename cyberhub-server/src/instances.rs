//! Several instances on one database. Every instance keeps a heartbeat in the store
//! (every [`HEARTBEAT`]); one that keeps its guarantees in its own memory (no
//! `redis_url`: lock-out counts, rate limits, session liveness cache) refuses to start
//! while another live instance of its kind (`all`/`core`, or `ai`) uses the same database,
//! because together they would give each client one budget per instance. A deployment
//! that accepts that sets `allow_unshared_instances`.

use crate::config::Service;
use crate::state::AppState;
use crate::{ConfigError, StartError};
use chrono::{DateTime, Utc};
use cyberhub_store::Instance;
use std::time::Duration;

/// How often an instance renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// An instance silent for longer than this is gone (killed, or its machine lost).
pub const LIVE_FOR: Duration = Duration::from_secs(6);

/// The kind of routes `service` serves, for the one-budget rule: `all` and `core` share
/// the account routes; `ai` has its own budgets.
pub fn kind(service: Service) -> &'static str {
    match service {
        Service::All | Service::Core => "core",
        Service::Ai => "ai",
    }
}

fn service_name(service: Service) -> &'static str {
    match service {
        Service::All => "all",
        Service::Core => "core",
        Service::Ai => "ai",
    }
}

fn live_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(LIVE_FOR).unwrap_or(chrono::Duration::seconds(6))
}

/// This instance as its heartbeat describes it at `now`.
pub fn describe(state: &AppState, started_at: DateTime<Utc>, now: DateTime<Utc>) -> Instance {
    Instance {
        id: state.instance_id.clone(),
        service: service_name(state.config.service).to_owned(),
        shared_state: state.shared.is_some(),
        started_at,
        seen_at: now,
    }
}

/// The live instances, other than this one, that keep their guarantees apart from it.
async fn conflicts(state: &AppState) -> Result<Vec<Instance>, StartError> {
    let me = kind(state.config.service);
    let shared = state.shared.is_some();
    let live = state
        .store
        .live_instances(live_since(state.clock.now()))
        .await?;
    Ok(live
        .into_iter()
        .filter(|i| i.id != state.instance_id)
        .filter(|i| {
            let theirs = match i.service.as_str() {
                "ai" => "ai",
                _ => "core",
            };
            theirs == me && !(shared && i.shared_state)
        })
        .collect())
}

/// Refuses to start beside a live instance of this kind unless both share state in Redis
/// (or `allow_unshared_instances` is set). This instance's heartbeat is written first, so
/// that of two instances starting at the same moment at least one sees the other; the
/// younger one (later start, then larger id) is the one that refuses. An instance that died
/// without leaving counts until its heartbeat is [`LIVE_FOR`] old: this waits that long
/// before refusing.
pub async fn check_alone(state: &AppState) -> Result<(), StartError> {
    if state.config.allow_unshared_instances {
        return Ok(());
    }
    let me = describe(state, state.started_at, state.clock.now());
    let deadline = std::time::Instant::now() + LIVE_FOR + HEARTBEAT;
    loop {
        state
            .store
            .heartbeat(&describe(state, state.started_at, state.clock.now()))
            .await?;
        let others: Vec<Instance> = conflicts(state)
            .await?
            .into_iter()
            // A younger instance refuses by itself when it sees this one.
            .filter(|o| (o.started_at, &o.id) < (me.started_at, &me.id))
            .collect();
        let Some(other) = others.first() else {
            return Ok(());
        };
        if std::time::Instant::now() >= deadline {
            let long_ago = state.clock.now() - chrono::Duration::hours(1);
            state.store.leave(&state.instance_id, long_ago).await.ok();
            return Err(ConfigError(format!(
                "another {} instance ({}, service {}) uses this database and {}: several instances \
                 that keep lock-out counts, rate limits and session checks in their own memory \
                 would give every client one budget per instance. Set the same redis_url on every \
                 instance, or set allow_unshared_instances = true to accept per-instance guarantees.",
                kind(state.config.service),
                other.id,
                other.service,
                if other.shared_state || state.shared.is_some() {
                    "only one of you shares state in Redis"
                } else {
                    "neither of you shares state in Redis"
                },
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Renews this instance's heartbeat every [`HEARTBEAT`] until `stop` turns true, then
/// leaves the registry.
pub async fn heartbeat_loop(
    state: std::sync::Arc<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let now = state.clock.now();
        if let Err(e) = state
            .store
            .heartbeat(&describe(&state, state.started_at, now))
            .await
        {
            tracing::warn!(error = %e, "could not renew this instance's heartbeat");
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
    }
    // Leaving also clears instances that have been silent for a long time.
    let long_ago = state.clock.now() - chrono::Duration::hours(1);
    if let Err(e) = state.store.leave(&state.instance_id, long_ago).await {
        tracing::warn!(error = %e, "could not leave the instance registry");
    }
}
