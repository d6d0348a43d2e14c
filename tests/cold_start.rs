//! Cold-start recommendations rank by measured popularity blended with the beginner-first
//! rule, and call an item "popular" only with the numbers behind it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::Utc;
use cyberhub_ai::{CatalogIndex, HashingEmbedder, Recommender};
use cyberhub_domain::{
    ContentItem, ContentPopularity, ContentType, ContentUuid, Difficulty, NewContent, Track,
};
use std::sync::Arc;

fn item(id: &str, track: Track) -> ContentItem {
    // Same text per track: only popularity can order two items of one track.
    ContentItem::new(
        ContentUuid(uuid::Uuid::new_v4()),
        NewContent {
            content_id: Some(id.into()),
            content_type: ContentType::Course,
            title: format!("First steps in {track}"),
            description: format!("An introduction to {track} for beginners."),
            track: Some(track),
            difficulty: Some(Difficulty::Beginner),
            tags: Vec::new(),
            estimated_minutes: None,
        },
        Utc::now(),
    )
}

async fn recommender() -> (Recommender, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("cyberhub-cold-{}", uuid::Uuid::new_v4().simple()));
    let vectors = cyberhub_vector::open(&format!("embedded://{}", dir.display()))
        .await
        .unwrap();
    let index = CatalogIndex::new(Arc::new(HashingEmbedder::new(64)), vectors, "catalog");
    index.ensure_collection().await.unwrap();
    let mut catalog = Vec::new();
    for track in Track::ALL {
        for n in ["a", "b"] {
            catalog.push(item(&format!("{}-{n}", track.as_str()), *track));
        }
    }
    index.upsert(&catalog).await.unwrap();
    (Recommender::new(index), dir)
}

#[tokio::test]
async fn popular_only_with_the_numbers_behind_it() {
    let (r, dir) = recommender().await;
    // No measured popularity: no reason says "popular".
    let plain = r.recommend(&[], &[], None, 10).await.unwrap();
    assert!(plain.cold_start);
    assert_eq!(plain.items.len(), 10);
    assert!(
        plain.items.iter().all(|i| !i.reason.contains("popular")),
        "{:?}",
        plain.items.iter().map(|i| &i.reason).collect::<Vec<_>>()
    );
    // Five learners started defender-b, three finished it; offensive-a was started once.
    let counts = vec![
        ContentPopularity {
            content_id: "defender-b".into(),
            started: 5,
            completed: 3,
        },
        ContentPopularity {
            content_id: "offensive-a".into(),
            started: 1,
            completed: 0,
        },
        ContentPopularity {
            content_id: "grc-a".into(),
            started: 0,
            completed: 0,
        },
    ];
    let ranked = r.recommend_with(&[], &[], &counts, None, 10).await.unwrap();
    let pos = |id: &str| {
        ranked
            .items
            .iter()
            .position(|i| i.content_id == id)
            .unwrap()
    };
    assert!(pos("defender-b") < pos("defender-a"), "popularity lifts it");
    assert!(pos("offensive-a") < pos("offensive-b"));
    let reason = |id: &str| ranked.items[pos(id)].reason.clone();
    assert!(
        reason("defender-b").contains("popular")
            && reason("defender-b").contains("5 learners started it, 3 finished"),
        "{}",
        reason("defender-b")
    );
    assert!(
        reason("offensive-a").contains("1 learner started it, 0 finished"),
        "{}",
        reason("offensive-a")
    );
    for id in ["defender-a", "offensive-b", "grc-a", "grc-b"] {
        assert!(!reason(id).contains("popular"), "{id}: {}", reason(id));
    }
    std::fs::remove_dir_all(dir).ok();
}
