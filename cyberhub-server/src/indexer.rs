//! The catalog-indexing worker: leases outbox events, indexes each changed item's current
//! state (embed + upsert, or delete when the item is gone), completes the events. A round
//! reads its items in one query, embeds them in batches of
//! [`cyberhub_ai::catalog::INDEX_BATCH`] and writes their vectors in one upsert.
//!
//! Any number of workers (processes) may share one database: leases keep them from
//! processing the same event, and an event whose worker died is picked up once its lease
//! expires. Failures are retried with exponential back-off (2^attempts seconds, at most
//! five minutes); nothing is lost.

use cyberhub_ai::CatalogIndex;
use cyberhub_domain::{ContentItem, ContentUuid, SharedClock};
use cyberhub_store::DynStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Events claimed per round.
pub const CLAIM_BATCH: u32 = 64;

/// How long a claimed event stays leased by default (setting `index_lease_secs`).
pub const LEASE: Duration = Duration::from_secs(120);

/// One indexing worker.
#[derive(Debug, Clone)]
pub struct Indexer {
    store: DynStore,
    index: CatalogIndex,
    clock: SharedClock,
    worker: String,
    lease: Duration,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Indexer {
    /// A worker with a unique id.
    pub fn new(store: DynStore, index: CatalogIndex, clock: SharedClock) -> Self {
        Self {
            store,
            index,
            clock,
            worker: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease: LEASE,
            metrics: None,
        }
    }

    /// This worker with leases of `lease` (how long the events of a worker that died wait
    /// before another worker takes them; longer than one batch's indexing takes).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// This worker counting the items it indexes into `metrics`
    /// (`cyberhub_index_items_total`).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// This worker's id (as written into leases).
    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// One round: claims up to [`CLAIM_BATCH`] events, indexes them, returns how many
    /// events it completed (0 when the outbox had nothing claimable).
    pub async fn run_once(&self) -> Result<usize, String> {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(2));
        let events = self
            .store
            .claim_index_events(&self.worker, CLAIM_BATCH, self.clock.now(), lease)
            .await
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            return Ok(0);
        }
        // One indexing per item, however many events it has.
        let mut by_item: BTreeMap<uuid::Uuid, Vec<(i64, u32)>> = BTreeMap::new();
        for e in &events {
            by_item
                .entry(e.content.0)
                .or_default()
                .push((e.id, e.attempts));
        }
        // Each item with its events as (id, attempts).
        type Events = Vec<(i64, u32)>;
        let mut upserts: Vec<(ContentItem, Events)> = Vec::new();
        let mut deletes: Vec<(uuid::Uuid, Events)> = Vec::new();
        let mut failed: Vec<(i64, u32, String)> = Vec::new();
        // The items' current state in one read (an item that is gone is a delete).
        let ids: Vec<ContentUuid> = by_item.keys().map(|id| ContentUuid(*id)).collect();
        match self.store.contents_by_ids(&ids).await {
            Ok(items) => {
                let mut found: BTreeMap<uuid::Uuid, ContentItem> =
                    items.into_iter().map(|i| (i.id.0, i)).collect();
                for (id, evs) in by_item {
                    match found.remove(&id) {
                        Some(item) => upserts.push((item, evs)),
                        None => deletes.push((id, evs)),
                    }
                }
            }
            Err(e) => {
                let error = e.to_string();
                for evs in by_item.values() {
                    failed.extend(evs.iter().map(|(i, a)| (*i, *a, error.clone())));
                }
            }
        }
        let mut done: Vec<i64> = Vec::new();
        let mut indexed = 0_u64;
        // Completes the events of a batch that worked, or marks them for a retry.
        let mut settle = |result: Result<(), cyberhub_ai::AiError>, evs: Vec<&Events>| {
            for (id, attempts) in evs.into_iter().flatten() {
                match &result {
                    Ok(()) => done.push(*id),
                    Err(e) => failed.push((*id, *attempts, e.to_string())),
                }
            }
        };
        if !upserts.is_empty() {
            let items: Vec<ContentItem> = upserts.iter().map(|(i, _)| i.clone()).collect();
            let result = self.index.upsert(&items).await;
            if result.is_ok() {
                indexed += items.len() as u64;
            }
            settle(result, upserts.iter().map(|(_, e)| e).collect());
        }
        if !deletes.is_empty() {
            let ids: Vec<uuid::Uuid> = deletes.iter().map(|(id, _)| *id).collect();
            let result = self.index.remove(&ids).await;
            if result.is_ok() {
                indexed += ids.len() as u64;
            }
            settle(result, deletes.iter().map(|(_, e)| e).collect());
        }
        if let Some(m) = &self.metrics {
            m.count_indexed(indexed);
        }
        let completed = self
            .store
            .complete_index_events(&self.worker, &done)
            .await
            .map_err(|e| e.to_string())?;
        for (id, attempts, error) in failed {
            let backoff = 2_i64.saturating_pow(attempts.min(16)).min(300);
            tracing::warn!(event = id, attempts, %error, retry_in_secs = backoff, "indexing failed; will retry");
            self.store
                .release_index_event(
                    &self.worker,
                    id,
                    &error,
                    self.clock.now() + chrono::Duration::seconds(backoff),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(usize::try_from(completed).unwrap_or(usize::MAX))
    }

    /// Runs until `stop` resolves: a round, then (when idle) a wait of `poll` or until
    /// `wakeup` is notified.
    pub async fn run(
        self,
        poll: Duration,
        wakeup: Arc<tokio::sync::Notify>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        tracing::info!(worker = %self.worker, "indexing worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let idle = match self.run_once().await {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "indexing round failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = wakeup.notified() => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %self.worker, "indexing worker stopped");
    }
}
