//! CyberHub domain: entities, validation rules, the permission table and the [`Clock`].
//!
//! This crate does no I/O and reads no system state (the only exception is
//! [`SystemClock`], the production [`Clock`]); it compiles for `wasm32-unknown-unknown`
//! so that the browser SDK shares these request and response types.
//!
//! ```
//! use cyberhub_domain::{NewUser, Validate};
//! let new = NewUser {
//!     email: " Ada@Example.org ".into(),
//!     first_name: "Ada".into(),
//!     last_name: "Lovelace".into(),
//!     ..NewUser::default()
//! };
//! let valid = new.validated().unwrap();
//! assert_eq!(valid.email, "ada@example.org");
//! ```
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

#[macro_use]
mod string_enum;

pub mod api;
pub mod api_ai;
mod audit;
mod clock;
mod content;
mod error;
mod ids;
mod invitation;
mod organization;
mod pagination;
mod permission;
mod progress;
mod redact;
mod role;
mod user;
mod validation;

pub use audit::{AuditAction, AuditCount, AuditEvent, AuditFilter, AuditResult};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use content::{
    ContentFilter, ContentItem, ContentPatch, ContentType, Difficulty, NewContent, Track,
};
pub use error::{Error, ErrorKind, Result};
pub use ids::{AuditId, ContentUuid, InvitationId, OrgId, ProgressId, SessionId, UserId};
pub use invitation::{Invitation, InvitationFilter, InvitationStatus, INVITATION_TTL_DAYS};
pub use organization::{
    Membership, NewOrganization, OrgFilter, OrgPatch, OrgRole, OrgType, Organization,
};
pub use pagination::{Page, PageResult};
pub use permission::{
    org_standing_sees_member_data, permissions_for, widest_scope, Action, Grant, Resource, Scope,
};
pub use progress::{
    ContentPopularity, NewProgress, Progress, ProgressFilter, ProgressOrdering, ProgressPatch,
    ProgressStatus, MAX_METADATA_BYTES,
};
pub use redact::redact_url;
pub use role::{Role, RoleGrant, RoleScope};
pub use user::{
    normalized_email, AccountStatus, LearningPreferences, LearningStyle, NewUser, User, UserFilter,
    UserPatch,
};
pub use validation::{FieldError, Validate, ValidationErrors};
