//! tenderpool: group purchasing among public bodies.
//!
//! See `docs/ARCHITECTURE.md` for the map of modules and the path of a request.

pub mod allocation;
pub mod audit;
pub mod auth;
pub mod awards;
pub mod bids;
pub mod campaigns;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contracts;
pub mod cpv;
pub mod dates;
pub mod db;
pub mod decimal;
pub mod error;
pub mod evaluation;
pub mod exports;
pub mod extract;
pub mod groups;
pub mod health;
pub mod idempotency;
pub mod ids;
pub mod members;
pub mod metrics;
pub mod needs;
pub mod notifications;
pub mod openapi;
pub mod pagination;
pub mod procedures;
pub mod request_id;
pub mod router;
pub mod schema;
pub mod server;
pub mod spelled;
pub mod state;
pub mod suppliers;
pub mod tenders;
pub mod validate;
