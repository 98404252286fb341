//! Needs campaigns (*recensement des besoins*) opened by the lead for a group.

pub mod cache;
pub mod domain;
pub mod notices;
pub mod routes;
pub mod store;
