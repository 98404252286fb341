//! Tenders (*consultations*) split into lots, built from a campaign's submitted needs:
//! creation (which freezes the campaign), publication (conventions signed, minimum bid
//! period, invitations through the outbox), cancellation (*sans suite*), and who sees what.
//! Bids come with the bids feature.

pub mod domain;
pub mod notices;
pub mod routes;
pub mod store;
