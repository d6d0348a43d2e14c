//! `/content*`: the catalog. Everyone signed in reads; admins and program directors write.

use crate::api::accounts::Deleted;
use crate::error::ApiResult;
use crate::state::{page, page_links, AppState, BearerAuth};
use cyberhub_domain::api::ContentList;
use cyberhub_domain::{
    ContentFilter, ContentItem, ContentPatch, ContentType, Difficulty, NewContent, Track,
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
        let who = self.0.who(&auth, req).await?;
        let p = page(page_no.0, page_size.0)?;
        let filter = ContentFilter {
            content_type: content_type.0,
            track: track.0,
            difficulty: difficulty.0,
            search: search.0.filter(|s| !s.trim().is_empty()),
        };
        let result = self
            .0
            .services
            .list_content(who.caller(), &filter, p)
            .await?;
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
    async fn get(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<ContentItem>> {
        let who = self.0.who(&auth, req).await?;
        Ok(Json(self.0.services.content(who.caller(), &id.0).await?))
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
        let who = self.0.who(&auth, req).await?;
        let item = self.0.services.create_content(who.caller(), body.0).await?;
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
        let who = self.0.who(&auth, req).await?;
        Ok(Json(
            self.0
                .services
                .update_content(who.caller(), &id.0, &body.0)
                .await?,
        ))
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
        let who = self.0.who(&auth, req).await?;
        self.0.services.delete_content(who.caller(), &id.0).await?;
        Ok(Deleted::NoContent)
    }
}
