//! Suppliers invited to bid.

pub mod domain;
pub mod routes;
pub mod store;
