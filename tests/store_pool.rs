//! Pool settings: a database that does not answer is a quick, typed `Unavailable`, not a
//! hang (what the server turns into a 503 while PostgreSQL is down).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cyberhub_store::{ErrorKind, PoolOptions};
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_unreachable_database_is_unavailable_within_the_acquire_timeout() {
    // Nothing listens on port 1 of the loopback address.
    let options = PoolOptions {
        acquire_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let start = Instant::now();
    let err = cyberhub_store::open_with("postgres://postgres@127.0.0.1:1/none", &options)
        .await
        .expect_err("no server there");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn pool_options_reach_a_working_store() {
    let dir = std::env::temp_dir().join(format!("cyberhub-pool-{}", uuid::Uuid::new_v4().simple()));
    let options = PoolOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(2),
    };
    let store = cyberhub_store::open_with(&format!("sqlite://{}/p.db", dir.display()), &options)
        .await
        .unwrap();
    store.ping().await.unwrap();
    store.close().await;
    std::fs::remove_dir_all(dir).ok();
}
