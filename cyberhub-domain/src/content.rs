//! The learning-content catalog.

use crate::ids::ContentUuid;
use crate::validation::{normalize_opt, Validate, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Kinds of learning content.
    ContentType {
        /// A structured course.
        Course => "course",
        /// One module of a course.
        Module => "module",
        /// A hands-on lab.
        Lab => "lab",
        /// A scenario-based mission.
        Mission => "mission",
        /// A written article.
        Article => "article",
        /// A video.
        Video => "video",
        /// A graded assessment.
        Assessment => "assessment",
        /// A capture-the-flag style challenge.
        Challenge => "challenge",
    }
);

string_enum!(
    /// The five learning tracks.
    Track {
        /// Blue team: detection, response, hardening.
        Defender => "defender",
        /// Red team: penetration testing, exploitation.
        Offensive => "offensive",
        /// Governance, risk and compliance.
        Grc => "grc",
        /// Research, AI security, new technology.
        Innovation => "innovation",
        /// Security leadership and management.
        Leadership => "leadership",
    }
);

string_enum!(
    /// How hard an item is.
    Difficulty {
        /// No prior knowledge needed.
        Beginner => "beginner",
        /// Some experience.
        Intermediate => "intermediate",
        /// Solid experience.
        Advanced => "advanced",
        /// Specialists.
        Expert => "expert",
    }
);

/// A catalog item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ContentItem {
    /// Internal id.
    pub id: ContentUuid,
    /// Public key, unique: lower-case letters, digits, `.`, `_`, `-`; 1–100 characters.
    pub content_id: String,
    /// Kind.
    pub content_type: ContentType,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Track.
    pub track: Option<Track>,
    /// Difficulty.
    pub difficulty: Option<Difficulty>,
    /// Tags (lower-case).
    pub tags: Vec<String>,
    /// Expected effort.
    pub estimated_minutes: Option<u32>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ContentItem {
    /// A new item from validated input; `content_id` defaults to `"{type}-{id}"`.
    pub fn new(id: ContentUuid, new: NewContent, now: DateTime<Utc>) -> Self {
        let content_id = new
            .content_id
            .unwrap_or_else(|| format!("{}-{}", new.content_type.as_str(), id.0.simple()));
        Self {
            id,
            content_id,
            content_type: new.content_type,
            title: new.title,
            description: new.description,
            track: new.track,
            difficulty: new.difficulty,
            tags: new.tags,
            estimated_minutes: new.estimated_minutes,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies a validated patch.
    pub fn apply(&mut self, patch: &ContentPatch, now: DateTime<Utc>) {
        if let Some(v) = patch.content_type {
            self.content_type = v;
        }
        if let Some(v) = &patch.title {
            self.title.clone_from(v);
        }
        if let Some(v) = &patch.description {
            self.description.clone_from(v);
        }
        if let Some(v) = patch.track {
            self.track = Some(v);
        }
        if let Some(v) = patch.difficulty {
            self.difficulty = Some(v);
        }
        if let Some(v) = &patch.tags {
            self.tags.clone_from(v);
        }
        if let Some(v) = patch.estimated_minutes {
            self.estimated_minutes = Some(v);
        }
        self.updated_at = now;
    }

    /// The text embedded for semantic search: title, description, track and tags.
    pub fn embedding_text(&self) -> String {
        let mut s = format!("{}. {}", self.title, self.description);
        if let Some(t) = self.track {
            s.push_str(&format!(" Track: {t}."));
        }
        if !self.tags.is_empty() {
            s.push_str(&format!(" Topics: {}.", self.tags.join(", ")));
        }
        s
    }
}

fn check_content_id(errs: &mut ValidationErrors, id: &str) {
    let ok = (1..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        errs.add("content_id", "Use 1-100 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.");
    }
}

fn normalize_tags(errs: &mut ValidationErrors, tags: &mut Vec<String>) {
    // Counted as sent (before de-duplication), as the OpenAPI document's `maxItems` says.
    if tags.len() > 20 {
        errs.add("tags", "At most 20 tags.");
        return;
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags.iter() {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.chars().count() > 40 || t.chars().any(char::is_control) {
            errs.add("tags", "Each tag must be 1-40 characters.");
            return;
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    *tags = out;
}

fn check_minutes(errs: &mut ValidationErrors, m: Option<u32>) {
    if let Some(m) = m {
        if !(1..=10_000).contains(&m) {
            errs.add("estimated_minutes", "Must be between 1 and 10000.");
        }
    }
}

impl Validate for ContentItem {
    fn validated(self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        check_content_id(&mut errs, &self.content_id);
        errs.check_len("title", &self.title, 1, 200);
        errs.check_len("description", &self.description, 0, 5000);
        check_minutes(&mut errs, self.estimated_minutes);
        errs.into_result(self)
    }
}

/// Input for a new catalog item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct NewContent {
    /// Public key; generated when absent.
    #[serde(default)]
    pub content_id: Option<String>,
    /// Kind.
    pub content_type: ContentType,
    /// Title (1–200 characters).
    pub title: String,
    /// Description (up to 5000 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub description: String,
    /// Track.
    #[serde(default)]
    pub track: Option<Track>,
    /// Difficulty.
    #[serde(default)]
    pub difficulty: Option<Difficulty>,
    /// Tags (at most 20, 1–40 characters each; lower-cased, de-duplicated).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub tags: Vec<String>,
    /// Expected effort in minutes (1–10000).
    #[serde(default)]
    pub estimated_minutes: Option<u32>,
}

impl Validate for NewContent {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        self.content_id = normalize_opt(self.content_id);
        if let Some(id) = &self.content_id {
            check_content_id(&mut errs, id);
        }
        self.title = self.title.trim().to_owned();
        self.description = self.description.trim().to_owned();
        errs.check_len("title", &self.title, 1, 200);
        errs.check_printable("title", &self.title, false);
        errs.check_len("description", &self.description, 0, 5000);
        errs.check_printable("description", &self.description, true);
        normalize_tags(&mut errs, &mut self.tags);
        check_minutes(&mut errs, self.estimated_minutes);
        errs.into_result(self)
    }
}

/// A change to a catalog item (the public `content_id` is permanent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct ContentPatch {
    /// Kind.
    pub content_type: Option<ContentType>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Track.
    pub track: Option<Track>,
    /// Difficulty.
    pub difficulty: Option<Difficulty>,
    /// Tags (replaced whole).
    pub tags: Option<Vec<String>>,
    /// Expected effort.
    pub estimated_minutes: Option<u32>,
}

impl Validate for ContentPatch {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        if let Some(t) = self.title.as_mut() {
            *t = t.trim().to_owned();
            errs.check_len("title", t, 1, 200);
            errs.check_printable("title", t, false);
        }
        if let Some(d) = self.description.as_mut() {
            *d = d.trim().to_owned();
            errs.check_len("description", d, 0, 5000);
            errs.check_printable("description", d, true);
        }
        if let Some(tags) = self.tags.as_mut() {
            normalize_tags(&mut errs, tags);
        }
        check_minutes(&mut errs, self.estimated_minutes);
        errs.into_result(self)
    }
}

/// Filters for listing the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentFilter {
    /// Only this kind.
    pub content_type: Option<ContentType>,
    /// Only this track.
    pub track: Option<Track>,
    /// Only this difficulty.
    pub difficulty: Option<Difficulty>,
    /// Case-insensitive substring of title, description or content id.
    pub search: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> NewContent {
        NewContent {
            content_id: None,
            content_type: ContentType::Lab,
            title: " Packet capture basics ".into(),
            description: "Use tcpdump.".into(),
            track: Some(Track::Defender),
            difficulty: Some(Difficulty::Beginner),
            tags: vec!["Network".into(), "network".into(), " pcap ".into()],
            estimated_minutes: Some(45),
        }
    }

    #[test]
    fn normalises_tags_and_generates_ids() {
        let v = new().validated().unwrap();
        assert_eq!(v.tags, ["network", "pcap"]);
        let item = ContentItem::new(
            ContentUuid(uuid::Uuid::nil()),
            v,
            DateTime::<Utc>::UNIX_EPOCH,
        );
        assert!(item.content_id.starts_with("lab-"));
        assert!(item.embedding_text().contains("Track: defender"));
    }

    #[test]
    fn rejects_bad_fields() {
        let e = NewContent {
            content_id: Some("Bad Id".into()),
            title: "".into(),
            estimated_minutes: Some(0),
            ..new()
        }
        .validated()
        .unwrap_err();
        let f: Vec<&str> = e.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(f, ["content_id", "title", "estimated_minutes"]);
        assert!("webinar".parse::<ContentType>().is_err());
    }
}
