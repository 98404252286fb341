//! Contracts and cost sharing: one contract per awarded lot with one part per member,
//! allocated by the largest remainder rule (`crate::allocation`), its allocation as JSON or
//! CSV, shared costs and the coordinator fee split by a key, and savings. See
//! `docs/allocation.md`.

pub mod costs;
pub mod domain;
pub mod notices;
pub mod routes;
pub mod store;
