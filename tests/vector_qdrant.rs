//! The vector conformance suite on the Qdrant backend. No Qdrant server can be installed on
//! the CI machine (none is published to a package registry), so this runs against the
//! Qdrant-gRPC-compatible **test double** started by scripts/start-qdrant-shim.sh: Qdrant's
//! own Python client in "local mode" behind Qdrant's gRPC API. It checks our gRPC requests
//! and result handling against Qdrant's semantics; it cannot show Qdrant's HNSW recall (the
//! double searches exactly). Needs `QDRANT_URL`; under `CI=true` a missing URL fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_vector::conformance::{service_url, Harness};
use cyberhub_vector::DynVectorStore;

struct Qdrant(String);

#[async_trait::async_trait]
impl Harness for Qdrant {
    async fn open(&self) -> DynVectorStore {
        cyberhub_vector::open(&format!("qdrant+{}", self.0))
            .await
            .unwrap()
    }
}

async fn qdrant() -> Option<Qdrant> {
    service_url("QDRANT_URL").map(Qdrant)
}

cyberhub_vector::vector_conformance_tests!(qdrant);
