//! E-mail notifications through a transactional outbox.
//!
//! A change and its mails commit together: [`store::enqueue`] writes to the `outbox` table on
//! the caller's connection, inside its transaction. The [`worker::Worker`] delivers them with
//! retries; nothing is ever dropped (failed messages stay listed in `GET /api/v1/outbox`).
//!
//! This module keeps the outbox, the worker, the transports and the shared layout
//! ([`templates`]). Each feature owns the notices it sends, in its own `notices.rs`
//! (`campaigns/notices.rs`, `tenders/notices.rs`, …), and enqueues them through
//! [`store::enqueue`].

pub mod domain;
pub mod routes;
pub mod smtp;
pub mod store;
pub mod templates;
pub mod transport;
pub mod worker;

use crate::error::ApiError;

/// Why a notice could not be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Writing to the outbox (or reading what the notice needs) failed.
    #[error("outbox query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The notice's template failed to render.
    #[error("mail template failed: {0}")]
    Template(#[from] askama::Error),
}

impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Query(q) => ApiError::from(q),
            MailError::Template(t) => ApiError::internal(format!("mail template: {t}")),
        }
    }
}

impl From<MailError> for worker::WorkerError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Query(q) => worker::WorkerError::Query(q),
            MailError::Template(t) => worker::WorkerError::Template(t.to_string()),
        }
    }
}
