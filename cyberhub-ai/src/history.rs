//! A learner's history as the AI layer sees it: progress rows joined with their catalog items.

use cyberhub_domain::{ContentType, ProgressStatus, Track};
use cyberhub_vector::PointId;

/// One progress row with what the catalog says about its item.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The item's vector id (its internal content UUID).
    pub point: PointId,
    /// Public content key.
    pub content_id: String,
    /// Title (named in recommendation reasons).
    pub title: String,
    /// Kind.
    pub content_type: ContentType,
    /// Track, if any.
    pub track: Option<Track>,
    /// Where the learner stands.
    pub status: ProgressStatus,
    /// 0–100.
    pub completion: f64,
    /// 0–100, when graded.
    pub score: Option<f64>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl HistoryEntry {
    /// Finished.
    pub fn is_completed(&self) -> bool {
        self.status == ProgressStatus::Completed
    }

    /// Started and not finished (in progress or paused).
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            ProgressStatus::InProgress | ProgressStatus::Paused
        )
    }

    /// Started at some point (anything but `not_started`).
    pub fn is_started(&self) -> bool {
        self.status != ProgressStatus::NotStarted
    }
}

/// Hands-on kinds of content (labs, missions, challenges); the rest is reading and watching.
pub fn is_hands_on(t: ContentType) -> bool {
    matches!(
        t,
        ContentType::Lab | ContentType::Mission | ContentType::Challenge
    )
}

/// Per-track share of a learner's started items (completed count 1, active 0.5), 0–1 each.
pub fn track_shares(history: &[HistoryEntry]) -> Vec<(Track, f64)> {
    let mut weights = [0.0_f64; 5];
    let mut total = 0.0;
    for h in history.iter().filter(|h| h.is_started()) {
        let w = if h.is_completed() { 1.0 } else { 0.5 };
        total += w;
        if let Some(t) = h.track {
            if let Some(slot) = Track::ALL
                .iter()
                .position(|x| *x == t)
                .and_then(|i| weights.get_mut(i))
            {
                *slot += w;
            }
        }
    }
    Track::ALL
        .iter()
        .zip(weights)
        .map(|(t, w)| (*t, if total > 0.0 { w / total } else { 0.0 }))
        .collect()
}
