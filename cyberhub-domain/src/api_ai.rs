//! Request and response bodies of the AI routes (`/embeddings`, `/search`,
//! `/recommendations`, `/personality`), shared by the server, the AI crate and the SDK.

use crate::{ContentType, Track, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use poem_openapi::Object;

/// `POST /embeddings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct EmbeddingsRequest {
    /// Texts to embed (1–256, each at most 8 KiB of UTF-8).
    pub texts: Vec<String>,
}

/// One embedded text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Embedding {
    /// The input text.
    pub text: String,
    /// Its unit-length embedding.
    pub embedding: Vec<f32>,
}

/// `POST /embeddings` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct EmbeddingsResponse {
    /// One per input text, in order.
    pub embeddings: Vec<Embedding>,
    /// The model's id.
    pub model: String,
    /// Vector length.
    pub dimension: u32,
}

/// `POST /search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct SearchRequest {
    /// What to look for, in plain words (1–1000 characters).
    pub query: String,
    /// Only this kind of content.
    #[serde(default)]
    pub content_type: Option<ContentType>,
    /// Only this track.
    #[serde(default)]
    pub track: Option<Track>,
    /// How many results (1–50, default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct SearchHit {
    /// Public content key.
    pub content_id: String,
    /// Kind.
    pub content_type: ContentType,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Track, if any.
    #[serde(default)]
    pub track: Option<Track>,
    /// Cosine similarity to the query (higher is closer).
    pub score: f32,
}

/// `POST /search` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct SearchResponse {
    /// The query as given.
    pub query: String,
    /// Hits, best first.
    pub results: Vec<SearchHit>,
    /// `results.len()`.
    pub total: u32,
}

/// `POST /recommendations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct RecommendationRequest {
    /// Whose recommendations.
    pub user_id: UserId,
    /// Only this kind of content.
    #[serde(default)]
    pub content_type: Option<ContentType>,
    /// How many (1–50, default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Recommendation {
    /// Public content key.
    pub content_id: String,
    /// Kind.
    pub content_type: ContentType,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Track, if any.
    #[serde(default)]
    pub track: Option<Track>,
    /// Ranking score (higher is better; comparable within one answer only).
    pub score: f32,
    /// Why it is recommended, in plain words.
    pub reason: String,
}

/// Recommendations answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct RecommendationResponse {
    /// Whose recommendations.
    pub user_id: UserId,
    /// Best first.
    pub recommendations: Vec<Recommendation>,
    /// `recommendations.len()`.
    pub total: u32,
    /// `true` when the learner has no history yet and these are starters.
    pub cold_start: bool,
}

/// One questionnaire option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct QuestionOption {
    /// Option id (unique within its question).
    pub id: String,
    /// What the learner sees.
    pub text: String,
}

/// One questionnaire item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Question {
    /// Question id.
    pub id: String,
    /// The question.
    pub text: String,
    /// Its options (pick one).
    pub options: Vec<QuestionOption>,
}

/// `GET /personality/questionnaire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Questionnaire {
    /// Questionnaire version (answers are scored against it).
    pub version: String,
    /// The items.
    pub questions: Vec<Question>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Answer {
    /// Question id.
    pub question_id: String,
    /// Chosen option id.
    pub option_id: String,
}

/// `POST /personality/analyze`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object), oai(deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct PersonalityRequest {
    /// Whose analysis.
    pub user_id: UserId,
    /// Questionnaire answers (optional; each question at most once).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub answers: Vec<Answer>,
}

/// One learning trait, 0–1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Trait {
    /// `learning_style`, `persistence`, `performance`, `engagement` or `adaptability`.
    pub name: String,
    /// 0–1.
    pub score: f64,
    /// What the score says about this learner.
    pub description: String,
}

/// Fit with one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct TrackFit {
    /// The track.
    pub track: Track,
    /// 0–1, higher fits better.
    pub score: f64,
    /// 0–1: how much evidence backs the score.
    pub confidence: f64,
}

/// A personality analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct PersonalityAnalysis {
    /// Whose analysis.
    pub user_id: UserId,
    /// Traits from progress (empty when there is no progress).
    pub traits: Vec<Trait>,
    /// Track fit, best first (empty without progress or answers).
    pub track_fit: Vec<TrackFit>,
    /// A plain-words summary.
    pub summary: String,
    /// Suggestions that follow from the analysis.
    pub recommendations: Vec<String>,
    /// `false` when there was not enough data for an analysis.
    pub enough_data: bool,
    /// When it was made.
    pub analyzed_at: DateTime<Utc>,
}

/// `GET /index/status`: the catalog-indexing pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct IndexStatus {
    /// Outbox events not yet indexed.
    pub pending: u64,
    /// Vectors in the content collection.
    pub indexed: u64,
    /// Items in the catalog.
    pub catalog: u64,
    /// Vector store backend.
    pub vector_backend: String,
    /// Embedding model.
    pub model: String,
}
