//! Personality analysis: five learning traits from progress, and track fit from progress
//! plus the questionnaire. Pure computation; time comes in as a parameter.
//!
//! Traits (each 0–1):
//! - `learning_style`: share of hands-on items (labs, missions, challenges) among started ones;
//! - `persistence`: completed ÷ started;
//! - `performance`: mean score of graded items ÷ 100 (0.5 without graded work);
//! - `engagement`: volume (started items, saturating at 10) and recency (activity in the
//!   last 14 days);
//! - `adaptability`: breadth over tracks (of 5) and kinds of content (of 4).
//!
//! Track fit blends the questionnaire's per-track share with the share of the learner's
//! activity per track, each weighted by how much evidence it has; confidence grows with
//! questions answered and items started.

use crate::error::Result;
use crate::history::{is_hands_on, track_shares, HistoryEntry};
use crate::questionnaire::{question_count, score_answers};
use chrono::{DateTime, Utc};
use cyberhub_domain::api_ai::{Answer, PersonalityAnalysis, TrackFit, Trait};
use cyberhub_domain::{Track, UserId};
use std::collections::HashSet;

fn round(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

fn band<'a>(score: f64, low: &'a str, mid: &'a str, high: &'a str) -> &'a str {
    if score >= 0.67 {
        high
    } else if score >= 0.34 {
        mid
    } else {
        low
    }
}

fn traits(history: &[HistoryEntry], now: DateTime<Utc>) -> Vec<Trait> {
    let started: Vec<&HistoryEntry> = history.iter().filter(|h| h.is_started()).collect();
    if started.is_empty() {
        return Vec::new();
    }
    let n = started.len() as f64;
    let hands_on = started
        .iter()
        .filter(|h| is_hands_on(h.content_type))
        .count() as f64
        / n;
    let completed = started.iter().filter(|h| h.is_completed()).count() as f64;
    let persistence = completed / n;
    let scores: Vec<f64> = started.iter().filter_map(|h| h.score).collect();
    let performance = if scores.is_empty() {
        0.5
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64 / 100.0
    };
    let recent = started
        .iter()
        .filter(|h| now.signed_duration_since(h.updated_at) <= chrono::Duration::days(14))
        .count() as f64;
    let engagement = 0.7 * (n / 10.0).min(1.0) + 0.3 * (recent / n);
    let tracks: HashSet<Track> = started.iter().filter_map(|h| h.track).collect();
    let kinds: HashSet<_> = started.iter().map(|h| h.content_type).collect();
    let adaptability = 0.6 * tracks.len() as f64 / 5.0 + 0.4 * (kinds.len() as f64 / 4.0).min(1.0);
    let t = |name: &str, score: f64, description: String| Trait {
        name: name.into(),
        score: round(score),
        description,
    };
    vec![
        t(
            "learning_style",
            hands_on,
            band(
                hands_on,
                "Theory first: prefers courses, modules and reading before practice.",
                "Balanced: mixes reading with hands-on practice.",
                "Hands-on: learns best in labs, missions and challenges.",
            )
            .into(),
        ),
        t(
            "persistence",
            persistence,
            format!(
                "Finished {completed:.0} of {n:.0} started items. {}",
                band(
                    persistence,
                    "Starts more than finishes.",
                    "Finishes a fair share of what is started.",
                    "Sees things through."
                )
            ),
        ),
        t(
            "performance",
            performance,
            if scores.is_empty() {
                "No graded work yet (neutral score).".into()
            } else {
                format!(
                    "Average score {:.0}/100 over {} graded items.",
                    performance * 100.0,
                    scores.len()
                )
            },
        ),
        t(
            "engagement",
            engagement,
            format!(
                "{n:.0} items started, {recent:.0} touched in the last 14 days. {}",
                band(
                    engagement,
                    "Occasional learner.",
                    "Regular learner.",
                    "Highly engaged."
                )
            ),
        ),
        t(
            "adaptability",
            adaptability,
            format!(
                "Worked across {} of 5 tracks and {} kinds of content.",
                tracks.len(),
                kinds.len()
            ),
        ),
    ]
}

/// Analyses a learner from their history and optional questionnaire answers (validated:
/// unknown or repeated questions are `InvalidInput`). Without progress and answers the
/// result says there is not enough data (`enough_data == false`), which is not an error.
pub fn analyze(
    user_id: UserId,
    history: &[HistoryEntry],
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Result<PersonalityAnalysis> {
    let (answer_fit, answered) = score_answers(answers)?;
    let traits = traits(history, now);
    let started = history.iter().filter(|h| h.is_started()).count();
    if started == 0 && answered == 0 {
        return Ok(PersonalityAnalysis {
            user_id,
            traits: Vec::new(),
            track_fit: Vec::new(),
            summary: "Not enough data yet: record progress on a few items or answer the questionnaire (GET /api/v1/personality/questionnaire), then analyse again.".into(),
            recommendations: vec![
                "Answer the questionnaire to find the tracks that suit you.".into(),
                "Start one beginner item in any track; your recommendations will adapt.".into(),
            ],
            enough_data: false,
            analyzed_at: now,
        });
    }
    let q_weight = answered as f64 / question_count() as f64;
    let p_weight = 0.6 * (started as f64 / 10.0).min(1.0);
    let progress_fit = track_shares(history);
    let mut track_fit: Vec<TrackFit> = Track::ALL
        .iter()
        .map(|t| {
            let q = answer_fit
                .iter()
                .find(|(x, _)| x == t)
                .map_or(0.0, |(_, s)| *s);
            let p = progress_fit
                .iter()
                .find(|(x, _)| x == t)
                .map_or(0.0, |(_, s)| *s);
            let score = (q_weight * q + p_weight * p) / (q_weight + p_weight).max(f64::EPSILON);
            TrackFit {
                track: *t,
                score: round(score),
                confidence: round(0.8 * q_weight + 0.5 * (started as f64 / 10.0).min(1.0)),
            }
        })
        .collect();
    track_fit.sort_by(|a, b| b.score.total_cmp(&a.score));

    let mut summary = Vec::new();
    let mut recommendations = Vec::new();
    if let Some(best) = track_fit.first() {
        summary.push(format!(
            "Strongest fit: {} ({:.0}%, confidence {:.0}%).",
            best.track,
            best.score * 100.0,
            best.confidence * 100.0
        ));
        recommendations.push(format!(
            "Explore more of the {} track; your recommendations favour it.",
            best.track
        ));
    }
    for t in &traits {
        match t.name.as_str() {
            "learning_style" => summary.push(t.description.clone()),
            "persistence" if t.score < 0.34 => {
                recommendations.push("Finish an in-progress item before starting a new one.".into())
            }
            "performance" if t.score < 0.6 && t.description.starts_with("Average") => {
                recommendations.push("Revisit modules where your score was low.".into())
            }
            "adaptability" if t.score < 0.34 => recommendations
                .push("Try one item outside your usual track to broaden your skills.".into()),
            _ => {}
        }
    }
    if answered < question_count() {
        recommendations.push(format!(
            "Answer the remaining {} questionnaire items to sharpen your track fit.",
            question_count() - answered
        ));
    }
    Ok(PersonalityAnalysis {
        user_id,
        traits,
        track_fit,
        summary: summary.join(" "),
        recommendations,
        enough_data: true,
        analyzed_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cyberhub_domain::{ContentType, ProgressStatus};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn entry(
        track: Track,
        ty: ContentType,
        status: ProgressStatus,
        score: Option<f64>,
    ) -> HistoryEntry {
        HistoryEntry {
            point: uuid::Uuid::new_v4(),
            content_id: format!("c-{}", uuid::Uuid::new_v4().simple()),
            title: "t".into(),
            content_type: ty,
            track: Some(track),
            status,
            completion: if status == ProgressStatus::Completed {
                100.0
            } else {
                40.0
            },
            score,
            updated_at: now() - chrono::Duration::days(3),
        }
    }

    #[test]
    fn no_data_is_not_an_error() {
        let a = analyze(UserId(uuid::Uuid::nil()), &[], &[], now()).unwrap();
        assert!(!a.enough_data);
        assert!(a.traits.is_empty() && a.track_fit.is_empty());
        assert!(a.summary.contains("Not enough data"));
    }

    #[test]
    fn traits_follow_progress() {
        use ContentType::*;
        use ProgressStatus::*;
        let h = vec![
            entry(Track::Offensive, Lab, Completed, Some(90.0)),
            entry(Track::Offensive, Mission, Completed, Some(80.0)),
            entry(Track::Offensive, Challenge, InProgress, None),
            entry(Track::Defender, Course, Completed, None),
        ];
        let a = analyze(UserId(uuid::Uuid::nil()), &h, &[], now()).unwrap();
        let get = |n: &str| a.traits.iter().find(|t| t.name == n).unwrap().score;
        assert_eq!(get("learning_style"), 0.75);
        assert_eq!(get("persistence"), 0.75);
        assert_eq!(get("performance"), 0.85);
        assert!((get("engagement") - (0.7 * 0.4 + 0.3)).abs() < 1e-9);
        assert!((get("adaptability") - (0.6 * 2.0 / 5.0 + 0.4)).abs() < 1e-9);
        assert_eq!(a.track_fit[0].track, Track::Offensive);
        assert!(a.traits.iter().all(|t| (0.0..=1.0).contains(&t.score)));
    }
}
