//! `/organizations*` and `/invitations*`: organizations, members and invitations. Every
//! rule (who sees and manages what, invitations instead of direct adds for organization
//! admins, audit) is in `cyberhub_auth::app`; these handlers parse and map.

use crate::api::accounts::Deleted;
use crate::error::ApiResult;
use crate::state::{page, page_links, AppState, BearerAuth};
use cyberhub_auth::MemberAdded as Added;
use cyberhub_domain::api::{
    InvitationList, MemberAddResult, MemberList, MemberPatchRequest, MemberRequest,
    OrganizationList,
};
use cyberhub_domain::{
    Invitation, InvitationId, Membership, NewOrganization, OrgPatch, OrgRole, OrgType,
    Organization, PageResult, UserId,
};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Organizations, members and invitations.
    Organizations,
}

/// 201 with the new organization.
#[derive(ApiResponse)]
pub enum OrgCreated {
    /// Created; the caller is its admin.
    #[oai(status = 201)]
    Created(Json<Organization>),
}

/// A platform administrator's add (201, the membership) or an organization admin's
/// invitation (202: the user becomes a member when they accept).
#[derive(ApiResponse)]
pub enum MemberAdded {
    /// Added (platform administrators): the membership.
    #[oai(status = 201)]
    Created(Json<MemberAddResult>),
    /// Invited (the organization's admins): the pending invitation.
    #[oai(status = 202)]
    Invited(Json<MemberAddResult>),
}

/// Organization and invitation routes.
pub struct OrganizationsApi(pub Arc<AppState>);

fn invitation_list(req: &Request, r: PageResult<Invitation>) -> Json<InvitationList> {
    let (next, previous) = page_links(req, &r);
    Json(InvitationList {
        count: r.total,
        next,
        previous,
        results: r.items,
    })
}

/// `?status=`: only `pending` narrows the list (to invitations still open).
fn pending_only(status: Option<String>) -> ApiResult<bool> {
    match status.as_deref() {
        None | Some("") => Ok(false),
        Some("pending") => Ok(true),
        Some(_) => Err(crate::error::ApiError::field(
            "status",
            "Filter by status=pending, or leave it out for every invitation.",
        )),
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
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let result = self
            .0
            .services
            .list_orgs(who.caller(), org_type.0, search.0, p)
            .await?;
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
        let who = self.0.who(&auth, req).await?;
        let org = self.0.services.create_org(who.caller(), body.0).await?;
        Ok(OrgCreated::Created(Json(org)))
    }

    /// One organization (members and administrators; others 404).
    #[oai(
        path = "/organizations/:slug",
        method = "get",
        operation_id = "get_organization",
        tag = "Tag::Organizations"
    )]
    async fn get(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
    ) -> ApiResult<Json<Organization>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(self.0.services.org(who.caller(), &slug.0).await?))
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
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .update_org(who.caller(), &slug.0, &body.0)
                .await?,
        ))
    }

    /// Delete an organization with its memberships and invitations (its admins).
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
        let who = self.0.who(&auth, req).await?;
        self.0.services.delete_org(who.caller(), &slug.0).await?;
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
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let result = self.0.services.members(who.caller(), &slug.0, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(MemberList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// Add a member. A platform administrator adds them directly (201, the membership);
    /// the organization's admins invite them (202, the pending invitation: the user
    /// becomes a member only by accepting it).
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
        let who = self.0.who(&auth, req).await?;
        let role = body.role.unwrap_or(OrgRole::Member);
        Ok(
            match self
                .0
                .services
                .add_member(who.caller(), &slug.0, body.user_id, role)
                .await?
            {
                Added::Member(m) => MemberAdded::Created(Json(MemberAddResult::Member(m))),
                Added::Invited(i) => MemberAdded::Invited(Json(MemberAddResult::Invited(i))),
            },
        )
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
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .update_member(who.caller(), &slug.0, user_id.0, body.role)
                .await?,
        ))
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
        let who = self.0.who(&auth, req).await?;
        self.0
            .services
            .remove_member(who.caller(), &slug.0, user_id.0)
            .await?;
        Ok(Deleted::NoContent)
    }

    /// The organization's invitations, newest first (its admins; `?status=pending`: only
    /// those still open).
    #[oai(
        path = "/organizations/:slug/invitations",
        method = "get",
        operation_id = "list_org_invitations",
        tag = "Tag::Organizations"
    )]
    async fn org_invitations(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        status: Query<Option<String>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<InvitationList>> {
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let r = self
            .0
            .services
            .org_invitations(who.caller(), &slug.0, pending_only(status.0)?, p)
            .await?;
        Ok(invitation_list(req, r))
    }

    /// Withdraw a pending invitation (the organization's admins).
    #[oai(
        path = "/organizations/:slug/invitations/:id",
        method = "delete",
        operation_id = "revoke_invitation",
        tag = "Tag::Organizations"
    )]
    async fn revoke_invitation(
        &self,
        req: &Request,
        auth: BearerAuth,
        slug: Path<String>,
        id: Path<InvitationId>,
    ) -> ApiResult<Deleted> {
        let who = self.0.who(&auth, req).await?;
        self.0
            .services
            .revoke_invitation(who.caller(), &slug.0, id.0)
            .await?;
        Ok(Deleted::NoContent)
    }

    /// The caller's invitations, newest first (`?status=pending`: only those still open).
    #[oai(
        path = "/invitations",
        method = "get",
        operation_id = "list_invitations",
        tag = "Tag::Organizations"
    )]
    async fn my_invitations(
        &self,
        req: &Request,
        auth: BearerAuth,
        status: Query<Option<String>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<InvitationList>> {
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let r = self
            .0
            .services
            .my_invitations(who.caller(), pending_only(status.0)?, p)
            .await?;
        Ok(invitation_list(req, r))
    }

    /// Accept an invitation (the invited user): the membership.
    #[oai(
        path = "/invitations/:id/accept",
        method = "post",
        operation_id = "accept_invitation",
        tag = "Tag::Organizations"
    )]
    async fn accept(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<InvitationId>,
    ) -> ApiResult<Json<Membership>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .accept_invitation(who.caller(), id.0)
                .await?,
        ))
    }

    /// Decline an invitation (the invited user): the closed invitation.
    #[oai(
        path = "/invitations/:id/decline",
        method = "post",
        operation_id = "decline_invitation",
        tag = "Tag::Organizations"
    )]
    async fn decline(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<InvitationId>,
    ) -> ApiResult<Json<Invitation>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .decline_invitation(who.caller(), id.0)
                .await?,
        ))
    }
}
