//! CyberHub: a platform for growing cybersecurity talent.
//!
//! This umbrella crate re-exports the library crates so an application can depend on one
//! crate; it also hosts the workspace's examples, benchmarks and integration tests.
//!
//! | crate | what |
//! |---|---|
//! | [`domain`] | entities, validation, permission table, `Clock` (no I/O) |
//! | [`auth`] | argon2id passwords, JWT tokens with rotation and reuse detection, lock-out, RBAC |
//! | [`store`] | relational store traits with SQLite and PostgreSQL backends |

pub use cyberhub_auth as auth;
pub use cyberhub_domain as domain;
pub use cyberhub_store as store;
