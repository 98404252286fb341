//! Needs (*besoins*) of the member offices and their aggregation into proposed lots.

pub mod aggregation;
pub mod domain;
pub mod routes;
pub mod store;
