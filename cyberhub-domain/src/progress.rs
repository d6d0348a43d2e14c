//! Learning progress and its status transition rules.
//!
//! Rules (checked by [`Progress::new`] and [`Progress::apply`]):
//! - `completion_percentage` and `score` lie within 0–100;
//! - `completed` means 100 %: a percentage of 100 without a status completes the item, and
//!   `completed` with any other percentage is rejected;
//! - `not_started` means 0 %; once started an item never goes back to `not_started`, and
//!   an item that was never started cannot be `paused`;
//! - `started_at` is set on the first move out of `not_started`, `completed_at` on the
//!   move into `completed` and cleared when an item is reopened.

use crate::content::ContentType;
use crate::ids::{ProgressId, UserId};
use crate::validation::{Validate, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Where a learner stands with one item.
    ProgressStatus {
        /// Not begun.
        NotStarted => "not_started",
        /// Working on it.
        InProgress => "in_progress",
        /// Finished (100 %).
        Completed => "completed",
        /// Put aside.
        Paused => "paused",
    }
);

/// The largest serialised `metadata` object accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// One learner's progress on one catalog item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Progress {
    /// Id.
    pub id: ProgressId,
    /// The learner (owner).
    pub user_id: UserId,
    /// The item's public key.
    pub content_id: String,
    /// The item's kind.
    pub content_type: ContentType,
    /// Status.
    pub status: ProgressStatus,
    /// 0–100.
    pub completion_percentage: f64,
    /// 0–100, when graded.
    pub score: Option<f64>,
    /// Free-form JSON object (at most 16 KiB).
    pub metadata: serde_json::Value,
    /// First moved out of `not_started`.
    pub started_at: Option<DateTime<Utc>>,
    /// Moved into `completed`.
    pub completed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for a new progress row (`POST /progress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct NewProgress {
    /// The item's public key.
    pub content_id: String,
    /// The item's kind.
    pub content_type: ContentType,
    /// Initial status (default `not_started`, or derived from the percentage).
    #[serde(default)]
    pub status: Option<ProgressStatus>,
    /// Initial percentage (default 0).
    #[serde(default)]
    pub completion_percentage: Option<f64>,
    /// Score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Metadata: a JSON object of at most 16 KiB, without NUL characters in its keys or strings.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// A change to a progress row (`PATCH /progress/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ProgressPatch {
    /// New status.
    pub status: Option<ProgressStatus>,
    /// New percentage.
    pub completion_percentage: Option<f64>,
    /// New score.
    pub score: Option<f64>,
    /// Replaces the metadata (a JSON object of at most 16 KiB, without NUL characters in its
    /// keys or strings).
    pub metadata: Option<serde_json::Value>,
}

fn check_fields(
    errs: &mut ValidationErrors,
    pct: Option<f64>,
    score: Option<f64>,
    metadata: Option<&serde_json::Value>,
) {
    if let Some(p) = pct {
        if !p.is_finite() || !(0.0..=100.0).contains(&p) {
            errs.add(
                "completion_percentage",
                "Must be a number between 0 and 100.",
            );
        }
    }
    if let Some(s) = score {
        if !s.is_finite() || !(0.0..=100.0).contains(&s) {
            errs.add("score", "Must be a number between 0 and 100.");
        }
    }
    if let Some(m) = metadata {
        if !m.is_object() {
            errs.add("metadata", "Must be a JSON object.");
        } else if serde_json::to_vec(m).map_or(true, |b| b.len() > MAX_METADATA_BYTES) {
            errs.add(
                "metadata",
                format!("Must be at most {MAX_METADATA_BYTES} bytes."),
            );
        }
    }
}

impl Validate for NewProgress {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        self.content_id = self.content_id.trim().to_owned();
        errs.check_len("content_id", &self.content_id, 1, 100);
        errs.check_printable("content_id", &self.content_id, false);
        check_fields(
            &mut errs,
            self.completion_percentage,
            self.score,
            self.metadata.as_ref(),
        );
        errs.into_result(self)
    }
}

impl Validate for ProgressPatch {
    fn validated(self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        check_fields(
            &mut errs,
            self.completion_percentage,
            self.score,
            self.metadata.as_ref(),
        );
        errs.into_result(self)
    }
}

impl Validate for Progress {
    fn validated(self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        errs.check_len("content_id", &self.content_id, 1, 100);
        check_fields(
            &mut errs,
            Some(self.completion_percentage),
            self.score,
            Some(&self.metadata),
        );
        errs.into_result(self)
    }
}

impl Progress {
    /// A new row for `user_id`, with the initial status and percentage checked against the rules.
    pub fn new(
        id: ProgressId,
        user_id: UserId,
        new: NewProgress,
        now: DateTime<Utc>,
    ) -> crate::Result<Self> {
        let new = new.validated()?;
        let mut p = Self {
            id,
            user_id,
            content_id: new.content_id,
            content_type: new.content_type,
            status: ProgressStatus::NotStarted,
            completion_percentage: 0.0,
            score: None,
            metadata: serde_json::Value::Object(Default::default()),
            started_at: None,
            completed_at: None,
            created_at: now,
            updated_at: now,
        };
        p.apply(
            &ProgressPatch {
                status: new.status,
                completion_percentage: new.completion_percentage,
                score: new.score,
                metadata: new.metadata,
            },
            now,
        )?;
        Ok(p)
    }

    /// Applies a change, enforcing the transition rules; on error `self` is unchanged.
    pub fn apply(&mut self, patch: &ProgressPatch, now: DateTime<Utc>) -> crate::Result<()> {
        let patch = patch.clone().validated()?;
        use ProgressStatus::*;
        let pct_in = patch.completion_percentage;
        let target = match (patch.status, pct_in) {
            (Some(s), _) => s,
            (None, Some(p)) if p >= 100.0 => Completed,
            (None, Some(p)) if p > 0.0 && self.status == NotStarted => InProgress,
            (None, _) => self.status,
        };
        if target != self.status {
            if target == NotStarted {
                return Err(crate::Error::conflict(format!(
                    "Cannot move from {} back to not_started.",
                    self.status
                )));
            }
            if target == Paused && self.status == NotStarted {
                return Err(crate::Error::conflict(
                    "Cannot pause an item that was never started.",
                ));
            }
        }
        let mut errs = ValidationErrors::new();
        let pct = match target {
            Completed => {
                if pct_in.is_some_and(|p| p < 100.0) {
                    errs.add("completion_percentage", "A completed item is at 100%.");
                }
                100.0
            }
            NotStarted => {
                let p = pct_in.unwrap_or(self.completion_percentage);
                if p != 0.0 {
                    errs.add(
                        "completion_percentage",
                        "An item that is not started is at 0%.",
                    );
                }
                p
            }
            InProgress | Paused => {
                let p = pct_in.unwrap_or(self.completion_percentage);
                if p >= 100.0 {
                    errs.add(
                        "completion_percentage",
                        "100% means completed: set status to completed, or give a percentage below 100.",
                    );
                }
                p
            }
        };
        errs.into_result(())?;

        if target != NotStarted && self.started_at.is_none() {
            self.started_at = Some(now);
        }
        if target == Completed && self.status != Completed {
            self.completed_at = Some(now);
        }
        if target != Completed {
            self.completed_at = None;
        }
        self.status = target;
        self.completion_percentage = pct;
        if let Some(s) = patch.score {
            self.score = Some(s);
        }
        if let Some(m) = patch.metadata {
            self.metadata = m;
        }
        self.updated_at = now;
        Ok(())
    }
}

string_enum!(
    /// Sort orders for listing progress (`?ordering=`; a leading `-` means descending).
    ProgressOrdering {
        /// Oldest first.
        CreatedAt => "created_at",
        /// Newest first.
        CreatedAtDesc => "-created_at",
        /// Least recently changed first.
        UpdatedAt => "updated_at",
        /// Most recently changed first (the default).
        UpdatedAtDesc => "-updated_at",
        /// Least complete first.
        Completion => "completion_percentage",
        /// Most complete first.
        CompletionDesc => "-completion_percentage",
        /// Lowest score first.
        Score => "score",
        /// Highest score first.
        ScoreDesc => "-score",
    }
);

#[allow(clippy::derivable_impls)] // the enum is declared by string_enum!, which has no #[default]
impl Default for ProgressOrdering {
    fn default() -> Self {
        ProgressOrdering::UpdatedAtDesc
    }
}

impl ProgressOrdering {
    /// The SQL `ORDER BY` clause (column names are fixed, never from input); ties break by id.
    pub fn sql(&self) -> &'static str {
        match self {
            ProgressOrdering::CreatedAt => "created_at ASC, id ASC",
            ProgressOrdering::CreatedAtDesc => "created_at DESC, id DESC",
            ProgressOrdering::UpdatedAt => "updated_at ASC, id ASC",
            ProgressOrdering::UpdatedAtDesc => "updated_at DESC, id DESC",
            ProgressOrdering::Completion => "completion_percentage ASC, id ASC",
            ProgressOrdering::CompletionDesc => "completion_percentage DESC, id DESC",
            ProgressOrdering::Score => "score ASC NULLS FIRST, id ASC",
            ProgressOrdering::ScoreDesc => "score DESC NULLS LAST, id DESC",
        }
    }
}

/// How many learners started and finished one catalog item (measured from the progress
/// rows of every learner): what a "popular" claim rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentPopularity {
    /// The item's public key.
    pub content_id: String,
    /// Learners past `not_started` on it (in progress, paused or completed).
    pub started: u64,
    /// Learners who completed it.
    pub completed: u64,
}

/// Filters for listing progress; always scoped to one learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressFilter {
    /// Whose rows.
    pub user_id: UserId,
    /// Only this kind.
    pub content_type: Option<ContentType>,
    /// Only this status.
    pub status: Option<ProgressStatus>,
    /// Case-insensitive substring of the content id.
    pub search: Option<String>,
    /// Sort order.
    pub ordering: ProgressOrdering,
}

impl ProgressFilter {
    /// All rows of one learner, most recently changed first.
    pub fn for_user(user_id: UserId) -> Self {
        Self {
            user_id,
            content_type: None,
            status: None,
            search: None,
            ordering: ProgressOrdering::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn new(status: Option<ProgressStatus>, pct: Option<f64>) -> crate::Result<Progress> {
        Progress::new(
            ProgressId(uuid::Uuid::nil()),
            UserId(uuid::Uuid::nil()),
            NewProgress {
                content_id: "lab-1".into(),
                content_type: ContentType::Lab,
                status,
                completion_percentage: pct,
                score: None,
                metadata: None,
            },
            t0(),
        )
    }

    #[test]
    fn defaults_and_derived_status() {
        let p = new(None, None).unwrap();
        assert_eq!(
            (p.status, p.completion_percentage, p.started_at),
            (ProgressStatus::NotStarted, 0.0, None)
        );
        let p = new(None, Some(30.0)).unwrap();
        assert_eq!(p.status, ProgressStatus::InProgress);
        assert_eq!(p.started_at, Some(t0()));
        let p = new(None, Some(100.0)).unwrap();
        assert_eq!(p.status, ProgressStatus::Completed);
        assert_eq!(p.completed_at, Some(t0()));
        let p = new(Some(ProgressStatus::Completed), None).unwrap();
        assert_eq!(p.completion_percentage, 100.0);
    }

    #[test]
    fn rejects_inconsistent_input() {
        assert!(new(Some(ProgressStatus::Completed), Some(50.0)).is_err());
        assert!(new(Some(ProgressStatus::NotStarted), Some(10.0)).is_err());
        assert!(new(Some(ProgressStatus::InProgress), Some(100.0)).is_err());
        assert_eq!(
            new(Some(ProgressStatus::Paused), None).unwrap_err().kind(),
            crate::ErrorKind::Conflict
        );
        for bad in [-1.0, 100.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                new(None, Some(bad)).unwrap_err().kind(),
                crate::ErrorKind::Validation
            );
        }
    }

    #[test]
    fn transitions_set_and_clear_timestamps() {
        let mut p = new(Some(ProgressStatus::InProgress), Some(10.0)).unwrap();
        let later = t0() + Duration::hours(2);
        p.apply(
            &ProgressPatch {
                completion_percentage: Some(100.0),
                ..Default::default()
            },
            later,
        )
        .unwrap();
        assert_eq!(p.status, ProgressStatus::Completed);
        assert_eq!(p.started_at, Some(t0()));
        assert_eq!(p.completed_at, Some(later));
        let before = p.clone();
        let err = p.apply(
            &ProgressPatch {
                status: Some(ProgressStatus::NotStarted),
                ..Default::default()
            },
            later,
        );
        assert!(err.is_err());
        assert_eq!(p, before, "a rejected change leaves the row as it was");
        let err = p.apply(
            &ProgressPatch {
                status: Some(ProgressStatus::InProgress),
                ..Default::default()
            },
            later,
        );
        assert!(err.is_err(), "reopening needs a percentage below 100");
        p.apply(
            &ProgressPatch {
                status: Some(ProgressStatus::InProgress),
                completion_percentage: Some(80.0),
                ..Default::default()
            },
            later,
        )
        .unwrap();
        assert_eq!(p.completed_at, None);
        let bad_meta = ProgressPatch {
            metadata: Some(serde_json::json!([1, 2])),
            ..Default::default()
        };
        assert!(p.apply(&bad_meta, later).is_err());
        let big = ProgressPatch {
            metadata: Some(serde_json::json!({"x": "y".repeat(MAX_METADATA_BYTES)})),
            ..Default::default()
        };
        assert!(p.apply(&big, later).is_err());
    }
}
