//! `/auth/*`, `/users*` and `/roles`.

use crate::error::ApiResult;
use crate::state::{client_info, page, page_links, AppState, BearerAuth};
use cyberhub_auth::{AuthSession, Caller, Principal};
use cyberhub_domain::api::*;
use cyberhub_domain::{permissions_for, AccountStatus, Role, RoleGrant, User, UserFilter, UserId};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use secrecy::SecretString;
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Sign-up, login, tokens.
    Auth,
    /// User accounts and roles.
    Users,
}

/// 201 with the new account (and, for self-registration, its tokens).
#[derive(ApiResponse)]
pub enum SignupResponse {
    /// Account created.
    #[oai(status = 201)]
    Created(Json<AuthResponse>),
}

/// 201 for `POST /users`.
#[derive(ApiResponse)]
pub enum UserCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<UserCreatedResponse>),
}

/// 204 for deletions.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

/// 201 for a role grant.
#[derive(ApiResponse)]
pub enum RoleGranted {
    /// Granted.
    #[oai(status = 201)]
    Created(Json<UserRole>),
}

fn auth_response(s: AuthSession) -> AuthResponse {
    AuthResponse {
        user: s.user,
        access_token: s.tokens.access_token,
        refresh_token: s.tokens.refresh_token,
        token_type: s.tokens.token_type.into(),
        expires_in: s.tokens.expires_in,
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn user_role(g: &RoleGrant) -> UserRole {
    UserRole {
        user_id: g.user_id,
        role: g.role,
        scope: g.scope.kind_str().into(),
        scope_ref: g.scope.org().map(|o| o.to_string()),
        granted_at: g.granted_at,
    }
}

/// Account routes.
pub struct AccountsApi(pub Arc<AppState>);

impl AccountsApi {
    async fn signup_inner(&self, req: &Request, body: SignupRequest) -> ApiResult<AuthSession> {
        Ok(self.0.auth.signup_request(&body, &client_info(req)).await?)
    }

    /// A user visible to `caller`: themselves, or anyone for administrators; else 404.
    async fn me(&self, caller: &Principal) -> ApiResult<MeResponse> {
        let user = self.0.store.get_user(caller.user_id).await?;
        let organizations = self
            .0
            .store
            .memberships_of(caller.user_id)
            .await?
            .into_iter()
            .map(|(organization, role)| OrganizationMembership { organization, role })
            .collect();
        Ok(MeResponse {
            user,
            roles: caller.roles.clone(),
            organizations,
        })
    }
}

#[OpenApi]
impl AccountsApi {
    /// Register a new account (role `mentee`) and sign in.
    #[oai(
        path = "/auth/signup",
        method = "post",
        operation_id = "signup",
        tag = "Tag::Auth"
    )]
    async fn signup(&self, req: &Request, body: Json<SignupRequest>) -> ApiResult<SignupResponse> {
        let s = self.signup_inner(req, body.0).await?;
        Ok(SignupResponse::Created(Json(auth_response(s))))
    }

    /// Sign in with e-mail and password.
    #[oai(
        path = "/auth/login",
        method = "post",
        operation_id = "login",
        tag = "Tag::Auth"
    )]
    async fn login(
        &self,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> ApiResult<Json<AuthResponse>> {
        let s = self
            .0
            .auth
            .login(&body.email, &secret(&body.password), &client_info(req))
            .await?;
        Ok(Json(auth_response(s)))
    }

    /// Exchange a refresh token for a new pair (the old one dies; reusing it ends the session).
    #[oai(
        path = "/auth/token/refresh",
        method = "post",
        operation_id = "refresh",
        tag = "Tag::Auth"
    )]
    async fn refresh(
        &self,
        req: &Request,
        body: Json<RefreshRequest>,
    ) -> ApiResult<Json<TokenResponse>> {
        let p = self
            .0
            .auth
            .refresh(&body.refresh_token, &client_info(req))
            .await?;
        Ok(Json(TokenResponse {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: p.token_type.into(),
            expires_in: p.expires_in,
        }))
    }

    /// End the current session (or the refresh token's, or all with `{"all": true}`).
    #[oai(
        path = "/auth/logout",
        method = "post",
        operation_id = "logout",
        tag = "Tag::Auth"
    )]
    async fn logout(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<LogoutRequest>,
    ) -> ApiResult<Json<MessageResponse>> {
        let caller = self.0.principal(&auth).await?;
        let all = body.all.unwrap_or(false);
        let n = self
            .0
            .auth
            .logout(
                &caller,
                body.refresh_token.as_deref(),
                all,
                &client_info(req),
            )
            .await?;
        Ok(Json(MessageResponse {
            detail: format!("Logged out ({n} session{}).", if n == 1 { "" } else { "s" }),
        }))
    }

    /// The caller, their roles and organizations.
    #[oai(
        path = "/auth/me",
        method = "get",
        operation_id = "me",
        tag = "Tag::Auth"
    )]
    async fn auth_me(&self, auth: BearerAuth) -> ApiResult<Json<MeResponse>> {
        let caller = self.0.principal(&auth).await?;
        Ok(Json(self.me(&caller).await?))
    }

    /// Change the caller's password; their other sessions end.
    #[oai(
        path = "/auth/password/change",
        method = "post",
        operation_id = "change_password",
        tag = "Tag::Auth"
    )]
    async fn change_password(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<PasswordChangeRequest>,
    ) -> ApiResult<Json<MessageResponse>> {
        let caller = self.0.principal(&auth).await?;
        self.0
            .auth
            .change_password(
                &caller,
                &secret(&body.current_password),
                &secret(&body.new_password),
                &client_info(req),
            )
            .await?;
        Ok(Json(MessageResponse {
            detail: "Password changed; other sessions were signed out.".into(),
        }))
    }

    /// Change the caller's e-mail address (needs the current password; an address another
    /// account holds: 409).
    #[oai(
        path = "/auth/email/change",
        method = "post",
        operation_id = "change_email",
        tag = "Tag::Auth"
    )]
    async fn change_email(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<EmailChangeRequest>,
    ) -> ApiResult<Json<User>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .auth
                .change_email(
                    &who.principal,
                    &secret(&body.current_password),
                    &body.new_email,
                    &who.client,
                )
                .await?,
        ))
    }

    /// Delete the caller's own account (needs the current password). The last
    /// administrator, and an organization's only admin, cannot leave (409).
    #[oai(
        path = "/auth/account/delete",
        method = "post",
        operation_id = "delete_account",
        tag = "Tag::Auth"
    )]
    async fn delete_account(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<AccountDeleteRequest>,
    ) -> ApiResult<Deleted> {
        let who = self.0.who(&auth, req).await?;
        self.0
            .services
            .delete_own_account(who.caller(), &secret(&body.current_password))
            .await?;
        Ok(Deleted::NoContent)
    }

    /// Users: administrators see all (filters `search`, `role`, `status`); others only themselves.
    #[oai(
        path = "/users",
        method = "get",
        operation_id = "list_users",
        tag = "Tag::Users"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_users(
        &self,
        req: &Request,
        auth: BearerAuth,
        search: Query<Option<String>>,
        role: Query<Option<Role>>,
        status: Query<Option<AccountStatus>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<UserList>> {
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let filter = UserFilter {
            search: search.0.filter(|s| !s.trim().is_empty()),
            role: role.0,
            status: status.0,
        };
        let result = self.0.services.list_users(who.caller(), filter, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(UserList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// Register (no token: the original sign-up flow, returns tokens) or, with an
    /// administrator's token, create a user (optionally with roles). Other tokens: 403.
    #[oai(
        path = "/users",
        method = "post",
        operation_id = "create_user",
        tag = "Tag::Users"
    )]
    async fn create_user(
        &self,
        req: &Request,
        body: Json<SignupRequest>,
    ) -> ApiResult<UserCreated> {
        let body = body.0;
        match self.0.optional_principal(req).await? {
            None => {
                let s = self.signup_inner(req, body).await?;
                let r = auth_response(s);
                Ok(UserCreated::Created(Json(UserCreatedResponse {
                    user: r.user,
                    access_token: Some(r.access_token),
                    refresh_token: Some(r.refresh_token),
                    token_type: Some(r.token_type),
                    expires_in: Some(r.expires_in),
                })))
            }
            Some(caller) => {
                let client = client_info(req);
                let user = self
                    .0
                    .services
                    .create_user(Caller::new(&caller, &client), &body)
                    .await?;
                Ok(UserCreated::Created(Json(UserCreatedResponse {
                    user,
                    access_token: None,
                    refresh_token: None,
                    token_type: None,
                    expires_in: None,
                })))
            }
        }
    }

    /// The caller's own user record.
    #[oai(
        path = "/users/me",
        method = "get",
        operation_id = "users_me",
        tag = "Tag::Users"
    )]
    async fn users_me(&self, auth: BearerAuth) -> ApiResult<Json<User>> {
        let caller = self.0.principal(&auth).await?;
        Ok(Json(self.0.store.get_user(caller.user_id).await?))
    }

    /// One user (self or administrators; others 404).
    #[oai(
        path = "/users/:id",
        method = "get",
        operation_id = "get_user",
        tag = "Tag::Users"
    )]
    async fn get_user(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<UserId>,
    ) -> ApiResult<Json<User>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(self.0.services.user(who.caller(), id.0).await?))
    }

    /// Edit a profile. Users edit their own profile fields; `status` is for administrators;
    /// roles, e-mail and security fields are never edited here (403 in a self-edit).
    #[oai(
        path = "/users/:id",
        method = "patch",
        operation_id = "update_user",
        tag = "Tag::Users"
    )]
    async fn patch_user(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<UserId>,
        body: Json<UserPatchRequest>,
    ) -> ApiResult<Json<User>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .update_user(who.caller(), id.0, &body.0)
                .await?,
        ))
    }

    /// Delete an account (self or administrators).
    #[oai(
        path = "/users/:id",
        method = "delete",
        operation_id = "delete_user",
        tag = "Tag::Users"
    )]
    async fn delete_user(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<UserId>,
    ) -> ApiResult<Deleted> {
        let who = self.0.who(&auth, req).await?;
        self.0.services.delete_user(who.caller(), id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Grant a role (administrators only).
    #[oai(
        path = "/users/:id/roles",
        method = "post",
        operation_id = "grant_role",
        tag = "Tag::Users"
    )]
    async fn grant_role(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<UserId>,
        body: Json<RoleGrantRequest>,
    ) -> ApiResult<RoleGranted> {
        let who = self.0.who(&auth, req).await?;
        let scope = self
            .0
            .services
            .role_scope(body.scope.as_deref(), body.scope_ref.as_deref())
            .await?;
        let grant = self
            .0
            .services
            .grant_role(who.caller(), id.0, body.role, scope)
            .await?;
        Ok(RoleGranted::Created(Json(user_role(&grant))))
    }

    /// Revoke a role (administrators only; `?scope=org&scope_ref=SLUG` for an org-scoped grant).
    #[oai(
        path = "/users/:id/roles/:role",
        method = "delete",
        operation_id = "revoke_role",
        tag = "Tag::Users"
    )]
    async fn revoke_role(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<UserId>,
        role: Path<Role>,
        scope: Query<Option<String>>,
        scope_ref: Query<Option<String>>,
    ) -> ApiResult<Deleted> {
        let who = self.0.who(&auth, req).await?;
        let scope = self
            .0
            .services
            .role_scope(scope.0.as_deref(), scope_ref.0.as_deref())
            .await?;
        self.0
            .services
            .revoke_role(who.caller(), id.0, role.0, scope)
            .await?;
        Ok(Deleted::NoContent)
    }

    /// The platform roles and their permissions.
    #[oai(
        path = "/roles",
        method = "get",
        operation_id = "roles",
        tag = "Tag::Users"
    )]
    async fn roles(&self, auth: BearerAuth) -> ApiResult<Json<Vec<RoleInfo>>> {
        self.0.principal(&auth).await?;
        Ok(Json(
            Role::ALL
                .iter()
                .map(|r| RoleInfo {
                    role: *r,
                    permissions: permissions_for(*r),
                })
                .collect(),
        ))
    }
}
