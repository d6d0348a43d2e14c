//! Field-level validation errors and the [`Validate`] trait.

use serde::{Deserialize, Serialize};

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct FieldError {
    /// The field's name as the client sent it (e.g. `email`, `learning_preferences.weekly_goal_minutes`).
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

/// A collection of [`FieldError`]s gathered while validating one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, the collected errors otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, crate::Error> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.into())
        }
    }

    /// One line naming every failing field.
    pub fn summary(&self) -> String {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        format!("Invalid input: {}", fields.join(", "))
    }

    /// The collected errors.
    pub fn into_inner(self) -> Vec<FieldError> {
        self.0
    }

    /// Checks a string's length in characters (after the caller trimmed it).
    pub fn check_len(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min {
            if min == 1 {
                self.add(field, "This field may not be blank.");
            } else {
                self.add(
                    field,
                    format!("Ensure this field has at least {min} characters."),
                );
            }
        } else if n > max {
            self.add(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
        }
    }

    /// Rejects control characters (new lines allowed only when `multiline`).
    pub fn check_printable(&mut self, field: &str, value: &str, multiline: bool) {
        if value
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
        {
            self.add(field, "Control characters are not allowed.");
        }
    }
}

/// Input types that can check themselves and normalise their fields.
pub trait Validate: Sized {
    /// Normalises (trims, lower-cases where the rules say so) and checks every field,
    /// returning all problems at once.
    fn validated(self) -> Result<Self, crate::Error>;
}

/// Trims and returns `None` for blank optional strings.
pub(crate) fn normalize_opt(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Validates an ISO 3166-1 alpha-2 country code (`"DE"`, `"us"` → `"US"`).
pub(crate) fn check_country(errs: &mut ValidationErrors, field: &str, value: &mut Option<String>) {
    if let Some(c) = value.as_mut() {
        *c = c.to_ascii_uppercase();
        if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
            errs.add(field, "Use a two-letter ISO 3166-1 country code.");
        }
    }
}

/// Validates an IANA time-zone name by shape (`UTC`, `Europe/Berlin`, `America/Argentina/Salta`).
pub(crate) fn check_timezone(errs: &mut ValidationErrors, field: &str, value: &Option<String>) {
    if let Some(tz) = value {
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.len() <= 40
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        };
        let parts: Vec<&str> = tz.split('/').collect();
        if tz.len() > 64 || parts.len() > 3 || !parts.iter().all(|p| ok_part(p)) {
            errs.add(
                field,
                "Use an IANA time-zone name such as UTC or Europe/Berlin.",
            );
        }
    }
}

/// Validates a BCP 47 language tag by shape (`en`, `pt-BR`, `zh-Hant`).
pub(crate) fn check_language(errs: &mut ValidationErrors, field: &str, value: &Option<String>) {
    if let Some(lang) = value {
        let mut parts = lang.split('-');
        let primary_ok = parts.next().is_some_and(|p| {
            (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic())
        });
        let rest_ok = parts
            .all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !primary_ok || !rest_ok || lang.len() > 35 {
            errs.add(field, "Use a language tag such as en or pt-BR.");
        }
    }
}

/// A practical e-mail check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub(crate) fn check_email(errs: &mut ValidationErrors, field: &str, email: &str) {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            }
            None => false,
        };
    if !valid {
        errs.add(field, "Enter a valid email address.");
    }
}

/// Lower-case `[a-z0-9]` words joined by single hyphens, `min..=max` long.
pub(crate) fn is_slug(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in ["a@b.co", "first.last+tag@sub.example.org", "ünï@exämple.de"] {
            let mut e = ValidationErrors::new();
            check_email(&mut e, "email", good);
            assert!(e.is_empty(), "{good}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@.b.co", "a@b..co", "a@b.co.",
        ] {
            let mut e = ValidationErrors::new();
            check_email(&mut e, "email", bad);
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn timezones_and_languages() {
        for tz in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Salta",
            "Etc/GMT+5",
        ] {
            let mut e = ValidationErrors::new();
            check_timezone(&mut e, "tz", &Some(tz.into()));
            assert!(e.is_empty(), "{tz}");
        }
        for tz in ["Europe/", "a b", "x/y/z/w", "Europe/Ber lin"] {
            let mut e = ValidationErrors::new();
            check_timezone(&mut e, "tz", &Some(tz.into()));
            assert!(!e.is_empty(), "{tz}");
        }
        let mut e = ValidationErrors::new();
        check_language(&mut e, "l", &Some("pt-BR".into()));
        check_language(&mut e, "l", &Some("zh-Hant".into()));
        assert!(e.is_empty());
        check_language(&mut e, "l", &Some("english".into()));
        assert_eq!(e.into_inner().len(), 1);
    }

    #[test]
    fn slugs() {
        assert!(is_slug("acme-security", 3, 50));
        assert!(!is_slug("-acme", 3, 50));
        assert!(!is_slug("acme--x", 3, 50));
        assert!(!is_slug("Acme", 3, 50));
        assert!(!is_slug("ab", 3, 50));
    }
}
