//! Organizations, their members and invitations.
//!
//! Rules: a platform administrator sees and manages every organization; anyone else sees
//! only organizations they belong to (others are `NotFound`) and manages only those they
//! are an `admin` of (`PermissionDenied`). An organization admin cannot make someone a
//! member: they invite, and only the invited user accepts. A platform administrator adds
//! members directly.

use super::{App, Caller};
use crate::error::{AuthError, ErrorKind, Result};
use cyberhub_domain::{
    Action, AuditAction, Invitation, InvitationFilter, InvitationId, InvitationStatus, Membership,
    NewOrganization, OrgFilter, OrgId, OrgPatch, OrgRole, OrgType, Organization, Page, PageResult,
    Resource, Scope, UserId, Validate,
};

/// What adding a member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberAdded {
    /// A platform administrator added them: they are a member.
    Member(Membership),
    /// An organization admin invited them: they become a member when they accept.
    Invited(Invitation),
}

/// How the caller stands towards one organization.
struct Standing {
    org: Organization,
    /// The caller's member role (`None` for platform administrators who are not members).
    role: Option<OrgRole>,
    platform_admin: bool,
}

impl Standing {
    fn manages(&self) -> bool {
        self.platform_admin || self.role == Some(OrgRole::Admin)
    }
}

fn resource(org: OrgId) -> (&'static str, String) {
    ("organization", org.to_string())
}

impl App {
    fn platform_org_admin(caller: Caller<'_>) -> bool {
        caller
            .principal
            .scope_for(Resource::Organization, Action::Read)
            == Some(Scope::All)
    }

    async fn standing(&self, caller: Caller<'_>, slug: &str) -> Result<Standing> {
        let platform_admin = Self::platform_org_admin(caller);
        if platform_admin {
            let org = self.store().get_org(slug).await?;
            let role = self
                .store()
                .get_member(org.id, caller.id())
                .await
                .ok()
                .map(|m| m.role);
            return Ok(Standing {
                org,
                role,
                platform_admin,
            });
        }
        let (org, role) = self.store().get_org_as_member(slug, caller.id()).await?;
        Ok(Standing {
            org,
            role: Some(role),
            platform_admin,
        })
    }

    async fn managing(&self, caller: Caller<'_>, slug: &str) -> Result<Standing> {
        let s = self.standing(caller, slug).await?;
        if !s.manages() {
            return self
                .denied(
                    caller,
                    resource(s.org.id),
                    AuthError::forbidden("Only the organization's admins can do this."),
                )
                .await;
        }
        Ok(s)
    }

    /// The caller's organizations (platform administrators: all), by name.
    pub async fn list_orgs(
        &self,
        caller: Caller<'_>,
        org_type: Option<OrgType>,
        search: Option<String>,
        page: Page,
    ) -> Result<PageResult<Organization>> {
        let filter = OrgFilter {
            member: (!Self::platform_org_admin(caller)).then_some(caller.id()),
            org_type,
            search: search.filter(|s| !s.trim().is_empty()),
        };
        Ok(self.store().list_orgs(&filter, page).await?)
    }

    /// Creates an organization (roles with the organization-create grant); the caller
    /// becomes its admin.
    pub async fn create_org(
        &self,
        caller: Caller<'_>,
        new: NewOrganization,
    ) -> Result<Organization> {
        caller
            .principal
            .require_all(Resource::Organization, Action::Create)?;
        let new = new.validated()?;
        let now = self.clock().now();
        let org = Organization::new(OrgId(uuid::Uuid::new_v4()), new, now);
        let event = self.event(
            caller,
            AuditAction::OrgCreate,
            resource(org.id),
            serde_json::json!({"slug": org.slug}),
        );
        self.store()
            .create_org(&org, caller.id(), now, &event)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => {
                    AuthError::new(e.kind(), "An organization with this slug already exists.")
                }
                _ => e.into(),
            })?;
        Ok(org)
    }

    /// One organization (members and platform administrators; others `NotFound`).
    pub async fn org(&self, caller: Caller<'_>, slug: &str) -> Result<Organization> {
        Ok(self.standing(caller, slug).await?.org)
    }

    /// Edits an organization (its admins).
    pub async fn update_org(
        &self,
        caller: Caller<'_>,
        slug: &str,
        patch: &OrgPatch,
    ) -> Result<Organization> {
        let s = self.managing(caller, slug).await?;
        let event = self.event(
            caller,
            AuditAction::OrgUpdate,
            resource(s.org.id),
            serde_json::json!({}),
        );
        Ok(self
            .store()
            .update_org(s.org.id, patch, self.clock().now(), &event)
            .await?)
    }

    /// Deletes an organization with its memberships and invitations (its admins).
    pub async fn delete_org(&self, caller: Caller<'_>, slug: &str) -> Result<()> {
        let s = self.managing(caller, slug).await?;
        let event = self.event(
            caller,
            AuditAction::OrgDelete,
            resource(s.org.id),
            serde_json::json!({"slug": s.org.slug}),
        );
        Ok(self.store().delete_org(s.org.id, &event).await?)
    }

    /// Members, by join time (members and platform administrators).
    pub async fn members(
        &self,
        caller: Caller<'_>,
        slug: &str,
        page: Page,
    ) -> Result<PageResult<Membership>> {
        let s = self.standing(caller, slug).await?;
        Ok(self.store().list_members(s.org.id, page).await?)
    }

    /// Adds `user` with `role`: directly when the caller is a platform administrator,
    /// else (the organization's admins) as an invitation the user must accept.
    pub async fn add_member(
        &self,
        caller: Caller<'_>,
        slug: &str,
        user: UserId,
        role: OrgRole,
    ) -> Result<MemberAdded> {
        let s = self.managing(caller, slug).await?;
        self.store()
            .get_user(user)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => AuthError::new(ErrorKind::NotFound, "user not found"),
                _ => e.into(),
            })?;
        let now = self.clock().now();
        let already = |e: cyberhub_store::StoreError| match e.kind() {
            ErrorKind::AlreadyExists => AuthError::new(
                e.kind(),
                if e.to_string().contains("member") {
                    "This user is already a member."
                } else {
                    "This user already has a pending invitation to this organization."
                },
            ),
            _ => e.into(),
        };
        if s.platform_admin {
            let m = Membership {
                org_id: s.org.id,
                user_id: user,
                role,
                joined_at: now,
            };
            let event = self.event(
                caller,
                AuditAction::MembershipChange,
                resource(s.org.id),
                serde_json::json!({"added": user, "role": role}),
            );
            self.store()
                .add_member(&m, &event)
                .await
                .map_err(|e| match e.kind() {
                    ErrorKind::AlreadyExists => {
                        AuthError::new(e.kind(), "This user is already a member.")
                    }
                    _ => e.into(),
                })?;
            return Ok(MemberAdded::Member(m));
        }
        let inv = Invitation::new(
            InvitationId(uuid::Uuid::new_v4()),
            (s.org.id, &s.org.slug, &s.org.name),
            user,
            role,
            caller.id(),
            now,
        );
        let event = self.event(
            caller,
            AuditAction::InvitationCreate,
            ("invitation", inv.id.to_string()),
            serde_json::json!({"organization": s.org.slug, "user_id": user, "role": role}),
        );
        self.store()
            .create_invitation(&inv, &event)
            .await
            .map_err(already)?;
        Ok(MemberAdded::Invited(inv))
    }

    /// Changes a member's role (the organization's admins; the last admin stays one).
    pub async fn update_member(
        &self,
        caller: Caller<'_>,
        slug: &str,
        user: UserId,
        role: OrgRole,
    ) -> Result<Membership> {
        let s = self.managing(caller, slug).await?;
        let event = self.event(
            caller,
            AuditAction::MembershipChange,
            resource(s.org.id),
            serde_json::json!({"changed": user, "role": role}),
        );
        Ok(self
            .store()
            .update_member(s.org.id, user, role, &event)
            .await?)
    }

    /// Removes a member (the organization's admins, or a member leaving).
    pub async fn remove_member(&self, caller: Caller<'_>, slug: &str, user: UserId) -> Result<()> {
        let s = self.standing(caller, slug).await?;
        if !s.manages() && caller.id() != user {
            return self
                .denied(
                    caller,
                    resource(s.org.id),
                    AuthError::forbidden(
                        "Only the organization's admins can remove other members.",
                    ),
                )
                .await;
        }
        let event = self.event(
            caller,
            AuditAction::MembershipChange,
            resource(s.org.id),
            serde_json::json!({"removed": user}),
        );
        Ok(self.store().remove_member(s.org.id, user, &event).await?)
    }

    /// The caller's invitations, newest first (`pending_only`: those still open).
    pub async fn my_invitations(
        &self,
        caller: Caller<'_>,
        pending_only: bool,
        page: Page,
    ) -> Result<PageResult<Invitation>> {
        let now = self.clock().now();
        let filter = InvitationFilter {
            user: Some(caller.id()),
            open_at: pending_only.then_some(now),
            ..Default::default()
        };
        let mut r = self.store().list_invitations(&filter, page).await?;
        r.items = r.items.into_iter().map(|i| i.at(now)).collect();
        Ok(r)
    }

    /// An organization's invitations, newest first (its admins).
    pub async fn org_invitations(
        &self,
        caller: Caller<'_>,
        slug: &str,
        pending_only: bool,
        page: Page,
    ) -> Result<PageResult<Invitation>> {
        let s = self.managing(caller, slug).await?;
        let now = self.clock().now();
        let filter = InvitationFilter {
            org: Some(s.org.id),
            open_at: pending_only.then_some(now),
            ..Default::default()
        };
        let mut r = self.store().list_invitations(&filter, page).await?;
        r.items = r.items.into_iter().map(|i| i.at(now)).collect();
        Ok(r)
    }

    /// The invited user's invitation, else `NotFound` (nobody else learns it exists).
    async fn own_invitation(&self, caller: Caller<'_>, id: InvitationId) -> Result<Invitation> {
        let inv = self.store().get_invitation(id).await?;
        if inv.user_id != caller.id() {
            return Err(AuthError::new(ErrorKind::NotFound, "invitation not found"));
        }
        Ok(inv)
    }

    /// The invited user accepts: they become a member with the invitation's role.
    pub async fn accept_invitation(
        &self,
        caller: Caller<'_>,
        id: InvitationId,
    ) -> Result<Membership> {
        let inv = self.own_invitation(caller, id).await?;
        let event = self.event(
            caller,
            AuditAction::InvitationAccept,
            ("invitation", id.to_string()),
            serde_json::json!({"organization": inv.organization, "role": inv.role}),
        );
        Ok(self
            .store()
            .accept_invitation(id, caller.id(), self.clock().now(), &event)
            .await?)
    }

    /// The invited user declines.
    pub async fn decline_invitation(
        &self,
        caller: Caller<'_>,
        id: InvitationId,
    ) -> Result<Invitation> {
        let inv = self.own_invitation(caller, id).await?;
        let event = self.event(
            caller,
            AuditAction::InvitationDecline,
            ("invitation", id.to_string()),
            serde_json::json!({"organization": inv.organization}),
        );
        Ok(self
            .store()
            .close_invitation(id, InvitationStatus::Declined, self.clock().now(), &event)
            .await?)
    }

    /// The organization's admins withdraw a pending invitation.
    pub async fn revoke_invitation(
        &self,
        caller: Caller<'_>,
        slug: &str,
        id: InvitationId,
    ) -> Result<Invitation> {
        let s = self.managing(caller, slug).await?;
        let inv = self.store().get_invitation(id).await?;
        if inv.organization_id != s.org.id {
            return Err(AuthError::new(ErrorKind::NotFound, "invitation not found"));
        }
        let event = self.event(
            caller,
            AuditAction::InvitationRevoke,
            ("invitation", id.to_string()),
            serde_json::json!({"organization": s.org.slug, "user_id": inv.user_id}),
        );
        Ok(self
            .store()
            .close_invitation(id, InvitationStatus::Revoked, self.clock().now(), &event)
            .await?)
    }
}
