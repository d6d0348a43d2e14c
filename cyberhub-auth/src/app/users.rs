//! User administration: who sees and edits which accounts, and role grants.
//!
//! Users see and edit themselves; administrators everyone (others are `NotFound`, as if
//! the account did not exist). Users edit their own profile fields only; `status` is for
//! administrators; e-mail, roles and security fields are never edited here. The last
//! active platform administrator cannot be deleted, suspended or demoted, and a user who
//! is the only admin of an organization cannot be deleted (the store refuses both inside
//! the write's transaction, so two administrators acting at once cannot both pass).

use super::{App, Caller};
use crate::error::{AuthError, ErrorKind, Result};
use cyberhub_domain::api::{SignupRequest, UserPatchRequest};
use cyberhub_domain::{
    AccountStatus, Action, AuditAction, OrgId, Page, PageResult, Resource, Role, RoleGrant,
    RoleScope, Scope, User, UserFilter, UserId,
};
use secrecy::SecretString;

fn resource(user: UserId) -> (&'static str, String) {
    ("user", user.to_string())
}

impl App {
    fn user_admin(caller: Caller<'_>, action: Action) -> bool {
        caller.principal.scope_for(Resource::User, action) == Some(Scope::All)
    }

    /// A user the caller may see (themselves; administrators: anyone), else `NotFound`.
    pub async fn user(&self, caller: Caller<'_>, id: UserId) -> Result<User> {
        if caller.id() != id && !Self::user_admin(caller, Action::Read) {
            return Err(AuthError::new(ErrorKind::NotFound, "user not found"));
        }
        Ok(self.store().get_user(id).await?)
    }

    /// Users (administrators: all, filtered; others: a page holding only themselves when
    /// they match the filter).
    pub async fn list_users(
        &self,
        caller: Caller<'_>,
        filter: UserFilter,
        page: Page,
    ) -> Result<PageResult<User>> {
        if Self::user_admin(caller, Action::Read) {
            return Ok(self.store().list_users(&filter, page).await?);
        }
        let me = self.store().get_user(caller.id()).await?;
        let keep = filter
            .role
            .is_none_or(|r| caller.principal.roles.contains(&r))
            && filter.status.is_none_or(|s| s == me.status);
        Ok(PageResult {
            total: u64::from(keep),
            items: if keep && page.number() == 1 {
                vec![me]
            } else {
                vec![]
            },
            page,
        })
    }

    /// An administrator creates an account with roles (default `mentee`).
    pub async fn create_user(&self, caller: Caller<'_>, body: &SignupRequest) -> Result<User> {
        if !Self::user_admin(caller, Action::Create) {
            return Err(AuthError::forbidden(
                "Only administrators can create users.",
            ));
        }
        let roles = body
            .roles
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| vec![Role::Mentee]);
        self.auth
            .create_account(
                body.new_user(),
                &SecretString::from(body.password.clone()),
                &roles,
                Some(caller.id()),
                (AuditAction::UserCreate, caller.client),
            )
            .await
    }

    /// Edits a profile (see the module rules).
    pub async fn update_user(
        &self,
        caller: Caller<'_>,
        id: UserId,
        body: &UserPatchRequest,
    ) -> Result<User> {
        self.user(caller, id).await?;
        let is_admin = Self::user_admin(caller, Action::Update);
        let protected = if is_admin {
            body.read_only_fields()
        } else {
            body.protected_fields()
        };
        if !protected.is_empty() {
            return Err(AuthError::forbidden(format!(
                "You may not change: {}.",
                protected.join(", ")
            )));
        }
        if is_admin && caller.id() == id && body.status.is_some_and(|s| s != AccountStatus::Active)
        {
            return Err(AuthError::forbidden(
                "Administrators cannot deactivate themselves.",
            ));
        }
        let event = self.event(
            caller,
            AuditAction::UserUpdate,
            resource(id),
            serde_json::json!({"status": body.status}),
        );
        let user = self
            .store()
            .update_user(id, &body.to_patch(), self.clock().now(), &event)
            .await?;
        if body.status.is_some() {
            self.auth.invalidate_user(id);
        }
        Ok(user)
    }

    /// Deletes another account (administrators) with its sessions, grants, memberships
    /// and progress. One's own account needs the password: [`App::delete_own_account`].
    pub async fn delete_user(&self, caller: Caller<'_>, id: UserId) -> Result<()> {
        self.user(caller, id).await?;
        if caller.id() == id {
            return Err(AuthError::forbidden(
                "Deleting your own account needs your current password: \
                 POST /api/v1/auth/account/delete with {\"current_password\"}.",
            ));
        }
        self.remove_user(caller, id).await
    }

    /// Deletes the caller's own account once their current password checks out (limited
    /// like a login). The same rules as [`App::delete_user`] hold: the last administrator
    /// and an organization's only admin are kept (409).
    pub async fn delete_own_account(
        &self,
        caller: Caller<'_>,
        current_password: &SecretString,
    ) -> Result<()> {
        self.auth
            .verify_current_password(
                caller.principal,
                current_password,
                caller.client,
                AuditAction::UserDelete,
            )
            .await?;
        self.remove_user(caller, caller.id()).await
    }

    async fn remove_user(&self, caller: Caller<'_>, id: UserId) -> Result<()> {
        let event = self.event(
            caller,
            AuditAction::UserDelete,
            resource(id),
            serde_json::json!({}),
        );
        self.store().delete_user(id, &event).await?;
        self.auth.invalidate_user(id);
        Ok(())
    }

    /// Resolves a grant's scope: `global` (default) or `org` with the organization's slug
    /// or id in `scope_ref`.
    pub async fn role_scope(
        &self,
        scope: Option<&str>,
        scope_ref: Option<&str>,
    ) -> Result<RoleScope> {
        match (scope.unwrap_or("global"), scope_ref) {
            ("global", None) => Ok(RoleScope::Global),
            ("global", Some(_)) => Err(AuthError::field(
                "scope_ref",
                "Only org-scoped grants take a scope_ref.",
            )),
            ("org", Some(r)) => {
                let found = match r.parse::<uuid::Uuid>() {
                    Ok(id) => self.store().get_org_by_id(OrgId(id)).await,
                    Err(_) => self.store().get_org(r).await,
                };
                let org = found.map_err(|e| match e.kind() {
                    ErrorKind::NotFound => {
                        AuthError::new(ErrorKind::NotFound, "organization not found")
                    }
                    _ => e.into(),
                })?;
                Ok(RoleScope::Org(org.id))
            }
            ("org", None) => Err(AuthError::field(
                "scope_ref",
                "An org-scoped grant needs the organization's slug or id.",
            )),
            _ => Err(AuthError::field("scope", "Use global or org.")),
        }
    }

    /// Grants a role (administrators).
    pub async fn grant_role(
        &self,
        caller: Caller<'_>,
        user: UserId,
        role: Role,
        scope: RoleScope,
    ) -> Result<RoleGrant> {
        caller
            .principal
            .require_all(Resource::Role, Action::Create)?;
        self.store().get_user(user).await?;
        let grant = RoleGrant {
            user_id: user,
            role,
            scope,
            granted_by: Some(caller.id()),
            granted_at: self.clock().now(),
        };
        let event = self.event(
            caller,
            AuditAction::RoleGrant,
            resource(user),
            serde_json::json!({"role": role, "scope": scope.kind_str()}),
        );
        self.store().grant_role(&grant, &event).await?;
        self.auth.invalidate_user(user);
        Ok(grant)
    }

    /// Revokes a role (administrators; not their own global admin role).
    pub async fn revoke_role(
        &self,
        caller: Caller<'_>,
        user: UserId,
        role: Role,
        scope: RoleScope,
    ) -> Result<()> {
        caller
            .principal
            .require_all(Resource::Role, Action::Delete)?;
        if caller.id() == user && role == Role::Admin && scope == RoleScope::Global {
            return Err(AuthError::forbidden(
                "Administrators cannot revoke their own admin role.",
            ));
        }
        let event = self.event(
            caller,
            AuditAction::RoleRevoke,
            resource(user),
            serde_json::json!({"role": role, "scope": scope.kind_str()}),
        );
        self.store().revoke_role(user, role, scope, &event).await?;
        self.auth.invalidate_user(user);
        Ok(())
    }
}
