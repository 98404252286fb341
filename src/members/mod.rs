//! Member offices (*offices publics de l'habitat*) of the groups.

pub mod domain;
pub mod routes;
pub mod store;
