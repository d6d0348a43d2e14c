//! CyberHub browser SDK.
//!
//! Not built yet: the wasm-bindgen SDK over the HTTP API arrives with the browser-SDK
//! issue. It will share its request and response types with `cyberhub-domain`, which is
//! re-exported here already.

pub use cyberhub_domain as domain;
