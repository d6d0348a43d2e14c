//! The catalog: everyone signed in reads; roles with the content grants (admin,
//! program_director) write. Every write commits with its audit row and its index-outbox
//! event; the indexing worker is woken after.

use super::{App, Caller};
use crate::error::Result;
use cyberhub_domain::{
    Action, AuditAction, ContentFilter, ContentItem, ContentPatch, ContentUuid, NewContent, Page,
    PageResult, Resource, Validate,
};

fn resource(item: &ContentItem) -> (&'static str, String) {
    ("content", item.id.to_string())
}

impl App {
    /// The catalog, filtered.
    pub async fn list_content(
        &self,
        _caller: Caller<'_>,
        filter: &ContentFilter,
        page: Page,
    ) -> Result<PageResult<ContentItem>> {
        Ok(self.store().list_content(filter, page).await?)
    }

    /// One item, by internal UUID or public `content_id`.
    pub async fn content(&self, _caller: Caller<'_>, id: &str) -> Result<ContentItem> {
        Ok(match id.parse::<uuid::Uuid>() {
            Ok(u) => self.store().get_content(ContentUuid(u)).await?,
            Err(_) => self.store().get_content_by_key(id).await?,
        })
    }

    /// Adds an item.
    pub async fn create_content(&self, caller: Caller<'_>, new: NewContent) -> Result<ContentItem> {
        caller
            .principal
            .require_all(Resource::Content, Action::Create)?;
        let item = ContentItem::new(
            ContentUuid(uuid::Uuid::new_v4()),
            new.validated()?,
            self.clock().now(),
        );
        let event = self.event(
            caller,
            AuditAction::ContentChange,
            resource(&item),
            serde_json::json!({"op": "create", "content_id": item.content_id}),
        );
        self.store().insert_content(&item, &event).await?;
        self.hooks.catalog_changed();
        Ok(item)
    }

    /// Edits an item.
    pub async fn update_content(
        &self,
        caller: Caller<'_>,
        id: &str,
        patch: &ContentPatch,
    ) -> Result<ContentItem> {
        caller
            .principal
            .require_all(Resource::Content, Action::Update)?;
        let item = self.content(caller, id).await?;
        let event = self.event(
            caller,
            AuditAction::ContentChange,
            resource(&item),
            serde_json::json!({"op": "update", "content_id": item.content_id}),
        );
        let item = self
            .store()
            .update_content(item.id, patch, self.clock().now(), &event)
            .await?;
        self.hooks.catalog_changed();
        Ok(item)
    }

    /// Deletes an item.
    pub async fn delete_content(&self, caller: Caller<'_>, id: &str) -> Result<()> {
        caller
            .principal
            .require_all(Resource::Content, Action::Delete)?;
        let item = self.content(caller, id).await?;
        let event = self.event(
            caller,
            AuditAction::ContentChange,
            resource(&item),
            serde_json::json!({"op": "delete", "content_id": item.content_id}),
        );
        self.store().delete_content(item.id, &event).await?;
        self.hooks.catalog_changed();
        Ok(())
    }
}
