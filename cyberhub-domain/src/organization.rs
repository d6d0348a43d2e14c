//! Organizations (sponsors, employers, partners) and their memberships.

use crate::ids::{OrgId, UserId};
use crate::validation::{check_country, is_slug, normalize_opt, Validate, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// What an organization is to the platform.
    OrgType {
        /// Funds learners.
        Sponsor => "sponsor",
        /// Hires learners.
        Employer => "employer",
        /// Works with the platform.
        Partner => "partner",
    }
);

string_enum!(
    /// A member's role inside one organization.
    OrgRole {
        /// Manages the organization and its members.
        Admin => "admin",
        /// Regular member.
        Member => "member",
        /// Read-only member.
        Viewer => "viewer",
    }
);

/// Slugs that would collide with routes or confuse people.
const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "new", "me", "members", "settings", "static", "docs",
];

/// An organization as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Organization {
    /// Id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// URL key: lower-case letters, digits and single hyphens, 3–50 characters; unique.
    pub slug: String,
    /// Kind of organization.
    pub org_type: OrgType,
    /// Description.
    pub description: Option<String>,
    /// Web site (`http(s)://`).
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Organization {
    /// A new organization from validated input.
    pub fn new(id: OrgId, new: NewOrganization, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: new.name,
            slug: new.slug,
            org_type: new.org_type,
            description: new.description,
            website: new.website,
            country: new.country,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies a validated patch.
    pub fn apply(&mut self, patch: &OrgPatch, now: DateTime<Utc>) {
        if let Some(v) = &patch.name {
            self.name.clone_from(v);
        }
        if let Some(v) = patch.org_type {
            self.org_type = v;
        }
        if let Some(v) = &patch.description {
            self.description = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.website {
            self.website = normalize_opt(Some(v.clone()));
        }
        if let Some(v) = &patch.country {
            self.country = normalize_opt(Some(v.clone()));
        }
        self.updated_at = now;
    }
}

fn check_slug(errs: &mut ValidationErrors, slug: &str) {
    if !is_slug(slug, 3, 50) {
        errs.add(
            "slug",
            "Use 3-50 lower-case letters, digits and single hyphens, not starting or ending with a hyphen.",
        );
    } else if RESERVED_SLUGS.contains(&slug) {
        errs.add("slug", "This slug is reserved.");
    }
}

fn check_website(errs: &mut ValidationErrors, website: &Option<String>) {
    if let Some(w) = website {
        let rest = w
            .strip_prefix("https://")
            .or_else(|| w.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            host.contains('.') && !r.chars().any(char::is_whitespace)
        });
        if !ok || w.len() > 300 {
            errs.add("website", "Enter a valid http(s) URL.");
        }
    }
}

impl Validate for Organization {
    fn validated(self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        errs.check_len("name", &self.name, 1, 150);
        check_slug(&mut errs, &self.slug);
        errs.into_result(self)
    }
}

/// Input for creating an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// URL key.
    pub slug: String,
    /// Kind.
    pub org_type: OrgType,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Web site.
    #[serde(default)]
    pub website: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

impl Validate for NewOrganization {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        self.name = self.name.trim().to_owned();
        self.slug = self.slug.trim().to_owned();
        self.description = normalize_opt(self.description);
        self.website = normalize_opt(self.website);
        self.country = normalize_opt(self.country);
        errs.check_len("name", &self.name, 1, 150);
        errs.check_printable("name", &self.name, false);
        check_slug(&mut errs, &self.slug);
        if let Some(d) = &self.description {
            errs.check_len("description", d, 0, 5000);
            errs.check_printable("description", d, true);
        }
        check_website(&mut errs, &self.website);
        check_country(&mut errs, "country", &mut self.country);
        errs.into_result(self)
    }
}

/// A change to an organization (the slug is permanent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct OrgPatch {
    /// Display name.
    pub name: Option<String>,
    /// Kind.
    pub org_type: Option<OrgType>,
    /// Description (`""` clears).
    pub description: Option<String>,
    /// Web site (`""` clears).
    pub website: Option<String>,
    /// Country (`""` clears).
    pub country: Option<String>,
}

impl Validate for OrgPatch {
    fn validated(mut self) -> crate::Result<Self> {
        let mut errs = ValidationErrors::new();
        if let Some(n) = self.name.as_mut() {
            *n = n.trim().to_owned();
            errs.check_len("name", n, 1, 150);
            errs.check_printable("name", n, false);
        }
        if let Some(d) = self.description.as_mut() {
            *d = d.trim().to_owned();
            errs.check_len("description", d, 0, 5000);
            errs.check_printable("description", d, true);
        }
        if let Some(w) = self.website.as_mut() {
            *w = w.trim().to_owned();
            if !w.is_empty() {
                check_website(&mut errs, &Some(w.clone()));
            }
        }
        if let Some(c) = self.country.as_mut() {
            *c = c.trim().to_owned();
            if !c.is_empty() {
                let mut v = Some(c.clone());
                check_country(&mut errs, "country", &mut v);
                *c = v.unwrap_or_default();
            }
        }
        errs.into_result(self)
    }
}

/// A user's membership of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Membership {
    /// The organization.
    pub org_id: OrgId,
    /// The member.
    pub user_id: UserId,
    /// Their role inside it.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// Filters for listing organizations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgFilter {
    /// Only organizations this user is a member of (`None`: all, for administrators).
    pub member: Option<UserId>,
    /// Only this kind.
    pub org_type: Option<OrgType>,
    /// Case-insensitive substring of the name or slug.
    pub search: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_org_rules() {
        let base = NewOrganization {
            name: " Acme Security ".into(),
            slug: "acme-security".into(),
            org_type: OrgType::Sponsor,
            description: Some(" ".into()),
            website: Some("https://acme.example".into()),
            country: Some("gb".into()),
        };
        let ok = base.clone().validated().unwrap();
        assert_eq!(ok.name, "Acme Security");
        assert_eq!(ok.description, None);
        assert_eq!(ok.country.as_deref(), Some("GB"));
        for bad_slug in ["admin", "Acme", "a", "acme_sec", "-acme", "acme-"] {
            let e = NewOrganization {
                slug: bad_slug.into(),
                ..base.clone()
            }
            .validated()
            .unwrap_err();
            assert_eq!(e.fields()[0].field, "slug", "{bad_slug}");
        }
        let e = NewOrganization {
            website: Some("javascript:alert(1)".into()),
            ..base
        }
        .validated()
        .unwrap_err();
        assert_eq!(e.fields()[0].field, "website");
    }
}
