//! The SDK's JavaScript bindings under Node.js, against a running server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(target_arch = "wasm32")]
include!("shared/cases.rs");
