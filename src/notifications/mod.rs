//! E-mail notifications through a transactional outbox.
//!
//! A change and its mails commit together: [`store::enqueue`] writes to the `outbox` table on
//! the caller's connection, inside its transaction. The [`worker::Worker`] delivers them with
//! retries; nothing is ever dropped (failed messages stay listed in `GET /api/v1/outbox`).

pub mod campaigns;
pub mod domain;
pub mod routes;
pub mod store;
pub mod templates;
pub mod transport;
pub mod worker;
