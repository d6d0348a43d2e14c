//! Recommendation latency over a 10,000-item catalog on the embedded defaults (embedded
//! vector store, candle all-MiniLM-L6-v2): p50/p99 of `Recommender::recommend` for learners
//! with 3–15 completed and 1–2 in-progress items, of cold-start lists and of `search`.
//!
//! `cargo bench --bench recommend` measures (indexing 10k synthetic items first takes a
//! couple of minutes: every item is embedded); under `cargo test --bench recommend` it runs
//! on 200 items with a few queries. Needs `CYBERHUB_MODEL_DIR`; without it the bench says so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // bench code may fail loudly

use chrono::{Duration, TimeZone, Utc};
use cyberhub_ai::{CandleEmbedder, CatalogIndex, HistoryEntry, InferencePool, Recommender};
use cyberhub_domain::{
    ContentItem, ContentType, ContentUuid, Difficulty, NewContent, ProgressStatus, Track,
};
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

const TOPICS: [&str; 20] = [
    "phishing",
    "ransomware",
    "web application testing",
    "SQL injection",
    "cloud IAM",
    "Kubernetes hardening",
    "threat hunting",
    "SIEM detection rules",
    "ISO 27001 controls",
    "GDPR compliance",
    "risk registers",
    "incident response",
    "malware analysis",
    "red team operations",
    "AI model security",
    "supply-chain attacks",
    "security budgeting",
    "team leadership",
    "zero trust networking",
    "password cracking",
];
const ANGLES: [&str; 10] = [
    "Foundations of",
    "Hands-on",
    "Advanced",
    "A field guide to",
    "Automating",
    "Measuring",
    "Case studies in",
    "Defending against",
    "Explaining",
    "Tooling for",
];

fn catalog(n: usize) -> Vec<ContentItem> {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let topic = TOPICS[i % TOPICS.len()];
            let angle = ANGLES[(i / TOPICS.len()) % ANGLES.len()];
            let new = NewContent {
                content_id: Some(format!("bench-{i}")),
                content_type: ContentType::ALL[i % ContentType::ALL.len()],
                title: format!("{angle} {topic} #{i}"),
                description: format!(
                    "{angle} {topic}: practical material for security practitioners, part {}.",
                    i / 200
                ),
                track: Some(Track::ALL[(i / 3) % Track::ALL.len()]),
                difficulty: Some(Difficulty::ALL[i % Difficulty::ALL.len()]),
                tags: vec![topic.replace(' ', "-")],
                estimated_minutes: Some(30),
            };
            ContentItem::new(ContentUuid(uuid::Uuid::new_v4()), new, now)
        })
        .collect()
}

fn history(items: &[ContentItem], rng: &mut impl Rng) -> Vec<HistoryEntry> {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let completed = rng.random_range(3..=15);
    let active = rng.random_range(1..=2);
    (0..completed + active)
        .map(|k| {
            let item = &items[rng.random_range(0..items.len())];
            let done = k < completed;
            HistoryEntry {
                point: item.id.0,
                content_id: item.content_id.clone(),
                title: item.title.clone(),
                content_type: item.content_type,
                track: item.track,
                status: if done {
                    ProgressStatus::Completed
                } else {
                    ProgressStatus::InProgress
                },
                completion: if done { 100.0 } else { 40.0 },
                score: done.then_some(80.0),
                updated_at: now - Duration::days(k as i64),
            }
        })
        .collect()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{name:<28} n={:<4} p50 {:7.2} ms   p99 {:7.2} ms",
        ms.len(),
        pct(&ms, 0.5),
        pct(&ms, 0.99)
    );
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    // Skips with a message on a developer machine; under CI=true a missing model fails.
    let Some(dir) = cyberhub_vector::conformance::service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    let (n, queries) = if measuring { (10_000, 300) } else { (200, 5) };
    let embedder = Arc::new(
        CandleEmbedder::load_async(dir.into(), InferencePool::default())
            .await
            .unwrap(),
    );
    let tmp = std::env::temp_dir().join(format!("cyberhub-bench-rec-{}", std::process::id()));
    let vectors = cyberhub_vector::open(&format!("embedded://{}", tmp.display()))
        .await
        .unwrap();
    let index = CatalogIndex::new(embedder, vectors, "bench_catalog");
    index.ensure_collection().await.unwrap();
    let items = catalog(n);
    let t = Instant::now();
    index.upsert(&items).await.unwrap();
    println!(
        "indexed {n} items (embed + upsert) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let rec = Recommender::new(index);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let learners: Vec<Vec<HistoryEntry>> = (0..50).map(|_| history(&items, &mut rng)).collect();

    for h in learners.iter().take(3) {
        rec.recommend(h, &[], None, 10).await.unwrap(); // warm-up
    }
    let mut ms = Vec::new();
    for q in 0..queries {
        let h = &learners[q % learners.len()];
        let t = Instant::now();
        let r = rec.recommend(h, &[], None, 10).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.items.len(), 10);
    }
    report("recommend (history, k=10)", ms);

    let fit = [(Track::Offensive, 0.8), (Track::Defender, 0.3)];
    let mut ms = Vec::new();
    for _ in 0..queries.min(100) {
        let t = Instant::now();
        let r = rec.recommend(&[], &fit, None, 10).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(r.cold_start);
    }
    report("recommend (cold start)", ms);

    let mut ms = Vec::new();
    for q in 0..queries {
        let t = Instant::now();
        rec.search(TOPICS[q % TOPICS.len()], None, None, 10)
            .await
            .unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("search (k=10)", ms);
    std::fs::remove_dir_all(&tmp).ok();
}
