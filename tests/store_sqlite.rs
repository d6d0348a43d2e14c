//! The store conformance suite against the embedded SQLite backend.

use cyberhub_store::conformance::Fixture;

async fn sqlite() -> Option<Fixture> {
    Some(Fixture::sqlite_temp().await)
}

cyberhub_store::store_conformance_tests!(sqlite);
