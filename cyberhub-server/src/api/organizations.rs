//! `/organizations*`: organizations and their members. Non-members get 404, members who
//! are not the organization's admins get 403 for changes.

use crate::api::accounts::Deleted;
use crate::error::{ApiError, ApiResult};
use crate::state::{client_info, page, page_links, AppState, BearerAuth};
use cyberhub_auth::Principal;
use cyberhub_domain::api::{MemberList, MemberPatchRequest, MemberRequest, OrganizationList};
use cyberhub_domain::{
    Action, AuditAction, AuditResult, Membership, NewOrganization, OrgFilter, OrgId, OrgPatch,
    OrgRole, OrgType, Organization, Resource, Scope, UserId, Validate,
};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Organizations and members.
    Organizations,
}

/// 201 with the new organization.
#[derive(ApiResponse)]
pub enum OrgCreated {
    /// Created; the caller is its admin.
    #[oai(status = 201)]
    Created(Json<Organization>),
}

/// 201 with the new membership.
#[derive(ApiResponse)]
pub enum MemberAdded {
    /// Added.
    #[oai(status = 201)]
    Created(Json<Membership>),
}

/// Organization routes.
pub struct OrganizationsApi(pub Arc<AppState>);

/// How the caller relates to an organization.
struct Access {
    org: Organization,
    /// The caller's member role (`None` for platform administrators who are not members).
    role: Option<OrgRole>,
    platform_admin: bool,
}

impl Access {
    fn can_manage(&self) -> bool {
        self.platform_admin || self.role == Some(OrgRole::Admin)
    }
}

impl OrganizationsApi {
    async fn access(&self, caller: &Principal, slug: &str) -> ApiResult<Access> {
        let platform_admin =
            caller.scope_for(Resource::Organization, Action::Read) == Some(Scope::All);
        if platform_admin {
            let org = self.0.store.get_org(slug).await?;
            let role = self
                .0
                .store
                .get_member(org.id, caller.user_id)
                .await
                .ok()
                .map(|m| m.role);
            return Ok(Access {
                org,
                role,
                platform_admin,
            });
        }
        let (org, role) = self.0.store.get_org_as_member(slug, caller.user_id).await?;
        Ok(Access {
            org,
            role: Some(role),
            platform_admin,
        })
    }

    async fn manage(&self, caller: &Principal, slug: &str) -> ApiResult<Access> {
        let a = self.access(caller, slug).await?;
        if !a.can_manage() {
            return Err(ApiError::forbidden(
                "Only the organization's admins can do this.",
            ));
        }
        Ok(a)
    }

    async fn audit(
        &self,
        req: &Request,
        caller: &Principal,
        action: AuditAction,
        org: OrgId,
        details: serde_json::Value,
    ) {
        self.0
            .auth
            .audit(
                Some(caller.user_id),
                action,
                ("organization", Some(org.to_string())),
                AuditResult::Success,
                &client_info(req),
                details,
            )
            .await;
    }
}

#[OpenApi]
impl OrganizationsApi {
    /// The caller's organizations (administrators: all).
    #[oai(
        path = "/organizations",
        method = "get",
        operation_id = "list_organizations",
        tag = "Tag::Organizations"
    )]
    async fn list(
        &self,
        req: &Request,
        auth: BearerAuth,
        org_type: Query<Option<OrgType>>,
        search: Query<Option<String>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<OrganizationList>> {
        let caller = self.0.principal(&auth).await?;
        let p = page(page_no.0, page_size.0)?;
        let all = caller.scope_for(Resource::Organization, Action::Read) == Some(Scope::All);
        let filter = OrgFilter {
            member: (!all).then_some(caller.user_id),
            org_type: org_type.0,
            search: search.0.filter(|s| !s.trim().is_empty()),
        };
        let result = self.0.store.list_orgs(&filter, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(OrganizationList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// Create an organization (admin, program_director, sponsor_admin); the caller becomes its admin.
    #[oai(
        path = "/organizations",
        method = "post",
        operation_id = "create_organization",
        tag = "Tag::Organizations"
    )]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<NewOrganization>,
    ) -> ApiResult<OrgCreated> {
        let caller = self.0.principal(&auth).await?;
        caller.require_all(Resource::Organization, Action::Create)?;
        let new = body.0.validated()?;
        let now = self.0.clock.now();
        let org = Organization::new(OrgId(uuid::Uuid::new_v4()), new, now);
        self.0
            .store
            .create_org(&org, caller.user_id, now)
            .await
            .map_err(|e| match e.kind() {
                cyberhub_domain::ErrorKind::AlreadyExists => ApiError::from_kind(
                    e.kind(),
                    "An organization with this slug already exists.",
                    &[],
                    None,
                ),
                _ => e.into(),
            })?;
        self.audit(
            req,
            &caller,
            AuditAction::OrgCreate,
            org.id,
            serde_json::json!({"slug": org.slug}),
        )
        .await;
        Ok(OrgCreated::Created(Json(org)))
    }

    /// One organization (members and administrators; others 404).
    #[oai(
        path = "/organizations/:slug",
        method = "get",
        operation_id = "get_organization",
        tag = "Tag::Organizations"
    )]
    async fn get(&self, auth: BearerAuth, slug: Path<String>) -> ApiResult<Json<Organization>> {
        let caller = self.0.principal(&auth).await?;
        Ok(Json(self.access(&caller, &slug.0).await?.org))
    }

    /// Edit an organization (its admins).
    #[oai(
        path = "/organizations/:slug",
        method = "patch",
        operation_id = "update_organization",
        tag = "Tag::Organizations"
    )]
    async fn patch(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        body: Json<OrgPatch>,
    ) -> ApiResult<Json<Organization>> {
        let caller = self.0.principal(&auth).await?;
        let a = self.manage(&caller, &slug.0).await?;
        let org = self
            .0
            .store
            .update_org(a.org.id, &body.0, self.0.clock.now())
            .await?;
        self.audit(
            req,
            &caller,
            AuditAction::OrgUpdate,
            org.id,
            serde_json::json!({}),
        )
        .await;
        Ok(Json(org))
    }

    /// Delete an organization (its admins).
    #[oai(
        path = "/organizations/:slug",
        method = "delete",
        operation_id = "delete_organization",
        tag = "Tag::Organizations"
    )]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
    ) -> ApiResult<Deleted> {
        let caller = self.0.principal(&auth).await?;
        let a = self.manage(&caller, &slug.0).await?;
        self.0.store.delete_org(a.org.id).await?;
        self.audit(
            req,
            &caller,
            AuditAction::OrgDelete,
            a.org.id,
            serde_json::json!({"slug": a.org.slug}),
        )
        .await;
        Ok(Deleted::NoContent)
    }

    /// Members of an organization (members and administrators).
    #[oai(
        path = "/organizations/:slug/members",
        method = "get",
        operation_id = "list_members",
        tag = "Tag::Organizations"
    )]
    async fn members(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<MemberList>> {
        let caller = self.0.principal(&auth).await?;
        let p = page(page_no.0, page_size.0)?;
        let a = self.access(&caller, &slug.0).await?;
        let result = self.0.store.list_members(a.org.id, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(MemberList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// Add a member (the organization's admins).
    #[oai(
        path = "/organizations/:slug/members",
        method = "post",
        operation_id = "add_member",
        tag = "Tag::Organizations"
    )]
    async fn add_member(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        body: Json<MemberRequest>,
    ) -> ApiResult<MemberAdded> {
        let caller = self.0.principal(&auth).await?;
        let a = self.manage(&caller, &slug.0).await?;
        self.0
            .store
            .get_user(body.user_id)
            .await
            .map_err(|_| ApiError::not_found("user"))?;
        let m = Membership {
            org_id: a.org.id,
            user_id: body.user_id,
            role: body.role.unwrap_or(OrgRole::Member),
            joined_at: self.0.clock.now(),
        };
        self.0
            .store
            .add_member(&m)
            .await
            .map_err(|e| match e.kind() {
                cyberhub_domain::ErrorKind::AlreadyExists => {
                    ApiError::from_kind(e.kind(), "This user is already a member.", &[], None)
                }
                _ => e.into(),
            })?;
        self.audit(
            req,
            &caller,
            AuditAction::MembershipChange,
            a.org.id,
            serde_json::json!({"added": m.user_id, "role": m.role}),
        )
        .await;
        Ok(MemberAdded::Created(Json(m)))
    }

    /// Change a member's role (the organization's admins; the last admin cannot be demoted).
    #[oai(
        path = "/organizations/:slug/members/:user_id",
        method = "patch",
        operation_id = "update_member",
        tag = "Tag::Organizations"
    )]
    async fn patch_member(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        user_id: Path<UserId>,
        body: Json<MemberPatchRequest>,
    ) -> ApiResult<Json<Membership>> {
        let caller = self.0.principal(&auth).await?;
        let a = self.manage(&caller, &slug.0).await?;
        let m = self
            .0
            .store
            .update_member(a.org.id, user_id.0, body.role)
            .await?;
        self.audit(
            req,
            &caller,
            AuditAction::MembershipChange,
            a.org.id,
            serde_json::json!({"changed": user_id.0, "role": body.role}),
        )
        .await;
        Ok(Json(m))
    }

    /// Remove a member (the organization's admins, or members leaving themselves).
    #[oai(
        path = "/organizations/:slug/members/:user_id",
        method = "delete",
        operation_id = "remove_member",
        tag = "Tag::Organizations"
    )]
    async fn remove_member(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        user_id: Path<UserId>,
    ) -> ApiResult<Deleted> {
        let caller = self.0.principal(&auth).await?;
        let a = self.access(&caller, &slug.0).await?;
        if !a.can_manage() && caller.user_id != user_id.0 {
            return Err(ApiError::forbidden(
                "Only the organization's admins can remove other members.",
            ));
        }
        self.0.store.remove_member(a.org.id, user_id.0).await?;
        self.audit(
            req,
            &caller,
            AuditAction::MembershipChange,
            a.org.id,
            serde_json::json!({"removed": user_id.0}),
        )
        .await;
        Ok(Deleted::NoContent)
    }
}
