//! The delivery worker. `serve` runs one; tests drive [`Worker::run_once`] directly.
//!
//! Each pass: enqueue due reminders, claim a batch of due messages with a lease, send them one
//! by one, record each outcome. Several workers (threads or instances) can run at once: claims
//! never overlap (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite `BEGIN IMMEDIATE`), and a claim
//! whose worker died is taken over when its lease ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use super::domain::sender_domain;
use super::store::{self, Claimed};
use super::transport::Mailer;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, DbConn, DbError};
use crate::ids::MailId;

/// Why a worker pass stopped early. The pass is retried on the next poll; nothing is lost
/// (claims not recorded expire with their lease).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A query failed.
    #[error("outbox query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// No connection, or the blocking job was cancelled.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A notice could not be rendered.
    #[error("mail template failed: {0}")]
    Template(String),
}

/// A delivery worker.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
    settings: Arc<Settings>,
    id: String,
    /// When this worker last purged expired idempotency records.
    last_purge: Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
}

/// How often a worker deletes idempotency records older than 24 h.
pub const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Reminders enqueued.
    pub reminders: usize,
    /// Messages delivered.
    pub sent: usize,
    /// Messages that failed this attempt (retried later or failed for good).
    pub failed: usize,
    /// Claims given back because the worker is stopping.
    pub released: usize,
    /// Claimed messages not sent because another worker took them over after the lease.
    pub skipped: usize,
}

impl Pass {
    /// Messages attempted in this pass.
    pub fn attempted(&self) -> usize {
        self.sent + self.failed
    }
}

impl Worker {
    /// A worker with a fresh id.
    pub fn new(db: Db, clock: Arc<dyn Clock>, mailer: Mailer, settings: Arc<Settings>) -> Self {
        let id = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
        Self {
            db,
            clock,
            mailer,
            settings,
            id,
            last_purge: Arc::default(),
        }
    }

    /// Runs one outbox query in its own write transaction on a blocking thread.
    async fn write<T, F>(&self, f: F) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> diesel::QueryResult<T> + Send + 'static,
    {
        self.db
            .write(move |conn| f(conn).map_err(WorkerError::from))
            .await
    }

    /// This worker's id (recorded in its claims).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The transport.
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Claims a batch of due messages (exposed so tests can stop a worker right after it).
    pub async fn claim(&self) -> Result<Vec<Claimed>, WorkerError> {
        let (id, now) = (self.id.clone(), self.clock.now());
        let lease = Duration::from_millis(self.settings.outbox.lease_ms);
        let limit = i64::from(self.settings.outbox.batch_size.max(1));
        let max = self.settings.outbox.max_attempts;
        self.write(move |conn| store::claim(conn, &id, now, lease, limit, max))
            .await
    }

    async fn enqueue_reminders(&self) -> usize {
        let now = self.clock.now();
        let days = self.settings.notifications.reminder_days_before_deadline;
        let domain = sender_domain(&self.settings.mail.from);
        let result: Result<usize, WorkerError> = self
            .db
            .write(move |conn| {
                crate::campaigns::notices::enqueue_due_reminders(conn, now, days, &domain)
                    .map_err(WorkerError::from)
            })
            .await;
        match result {
            Ok(n) => n,
            // Another instance enqueued the same reminder first: the unique key did its job.
            Err(WorkerError::Query(e))
                if crate::db::unique_constraint(&e).as_deref() == Some("outbox_dedup_key_key") =>
            {
                0
            }
            Err(e) => {
                tracing::warn!(error = %e, "reminders not scheduled this pass");
                0
            }
        }
    }

    /// Sends claimed messages and records each outcome. Each claim is renewed just before its
    /// message is sent, and a message whose claim was taken over (lease expired, another worker
    /// claimed it) is skipped, so a slow batch never sends what another worker is sending.
    /// Stops early when `stop` turns true, giving the remaining claims back.
    pub async fn deliver(
        &self,
        claimed: Vec<Claimed>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Pass, WorkerError> {
        let mut pass = Pass::default();
        for (i, m) in claimed.iter().enumerate() {
            if stop.is_some_and(|s| *s.borrow()) {
                let rest: Vec<MailId> = claimed[i..].iter().map(|c| c.id).collect();
                let worker = self.id.clone();
                pass.released = self
                    .write(move |conn| store::release(conn, &rest, &worker))
                    .await?;
                break;
            }
            let (worker, now, id) = (self.id.clone(), self.clock.now(), m.id);
            let lease = Duration::from_millis(self.settings.outbox.lease_ms);
            if !self
                .write(move |conn| store::renew(conn, id, &worker, now, lease))
                .await?
            {
                tracing::info!(%id, "claim taken over by another worker; not sending");
                pass.skipped += 1;
                continue;
            }
            let outcome = self.mailer.send(m).await;
            let (worker, now) = (self.id.clone(), self.clock.now());
            match outcome {
                Ok(()) => {
                    let still_ours = self
                        .write(move |conn| store::mark_sent(conn, id, &worker, now))
                        .await?;
                    if !still_ours {
                        tracing::warn!(%id, "sent after the claim was taken over; the message may arrive twice (same Message-ID)");
                    }
                    pass.sent += 1;
                }
                Err(err) => {
                    let (max, base) = (
                        self.settings.outbox.max_attempts,
                        Duration::from_millis(self.settings.outbox.retry_base_ms),
                    );
                    let claimed = m.clone();
                    let text = err.message.clone();
                    let status = self
                        .write(move |conn| {
                            store::record_failure(
                                conn,
                                &claimed,
                                &worker,
                                &text,
                                err.permanent,
                                now,
                                max,
                                base,
                            )
                        })
                        .await?;
                    tracing::warn!(%id, ?status, error = %err.message, "mail delivery failed");
                    pass.failed += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Deletes idempotency records older than 24 h, at most once a minute per worker.
    /// Returns how many were deleted.
    pub async fn purge_idempotency(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        {
            let Ok(mut last) = self.last_purge.lock() else {
                return Ok(0);
            };
            if last.is_some_and(|t| now - t < PURGE_EVERY) {
                return Ok(0);
            }
            *last = Some(now);
        }
        self.write(move |conn| crate::idempotency::store::purge(conn, now))
            .await
    }

    /// Seals the audit events old enough into the hash chain (see `docs/audit.md`).
    pub async fn seal_audit(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        let settle = chrono::Duration::milliseconds(
            i64::try_from(self.settings.audit.seal_after_ms).unwrap_or(i64::MAX),
        );
        let max = i64::from(self.settings.audit.seal_batch.max(1));
        self.write(move |conn| crate::audit::store::seal(conn, now, settle, max))
            .await
    }

    /// One pass: housekeeping, reminders, then one claimed batch.
    pub async fn run_once(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Pass, WorkerError> {
        if let Err(e) = self.purge_idempotency().await {
            tracing::warn!(error = %e, "idempotency records not purged this pass");
        }
        if let Err(e) = self.seal_audit().await {
            tracing::warn!(error = %e, "audit events not sealed this pass");
        }
        let reminders = self.enqueue_reminders().await;
        let claimed = self.claim().await?;
        let mut pass = self.deliver(claimed, stop).await?;
        pass.reminders = reminders;
        crate::metrics::worker_passed(self.clock.now().timestamp());
        Ok(pass)
    }

    /// Passes until nothing is due (tests and `serve` start-up).
    pub async fn drain(&self) -> Result<usize, WorkerError> {
        let mut total = 0;
        loop {
            let pass = self.run_once(None).await?;
            if pass.attempted() == 0 {
                return Ok(total);
            }
            total += pass.attempted();
        }
    }

    /// Runs until `stop` turns true: polls every `outbox.poll_ms` when idle, finishes the
    /// message in flight and gives back the rest of its batch when stopped.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.outbox.poll_ms.max(10));
        tracing::info!(worker = %self.id, "outbox worker started");
        while !*stop.borrow() {
            let attempted = match self.run_once(Some(&stop)).await {
                Ok(pass) => pass.attempted(),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed");
                    0
                }
            };
            if attempted == 0 {
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        }
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }
}
