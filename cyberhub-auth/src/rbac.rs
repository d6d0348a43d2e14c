//! Role-based access control from the domain's permission table.

use crate::error::{AuthError, Result};
use cyberhub_domain::{
    widest_scope, Action, OrgId, Resource, Role, RoleGrant, RoleScope, Scope, SessionId, UserId,
};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub user_id: UserId,
    /// Through which session.
    pub session_id: SessionId,
    /// Global roles.
    pub roles: Vec<Role>,
    /// Roles granted inside one organization only.
    pub org_roles: Vec<(OrgId, Role)>,
}

impl Principal {
    /// A principal from the user's role grants.
    pub fn from_grants(user_id: UserId, session_id: SessionId, grants: &[RoleGrant]) -> Self {
        let mut roles = Vec::new();
        let mut org_roles = Vec::new();
        for g in grants {
            match g.scope {
                RoleScope::Global => roles.push(g.role),
                RoleScope::Org(o) => org_roles.push((o, g.role)),
            }
        }
        roles.sort();
        roles.dedup();
        Self {
            user_id,
            session_id,
            roles,
            org_roles,
        }
    }

    /// Whether the caller holds the global `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Whether the caller holds `role` globally.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The widest scope the caller's global roles grant for `action` on `resource`.
    pub fn scope_for(&self, resource: Resource, action: Action) -> Option<Scope> {
        widest_scope(&self.roles, resource, action)
    }

    /// Like [`Principal::scope_for`] but also counting roles granted inside `org`.
    pub fn scope_in_org(&self, org: OrgId, resource: Resource, action: Action) -> Option<Scope> {
        let mut roles = self.roles.clone();
        roles.extend(
            self.org_roles
                .iter()
                .filter(|(o, _)| *o == org)
                .map(|(_, r)| *r),
        );
        widest_scope(&roles, resource, action)
    }

    /// Whether the caller may create `resource` records on `target`'s behalf: `target`
    /// themselves, or a caller whose roles grant that with the `All` scope (administrators).
    /// Reading someone's data (an `Org` scope) is never enough to speak for them: a
    /// personality analysis, for one, steers the learner's recommendations.
    pub fn may_create_for(&self, target: UserId, resource: Resource) -> bool {
        self.user_id == target || self.scope_for(resource, Action::Create) == Some(Scope::All)
    }

    /// The caller's scope for `action` on `resource`, or `PermissionDenied`.
    pub fn require(&self, resource: Resource, action: Action) -> Result<Scope> {
        self.scope_for(resource, action).ok_or_else(|| {
            AuthError::forbidden(format!(
                "You do not have permission to {action} {resource}."
            ))
        })
    }

    /// Requires the `All` scope (e.g. administrator-only operations).
    pub fn require_all(&self, resource: Resource, action: Action) -> Result<()> {
        match self.require(resource, action)? {
            Scope::All => Ok(()),
            _ => Err(AuthError::forbidden(format!(
                "You do not have permission to {action} {resource}."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn p(roles: &[Role]) -> Principal {
        Principal {
            user_id: UserId(Uuid::nil()),
            session_id: SessionId(Uuid::nil()),
            roles: roles.to_vec(),
            org_roles: vec![],
        }
    }

    #[test]
    fn decisions_follow_the_table() {
        assert!(p(&[Role::Admin])
            .require_all(Resource::Role, Action::Create)
            .is_ok());
        assert_eq!(
            p(&[Role::Mentee])
                .require_all(Resource::Role, Action::Create)
                .unwrap_err()
                .kind(),
            cyberhub_domain::ErrorKind::PermissionDenied
        );
        assert_eq!(
            p(&[Role::Mentee])
                .require(Resource::Progress, Action::Read)
                .unwrap(),
            Scope::Own
        );
        assert!(p(&[Role::Student])
            .require_all(Resource::Content, Action::Create)
            .is_err());
        assert!(p(&[Role::ProgramDirector])
            .require_all(Resource::Content, Action::Create)
            .is_ok());
        let learner = UserId(Uuid::new_v4());
        assert!(!p(&[Role::Mentor]).may_create_for(learner, Resource::Ai));
        assert!(p(&[Role::Admin]).may_create_for(learner, Resource::Ai));
        assert!(p(&[Role::Mentee]).may_create_for(UserId(Uuid::nil()), Resource::Ai));
        let org = OrgId(Uuid::new_v4());
        let mut mentor_in_org = p(&[Role::Mentee]);
        mentor_in_org.org_roles.push((org, Role::Mentor));
        assert_eq!(
            mentor_in_org.scope_in_org(org, Resource::Progress, Action::Read),
            Some(Scope::Org)
        );
        assert_eq!(
            mentor_in_org.scope_in_org(OrgId(Uuid::new_v4()), Resource::Progress, Action::Read),
            Some(Scope::Own)
        );
    }
}
