//! The HTTP routes, one module per area.

pub mod accounts;
pub mod ai;
pub mod audit;
pub mod content;
pub mod encode;
pub mod health;
pub mod organizations;
pub mod progress;
