//! Evaluation of a lot's bids once they are opened: the lead's scores and verdicts
//! (`PUT /api/v1/bids/{id}/evaluation`), the abnormally-low procedure
//! (`POST /api/v1/bids/{id}/abnormally-low`) and the ranking
//! (`GET /api/v1/tenders/{id}/lots/{lot_id}/ranking`). Scoring itself is pure
//! ([`domain`]); see `docs/award.md`.

pub mod domain;
pub mod routes;
pub mod store;
