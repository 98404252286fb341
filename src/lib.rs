//! tenderpool: group purchasing among public bodies.
//!
//! See `docs/ARCHITECTURE.md` for the map of modules and the path of a request.

pub mod app;
pub mod auth;
pub mod campaigns;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cpv;
pub mod dates;
pub mod db;
pub mod decimal;
pub mod error;
pub mod extract;
pub mod groups;
pub mod health;
pub mod idempotency;
pub mod members;
pub mod needs;
pub mod notifications;
pub mod procedures;
pub mod schema;
pub mod spelled;
pub mod suppliers;
pub mod validate;
