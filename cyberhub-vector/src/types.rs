//! The data a vector store holds and the questions it answers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A point's identifier (Qdrant accepts UUIDs natively; the other backends store them as-is).
pub type PointId = Uuid;

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Cosine similarity. Vectors are stored normalised to unit length; score = cosine, higher is closer.
    Cosine,
    /// Dot product. Score = dot product, higher is closer.
    Dot,
    /// Euclidean distance. Score = the distance, **lower** is closer.
    L2,
}

impl Distance {
    /// The name used in URLs, configuration and storage (`cosine`, `dot`, `l2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Dot => "dot",
            Self::L2 => "l2",
        }
    }

    /// Parses [`Distance::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cosine" => Some(Self::Cosine),
            "dot" => Some(Self::Dot),
            "l2" => Some(Self::L2),
            _ => None,
        }
    }

    /// Whether a higher score means closer (false only for L2).
    pub fn higher_is_closer(self) -> bool {
        !matches!(self, Self::L2)
    }
}

/// A collection's fixed shape: every vector in it has `dimension` components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSpec {
    /// `[a-z0-9_]`, 1–48 characters, starting with a letter.
    pub name: String,
    /// Number of components, 1–4096.
    pub dimension: usize,
    /// How vectors are compared.
    pub distance: Distance,
}

impl CollectionSpec {
    /// A spec for `name` with `dimension` and `distance`.
    pub fn new(name: impl Into<String>, dimension: usize, distance: Distance) -> Self {
        Self {
            name: name.into(),
            dimension,
            distance,
        }
    }
}

/// What a point carries besides its vector. The keyword fields can be filtered on
/// (see [`Filter`]); `extra` is any JSON object, stored and returned as-is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The content item's id (`content_id` or uuid), when the point is a content item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Content type (`course`, `lab`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Learning track (`offensive`, `defensive`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// Tags; a tag condition matches when any tag matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Anything else, as a JSON object.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Payload {
    /// The values of a keyword field (none, one, or the tags).
    pub fn values(&self, field: KeywordField) -> &[String] {
        match field {
            KeywordField::ContentId => self.content_id.as_slice(),
            KeywordField::ContentType => self.content_type.as_slice(),
            KeywordField::Track => self.track.as_slice(),
            KeywordField::Tag => &self.tags,
        }
    }
}

/// A vector with its id and payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Unique within the collection; upserting an existing id replaces the point.
    pub id: PointId,
    /// Exactly the collection's dimension, finite components.
    pub vector: Vec<f32>,
    /// Filterable fields and extra JSON.
    pub payload: Payload,
}

impl Point {
    /// A point with a payload.
    pub fn new(id: PointId, vector: Vec<f32>, payload: Payload) -> Self {
        Self {
            id,
            vector,
            payload,
        }
    }
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPoint {
    /// The point's id.
    pub id: PointId,
    /// Cosine similarity, dot product, or Euclidean distance (see [`Distance`]).
    pub score: f32,
    /// The point's payload.
    pub payload: Payload,
}

/// A payload field that filters can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordField {
    /// [`Payload::content_id`].
    ContentId,
    /// [`Payload::content_type`].
    ContentType,
    /// [`Payload::track`].
    Track,
    /// Any of [`Payload::tags`].
    Tag,
}

impl KeywordField {
    /// Every field, for backends that index them all.
    pub const ALL: [KeywordField; 4] = [Self::ContentId, Self::ContentType, Self::Track, Self::Tag];

    /// The payload key (also the column / Qdrant payload key).
    pub fn key(self) -> &'static str {
        match self {
            Self::ContentId => "content_id",
            Self::ContentType => "content_type",
            Self::Track => "track",
            Self::Tag => "tags",
        }
    }
}

/// One test on a keyword field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The field equals the value (for tags: some tag equals it).
    Eq(KeywordField, String),
    /// The field equals one of the values (for tags: some tag is among them).
    In(KeywordField, Vec<String>),
}

impl Condition {
    /// Whether a payload satisfies this condition.
    pub fn matches(&self, payload: &Payload) -> bool {
        match self {
            Self::Eq(field, value) => payload.values(*field).iter().any(|v| v == value),
            Self::In(field, values) => payload
                .values(*field)
                .iter()
                .any(|v| values.iter().any(|w| w == v)),
        }
    }

    /// The field tested.
    pub fn field(&self) -> KeywordField {
        match self {
            Self::Eq(f, _) | Self::In(f, _) => *f,
        }
    }

    /// The values accepted (one for `Eq`).
    pub fn values(&self) -> &[String] {
        match self {
            Self::Eq(_, v) => std::slice::from_ref(v),
            Self::In(_, v) => v,
        }
    }
}

/// Payload filter: every `must` condition holds and no `must_not` condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// All of these must match.
    #[serde(default)]
    pub must: Vec<Condition>,
    /// None of these may match.
    #[serde(default)]
    pub must_not: Vec<Condition>,
}

impl Filter {
    /// A filter with no conditions (matches everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `must` condition.
    pub fn must(mut self, condition: Condition) -> Self {
        self.must.push(condition);
        self
    }

    /// Adds a `must_not` condition.
    pub fn must_not(mut self, condition: Condition) -> Self {
        self.must_not.push(condition);
        self
    }

    /// Whether the filter has no conditions.
    pub fn is_empty(&self) -> bool {
        self.must.is_empty() && self.must_not.is_empty()
    }

    /// Whether a payload passes the filter.
    pub fn matches(&self, payload: &Payload) -> bool {
        self.must.iter().all(|c| c.matches(payload))
            && !self.must_not.iter().any(|c| c.matches(payload))
    }
}

/// A top-k query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The query vector (collection dimension, finite).
    pub vector: Vec<f32>,
    /// How many hits at most, 1–1000.
    pub limit: usize,
    /// Only points passing this filter.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Search breadth for approximate indexes (higher: better recall, slower); backend default when unset.
    #[serde(default)]
    pub ef: Option<usize>,
    /// Force an exact (brute-force) search.
    #[serde(default)]
    pub exact: bool,
}

impl SearchRequest {
    /// Top `limit` neighbours of `vector`, no filter.
    pub fn new(vector: Vec<f32>, limit: usize) -> Self {
        Self {
            vector,
            limit,
            filter: None,
            ef: None,
            exact: false,
        }
    }

    /// Restricts the hits to points passing `filter`.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets the approximate search breadth.
    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    /// Asks for an exact search.
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }
}
