//! CyberHub client SDK.
//!
//! [`Client`] has one method per route of the HTTP API (`docs/API.md`), typed with the
//! request and response types of `cyberhub-domain` (shared with the server, never
//! redefined), automatic token refresh (once, then a clear 401), tokens in memory by
//! default ([`TokenStore`] is pluggable) and errors carrying the status and the server's
//! `detail` ([`SdkError`]).
//!
//! Transports: on wasm32, `FetchTransport` (the global `fetch`, in browsers, workers and
//! Node.js) under the JavaScript class `CyberHub` (module `bindings`, exported with
//! wasm-bindgen; its TypeScript definitions use the domain types through tsify);
//! [`ReqwestTransport`] (feature `native`) for Rust callers. `scripts/build-sdk.sh` builds the
//! `--target web` and `--target nodejs` npm packages.
//!
//! ```no_run
//! # #[cfg(feature = "native")]
//! # async fn demo() -> Result<(), cyberhub_wasm::SdkError> {
//! use cyberhub_wasm::{Client, ReqwestTransport};
//! let api = Client::new("http://127.0.0.1:8000", ReqwestTransport::default());
//! api.login("ada@example.org", "analytical-engine-1843").await?;
//! let me = api.me().await?;
//! let recs = api.recommendations_of(me.user.id, &[("limit", "5")]).await?;
//! # Ok(()) }
//! ```

#[cfg(target_arch = "wasm32")]
pub mod bindings;
mod client;
mod error;
mod tokens;
mod transport;

pub use client::{Client, Query};
pub use cyberhub_domain as domain;
pub use error::{Result, SdkError};
pub use tokens::{MemoryTokens, TokenStore, Tokens};
#[cfg(feature = "native")]
pub use transport::ReqwestTransport;
pub use transport::{HttpRequest, HttpResponse, Method, Transport};
