//! Start-up data: the seed catalog (loaded into an empty catalog) and the first administrator.

use crate::config::Config;
use cyberhub_auth::AuthService;
use cyberhub_domain::{
    ContentItem, ContentUuid, ErrorKind, NewContent, NewUser, Role, SharedClock, Validate,
};
use cyberhub_store::DynStore;

const CATALOG: &str = include_str!("../seed/catalog.json");

/// The seed catalog: learning items across the five tracks, written for CyberHub.
pub fn seed_items() -> Result<Vec<NewContent>, String> {
    let items: Vec<NewContent> = serde_json::from_str(CATALOG)
        .map_err(|e| format!("seed catalog is not valid JSON: {e}"))?;
    items
        .into_iter()
        .map(|i| i.validated().map_err(|e| e.to_string()))
        .collect()
}

/// Loads the seed catalog when the catalog is empty; returns how many items were added.
pub async fn seed_catalog(store: &DynStore, clock: &SharedClock) -> Result<usize, String> {
    if store.count_content().await.map_err(|e| e.to_string())? > 0 {
        return Ok(0);
    }
    let mut added = 0;
    for new in seed_items()? {
        let item = ContentItem::new(ContentUuid(uuid::Uuid::new_v4()), new, clock.now());
        // Seeding is the system's own action: recorded with no actor.
        let event = cyberhub_domain::AuditEvent::new(
            cyberhub_domain::AuditId(uuid::Uuid::new_v4()),
            None,
            cyberhub_domain::AuditAction::ContentChange,
            ("content", Some(item.id.to_string())),
            cyberhub_domain::AuditResult::Success,
            item.created_at,
        )
        .with_details(serde_json::json!({"op": "seed", "content_id": item.content_id}));
        match store.insert_content(&item, &event).await {
            Ok(()) => added += 1,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {} // another process seeded it first
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(added)
}

/// Creates the first administrator from the configuration when that account does not exist.
pub async fn ensure_admin(config: &Config, auth: &AuthService) -> Result<bool, String> {
    let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) else {
        return Ok(false);
    };
    let new = NewUser {
        email: email.clone(),
        first_name: "Platform".into(),
        last_name: "Administrator".into(),
        ..Default::default()
    };
    match auth
        .create_account(
            new,
            password,
            &[Role::Admin],
            None,
            (
                cyberhub_domain::AuditAction::UserCreate,
                &cyberhub_auth::ClientInfo::default(),
            ),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(format!("cannot create the first administrator: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn catalog_is_valid_and_covers_every_track() {
        let items = super::seed_items().unwrap();
        assert!(items.len() >= 60);
        for t in cyberhub_domain::Track::ALL {
            assert!(
                items.iter().filter(|i| i.track == Some(*t)).count() >= 10,
                "{t}"
            );
        }
    }
}
