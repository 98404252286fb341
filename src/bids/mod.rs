//! Bids (*offres*), sealed until the deadline: one per supplier and lot, revised by new
//! versions, withdrawn before the deadline, received late and kept; a receipt with a SHA-256
//! of the canonical bid for every version. The sealing is enforced in [`store`].

pub mod domain;
pub mod notices;
pub mod routes;
pub mod store;
