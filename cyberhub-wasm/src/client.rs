//! [`Client`]: one method per route of `docs/API.md`, typed with `cyberhub-domain`'s
//! request and response types.
//!
//! Authenticated calls send the stored access token. A 401 triggers exactly one refresh
//! (`POST /auth/token/refresh` with the stored refresh token, which rotates the pair) and
//! one retry; when the refresh fails the tokens are cleared and the call fails with 401
//! "session expired". Sign-up and login store the new pair, logout clears it.

use crate::error::{Result, SdkError};
use crate::tokens::{MemoryTokens, TokenStore, Tokens};
use crate::transport::{HttpRequest, HttpResponse, Method, Transport};
use cyberhub_domain::api::*;
use cyberhub_domain::api_ai::*;
use cyberhub_domain::{
    ContentItem, ContentPatch, Invitation, InvitationId, Membership, NewContent, NewOrganization,
    NewProgress, OrgPatch, Organization, Progress, ProgressId, ProgressPatch, Role, User, UserId,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Query parameters of list routes, e.g. `&[("track", "offensive"), ("page_size", "50")]`.
pub type Query<'a> = &'a [(&'a str, &'a str)];

/// An API client over a transport, with token storage.
#[derive(Debug)]
pub struct Client<T: Transport, S: TokenStore = MemoryTokens> {
    base: String,
    transport: T,
    tokens: S,
}

fn body_of<B: Serialize + ?Sized>(body: &B) -> Result<String> {
    // Absent and null mean the same to the API; leave nulls out of the wire format.
    let mut v = serde_json::to_value(body)
        .map_err(|e| SdkError::network(format!("cannot encode the request: {e}")))?;
    if let serde_json::Value::Object(map) = &mut v {
        map.retain(|_, x| !x.is_null());
    }
    Ok(v.to_string())
}

fn decode<R: DeserializeOwned>(resp: HttpResponse) -> Result<R> {
    if !(200..300).contains(&resp.status) {
        return Err(SdkError::from_response(resp.status, &resp.body));
    }
    serde_json::from_str(if resp.body.is_empty() {
        "null"
    } else {
        &resp.body
    })
    .map_err(|e| SdkError {
        status: resp.status,
        detail: format!("unexpected answer from the server: {e}"),
        errors: Vec::new(),
    })
}

fn empty(resp: HttpResponse) -> Result<()> {
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(SdkError::from_response(resp.status, &resp.body))
    }
}

impl<T: Transport> Client<T, MemoryTokens> {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8000`), tokens in memory.
    pub fn new(base_url: &str, transport: T) -> Self {
        Self::with_tokens(base_url, transport, MemoryTokens::default())
    }
}

impl<T: Transport, S: TokenStore> Client<T, S> {
    /// A client with its own token storage.
    pub fn with_tokens(base_url: &str, transport: T, tokens: S) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            transport,
            tokens,
        }
    }

    /// The token storage.
    pub fn tokens(&self) -> &S {
        &self.tokens
    }

    /// Whether a token pair is stored.
    pub fn is_signed_in(&self) -> bool {
        self.tokens.get().is_some()
    }

    fn url(&self, path: &str, query: Query<'_>) -> String {
        let mut url = format!("{}/api/v1{path}", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&serde_urlencoded::to_string(query).unwrap_or_default());
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        json: Option<&String>,
        bearer: Option<String>,
    ) -> Result<HttpResponse> {
        self.transport
            .send(HttpRequest {
                method,
                url: url.to_owned(),
                bearer,
                json: json.cloned(),
            })
            .await
    }

    /// Sends with the access token; on 401 refreshes once and retries once.
    async fn authed(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        json: Option<String>,
    ) -> Result<HttpResponse> {
        let url = self.url(path, query);
        let access = self.tokens.get().map(|t| t.access);
        let resp = self.send(method, &url, json.as_ref(), access).await?;
        if resp.status != 401 || self.tokens.get().is_none() {
            return Ok(resp);
        }
        if let Err(e) = self.refresh().await {
            self.tokens.clear();
            return Err(SdkError {
                status: 401,
                detail: format!("Session expired; sign in again ({}).", e.detail),
                errors: Vec::new(),
            });
        }
        let access = self.tokens.get().map(|t| t.access);
        self.send(method, &url, json.as_ref(), access).await
    }

    async fn get<R: DeserializeOwned>(&self, path: &str, query: Query<'_>) -> Result<R> {
        decode(self.authed(Method::Get, path, query, None).await?)
    }

    async fn write<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<R> {
        decode(self.authed(method, path, &[], Some(body_of(body)?)).await?)
    }

    async fn delete(&self, path: &str) -> Result<()> {
        empty(self.authed(Method::Delete, path, &[], None).await?)
    }

    async fn public<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R> {
        let url = self.url(path, &[]);
        decode(
            self.send(Method::Post, &url, Some(&body_of(body)?), None)
                .await?,
        )
    }

    fn keep(&self, access: &str, refresh: &str) {
        self.tokens.set(Tokens {
            access: access.to_owned(),
            refresh: refresh.to_owned(),
        });
    }

    // ---- accounts -------------------------------------------------------------------

    /// `POST /auth/signup`; stores the tokens.
    pub async fn signup(&self, request: &SignupRequest) -> Result<AuthResponse> {
        let r: AuthResponse = self.public("/auth/signup", request).await?;
        self.keep(&r.access_token, &r.refresh_token);
        Ok(r)
    }

    /// `POST /auth/login`; stores the tokens.
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthResponse> {
        let body = LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        let r: AuthResponse = self.public("/auth/login", &body).await?;
        self.keep(&r.access_token, &r.refresh_token);
        Ok(r)
    }

    /// `POST /auth/token/refresh` with the stored refresh token; stores the new pair.
    pub async fn refresh(&self) -> Result<TokenResponse> {
        let Some(t) = self.tokens.get() else {
            return Err(SdkError {
                status: 401,
                detail: "Not signed in.".into(),
                errors: Vec::new(),
            });
        };
        let r: TokenResponse = self
            .public(
                "/auth/token/refresh",
                &RefreshRequest {
                    refresh_token: t.refresh,
                },
            )
            .await?;
        self.keep(&r.access_token, &r.refresh_token);
        Ok(r)
    }

    /// `POST /auth/logout` (this session, or `all` of the caller's); clears the tokens
    /// whatever the answer.
    pub async fn logout(&self, all: bool) -> Result<MessageResponse> {
        let body = LogoutRequest {
            refresh_token: self.tokens.get().map(|t| t.refresh),
            all: all.then_some(true),
        };
        let r = self.write(Method::Post, "/auth/logout", &body).await;
        self.tokens.clear();
        r
    }

    /// `GET /auth/me`.
    pub async fn me(&self) -> Result<MeResponse> {
        self.get("/auth/me", &[]).await
    }

    /// `POST /auth/password/change`.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<MessageResponse> {
        let body = PasswordChangeRequest {
            current_password: current.into(),
            new_password: new.into(),
        };
        self.write(Method::Post, "/auth/password/change", &body)
            .await
    }

    /// `POST /auth/email/change` (needs the current password).
    pub async fn change_email(&self, current: &str, new_email: &str) -> Result<User> {
        let body = EmailChangeRequest {
            current_password: current.into(),
            new_email: new_email.into(),
        };
        self.write(Method::Post, "/auth/email/change", &body).await
    }

    /// `POST /auth/account/delete`: deletes the signed-in account (needs the current
    /// password) and forgets its tokens.
    pub async fn delete_account(&self, current: &str) -> Result<()> {
        let body = AccountDeleteRequest {
            current_password: current.into(),
        };
        let r = empty(
            self.authed(
                Method::Post,
                "/auth/account/delete",
                &[],
                Some(body_of(&body)?),
            )
            .await?,
        );
        if r.is_ok() {
            self.tokens.clear();
        }
        r
    }

    /// `GET /users` (`search`, `role`, `status`, `page`, `page_size`).
    pub async fn list_users(&self, query: Query<'_>) -> Result<UserList> {
        self.get("/users", query).await
    }

    /// `POST /users` (an administrator creating an account).
    pub async fn create_user(&self, request: &SignupRequest) -> Result<UserCreatedResponse> {
        self.write(Method::Post, "/users", request).await
    }

    /// `GET /users/{id}`.
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.get(&format!("/users/{}", id.0), &[]).await
    }

    /// `PATCH /users/{id}`.
    pub async fn update_user(&self, id: UserId, patch: &UserPatchRequest) -> Result<User> {
        self.write(Method::Patch, &format!("/users/{}", id.0), patch)
            .await
    }

    /// `DELETE /users/{id}`.
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        self.delete(&format!("/users/{}", id.0)).await
    }

    /// `POST /users/{id}/roles`.
    pub async fn grant_role(&self, id: UserId, grant: &RoleGrantRequest) -> Result<UserRole> {
        self.write(Method::Post, &format!("/users/{}/roles", id.0), grant)
            .await
    }

    /// `DELETE /users/{id}/roles/{role}`.
    pub async fn revoke_role(&self, id: UserId, role: Role) -> Result<()> {
        self.delete(&format!("/users/{}/roles/{}", id.0, role.as_str()))
            .await
    }

    /// `GET /roles`.
    pub async fn roles(&self) -> Result<Vec<RoleInfo>> {
        self.get("/roles", &[]).await
    }

    // ---- organizations ----------------------------------------------------------------

    /// `GET /organizations`.
    pub async fn list_organizations(&self, query: Query<'_>) -> Result<OrganizationList> {
        self.get("/organizations", query).await
    }

    /// `POST /organizations`.
    pub async fn create_organization(&self, org: &NewOrganization) -> Result<Organization> {
        self.write(Method::Post, "/organizations", org).await
    }

    /// `GET /organizations/{slug}`.
    pub async fn get_organization(&self, slug: &str) -> Result<Organization> {
        self.get(&format!("/organizations/{slug}"), &[]).await
    }

    /// `PATCH /organizations/{slug}`.
    pub async fn update_organization(&self, slug: &str, patch: &OrgPatch) -> Result<Organization> {
        self.write(Method::Patch, &format!("/organizations/{slug}"), patch)
            .await
    }

    /// `DELETE /organizations/{slug}`.
    pub async fn delete_organization(&self, slug: &str) -> Result<()> {
        self.delete(&format!("/organizations/{slug}")).await
    }

    /// `GET /organizations/{slug}/members`.
    pub async fn list_members(&self, slug: &str, query: Query<'_>) -> Result<MemberList> {
        self.get(&format!("/organizations/{slug}/members"), query)
            .await
    }

    /// `POST /organizations/{slug}/members`: a platform administrator adds the member
    /// directly; an organization admin invites them (they join by accepting).
    pub async fn add_member(&self, slug: &str, member: &MemberRequest) -> Result<MemberAddResult> {
        self.write(
            Method::Post,
            &format!("/organizations/{slug}/members"),
            member,
        )
        .await
    }

    /// `GET /organizations/{slug}/invitations` (`status=pending`, `page`, `page_size`).
    pub async fn list_org_invitations(
        &self,
        slug: &str,
        query: Query<'_>,
    ) -> Result<InvitationList> {
        self.get(&format!("/organizations/{slug}/invitations"), query)
            .await
    }

    /// `DELETE /organizations/{slug}/invitations/{id}`.
    pub async fn revoke_invitation(&self, slug: &str, id: InvitationId) -> Result<()> {
        self.delete(&format!("/organizations/{slug}/invitations/{}", id.0))
            .await
    }

    /// `GET /invitations`: the caller's (`status=pending`, `page`, `page_size`).
    pub async fn list_invitations(&self, query: Query<'_>) -> Result<InvitationList> {
        self.get("/invitations", query).await
    }

    /// `POST /invitations/{id}/accept`: the new membership.
    pub async fn accept_invitation(&self, id: InvitationId) -> Result<Membership> {
        self.write(
            Method::Post,
            &format!("/invitations/{}/accept", id.0),
            &serde_json::json!({}),
        )
        .await
    }

    /// `POST /invitations/{id}/decline`.
    pub async fn decline_invitation(&self, id: InvitationId) -> Result<Invitation> {
        self.write(
            Method::Post,
            &format!("/invitations/{}/decline", id.0),
            &serde_json::json!({}),
        )
        .await
    }

    /// `PATCH /organizations/{slug}/members/{user_id}`.
    pub async fn update_member(
        &self,
        slug: &str,
        user: UserId,
        patch: &MemberPatchRequest,
    ) -> Result<Membership> {
        self.write(
            Method::Patch,
            &format!("/organizations/{slug}/members/{}", user.0),
            patch,
        )
        .await
    }

    /// `DELETE /organizations/{slug}/members/{user_id}`.
    pub async fn remove_member(&self, slug: &str, user: UserId) -> Result<()> {
        self.delete(&format!("/organizations/{slug}/members/{}", user.0))
            .await
    }

    // ---- content and progress ---------------------------------------------------------

    /// `GET /content` (`content_type`, `track`, `difficulty`, `search`, `page`, `page_size`).
    pub async fn list_content(&self, query: Query<'_>) -> Result<ContentList> {
        self.get("/content", query).await
    }

    /// `GET /content/{id}` (internal id or `content_id`).
    pub async fn get_content(&self, id: &str) -> Result<ContentItem> {
        self.get(&format!("/content/{id}"), &[]).await
    }

    /// `POST /content`.
    pub async fn create_content(&self, item: &NewContent) -> Result<ContentItem> {
        self.write(Method::Post, "/content", item).await
    }

    /// `PATCH /content/{id}`.
    pub async fn update_content(&self, id: &str, patch: &ContentPatch) -> Result<ContentItem> {
        self.write(Method::Patch, &format!("/content/{id}"), patch)
            .await
    }

    /// `DELETE /content/{id}`.
    pub async fn delete_content(&self, id: &str) -> Result<()> {
        self.delete(&format!("/content/{id}")).await
    }

    /// `GET /progress` (`user`, `content_type`, `status`, `search`, `ordering`, `page`, `page_size`).
    pub async fn list_progress(&self, query: Query<'_>) -> Result<ProgressList> {
        self.get("/progress", query).await
    }

    /// `POST /progress`.
    pub async fn create_progress(&self, progress: &NewProgress) -> Result<Progress> {
        self.write(Method::Post, "/progress", progress).await
    }

    /// `GET /progress/{id}`.
    pub async fn get_progress(&self, id: ProgressId) -> Result<Progress> {
        self.get(&format!("/progress/{}", id.0), &[]).await
    }

    /// `PATCH /progress/{id}`.
    pub async fn update_progress(&self, id: ProgressId, patch: &ProgressPatch) -> Result<Progress> {
        self.write(Method::Patch, &format!("/progress/{}", id.0), patch)
            .await
    }

    /// `DELETE /progress/{id}`.
    pub async fn delete_progress(&self, id: ProgressId) -> Result<()> {
        self.delete(&format!("/progress/{}", id.0)).await
    }

    /// `GET /audit-logs` (`action`, `result`, `since`, `until`, `page`, `page_size`).
    pub async fn audit_logs(&self, query: Query<'_>) -> Result<AuditLogList> {
        self.get("/audit-logs", query).await
    }

    /// `GET /audit-logs/stats`.
    pub async fn audit_stats(&self, query: Query<'_>) -> Result<AuditStatsResponse> {
        self.get("/audit-logs/stats", query).await
    }

    // ---- AI ---------------------------------------------------------------------------

    /// `POST /embeddings`.
    pub async fn embeddings(&self, texts: Vec<String>) -> Result<EmbeddingsResponse> {
        self.write(Method::Post, "/embeddings", &EmbeddingsRequest { texts })
            .await
    }

    /// `POST /search`.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        self.write(Method::Post, "/search", request).await
    }

    /// `POST /recommendations`.
    pub async fn recommendations(
        &self,
        request: &RecommendationRequest,
    ) -> Result<RecommendationResponse> {
        self.write(Method::Post, "/recommendations", request).await
    }

    /// `GET /recommendations/{user_id}` (`content_type`, `limit`).
    pub async fn recommendations_of(
        &self,
        user: UserId,
        query: Query<'_>,
    ) -> Result<RecommendationResponse> {
        self.get(&format!("/recommendations/{}", user.0), query)
            .await
    }

    /// `GET /personality/questionnaire`.
    pub async fn questionnaire(&self) -> Result<Questionnaire> {
        self.get("/personality/questionnaire", &[]).await
    }

    /// `POST /personality/analyze`.
    pub async fn analyze_personality(
        &self,
        request: &PersonalityRequest,
    ) -> Result<PersonalityAnalysis> {
        self.write(Method::Post, "/personality/analyze", request)
            .await
    }

    /// `GET /index/status` (administrators, program directors).
    pub async fn index_status(&self) -> Result<IndexStatus> {
        self.get("/index/status", &[]).await
    }

    /// `POST /index/reindex` (administrators, program directors).
    pub async fn reindex(&self) -> Result<IndexStatus> {
        self.write(Method::Post, "/index/reindex", &serde_json::json!({}))
            .await
    }

    /// `GET /personality/{user_id}`.
    pub async fn personality_of(&self, user: UserId) -> Result<PersonalityAnalysis> {
        self.get(&format!("/personality/{}", user.0), &[]).await
    }
}
