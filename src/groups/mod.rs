//! Purchasing groups (*groupements de commandes*), their members and the signatures of the
//! *convention constitutive*.

pub mod domain;
pub mod routes;
pub mod store;
