//! `/content*`: the catalog. Everyone signed in reads; admins and program directors write.

use crate::api::accounts::Deleted;
use crate::error::ApiResult;
use crate::state::{client_info, page, page_links, AppState, BearerAuth};
use cyberhub_auth::Principal;
use cyberhub_domain::api::ContentList;
use cyberhub_domain::{
    Action, AuditAction, AuditResult, ContentFilter, ContentItem, ContentPatch, ContentType,
    ContentUuid, Difficulty, NewContent, Resource, Track, Validate,
};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// The learning catalog.
    Content,
}

/// 201 with the new item.
#[derive(ApiResponse)]
pub enum ContentCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<ContentItem>),
}

/// Catalog routes.
pub struct ContentApi(pub Arc<AppState>);

impl ContentApi {
    /// By internal UUID or by public `content_id`.
    async fn find(&self, id: &str) -> ApiResult<ContentItem> {
        Ok(match id.parse::<uuid::Uuid>() {
            Ok(u) => self.0.store.get_content(ContentUuid(u)).await?,
            Err(_) => self.0.store.get_content_by_key(id).await?,
        })
    }

    async fn audit(&self, req: &Request, caller: &Principal, item: &ContentItem, op: &str) {
        self.0
            .auth
            .audit(
                Some(caller.user_id),
                AuditAction::ContentChange,
                ("content", Some(item.id.to_string())),
                AuditResult::Success,
                &client_info(req),
                serde_json::json!({"op": op, "content_id": item.content_id}),
            )
            .await;
    }
}

#[OpenApi]
impl ContentApi {
    /// The catalog, filtered by type, track, difficulty and a search term.
    #[oai(
        path = "/content",
        method = "get",
        operation_id = "list_content",
        tag = "Tag::Content"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        req: &Request,
        auth: BearerAuth,
        content_type: Query<Option<ContentType>>,
        track: Query<Option<Track>>,
        difficulty: Query<Option<Difficulty>>,
        search: Query<Option<String>>,
        #[oai(name = "page")] page_no: Query<Option<u32>>,
        page_size: Query<Option<u32>>,
    ) -> ApiResult<Json<ContentList>> {
        self.0.principal(&auth).await?;
        let p = page(page_no.0, page_size.0)?;
        let filter = ContentFilter {
            content_type: content_type.0,
            track: track.0,
            difficulty: difficulty.0,
            search: search.0.filter(|s| !s.trim().is_empty()),
        };
        let result = self.0.store.list_content(&filter, p).await?;
        let (next, previous) = page_links(req, &result);
        Ok(Json(ContentList {
            count: result.total,
            next,
            previous,
            results: result.items,
        }))
    }

    /// One item, by id or `content_id`.
    #[oai(
        path = "/content/:id",
        method = "get",
        operation_id = "get_content",
        tag = "Tag::Content"
    )]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Json<ContentItem>> {
        self.0.principal(&auth).await?;
        Ok(Json(self.find(&id.0).await?))
    }

    /// Add an item (admin, program_director).
    #[oai(
        path = "/content",
        method = "post",
        operation_id = "create_content",
        tag = "Tag::Content"
    )]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<NewContent>,
    ) -> ApiResult<ContentCreated> {
        let caller = self.0.principal(&auth).await?;
        caller.require_all(Resource::Content, Action::Create)?;
        let item = ContentItem::new(
            ContentUuid(uuid::Uuid::new_v4()),
            body.0.validated()?,
            self.0.clock.now(),
        );
        self.0.store.insert_content(&item).await?;
        self.audit(req, &caller, &item, "create").await;
        self.0.catalog_changed();
        Ok(ContentCreated::Created(Json(item)))
    }

    /// Edit an item (admin, program_director).
    #[oai(
        path = "/content/:id",
        method = "patch",
        operation_id = "update_content",
        tag = "Tag::Content"
    )]
    async fn patch(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<ContentPatch>,
    ) -> ApiResult<Json<ContentItem>> {
        let caller = self.0.principal(&auth).await?;
        caller.require_all(Resource::Content, Action::Update)?;
        let item = self.find(&id.0).await?;
        let item = self
            .0
            .store
            .update_content(item.id, &body.0, self.0.clock.now())
            .await?;
        self.audit(req, &caller, &item, "update").await;
        self.0.catalog_changed();
        Ok(Json(item))
    }

    /// Delete an item (admin, program_director).
    #[oai(
        path = "/content/:id",
        method = "delete",
        operation_id = "delete_content",
        tag = "Tag::Content"
    )]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        let caller = self.0.principal(&auth).await?;
        caller.require_all(Resource::Content, Action::Delete)?;
        let item = self.find(&id.0).await?;
        self.0.store.delete_content(item.id).await?;
        self.audit(req, &caller, &item, "delete").await;
        self.0.catalog_changed();
        Ok(Deleted::NoContent)
    }
}
