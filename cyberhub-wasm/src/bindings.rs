//! The JavaScript face of the SDK (wasm32 only): the `CyberHub` class over `fetch`.
//!
//! Every method returns a `Promise` of the same JSON the HTTP API answers with, typed in the
//! generated `.d.ts` with the `cyberhub-domain` types (derived by tsify), and rejects with an
//! `ApiError` (`Error` with `status`, `detail` and `errors`; `status` 0: no answer).
//! Tokens stay in memory unless a `TokenStorage` object is passed to the constructor.

use crate::error::SdkError;
use crate::tokens::{MemoryTokens, TokenStore, Tokens};
use crate::transport::{HttpRequest, HttpResponse, Transport};
use crate::Client;
use async_trait::async_trait;
use cyberhub_domain::{InvitationId, ProgressId, Role, UserId};
use js_sys::{Object, Promise, Reflect, JSON};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Headers, Request, RequestInit, Response};

#[wasm_bindgen(typescript_custom_section)]
const TS_SDK: &'static str = r#"
/** A UUID in its hyphenated text form. */
export type Uuid = string;
/** An RFC 3339 timestamp, e.g. `"2026-11-26T20:43:04Z"`. */
export type DateTime<_Zone = Utc> = string;
/** Marks UTC timestamps. */
export type Utc = "UTC";
/** Any JSON value. */
export type Value = unknown;

/** The token pair a `TokenStorage` keeps. */
export interface StoredTokens {
    access: string;
    refresh: string;
}

/**
 * Where the SDK keeps its tokens. The default is memory only; pass an object like
 * `{ get: () => JSON.parse(sessionStorage.getItem("t") ?? "null"), set: t => sessionStorage.setItem("t", JSON.stringify(t)), clear: () => sessionStorage.removeItem("t") }`
 * to keep them across reloads.
 */
export interface TokenStorage {
    get(): StoredTokens | null | undefined;
    set(tokens: StoredTokens): void;
    clear(): void;
}

/** Query parameters of list routes (`undefined` and `null` are left out). */
export type Query = Record<string, string | number | boolean | null | undefined>;

/** What every SDK promise rejects with. */
export interface ApiError extends Error {
    name: "ApiError";
    /** HTTP status; 0 when no answer came (network, CORS) or the argument was invalid. */
    status: number;
    /** The server's `detail`, or what went wrong on the way. */
    detail: string;
    /** Field-level problems of a validation error. */
    errors: FieldError[];
}
"#;

#[wasm_bindgen]
extern "C" {
    // The global `fetch`: browsers (window and workers) and Node.js ≥ 18 alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &Request) -> Promise;

    /// A JavaScript `TokenStorage` object.
    #[derive(Debug, Clone)]
    #[wasm_bindgen(typescript_type = "TokenStorage")]
    pub type JsTokenStorage;

    #[wasm_bindgen(method, catch, js_name = get)]
    fn js_get(this: &JsTokenStorage) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = set)]
    fn js_set(this: &JsTokenStorage, tokens: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch, js_name = clear)]
    fn js_clear(this: &JsTokenStorage) -> Result<(), JsValue>;
}

/// Text of a thrown JavaScript value (an `Error`'s message, or the value itself).
fn js_text(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string()
        .or_else(|| JSON::stringify(v).ok().map(String::from))
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Sends requests with `fetch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

#[async_trait(?Send)]
impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> crate::Result<HttpResponse> {
        let failed = |what: &str, e: JsValue| {
            SdkError::network(format!("{what} {} failed: {}", request.url, js_text(&e)))
        };
        let headers = Headers::new().map_err(|e| failed("preparing", e))?;
        let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| failed("preparing", e));
        set("accept", "application/json")?;
        if let Some(token) = &request.bearer {
            set("authorization", &format!("Bearer {token}"))?;
        }
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        if let Some(body) = &request.json {
            set("content-type", "application/json")?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        let req = Request::new_with_str_and_init(&request.url, &init)
            .map_err(|e| failed("preparing", e))?;
        let resp: Response = JsFuture::from(global_fetch(&req))
            .await
            .and_then(|r| r.dyn_into())
            .map_err(|e| failed("fetch", e))?;
        let text = resp.text().map_err(|e| failed("reading", e))?;
        let body = JsFuture::from(text)
            .await
            .map_err(|e| failed("reading", e))?
            .as_string()
            .unwrap_or_default();
        Ok(HttpResponse {
            status: resp.status(),
            body,
        })
    }
}

/// Token storage of the JavaScript client: memory, or a caller's `TokenStorage` object.
pub enum JsTokens {
    /// In memory (the default).
    Memory(MemoryTokens),
    /// A JavaScript object with `get`, `set` and `clear`.
    Js(JsTokenStorage),
}

impl TokenStore for JsTokens {
    fn get(&self) -> Option<Tokens> {
        match self {
            JsTokens::Memory(m) => m.get(),
            JsTokens::Js(s) => {
                let v = s.js_get().ok()?;
                let field = |k: &str| Reflect::get(&v, &JsValue::from_str(k)).ok()?.as_string();
                if v.is_null() || v.is_undefined() {
                    return None;
                }
                Some(Tokens {
                    access: field("access")?,
                    refresh: field("refresh")?,
                })
            }
        }
    }

    fn set(&self, tokens: Tokens) {
        match self {
            JsTokens::Memory(m) => m.set(tokens),
            JsTokens::Js(s) => {
                let o = Object::new();
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&o, &"access".into(), &tokens.access.into());
                let _ = Reflect::set(&o, &"refresh".into(), &tokens.refresh.into());
                if let Err(e) = s.js_set(&o) {
                    console_warn(&format!("TokenStorage.set failed: {}", js_text(&e)));
                }
            }
        }
    }

    fn clear(&self) {
        match self {
            JsTokens::Memory(m) => m.clear(),
            JsTokens::Js(s) => {
                if let Err(e) = s.js_clear() {
                    console_warn(&format!("TokenStorage.clear failed: {}", js_text(&e)));
                }
            }
        }
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(s: &str);
}

/// An `ApiError`: a JavaScript `Error` carrying `status`, `detail` and `errors`.
fn api_error(e: &SdkError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("ApiError");
    let errors = serde_json::to_string(&e.errors)
        .ok()
        .and_then(|s| JSON::parse(&s).ok())
        .unwrap_or_else(|| js_sys::Array::new().into());
    // Setting properties on a fresh Error cannot fail.
    let _ = Reflect::set(&err, &"status".into(), &JsValue::from(e.status));
    let _ = Reflect::set(&err, &"detail".into(), &JsValue::from_str(&e.detail));
    let _ = Reflect::set(&err, &"errors".into(), &errors);
    err.into()
}

fn bad_argument(what: &str, why: impl std::fmt::Display) -> SdkError {
    SdkError::network(format!("invalid {what}: {why}"))
}

/// A JavaScript value as a domain type (through JSON, so it follows the serde rules).
fn from_js<T: DeserializeOwned>(what: &str, v: &JsValue) -> Result<T, SdkError> {
    if v.is_undefined() {
        return Err(bad_argument(what, "missing"));
    }
    let text = JSON::stringify(v)
        .map_err(|e| bad_argument(what, js_text(&e)))?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| bad_argument(what, e))
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, SdkError> {
    let text = serde_json::to_string(v).map_err(|e| SdkError::network(e.to_string()))?;
    JSON::parse(&text).map_err(|e| SdkError::network(js_text(&e)))
}

fn parse_id<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, SdkError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| bad_argument(what, e))
}

/// A `Query` object as owned pairs (nulls and undefined left out).
fn query_of(v: Option<&Object>) -> Result<Vec<(String, String)>, SdkError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in Object::entries(v).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let value = pair.get(1);
        if value.is_undefined() || value.is_null() {
            continue;
        }
        let text = if let Some(s) = value.as_string() {
            s
        } else if let Some(n) = value.as_f64() {
            n.to_string()
        } else if let Some(b) = value.as_bool() {
            b.to_string()
        } else {
            return Err(bad_argument(
                "query",
                format!("{key} must be a string, number or boolean"),
            ));
        };
        out.push((key, text));
    }
    Ok(out)
}

/// Runs `fut` as a promise that resolves with its JSON result or rejects with an `ApiError`.
fn promise<R, F>(fut: F) -> Promise
where
    R: Serialize,
    F: Future<Output = Result<R, SdkError>> + 'static,
{
    future_to_promise(async move {
        match fut.await.and_then(|v| to_js(&v)) {
            Ok(v) => Ok(v),
            Err(e) => Err(api_error(&e)),
        }
    })
}

/// Like [`promise`] for calls without a result (resolves with `undefined`).
fn promise_unit<F>(fut: F) -> Promise
where
    F: Future<Output = Result<(), SdkError>> + 'static,
{
    future_to_promise(async move {
        fut.await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|e| api_error(&e))
    })
}

type Inner = Rc<Client<FetchTransport, JsTokens>>;

/// The CyberHub API client for JavaScript.
#[wasm_bindgen(js_name = CyberHub)]
pub struct CyberHub {
    inner: Inner,
}

/// Builds an exported method: clone the client, convert the arguments, call, convert back.
macro_rules! call {
    ($self:ident, |$c:ident| $body:expr) => {{
        let $c = $self.inner.clone();
        promise(async move { $body })
    }};
}

#[wasm_bindgen(js_class = CyberHub)]
impl CyberHub {
    /// A client for the server at `baseUrl` (e.g. `"http://127.0.0.1:8000"`; `""` for the
    /// page's own origin), keeping tokens in `storage` (default: memory).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = baseUrl)] base_url: &str,
        storage: Option<JsTokenStorage>,
    ) -> CyberHub {
        let tokens = match storage {
            Some(s) => JsTokens::Js(s),
            None => JsTokens::Memory(MemoryTokens::default()),
        };
        CyberHub {
            inner: Rc::new(Client::with_tokens(base_url, FetchTransport, tokens)),
        }
    }

    /// Whether a token pair is stored.
    #[wasm_bindgen(getter, js_name = isSignedIn)]
    pub fn is_signed_in(&self) -> bool {
        self.inner.is_signed_in()
    }

    // ---- accounts ---------------------------------------------------------------------

    /// `POST /auth/signup`; keeps the tokens.
    #[wasm_bindgen(unchecked_return_type = "Promise<AuthResponse>")]
    pub fn signup(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignupRequest")] request: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .signup(&from_js("sign-up request", &request)?)
            .await)
    }

    /// `POST /auth/login`; keeps the tokens.
    #[wasm_bindgen(unchecked_return_type = "Promise<AuthResponse>")]
    pub fn login(&self, email: String, password: String) -> Promise {
        call!(self, |c| c.login(&email, &password).await)
    }

    /// `POST /auth/token/refresh` with the kept refresh token (the SDK also does this by
    /// itself, once, when a call answers 401).
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenResponse>")]
    pub fn refresh(&self) -> Promise {
        call!(self, |c| c.refresh().await)
    }

    /// `POST /auth/logout` (this session, or all of the caller's); forgets the tokens.
    #[wasm_bindgen(unchecked_return_type = "Promise<MessageResponse>")]
    pub fn logout(&self, all: Option<bool>) -> Promise {
        call!(self, |c| c.logout(all.unwrap_or(false)).await)
    }

    /// `GET /auth/me`.
    #[wasm_bindgen(unchecked_return_type = "Promise<MeResponse>")]
    pub fn me(&self) -> Promise {
        call!(self, |c| c.me().await)
    }

    /// `POST /auth/password/change`.
    #[wasm_bindgen(js_name = changePassword, unchecked_return_type = "Promise<MessageResponse>")]
    pub fn change_password(
        &self,
        current: String,
        #[wasm_bindgen(js_name = newPassword)] new_password: String,
    ) -> Promise {
        call!(self, |c| c.change_password(&current, &new_password).await)
    }

    /// `POST /auth/email/change` (needs the current password).
    #[wasm_bindgen(js_name = changeEmail, unchecked_return_type = "Promise<User>")]
    pub fn change_email(
        &self,
        current: String,
        #[wasm_bindgen(js_name = newEmail)] new_email: String,
    ) -> Promise {
        call!(self, |c| c.change_email(&current, &new_email).await)
    }

    /// `POST /auth/account/delete`: deletes the signed-in account (needs the current
    /// password).
    #[wasm_bindgen(js_name = deleteAccount, unchecked_return_type = "Promise<void>")]
    pub fn delete_account(&self, current: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move { c.delete_account(&current).await })
    }

    // ---- users and roles --------------------------------------------------------------

    /// `GET /users` (`search`, `role`, `status`, `page`, `page_size`).
    #[wasm_bindgen(js_name = listUsers, unchecked_return_type = "Promise<UserList>")]
    pub fn list_users(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_users(&borrow(&q)).await
        })
    }

    /// `POST /users` (administrators).
    #[wasm_bindgen(js_name = createUser, unchecked_return_type = "Promise<UserCreatedResponse>")]
    pub fn create_user(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignupRequest")] request: JsValue,
    ) -> Promise {
        call!(self, |c| c.create_user(&from_js("user", &request)?).await)
    }

    /// `GET /users/{id}`.
    #[wasm_bindgen(js_name = getUser, unchecked_return_type = "Promise<User>")]
    pub fn get_user(&self, id: String) -> Promise {
        call!(self, |c| c
            .get_user(parse_id::<UserId>("user id", &id)?)
            .await)
    }

    /// `PATCH /users/{id}`.
    #[wasm_bindgen(js_name = updateUser, unchecked_return_type = "Promise<User>")]
    pub fn update_user(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "UserPatchRequest")] patch: JsValue,
    ) -> Promise {
        call!(self, |c| {
            let id = parse_id::<UserId>("user id", &id)?;
            c.update_user(id, &from_js("user patch", &patch)?).await
        })
    }

    /// `DELETE /users/{id}`.
    #[wasm_bindgen(js_name = deleteUser, unchecked_return_type = "Promise<void>")]
    pub fn delete_user(&self, id: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move { c.delete_user(parse_id::<UserId>("user id", &id)?).await })
    }

    /// `POST /users/{id}/roles`.
    #[wasm_bindgen(js_name = grantRole, unchecked_return_type = "Promise<UserRole>")]
    pub fn grant_role(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "RoleGrantRequest")] grant: JsValue,
    ) -> Promise {
        call!(self, |c| {
            let id = parse_id::<UserId>("user id", &id)?;
            c.grant_role(id, &from_js("role grant", &grant)?).await
        })
    }

    /// `DELETE /users/{id}/roles/{role}`.
    #[wasm_bindgen(js_name = revokeRole, unchecked_return_type = "Promise<void>")]
    pub fn revoke_role(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "Role")] role: String,
    ) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move {
            let id = parse_id::<UserId>("user id", &id)?;
            let role = parse_id::<Role>("role", &role)?;
            c.revoke_role(id, role).await
        })
    }

    /// `GET /roles`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RoleInfo[]>")]
    pub fn roles(&self) -> Promise {
        call!(self, |c| c.roles().await)
    }

    // ---- organizations ----------------------------------------------------------------

    /// `GET /organizations`.
    #[wasm_bindgen(js_name = listOrganizations, unchecked_return_type = "Promise<OrganizationList>")]
    pub fn list_organizations(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_organizations(&borrow(&q)).await
        })
    }

    /// `POST /organizations`.
    #[wasm_bindgen(js_name = createOrganization, unchecked_return_type = "Promise<Organization>")]
    pub fn create_organization(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewOrganization")] org: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .create_organization(&from_js("organization", &org)?)
            .await)
    }

    /// `GET /organizations/{slug}`.
    #[wasm_bindgen(js_name = getOrganization, unchecked_return_type = "Promise<Organization>")]
    pub fn get_organization(&self, slug: String) -> Promise {
        call!(self, |c| c.get_organization(&slug).await)
    }

    /// `PATCH /organizations/{slug}`.
    #[wasm_bindgen(js_name = updateOrganization, unchecked_return_type = "Promise<Organization>")]
    pub fn update_organization(
        &self,
        slug: String,
        #[wasm_bindgen(unchecked_param_type = "OrgPatch")] patch: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .update_organization(&slug, &from_js("organization patch", &patch)?)
            .await)
    }

    /// `DELETE /organizations/{slug}`.
    #[wasm_bindgen(js_name = deleteOrganization, unchecked_return_type = "Promise<void>")]
    pub fn delete_organization(&self, slug: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move { c.delete_organization(&slug).await })
    }

    /// `GET /organizations/{slug}/members`.
    #[wasm_bindgen(js_name = listMembers, unchecked_return_type = "Promise<MemberList>")]
    pub fn list_members(
        &self,
        slug: String,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_members(&slug, &borrow(&q)).await
        })
    }

    /// `POST /organizations/{slug}/members`: a membership (platform administrators) or a
    /// pending invitation (organization admins).
    #[wasm_bindgen(js_name = addMember, unchecked_return_type = "Promise<MemberAddResult>")]
    pub fn add_member(
        &self,
        slug: String,
        #[wasm_bindgen(unchecked_param_type = "MemberRequest")] member: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .add_member(&slug, &from_js("member", &member)?)
            .await)
    }

    /// `GET /invitations` (`status`, `page`, `page_size`): the caller's invitations.
    #[wasm_bindgen(js_name = listInvitations, unchecked_return_type = "Promise<InvitationList>")]
    pub fn list_invitations(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_invitations(&borrow(&q)).await
        })
    }

    /// `POST /invitations/{id}/accept`.
    #[wasm_bindgen(js_name = acceptInvitation, unchecked_return_type = "Promise<Membership>")]
    pub fn accept_invitation(&self, id: String) -> Promise {
        call!(self, |c| {
            let id = parse_id::<InvitationId>("invitation id", &id)?;
            c.accept_invitation(id).await
        })
    }

    /// `POST /invitations/{id}/decline`.
    #[wasm_bindgen(js_name = declineInvitation, unchecked_return_type = "Promise<Invitation>")]
    pub fn decline_invitation(&self, id: String) -> Promise {
        call!(self, |c| {
            let id = parse_id::<InvitationId>("invitation id", &id)?;
            c.decline_invitation(id).await
        })
    }

    /// `GET /organizations/{slug}/invitations` (`status`, `page`, `page_size`).
    #[wasm_bindgen(js_name = listOrgInvitations, unchecked_return_type = "Promise<InvitationList>")]
    pub fn list_org_invitations(
        &self,
        slug: String,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_org_invitations(&slug, &borrow(&q)).await
        })
    }

    /// `DELETE /organizations/{slug}/invitations/{id}`.
    #[wasm_bindgen(js_name = revokeInvitation, unchecked_return_type = "Promise<void>")]
    pub fn revoke_invitation(&self, slug: String, id: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move {
            let id = parse_id::<InvitationId>("invitation id", &id)?;
            c.revoke_invitation(&slug, id).await
        })
    }

    /// `PATCH /organizations/{slug}/members/{userId}`.
    #[wasm_bindgen(js_name = updateMember, unchecked_return_type = "Promise<Membership>")]
    pub fn update_member(
        &self,
        slug: String,
        #[wasm_bindgen(js_name = userId)] user_id: String,
        #[wasm_bindgen(unchecked_param_type = "MemberPatchRequest")] patch: JsValue,
    ) -> Promise {
        call!(self, |c| {
            let user = parse_id::<UserId>("user id", &user_id)?;
            c.update_member(&slug, user, &from_js("member patch", &patch)?)
                .await
        })
    }

    /// `DELETE /organizations/{slug}/members/{userId}`.
    #[wasm_bindgen(js_name = removeMember, unchecked_return_type = "Promise<void>")]
    pub fn remove_member(
        &self,
        slug: String,
        #[wasm_bindgen(js_name = userId)] user_id: String,
    ) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move {
            let user = parse_id::<UserId>("user id", &user_id)?;
            c.remove_member(&slug, user).await
        })
    }

    // ---- content and progress ---------------------------------------------------------

    /// `GET /content` (`content_type`, `track`, `difficulty`, `search`, `page`, `page_size`).
    #[wasm_bindgen(js_name = listContent, unchecked_return_type = "Promise<ContentList>")]
    pub fn list_content(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_content(&borrow(&q)).await
        })
    }

    /// `GET /content/{id}` (internal id or `content_id`).
    #[wasm_bindgen(js_name = getContent, unchecked_return_type = "Promise<ContentItem>")]
    pub fn get_content(&self, id: String) -> Promise {
        call!(self, |c| c.get_content(&id).await)
    }

    /// `POST /content`.
    #[wasm_bindgen(js_name = createContent, unchecked_return_type = "Promise<ContentItem>")]
    pub fn create_content(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewContent")] item: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .create_content(&from_js("content item", &item)?)
            .await)
    }

    /// `PATCH /content/{id}`.
    #[wasm_bindgen(js_name = updateContent, unchecked_return_type = "Promise<ContentItem>")]
    pub fn update_content(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "ContentPatch")] patch: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .update_content(&id, &from_js("content patch", &patch)?)
            .await)
    }

    /// `DELETE /content/{id}`.
    #[wasm_bindgen(js_name = deleteContent, unchecked_return_type = "Promise<void>")]
    pub fn delete_content(&self, id: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move { c.delete_content(&id).await })
    }

    /// `GET /progress` (`user`, `content_type`, `status`, `search`, `ordering`, `page`, `page_size`).
    #[wasm_bindgen(js_name = listProgress, unchecked_return_type = "Promise<ProgressList>")]
    pub fn list_progress(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.list_progress(&borrow(&q)).await
        })
    }

    /// `POST /progress`.
    #[wasm_bindgen(js_name = createProgress, unchecked_return_type = "Promise<Progress>")]
    pub fn create_progress(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewProgress")] progress: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .create_progress(&from_js("progress", &progress)?)
            .await)
    }

    /// `GET /progress/{id}`.
    #[wasm_bindgen(js_name = getProgress, unchecked_return_type = "Promise<Progress>")]
    pub fn get_progress(&self, id: String) -> Promise {
        call!(self, |c| c
            .get_progress(parse_id::<ProgressId>("progress id", &id)?)
            .await)
    }

    /// `PATCH /progress/{id}`.
    #[wasm_bindgen(js_name = updateProgress, unchecked_return_type = "Promise<Progress>")]
    pub fn update_progress(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "ProgressPatch")] patch: JsValue,
    ) -> Promise {
        call!(self, |c| {
            let id = parse_id::<ProgressId>("progress id", &id)?;
            c.update_progress(id, &from_js("progress patch", &patch)?)
                .await
        })
    }

    /// `DELETE /progress/{id}`.
    #[wasm_bindgen(js_name = deleteProgress, unchecked_return_type = "Promise<void>")]
    pub fn delete_progress(&self, id: String) -> Promise {
        let c = self.inner.clone();
        promise_unit(async move {
            c.delete_progress(parse_id::<ProgressId>("progress id", &id)?)
                .await
        })
    }

    /// `GET /audit-logs` (`action`, `result`, `since`, `until`, `page`, `page_size`).
    #[wasm_bindgen(js_name = auditLogs, unchecked_return_type = "Promise<AuditLogList>")]
    pub fn audit_logs(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.audit_logs(&borrow(&q)).await
        })
    }

    /// `GET /audit-logs/stats`.
    #[wasm_bindgen(js_name = auditStats, unchecked_return_type = "Promise<AuditStatsResponse>")]
    pub fn audit_stats(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let q = query_of(query.as_ref())?;
            c.audit_stats(&borrow(&q)).await
        })
    }

    // ---- AI ---------------------------------------------------------------------------

    /// `POST /embeddings`: one 384-dimensional unit vector per text.
    #[wasm_bindgen(unchecked_return_type = "Promise<EmbeddingsResponse>")]
    pub fn embeddings(&self, texts: Vec<String>) -> Promise {
        call!(self, |c| c.embeddings(texts).await)
    }

    /// `POST /search`: catalog items by meaning.
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchResponse>")]
    pub fn search(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SearchRequest")] request: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .search(&from_js("search request", &request)?)
            .await)
    }

    /// `POST /recommendations`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RecommendationResponse>")]
    pub fn recommendations(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RecommendationRequest")] request: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .recommendations(&from_js("recommendation request", &request)?)
            .await)
    }

    /// `GET /recommendations/{userId}` (`content_type`, `limit`).
    #[wasm_bindgen(js_name = recommendationsOf, unchecked_return_type = "Promise<RecommendationResponse>")]
    pub fn recommendations_of(
        &self,
        #[wasm_bindgen(js_name = userId)] user_id: String,
        #[wasm_bindgen(unchecked_param_type = "Query")] query: Option<Object>,
    ) -> Promise {
        call!(self, |c| {
            let user = parse_id::<UserId>("user id", &user_id)?;
            let q = query_of(query.as_ref())?;
            c.recommendations_of(user, &borrow(&q)).await
        })
    }

    /// `GET /personality/questionnaire`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Questionnaire>")]
    pub fn questionnaire(&self) -> Promise {
        call!(self, |c| c.questionnaire().await)
    }

    /// `POST /personality/analyze`.
    #[wasm_bindgen(js_name = analyzePersonality, unchecked_return_type = "Promise<PersonalityAnalysis>")]
    pub fn analyze_personality(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PersonalityRequest")] request: JsValue,
    ) -> Promise {
        call!(self, |c| c
            .analyze_personality(&from_js("personality request", &request)?)
            .await)
    }

    /// `GET /personality/{userId}`: the last stored analysis.
    #[wasm_bindgen(js_name = personalityOf, unchecked_return_type = "Promise<PersonalityAnalysis>")]
    pub fn personality_of(&self, #[wasm_bindgen(js_name = userId)] user_id: String) -> Promise {
        call!(self, |c| c
            .personality_of(parse_id::<UserId>("user id", &user_id)?)
            .await)
    }

    /// `GET /index/status` (administrators, program directors).
    #[wasm_bindgen(js_name = indexStatus, unchecked_return_type = "Promise<IndexStatus>")]
    pub fn index_status(&self) -> Promise {
        call!(self, |c| c.index_status().await)
    }

    /// `POST /index/reindex` (administrators, program directors).
    #[wasm_bindgen(unchecked_return_type = "Promise<IndexStatus>")]
    pub fn reindex(&self) -> Promise {
        call!(self, |c| c.reindex().await)
    }
}

/// Borrowed view of owned query pairs, as [`crate::Query`] wants them.
fn borrow(q: &[(String, String)]) -> Vec<(&str, &str)> {
    q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
