//! Suppliers invited to bid.

pub mod domain;
pub mod identifier;
pub mod routes;
pub mod store;
