//! The store conformance suite against the embedded SQLite backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_store::conformance::Fixture;

async fn sqlite() -> Option<Fixture> {
    Some(Fixture::sqlite_temp().await)
}

cyberhub_store::store_conformance_tests!(sqlite);
