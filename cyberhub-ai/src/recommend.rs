//! Semantic search and recommendations over the catalog index.
//!
//! Recommendations (ARCHITECTURE's flow): the learner's profile is the weighted mean of
//! the vectors of what they finished (weight 1 + half the score) and are working on
//! (0.6); the vector store returns the `2 × limit` nearest items, completed ones excluded
//! by a filter; each candidate is re-ranked by similarity plus the learner's track and
//! content-type preference, personality track fit and a bonus for continuing in-progress
//! work, then picked greedily with a small penalty per item already picked from the same
//! track or kind (diversity). Every pick carries a reason naming what it builds on. A
//! learner with no history gets beginner-friendly starters across tracks (cold start).

use crate::catalog::{CatalogHit, CatalogIndex};
use crate::error::{AiError, Result};
use crate::history::{track_shares, HistoryEntry};
use cyberhub_domain::api_ai::{Recommendation, SearchHit};
use cyberhub_domain::{ContentPopularity, ContentType, Difficulty, Track};
use cyberhub_vector::{Condition, Filter, KeywordField, SearchRequest};
use std::collections::{HashMap, HashSet};

/// Most results one search or recommendation call returns.
pub const MAX_RESULTS: usize = 50;

/// Re-ranking weights (documented so that results can be explained).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankWeights {
    /// × the learner's share of activity in the item's track.
    pub track_preference: f32,
    /// × the personality fit of the item's track.
    pub personality_fit: f32,
    /// × the learner's share of activity in the item's content type.
    pub type_preference: f32,
    /// Added for an item the learner has in progress.
    pub continuation: f32,
    /// Subtracted per already-picked item of the same track, and again per same kind.
    pub diversity_penalty: f32,
    /// × a cold-start candidate's popularity (learners who started it plus those who
    /// finished it, relative to the most popular item).
    pub popularity: f32,
}

impl Default for RankWeights {
    fn default() -> Self {
        Self {
            track_preference: 0.15,
            personality_fit: 0.10,
            type_preference: 0.05,
            continuation: 0.15,
            diversity_penalty: 0.02,
            popularity: 0.15,
        }
    }
}

/// A candidate with its ranking score.
type Scored = (f32, CatalogHit);

/// Recommendations and whether they are cold-start starters.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendations {
    /// Best first.
    pub items: Vec<Recommendation>,
    /// No usable history: these are starters.
    pub cold_start: bool,
}

/// Search and recommendations over a [`CatalogIndex`].
#[derive(Debug, Clone)]
pub struct Recommender {
    index: CatalogIndex,
    weights: RankWeights,
    /// Embeddings of the per-track starter queries (in `Track::ALL` order), computed once.
    starters: std::sync::Arc<tokio::sync::OnceCell<Vec<Vec<f32>>>>,
}

fn check_limit(limit: usize) -> Result<usize> {
    if limit == 0 || limit > MAX_RESULTS {
        return Err(AiError::invalid(format!(
            "limit must be between 1 and {MAX_RESULTS}"
        )));
    }
    Ok(limit)
}

fn eq(field: KeywordField, value: &str) -> Condition {
    Condition::Eq(field, value.to_owned())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn track_phrase(t: Track) -> &'static str {
    match t {
        Track::Defender => "defensive security: monitoring, detection, incident response",
        Track::Offensive => "offensive security: penetration testing and ethical hacking",
        Track::Grc => "governance, risk management and compliance",
        Track::Innovation => "security research, AI security and new technology",
        Track::Leadership => "security leadership, management and communication",
    }
}

impl Recommender {
    /// Over `index`, with the default weights.
    pub fn new(index: CatalogIndex) -> Self {
        Self {
            index,
            weights: RankWeights::default(),
            starters: Default::default(),
        }
    }

    /// With other re-ranking weights.
    pub fn with_weights(mut self, weights: RankWeights) -> Self {
        self.weights = weights;
        self
    }

    /// The underlying index.
    pub fn index(&self) -> &CatalogIndex {
        &self.index
    }

    async fn nearest(
        &self,
        vector: Vec<f32>,
        limit: usize,
        filter: Filter,
    ) -> Result<Vec<CatalogHit>> {
        let mut req = SearchRequest::new(vector, limit);
        if !filter.is_empty() {
            req = req.with_filter(filter);
        }
        let hits = self
            .index
            .vectors()
            .search(self.index.collection(), &req)
            .await?;
        Ok(hits.iter().filter_map(CatalogHit::from_scored).collect())
    }

    /// Items closest in meaning to `query`, optionally of one kind or track.
    pub async fn search(
        &self,
        query: &str,
        content_type: Option<ContentType>,
        track: Option<Track>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let limit = check_limit(limit)?;
        let query = query.trim();
        if query.is_empty() || query.chars().count() > 1000 {
            return Err(AiError::invalid("query must be 1-1000 characters"));
        }
        let mut filter = Filter::new();
        if let Some(t) = content_type {
            filter = filter.must(eq(KeywordField::ContentType, t.as_str()));
        }
        if let Some(t) = track {
            filter = filter.must(eq(KeywordField::Track, t.as_str()));
        }
        let vector = self.index.embed_one(query).await?;
        Ok(self
            .nearest(vector, limit, filter)
            .await?
            .into_iter()
            .map(|h| SearchHit {
                content_id: h.content_id,
                content_type: h.content_type,
                title: h.title,
                description: h.description,
                track: h.track,
                score: h.similarity,
            })
            .collect())
    }

    /// Up to `limit` recommendations for a learner with `history`; `fit` is the
    /// personality track fit (0–1 per track; empty when unknown). Cold-start picks are not
    /// ranked by popularity here: see [`Recommender::recommend_with`].
    pub async fn recommend(
        &self,
        history: &[HistoryEntry],
        fit: &[(Track, f64)],
        content_type: Option<ContentType>,
        limit: usize,
    ) -> Result<Recommendations> {
        self.recommend_with(history, fit, &[], content_type, limit)
            .await
    }

    /// [`Recommender::recommend`] with the catalog's measured popularity (learners who
    /// started and completed each item, from every learner's progress): cold-start picks
    /// blend it with the beginner-first rule, and a reason says "popular" only for an item
    /// whose numbers it then quotes.
    pub async fn recommend_with(
        &self,
        history: &[HistoryEntry],
        fit: &[(Track, f64)],
        popularity: &[ContentPopularity],
        content_type: Option<ContentType>,
        limit: usize,
    ) -> Result<Recommendations> {
        let limit = check_limit(limit)?;
        let started: Vec<&HistoryEntry> = history.iter().filter(|h| h.is_started()).collect();
        // Vectors of the learner's items (newest 200); items not indexed yet are skipped.
        let mut recent = started.clone();
        recent.sort_by_key(|h| std::cmp::Reverse(h.updated_at));
        recent.truncate(200);
        let mut known: Vec<(&HistoryEntry, Vec<f32>)> = Vec::new();
        let mut profile = vec![0.0_f32; self.index.embedder().dimension()];
        let mut stored = self
            .index
            .vectors_of(&recent.iter().map(|h| h.point).collect::<Vec<_>>())
            .await?;
        for h in recent {
            if let Some(v) = stored.remove(&h.point) {
                let w = if h.is_completed() {
                    1.0 + 0.5 * (h.score.unwrap_or(0.0) / 100.0) as f32
                } else {
                    0.6
                };
                for (p, x) in profile.iter_mut().zip(&v) {
                    *p += w * x;
                }
                known.push((h, v));
            }
        }
        if known.is_empty() {
            return self
                .cold_start(history, fit, popularity, content_type, limit)
                .await;
        }
        crate::normalize(&mut profile);

        let completed_all: HashSet<&str> = history
            .iter()
            .filter(|h| h.is_completed())
            .map(|h| h.content_id.as_str())
            .collect();
        // The filter carries up to 1,000 ids (the vector store's limit); the rest are
        // dropped after the search, so completed items never come back either way.
        let completed: Vec<String> = completed_all
            .iter()
            .take(1000)
            .map(|s| (*s).to_owned())
            .collect();
        let mut filter = Filter::new();
        if !completed.is_empty() {
            filter = filter.must_not(Condition::In(KeywordField::ContentId, completed));
        }
        if let Some(t) = content_type {
            filter = filter.must(eq(KeywordField::ContentType, t.as_str()));
        }
        let k = (2 * limit).max(limit + 10).min(4 * MAX_RESULTS);
        let mut candidates = self.nearest(profile, k, filter).await?;
        candidates.retain(|c| !completed_all.contains(c.content_id.as_str()));

        let shares: HashMap<Track, f64> = track_shares(history).into_iter().collect();
        let strongest = shares
            .iter()
            .filter(|(_, s)| **s > 0.0)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(t, _)| *t);
        let fits: HashMap<Track, f64> = fit.iter().copied().collect();
        let best_fit = fit
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| *t);
        let mut type_counts: HashMap<ContentType, f64> = HashMap::new();
        for h in &started {
            *type_counts.entry(h.content_type).or_default() += 1.0;
        }
        let n_started = started.len().max(1) as f64;
        let active: HashMap<&str, &HistoryEntry> = started
            .iter()
            .filter(|h| h.is_active())
            .map(|h| (h.content_id.as_str(), *h))
            .collect();

        let w = self.weights;
        let mut scored: Vec<(f32, CatalogHit)> = candidates
            .into_iter()
            .map(|c| {
                let track_bonus = c.track.map_or(0.0, |t| {
                    w.track_preference * shares.get(&t).copied().unwrap_or(0.0) as f32
                        + w.personality_fit * fits.get(&t).copied().unwrap_or(0.0) as f32
                });
                let type_bonus = w.type_preference
                    * (type_counts.get(&c.content_type).copied().unwrap_or(0.0) / n_started) as f32;
                let cont = if active.contains_key(c.content_id.as_str()) {
                    w.continuation
                } else {
                    0.0
                };
                (c.similarity + track_bonus + type_bonus + cont, c)
            })
            .collect();

        // Greedy pick with the diversity penalty.
        let mut picked: Vec<(f32, CatalogHit)> = Vec::new();
        while picked.len() < limit && !scored.is_empty() {
            let adjusted = |(s, c): &(f32, CatalogHit)| {
                let same_track = picked
                    .iter()
                    .filter(|(_, p)| p.track.is_some() && p.track == c.track)
                    .count();
                let same_type = picked
                    .iter()
                    .filter(|(_, p)| p.content_type == c.content_type)
                    .count();
                s - w.diversity_penalty * (same_track + same_type) as f32
            };
            let Some(best) = (0..scored.len()).max_by(|&a, &b| {
                let (x, y) = (scored.get(a), scored.get(b));
                match (x, y) {
                    (Some(x), Some(y)) => adjusted(x).total_cmp(&adjusted(y)),
                    _ => std::cmp::Ordering::Equal,
                }
            }) else {
                break;
            };
            let item = scored.swap_remove(best);
            let s = adjusted(&item);
            picked.push((s, item.1));
        }

        let picked_vectors = self
            .index
            .vectors_of(&picked.iter().map(|(_, c)| c.point).collect::<Vec<_>>())
            .await?;
        let mut items = Vec::with_capacity(picked.len());
        for (score, c) in picked {
            let reason = match active.get(c.content_id.as_str()) {
                Some(h) => format!(
                    "continues your in-progress '{}' ({:.0}% done)",
                    h.title, h.completion
                ),
                None => {
                    let v = picked_vectors
                        .get(&c.point)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let closest = |want_completed: bool| {
                        known
                            .iter()
                            .filter(|(h, _)| h.is_completed() == want_completed)
                            .map(|(h, hv)| (dot(v, hv), *h))
                            .max_by(|a, b| a.0.total_cmp(&b.0))
                    };
                    match (closest(true), closest(false)) {
                        (Some((_, h)), _) => format!("similar to completed '{}'", h.title),
                        (None, Some((_, h))) => {
                            format!("related to your in-progress '{}'", h.title)
                        }
                        (None, None) => "close to your learning history".to_owned(),
                    }
                }
            };
            let reason = match c.track {
                Some(t) if Some(t) == strongest => {
                    format!("{reason}; fits your strongest track ({t})")
                }
                Some(t) if Some(t) == best_fit => {
                    format!(
                        "{reason}; in {t}, your best-fitting track per your personality analysis"
                    )
                }
                _ => reason,
            };
            items.push(to_recommendation(c, score, reason));
        }
        Ok(Recommendations {
            items,
            cold_start: false,
        })
    }

    /// Starters for a learner without usable history: beginner-friendly items closest to
    /// each track's introduction, lifted by how many learners started and finished them,
    /// tracks in personality-fit order, taken in turn.
    async fn cold_start(
        &self,
        history: &[HistoryEntry],
        fit: &[(Track, f64)],
        popularity: &[ContentPopularity],
        content_type: Option<ContentType>,
        limit: usize,
    ) -> Result<Recommendations> {
        // Completions count twice: finishing says more than starting.
        let pull = |p: &ContentPopularity| p.started + p.completed;
        let most = popularity.iter().map(pull).max().unwrap_or(0).max(1);
        let popular: HashMap<&str, &ContentPopularity> = popularity
            .iter()
            .filter(|p| p.started > 0)
            .map(|p| (p.content_id.as_str(), p))
            .collect();
        let mut tracks: Vec<(Track, f64)> = Track::ALL
            .iter()
            .map(|t| {
                let f = fit.iter().find(|(x, _)| x == t).map_or(0.0, |(_, s)| *s);
                (*t, f)
            })
            .collect();
        tracks.sort_by(|a, b| b.1.total_cmp(&a.1)); // stable: ties keep the catalog order
        let starters = self
            .starters
            .get_or_try_init(|| async {
                let texts: Vec<String> = Track::ALL
                    .iter()
                    .map(|t| {
                        format!(
                            "An introduction for beginners: the fundamentals and first steps of {}",
                            track_phrase(*t)
                        )
                    })
                    .collect();
                self.index.embedder().embed(&texts).await
            })
            .await?;
        let queries: Vec<Vec<f32>> = tracks
            .iter()
            .map(|(t, _)| {
                Track::ALL
                    .iter()
                    .position(|x| x == t)
                    .and_then(|i| starters.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let exclude: HashSet<&str> = history.iter().map(|h| h.content_id.as_str()).collect();
        let mut per_track: Vec<(Track, Vec<Scored>)> = Vec::new();
        for ((track, _), q) in tracks.iter().zip(queries) {
            let mut filter = Filter::new().must(eq(KeywordField::Track, track.as_str()));
            if let Some(t) = content_type {
                filter = filter.must(eq(KeywordField::ContentType, t.as_str()));
            }
            let mut hits: Vec<(f32, CatalogHit)> = self
                .nearest(q, limit + exclude.len().min(20), filter)
                .await?
                .into_iter()
                .filter(|h| !exclude.contains(h.content_id.as_str()))
                .map(|h| {
                    let bonus = match h.difficulty {
                        Some(Difficulty::Beginner) => 0.2,
                        Some(Difficulty::Intermediate) => 0.05,
                        _ => 0.0,
                    };
                    let lift = popular.get(h.content_id.as_str()).map_or(0.0, |p| {
                        self.weights.popularity * pull(p) as f32 / most as f32
                    });
                    (h.similarity + bonus + lift, h)
                })
                .collect();
            hits.sort_by(|a, b| b.0.total_cmp(&a.0));
            hits.reverse(); // pop() takes the best
            per_track.push((*track, hits));
        }
        let best_fit = tracks.first().filter(|(_, f)| *f > 0.0).map(|(t, _)| *t);
        let mut items = Vec::new();
        while items.len() < limit && per_track.iter().any(|(_, h)| !h.is_empty()) {
            for (track, hits) in per_track.iter_mut() {
                if items.len() >= limit {
                    break;
                }
                if let Some((score, hit)) = hits.pop() {
                    let level = hit
                        .difficulty
                        .map(|d| format!(" ({d} level)"))
                        .unwrap_or_default();
                    let reason = match (Some(*track) == best_fit, popular.get(hit.content_id.as_str())) {
                        (true, _) => format!("a starter in {track}, your best-fitting track per your personality analysis{level}"),
                        (false, Some(p)) => format!(
                            "popular starter in the {track} track: {} learner{} started it, {} finished{level}",
                            p.started,
                            if p.started == 1 { "" } else { "s" },
                            p.completed
                        ),
                        (false, None) => format!("a starter for newcomers in the {track} track{level}"),
                    };
                    items.push(to_recommendation(hit, score, reason));
                }
            }
        }
        Ok(Recommendations {
            items,
            cold_start: true,
        })
    }
}

fn to_recommendation(c: CatalogHit, score: f32, reason: String) -> Recommendation {
    Recommendation {
        content_id: c.content_id,
        content_type: c.content_type,
        title: c.title,
        description: c.description,
        track: c.track,
        score,
        reason,
    }
}
