//! The AI crates without the server: index a small catalog into the embedded vector store
//! with the real all-MiniLM-L6-v2 (candle), search it, and recommend for a learner who
//! finished two offensive items.
//!
//! ```bash
//! cargo run -p cyberhub-server -- models pull            # once: the model files
//! CYBERHUB_MODEL_DIR=~/.cache/cyberhub/models/all-MiniLM-L6-v2 cargo run --example recommend
//! ```

use chrono::Utc;
use cyberhub_ai::{
    CandleEmbedder, CatalogIndex, HistoryEntry, InferencePool, Recommender, CONTENT_COLLECTION,
};
use cyberhub_domain::{ContentItem, ContentType, ContentUuid, NewContent, ProgressStatus, Track};
use std::sync::Arc;

fn item(id: &str, ty: ContentType, track: Track, title: &str, description: &str) -> ContentItem {
    let new = NewContent {
        content_id: Some(id.into()),
        content_type: ty,
        title: title.into(),
        description: description.into(),
        track: Some(track),
        difficulty: None,
        tags: Vec::new(),
        estimated_minutes: None,
    };
    ContentItem::new(ContentUuid(uuid::Uuid::new_v4()), new, Utc::now())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(model_dir) = std::env::var_os("CYBERHUB_MODEL_DIR") else {
        eprintln!("set CYBERHUB_MODEL_DIR to the model directory (cyberhub-server models pull)");
        return Ok(());
    };
    let embedder =
        Arc::new(CandleEmbedder::load_async(model_dir.into(), InferencePool::default()).await?);
    let dir = std::env::temp_dir().join(format!("cyberhub-example-{}", std::process::id()));
    let vectors = cyberhub_vector::open(&format!("embedded://{}", dir.display())).await?;
    let index = CatalogIndex::new(embedder, vectors, CONTENT_COLLECTION);
    index.ensure_collection().await?;

    use ContentType::{Course, Lab};
    use Track::{Defender, Grc, Offensive};
    let catalog = vec![
        item(
            "off-web",
            Course,
            Offensive,
            "Web application hacking",
            "Find and exploit injection flaws in web apps.",
        ),
        item(
            "off-priv",
            Lab,
            Offensive,
            "Linux privilege escalation",
            "Escalate from a low-privileged shell to root.",
        ),
        item(
            "off-ad",
            Lab,
            Offensive,
            "Attacking Active Directory",
            "Kerberoasting, pass-the-hash and lateral movement.",
        ),
        item(
            "off-report",
            Course,
            Offensive,
            "Writing a pentest report",
            "Turn findings into a report clients act on.",
        ),
        item(
            "def-siem",
            Course,
            Defender,
            "SIEM detection engineering",
            "Write and tune detection rules for a SOC.",
        ),
        item(
            "grc-iso",
            Course,
            Grc,
            "ISO 27001 in practice",
            "Controls, audits and the statement of applicability.",
        ),
    ];
    index.upsert(&catalog).await?;
    let rec = Recommender::new(index);

    for hit in rec
        .search("exploiting a vulnerable website", None, None, 3)
        .await?
    {
        println!("search  {:.3}  {}", hit.score, hit.title);
    }

    let history: Vec<HistoryEntry> = catalog
        .iter()
        .take(2)
        .map(|i| HistoryEntry {
            point: i.id.0,
            content_id: i.content_id.clone(),
            title: i.title.clone(),
            content_type: i.content_type,
            track: i.track,
            status: ProgressStatus::Completed,
            completion: 100.0,
            score: Some(90.0),
            updated_at: Utc::now(),
        })
        .collect();
    for r in rec.recommend(&history, &[], None, 3).await?.items {
        println!("recommend  {:.3}  {}  ({})", r.score, r.title, r.reason);
    }
    std::fs::remove_dir_all(dir).ok();
    Ok(())
}
