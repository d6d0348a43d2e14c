//! User accounts, profiles and learning preferences.

use crate::content::{ContentType, Track};
use crate::ids::UserId;
use crate::role::Role;
use crate::validation::{
    check_country, check_email, check_language, check_timezone, normalize_opt, Validate,
    ValidationErrors,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Whether an account may sign in.
    AccountStatus {
        /// Normal.
        Active => "active",
        /// Temporarily blocked by an administrator.
        Suspended => "suspended",
        /// Closed.
        Deactivated => "deactivated",
    }
);

string_enum!(
    /// How a learner says they prefer to learn.
    LearningStyle {
        /// Videos and diagrams.
        Visual => "visual",
        /// Labs and missions.
        HandsOn => "hands_on",
        /// Articles and courses.
        Reading => "reading",
        /// A mix.
        Mixed => "mixed",
    }
);

/// What a learner wants to learn and how; used by recommendations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct LearningPreferences {
    /// Content types the learner prefers.
    #[cfg_attr(feature = "openapi", oai(default))]
    pub preferred_content_types: Vec<ContentType>,
    /// Tracks the learner is interested in.
    #[cfg_attr(feature = "openapi", oai(default))]
    pub preferred_tracks: Vec<Track>,
    /// Self-declared learning style.
    pub learning_style: Option<LearningStyle>,
    /// Minutes per week the learner plans to spend (1..=10080).
    pub weekly_goal_minutes: Option<u32>,
}

impl LearningPreferences {
    fn check(&self, errs: &mut ValidationErrors) {
        if self.preferred_content_types.len() > ContentType::ALL.len() {
            errs.add(
                "learning_preferences.preferred_content_types",
                "Too many entries.",
            );
        }
        if self.preferred_tracks.len() > Track::ALL.len() {
            errs.add("learning_preferences.preferred_tracks", "Too many entries.");
        }
        if let Some(m) = self.weekly_goal_minutes {
            if !(1..=10_080).contains(&m) {
                errs.add(
                    "learning_preferences.weekly_goal_minutes",
                    "Must be between 1 and 10080.",
                );
            }
        }
    }
}

/// A user account as stored (without credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Normalised (trimmed, lower-case) e-mail; unique.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Free-text profile.
    pub bio: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// BCP 47 language tag.
    pub language: Option<String>,
    /// Learning preferences.
    pub learning_preferences: LearningPreferences,
    /// Whether the account may sign in.
    pub status: AccountStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A new active account from validated sign-up data.
    pub fn new(id: UserId, new: NewUser, now: DateTime<Utc>) -> Self {
        Self {
            id,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            bio: None,
            country: new.country,
            timezone: new.timezone,
            language: new.language,
            learning_preferences: LearningPreferences::default(),
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies a validated patch, bumping `updated_at`.
    pub fn apply(&mut self, patch: &UserPatch, now: DateTime<Utc>) {
        if let Some(v) = &patch.first_name {
            self.first_name.clone_from(v);
        }
        if let Some(v) = &patch.last_name {
            self.last_name.clone_from(v);
        }
        if let Some(v) = &patch.bio {
            self.bio = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.country {
            self.country = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.timezone {
            self.timezone = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.language {
            self.language = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.learning_preferences {
            self.learning_preferences = v.clone();
        }
        if let Some(v) = patch.status {
            self.status = v;
        }
        self.updated_at = now;
    }
}

impl Validate for User {
    fn validated(self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        check_email(&mut errs, "email", &self.email);
        errs.check_len("first_name", &self.first_name, 1, 100);
        errs.check_len("last_name", &self.last_name, 1, 100);
        self.learning_preferences.check(&mut errs);
        errs.into_result(self)
    }
}

/// Sign-up data (`POST /auth/signup`, `POST /users`), without the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct NewUser {
    /// E-mail; trimmed and lower-cased by validation.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// BCP 47 language tag.
    #[serde(default)]
    pub language: Option<String>,
}

/// An e-mail address as it is stored: trimmed, lower-cased and checked; a bad one is a
/// validation error on `field`.
pub fn normalized_email(raw: &str, field: &str) -> crate::Result<String> {
    let email = raw.trim().to_lowercase();
    let mut errs = ValidationErrors::new();
    check_email(&mut errs, field, &email);
    errs.into_result(email)
}

impl Validate for NewUser {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        self.email = self.email.trim().to_lowercase();
        self.first_name = self.first_name.trim().to_owned();
        self.last_name = self.last_name.trim().to_owned();
        self.country = normalize_opt(self.country);
        self.timezone = normalize_opt(self.timezone);
        self.language = normalize_opt(self.language);
        check_email(&mut errs, "email", &self.email);
        errs.check_len("first_name", &self.first_name, 1, 100);
        errs.check_printable("first_name", &self.first_name, false);
        errs.check_len("last_name", &self.last_name, 1, 100);
        errs.check_printable("last_name", &self.last_name, false);
        check_country(&mut errs, "country", &mut self.country);
        check_timezone(&mut errs, "timezone", &self.timezone);
        check_language(&mut errs, "language", &self.language);
        errs.into_result(self)
    }
}

/// A change to a user. `None` leaves a field as it is; for the optional profile
/// fields `Some("")` clears them.
///
/// Profile fields are self-editable; `status` and `roles` are administrator-only, see
/// [`UserPatch::admin_only_fields`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPatch {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Free-text profile (at most 2000 characters).
    pub bio: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Time zone.
    pub timezone: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Learning preferences (replaced whole).
    pub learning_preferences: Option<LearningPreferences>,
    /// Account status (administrators only).
    pub status: Option<AccountStatus>,
}

impl UserPatch {
    /// Names of the fields set in this patch that only an administrator may change.
    pub fn admin_only_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.status.is_some() {
            v.push("status");
        }
        v
    }
}

impl Validate for UserPatch {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        if let Some(v) = self.first_name.as_mut() {
            *v = v.trim().to_owned();
            errs.check_len("first_name", v, 1, 100);
            errs.check_printable("first_name", v, false);
        }
        if let Some(v) = self.last_name.as_mut() {
            *v = v.trim().to_owned();
            errs.check_len("last_name", v, 1, 100);
            errs.check_printable("last_name", v, false);
        }
        if let Some(v) = self.bio.as_mut() {
            *v = v.trim().to_owned();
            errs.check_len("bio", v, 0, 2000);
            errs.check_printable("bio", v, true);
        }
        if let Some(v) = self.country.as_mut() {
            *v = v.trim().to_owned();
            if !v.is_empty() {
                let mut c = Some(v.clone());
                check_country(&mut errs, "country", &mut c);
                *v = c.unwrap_or_default();
            }
        }
        if let Some(v) = self.timezone.as_mut() {
            *v = v.trim().to_owned();
            if !v.is_empty() {
                check_timezone(&mut errs, "timezone", &Some(v.clone()));
            }
        }
        if let Some(v) = self.language.as_mut() {
            *v = v.trim().to_owned();
            if !v.is_empty() {
                check_language(&mut errs, "language", &Some(v.clone()));
            }
        }
        if let Some(p) = &self.learning_preferences {
            p.check(&mut errs);
        }
        errs.into_result(self)
    }
}

/// Filters for listing users (administrators).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Case-insensitive substring of e-mail, first or last name.
    pub search: Option<String>,
    /// Users holding this role (any scope).
    pub role: Option<Role>,
    /// Users with this status.
    pub status: Option<AccountStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_normalises_and_reports_every_field() {
        let err = NewUser {
            email: "nope".into(),
            first_name: "  ".into(),
            last_name: "x".repeat(101),
            country: Some("Germany".into()),
            timezone: Some("Mars/Olympus Mons".into()),
            language: Some("klingon-language-tag".into()),
        }
        .validated()
        .unwrap_err();
        let fields: Vec<&str> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "email",
                "first_name",
                "last_name",
                "country",
                "timezone",
                "language"
            ]
        );

        let ok = NewUser {
            email: "  Grace@Navy.MIL ".into(),
            first_name: " Grace ".into(),
            last_name: "Hopper".into(),
            country: Some("us".into()),
            timezone: Some("".into()),
            language: None,
        }
        .validated()
        .unwrap();
        assert_eq!(ok.email, "grace@navy.mil");
        assert_eq!(ok.first_name, "Grace");
        assert_eq!(ok.country.as_deref(), Some("US"));
        assert_eq!(ok.timezone, None);
    }

    #[test]
    fn patch_rules() {
        let p = UserPatch {
            status: Some(AccountStatus::Suspended),
            ..Default::default()
        };
        assert_eq!(p.admin_only_fields(), ["status"]);
        let bad = UserPatch {
            learning_preferences: Some(LearningPreferences {
                weekly_goal_minutes: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(bad.validated().is_err());
        let clear = UserPatch {
            bio: Some("  ".into()),
            ..Default::default()
        }
        .validated()
        .unwrap();
        let mut u = User::new(
            UserId(uuid::Uuid::nil()),
            NewUser {
                email: "a@b.co".into(),
                first_name: "A".into(),
                last_name: "B".into(),
                ..Default::default()
            },
            DateTime::<Utc>::UNIX_EPOCH,
        );
        u.bio = Some("old".into());
        u.apply(&clear, DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(u.bio, None);
    }
}
