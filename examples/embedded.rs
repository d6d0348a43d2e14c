//! CyberHub embedded in a plain tokio program: no reference server, SQLite on disk.
//! Registers a learner, signs in, records progress and lists it.
//!
//! Run: `cargo run --example embedded` (uses a temporary directory; pass a path to keep it).

use cyberhub::auth::{AuthConfig, AuthService, ClientInfo, JwtKey};
use cyberhub::domain::{
    ContentType, NewProgress, NewUser, Page, Progress, ProgressFilter, ProgressId, ProgressPatch,
    SharedClock, SystemClock,
};
use secrecy::SecretString;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map_or_else(
        || {
            std::env::temp_dir().join(format!(
                "cyberhub-example-{}",
                uuid::Uuid::new_v4().simple()
            ))
        },
        std::path::PathBuf::from,
    );
    let store = cyberhub::store::open(&format!("sqlite://{}/cyberhub.db", dir.display())).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let auth = AuthService::new(
        store.clone(),
        clock.clone(),
        AuthConfig::new(JwtKey::random("example")?),
    )?;

    let client = ClientInfo {
        addr: Some("127.0.0.1".into()),
        user_agent: Some("embedded-example".into()),
    };
    let new = NewUser {
        email: "ada@example.org".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        ..Default::default()
    };
    let password = SecretString::from("analytical-engine-1843".to_owned());
    let signed_up = auth.signup(new, &password, &client).await?;
    println!("signed up {} ({})", signed_up.user.email, signed_up.user.id);

    let session = auth.login("ada@example.org", &password, &client).await?;
    let me = auth.authenticate(&session.tokens.access_token).await?;
    println!("logged in; roles {:?}", me.roles);

    let now = clock.now();
    let progress = Progress::new(
        ProgressId(uuid::Uuid::new_v4()),
        me.user_id,
        NewProgress {
            content_id: "def-101".into(),
            content_type: ContentType::Course,
            status: None,
            completion_percentage: Some(40.0),
            score: None,
            metadata: None,
        },
        now,
    )?;
    store.insert_progress(&progress).await?;
    let done = ProgressPatch {
        completion_percentage: Some(100.0),
        score: Some(92.0),
        ..Default::default()
    };
    store
        .update_progress(progress.id, Some(me.user_id), &done, clock.now())
        .await?;

    let page = store
        .list_progress(&ProgressFilter::for_user(me.user_id), Page::default())
        .await?;
    for p in &page.items {
        println!(
            "{} {}: {} at {}%",
            p.content_type, p.content_id, p.status, p.completion_percentage
        );
    }
    assert_eq!(page.total, 1);
    store.close().await;
    if std::env::args().nth(1).is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}
