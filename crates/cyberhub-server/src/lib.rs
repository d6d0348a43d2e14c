//! CyberHub reference server (poem + poem-openapi).
//!
//! Not built yet: the HTTP API, OpenAPI spec, configuration and the `cyberhub-server`
//! binary arrive with the reference-server issue. Until then this crate only fixes its
//! place in the workspace and its dependencies on the domain, auth and store crates.

pub use cyberhub_auth as auth;
pub use cyberhub_domain as domain;
pub use cyberhub_store as store;
