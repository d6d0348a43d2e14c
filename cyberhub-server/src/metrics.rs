//! Prometheus counters for requests, kept with atomics (no registry dependency).

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const BUCKETS_MS: [u64; 10] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];

/// Request counts by status class, in-flight gauge and a latency histogram.
#[derive(Debug, Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    in_flight: AtomicU64,
    buckets: [AtomicU64; BUCKETS_MS.len()],
    latency_sum_us: AtomicU64,
    count: AtomicU64,
    indexed_items: AtomicU64,
}

impl Metrics {
    fn observe(&self, status: u16, started: Instant) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(c) = self.by_class.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        for (b, limit) in self.buckets.iter().zip(BUCKETS_MS) {
            if us <= limit * 1000 {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts catalog items this process's indexing worker embedded into (or removed from)
    /// the vector store.
    pub fn count_indexed(&self, items: u64) {
        self.indexed_items.fetch_add(items, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP cyberhub_http_requests_total HTTP requests by status class.\n# TYPE cyberhub_http_requests_total counter\n");
        for (i, c) in self.by_class.iter().enumerate() {
            s.push_str(&format!(
                "cyberhub_http_requests_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                c.load(Ordering::Relaxed)
            ));
        }
        s.push_str("# HELP cyberhub_http_requests_in_flight Requests being served.\n# TYPE cyberhub_http_requests_in_flight gauge\n");
        s.push_str(&format!(
            "cyberhub_http_requests_in_flight {}\n",
            self.in_flight.load(Ordering::Relaxed)
        ));
        s.push_str("# HELP cyberhub_http_request_duration_seconds Request latency.\n# TYPE cyberhub_http_request_duration_seconds histogram\n");
        for (b, limit) in self.buckets.iter().zip(BUCKETS_MS) {
            s.push_str(&format!(
                "cyberhub_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                limit as f64 / 1000.0,
                b.load(Ordering::Relaxed)
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        s.push_str(&format!(
            "cyberhub_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        s.push_str(&format!(
            "cyberhub_http_request_duration_seconds_sum {}\n",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        ));
        s.push_str(&format!(
            "cyberhub_http_request_duration_seconds_count {count}\n"
        ));
        s.push_str("# HELP cyberhub_index_items_total Catalog items this process indexed (embedded and stored, or removed).\n# TYPE cyberhub_index_items_total counter\n");
        s.push_str(&format!(
            "cyberhub_index_items_total {}\n",
            self.indexed_items.load(Ordering::Relaxed)
        ));
        s
    }
}

/// Middleware that feeds [`Metrics`] and gives each request an id (`x-request-id`, kept when
/// the client sent a sane one) and a tracing span.
#[derive(Debug, Clone)]
pub struct Observe(pub Arc<Metrics>);

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        ObserveEndpoint {
            inner: ep,
            metrics: self.0.clone(),
        }
    }
}

/// The endpoint produced by [`Observe`].
#[derive(Debug)]
pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        use tracing::Instrument;
        let started = Instant::now();
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %req.uri().path());
        self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.call(req).instrument(span.clone()).await;
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut resp = match result {
            Ok(r) => r.into_response(),
            Err(e) => crate::error::render_error(e).await,
        };
        let status = resp.status().as_u16();
        self.metrics.observe(status, started);
        span.in_scope(|| {
            tracing::info!(
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "served"
            )
        });
        if let Ok(v) = request_id.parse() {
            resp.headers_mut().insert("x-request-id", v);
        }
        Ok(resp)
    }
}
