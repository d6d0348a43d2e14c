//! The permission table: which role may do which action on which resource, and how widely.
//!
//! Every request is decided from this table (see `cyberhub-auth`'s RBAC); handlers add
//! the ownership and membership checks the [`Scope`] calls for.

use crate::organization::OrgRole;
use crate::role::Role;
use serde::Serialize;

string_enum!(
    /// Things a request acts on.
    Resource {
        /// User accounts and profiles.
        User => "user",
        /// Role grants.
        Role => "role",
        /// Organizations.
        Organization => "organization",
        /// Organization memberships.
        Membership => "membership",
        /// Catalog items.
        Content => "content",
        /// Learning progress rows.
        Progress => "progress",
        /// The audit log.
        AuditLog => "audit_log",
        /// AI: embeddings, search, recommendations, personality.
        Ai => "ai",
    }
);

string_enum!(
    /// What a request does.
    Action {
        /// Read one or list.
        Read => "read",
        /// Create.
        Create => "create",
        /// Change.
        Update => "update",
        /// Remove.
        Delete => "delete",
    }
);

string_enum!(
    /// How far a grant reaches. Ordered: `Own < Org < All`.
    Scope {
        /// Only the caller's own records.
        Own => "own",
        /// Records of organizations the caller belongs to (with the needed member role).
        Org => "org",
        /// Every record.
        All => "all",
    }
);

/// One row of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Grant {
    /// The resource.
    pub resource: Resource,
    /// The action.
    pub action: Action,
    /// How far it reaches.
    pub scope: Scope,
}

const fn g(resource: Resource, action: Action, scope: Scope) -> Grant {
    Grant {
        resource,
        action,
        scope,
    }
}

use Action::{Create as C, Delete as D, Read as R, Update as U};
use Resource as Res;
use Scope::{All, Org, Own};

/// What every signed-in user may do, whatever their role.
const BASE: &[Grant] = &[
    g(Res::User, R, Own),
    g(Res::User, U, Own),
    g(Res::User, D, Own),
    g(Res::Organization, R, Org),
    g(Res::Organization, U, Org),
    g(Res::Organization, D, Org),
    g(Res::Membership, R, Org),
    g(Res::Membership, C, Org),
    g(Res::Membership, U, Org),
    g(Res::Membership, D, Org),
    g(Res::Content, R, All),
    g(Res::Progress, R, Own),
    g(Res::Progress, C, Own),
    g(Res::Progress, U, Own),
    g(Res::Progress, D, Own),
    g(Res::AuditLog, R, Own),
    g(Res::Ai, R, Own),
    g(Res::Ai, C, Own),
];

const ADMIN: &[Grant] = &[
    g(Res::User, R, All),
    g(Res::User, C, All),
    g(Res::User, U, All),
    g(Res::User, D, All),
    g(Res::Role, R, All),
    g(Res::Role, C, All),
    g(Res::Role, D, All),
    g(Res::Organization, R, All),
    g(Res::Organization, C, All),
    g(Res::Organization, U, All),
    g(Res::Organization, D, All),
    g(Res::Membership, R, All),
    g(Res::Membership, C, All),
    g(Res::Membership, U, All),
    g(Res::Membership, D, All),
    g(Res::Content, C, All),
    g(Res::Content, U, All),
    g(Res::Content, D, All),
    g(Res::Progress, R, All),
    g(Res::Progress, U, All),
    g(Res::Progress, D, All),
    g(Res::AuditLog, R, All),
    g(Res::Ai, R, All),
    g(Res::Ai, C, All),
];

const PROGRAM_DIRECTOR: &[Grant] = &[
    g(Res::Organization, C, All),
    g(Res::Content, C, All),
    g(Res::Content, U, All),
    g(Res::Content, D, All),
    g(Res::Progress, R, Org),
    g(Res::Ai, R, Org),
];

const MENTOR: &[Grant] = &[g(Res::Progress, R, Org), g(Res::Ai, R, Org)];

const SPONSOR_ADMIN: &[Grant] = &[g(Res::Organization, C, All), g(Res::Progress, R, Org)];

const ANALYST: &[Grant] = &[g(Res::AuditLog, R, All)];

const FINANCE: &[Grant] = &[g(Res::AuditLog, R, All)];

/// The grants a role adds on top of what every signed-in user has.
pub fn permissions_for(role: Role) -> Vec<Grant> {
    let extra: &[Grant] = match role {
        Role::Admin => ADMIN,
        Role::ProgramDirector => PROGRAM_DIRECTOR,
        Role::Mentor => MENTOR,
        Role::SponsorAdmin => SPONSOR_ADMIN,
        Role::Analyst => ANALYST,
        Role::Finance => FINANCE,
        Role::Mentee | Role::Student => &[],
    };
    BASE.iter().chain(extra).copied().collect()
}

/// The widest scope any of `roles` grants for `action` on `resource`, if any.
pub fn widest_scope(roles: &[Role], resource: Resource, action: Action) -> Option<Scope> {
    roles
        .iter()
        .flat_map(|r| permissions_for(*r))
        .chain(BASE.iter().copied())
        .filter(|g| g.resource == resource && g.action == action)
        .map(|g| g.scope)
        .max()
}

/// Whether a standing in an organization lets the caller read a fellow member's personal
/// data (progress, recommendations, personality) through that organization: the
/// organization's `admin`s may; a `member` may when one of their roles grants `Org` scope for
/// reading progress (platform `mentor`, `program_director`, `sponsor_admin`, or such a role
/// granted inside that organization); a `viewer` never may, whatever their platform roles.
/// `role_scope` is the widest scope the caller's roles (global, and those granted in that
/// organization) give for reading progress.
pub fn org_standing_sees_member_data(standing: OrgRole, role_scope: Option<Scope>) -> bool {
    match standing {
        OrgRole::Admin => true,
        OrgRole::Member => role_scope >= Some(Scope::Org),
        OrgRole::Viewer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_minimums_from_the_api_contract() {
        // content writes: admin and program_director only
        for role in Role::ALL {
            let can = widest_scope(&[*role], Res::Content, C) == Some(All);
            assert_eq!(
                can,
                matches!(role, Role::Admin | Role::ProgramDirector),
                "{role}"
            );
        }
        // organization creation: admin, program_director, sponsor_admin
        for role in Role::ALL {
            let can = widest_scope(&[*role], Res::Organization, C).is_some();
            assert_eq!(
                can,
                matches!(
                    role,
                    Role::Admin | Role::ProgramDirector | Role::SponsorAdmin
                ),
                "{role}"
            );
        }
        // role management: admin only
        for role in Role::ALL {
            assert_eq!(
                widest_scope(&[*role], Res::Role, C).is_some(),
                *role == Role::Admin
            );
        }
        assert_eq!(widest_scope(&[Role::Mentee], Res::Progress, R), Some(Own));
        assert_eq!(
            widest_scope(&[Role::Mentee, Role::Mentor], Res::Progress, R),
            Some(Org)
        );
        assert_eq!(widest_scope(&[], Res::Content, R), Some(All));
    }

    #[test]
    fn organization_standing_and_member_data() {
        let mentor = widest_scope(&[Role::Mentor], Res::Progress, R);
        let mentee = widest_scope(&[Role::Mentee], Res::Progress, R);
        assert!(org_standing_sees_member_data(OrgRole::Admin, mentee));
        assert!(org_standing_sees_member_data(OrgRole::Member, mentor));
        assert!(!org_standing_sees_member_data(OrgRole::Member, mentee));
        // a viewer membership never grants it, not even to a platform mentor
        assert!(!org_standing_sees_member_data(OrgRole::Viewer, mentor));
        assert!(!org_standing_sees_member_data(
            OrgRole::Viewer,
            widest_scope(&[Role::Admin], Res::Progress, R)
        ));
    }
}
