//! The store conformance suite against a real PostgreSQL (a fresh database per case).
//! Needs `DATABASE_URL=postgres://...`; under `CI=true` a missing URL fails the run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_store::conformance::{postgres_admin_url, Fixture};

async fn postgres() -> Option<Fixture> {
    let url = postgres_admin_url()?;
    Some(Fixture::postgres_fresh(&url).await)
}

cyberhub_store::store_conformance_tests!(postgres);
