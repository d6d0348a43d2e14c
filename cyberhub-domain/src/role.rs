//! Platform roles and role grants.

use crate::ids::{OrgId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// The eight platform roles. Self-registration gives [`Role::Mentee`].
    Role {
        /// Platform administrator: everything.
        Admin => "admin",
        /// Runs programs: manages content and organizations.
        ProgramDirector => "program_director",
        /// Guides mentees; sees progress of members of shared organizations.
        Mentor => "mentor",
        /// A learner in a mentoring programme (the self-registration default).
        Mentee => "mentee",
        /// A learner.
        Student => "student",
        /// Finance staff: reads audit statistics.
        Finance => "finance",
        /// Administers a sponsor organization.
        SponsorAdmin => "sponsor_admin",
        /// Reads audit logs and statistics.
        Analyst => "analyst",
    }
);

/// Where a role grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "scope_ref", rename_all = "snake_case")]
pub enum RoleScope {
    /// Everywhere.
    Global,
    /// Within one organization only.
    Org(OrgId),
}

impl RoleScope {
    /// `"global"` or `"org"`.
    pub fn kind_str(&self) -> &'static str {
        match self {
            RoleScope::Global => "global",
            RoleScope::Org(_) => "org",
        }
    }

    /// The organization for org-scoped grants.
    pub fn org(&self) -> Option<OrgId> {
        match self {
            RoleScope::Global => None,
            RoleScope::Org(o) => Some(*o),
        }
    }
}

/// One role given to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// Who holds the role.
    pub user_id: UserId,
    /// The role.
    pub role: Role,
    /// Where it applies.
    pub scope: RoleScope,
    /// Who granted it (`None` for system grants such as self-registration).
    pub granted_by: Option<UserId>,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
}
