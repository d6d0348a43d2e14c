//! The vector conformance suite on PostgreSQL + pgvector. Needs `PGVECTOR_DATABASE_URL`
//! (scripts/start-pgvector.sh; 127.0.0.1:5433); under `CI=true` a missing URL fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_vector::conformance::{service_url, Harness};
use cyberhub_vector::DynVectorStore;

struct PgVector(String);

#[async_trait::async_trait]
impl Harness for PgVector {
    async fn open(&self) -> DynVectorStore {
        cyberhub_vector::open(&format!("pgvector+{}", self.0))
            .await
            .unwrap()
    }
}

async fn pgvector() -> Option<PgVector> {
    service_url("PGVECTOR_DATABASE_URL").map(PgVector)
}

cyberhub_vector::vector_conformance_tests!(pgvector);
