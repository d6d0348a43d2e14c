//! A CyberHub API client generated at compile time by [progenitor] from the committed
//! `docs/openapi.json`: one method per `operationId`, typed request and response structs.
//! It is what a user who only has the spec gets; `tests/against_server.rs` calls the running
//! reference server with it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let api = cyberhub_openapi_client::Client::new("http://127.0.0.1:8000/api/v1");
//! let questionnaire = api.questionnaire().await?.into_inner();
//! println!("{} questions", questionnaire.questions.len());
//! # Ok(()) }
//! ```
//!
//! [progenitor]: https://github.com/oxidecomputer/progenitor
#![allow(missing_docs, clippy::all)] // generated code

progenitor::generate_api!("../../docs/openapi.json");
