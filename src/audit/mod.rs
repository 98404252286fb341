//! The audit journal: an append-only, hash-chained record of every state change — who, when,
//! what — written in the same transaction as the change (or the same statement: `queue`),
//! sealed in order by the background worker, checked by `tenderpool audit verify`. The
//! canonical form and the chain rule are in `docs/audit.md`, so an auditor can recompute them.

pub mod domain;
pub mod routes;
pub mod store;

pub use domain::{Action, Actor, EntityType};
pub use store::{queue, record, Change};
