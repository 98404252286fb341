//! The delivery worker. `serve` runs one; tests drive [`Worker::run_once`] directly.
//!
//! Each pass: housekeeping when due (reminders, audit sealing, idempotency purge: at most every
//! `outbox.housekeeping_ms`), claim a batch of due messages with a lease, then send them in
//! groups of `outbox.concurrency` at once over pooled SMTP sessions. One write transaction
//! between two groups records the previous group's outcomes and renews the next group's
//! claims, so the database work is one transaction per group, not three per message.
//!
//! Several workers (threads or instances) can run at once: claims never overlap (PostgreSQL
//! `FOR UPDATE SKIP LOCKED`, SQLite `BEGIN IMMEDIATE`), a message whose claim another worker
//! took over is not sent, and a claim whose worker died is taken over when its lease ends, or
//! at once when a worker starts again under the same name ([`Worker::named`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
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
    last_purge: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
    /// When this worker last enqueued reminders and sealed the journal.
    last_housekeeping: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
}

/// True (and `last` set to `now`) when `every` has passed since `last`, or never ran.
fn due(
    last: &std::sync::Mutex<Option<DateTime<Utc>>>,
    now: DateTime<Utc>,
    every: chrono::Duration,
) -> bool {
    let Ok(mut last) = last.lock() else {
        return false;
    };
    if last.is_some_and(|t| now - t < every && now >= t) {
        return false;
    }
    *last = Some(now);
    true
}

/// What happened to one message of a group.
#[derive(Clone)]
enum Outcome {
    Sent(MailId),
    Failed(Claimed, super::transport::SendError),
}

/// How often a worker deletes idempotency records older than 24 h.
pub const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Most audit events sealed in one transaction (a pass seals up to `audit.seal_batch` in
/// several).
pub const SEAL_CHUNK: usize = 50;

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

/// What one settling transaction did.
#[derive(Default)]
struct Settled {
    sent: usize,
    failed: usize,
    released: usize,
    renewed: Vec<MailId>,
}

impl Pass {
    /// Messages attempted in this pass.
    pub fn attempted(&self) -> usize {
        self.sent + self.failed
    }
}

impl Worker {
    /// A worker with a fresh, unique id (tests; several workers in one process).
    pub fn new(db: Db, clock: Arc<dyn Clock>, mailer: Mailer, settings: Arc<Settings>) -> Self {
        let id = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
        Self::named(db, clock, mailer, settings, id)
    }

    /// A worker that claims as `name#<run>`: a stable name (`outbox.worker_name`, by default
    /// the host name) lets the next start take back at once what a killed run of the same
    /// name left claimed, while the run part keeps two live runs' claims apart.
    pub fn named(
        db: Db,
        clock: Arc<dyn Clock>,
        mailer: Mailer,
        settings: Arc<Settings>,
        name: String,
    ) -> Self {
        Self {
            db,
            clock,
            mailer,
            settings,
            id: format!("{name}#{}", Uuid::new_v4().simple()),
            last_purge: Arc::default(),
            last_housekeeping: Arc::default(),
        }
    }

    /// Ends the leases of the claims left by previous runs under this worker's name, so the
    /// next claim takes them at once. Returns how many. `run` calls it when it starts.
    pub async fn recover(&self) -> Result<usize, WorkerError> {
        let (id, now) = (self.id.clone(), self.clock.now());
        let Some((name, _run)) = id.rsplit_once('#') else {
            return Ok(0);
        };
        let name = name.to_owned();
        self.write(move |conn| store::expire_claims_of(conn, &name, &id, now))
            .await
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

    /// Sends claimed messages, `outbox.concurrency` at a time, and records their outcomes.
    /// Before each group is sent, its claims are renewed in the transaction that records the
    /// previous group's outcomes; a message whose claim was taken over meanwhile (lease
    /// expired, another worker claimed it) is skipped, so a slow batch never sends what
    /// another worker is sending. When `stop` turns true, the group in flight finishes and
    /// the remaining claims are given back.
    pub async fn deliver(
        &self,
        claimed: Vec<Claimed>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Pass, WorkerError> {
        let mut pass = Pass::default();
        let size = usize::try_from(self.settings.outbox.concurrency.max(1)).unwrap_or(1);
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut rest: &[Claimed] = &claimed;
        loop {
            let stopping = stop.is_some_and(|s| *s.borrow());
            let (group, after) = if stopping {
                (&rest[..0], &rest[rest.len()..])
            } else {
                rest.split_at(size.min(rest.len()))
            };
            let released: Vec<MailId> = if stopping {
                rest.iter().map(|c| c.id).collect()
            } else {
                Vec::new()
            };
            let renew: Vec<MailId> = group.iter().map(|c| c.id).collect();
            let step = self
                .settle(std::mem::take(&mut outcomes), renew, released)
                .await?;
            pass.sent += step.sent;
            pass.failed += step.failed;
            pass.released += step.released;
            if group.is_empty() {
                break;
            }
            let ours: Vec<&Claimed> = group
                .iter()
                .filter(|c| step.renewed.contains(&c.id))
                .collect();
            for c in group.iter().filter(|c| !step.renewed.contains(&c.id)) {
                tracing::info!(id = %c.id, "claim taken over by another worker; not sending");
                pass.skipped += 1;
            }
            // Each send ends before the claim renewed above could: cut off at 3/4 of the lease.
            let deadline = Duration::from_millis(self.settings.outbox.lease_ms / 4 * 3);
            outcomes = futures_util::future::join_all(ours.into_iter().map(|m| async move {
                match tokio::time::timeout(deadline, self.mailer.send(m)).await {
                    Ok(Ok(())) => Outcome::Sent(m.id),
                    Ok(Err(e)) => Outcome::Failed(m.clone(), e),
                    Err(_) => Outcome::Failed(
                        m.clone(),
                        super::transport::SendError {
                            permanent: false,
                            message: format!(
                                "not delivered within {deadline:?} (3/4 of the claim's lease); it may have arrived, the retry keeps its Message-ID"
                            ),
                        },
                    ),
                }
            }))
            .await;
            rest = after;
        }
        Ok(pass)
    }

    /// [`Worker::settle_once`], retried a few times: outcomes that could not be recorded
    /// would leave delivered messages `sending` until their lease ends, then send them again.
    async fn settle(
        &self,
        outcomes: Vec<Outcome>,
        renew: Vec<MailId>,
        release: Vec<MailId>,
    ) -> Result<Settled, WorkerError> {
        let mut wait = Duration::from_millis(100);
        for _ in 0..3 {
            match self
                .settle_once(outcomes.clone(), renew.clone(), release.clone())
                .await
            {
                Ok(s) => return Ok(s),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox outcomes not recorded; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
        self.settle_once(outcomes, renew, release).await
    }

    /// One write transaction: records `outcomes`, gives `release` back, renews `renew`.
    async fn settle_once(
        &self,
        outcomes: Vec<Outcome>,
        renew: Vec<MailId>,
        release: Vec<MailId>,
    ) -> Result<Settled, WorkerError> {
        if outcomes.is_empty() && renew.is_empty() && release.is_empty() {
            return Ok(Settled::default());
        }
        let (worker, now) = (self.id.clone(), self.clock.now());
        let lease = Duration::from_millis(self.settings.outbox.lease_ms);
        let (max, base) = (
            self.settings.outbox.max_attempts,
            Duration::from_millis(self.settings.outbox.retry_base_ms),
        );
        self.write(move |conn| {
            let mut settled = Settled::default();
            let sent: Vec<MailId> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::Sent(id) => Some(*id),
                    Outcome::Failed(..) => None,
                })
                .collect();
            let recorded = store::mark_sent(conn, &sent, &worker, now)?;
            if recorded < sent.len() {
                tracing::warn!(
                    count = sent.len() - recorded,
                    "sent after the claim was taken over; those messages may arrive twice (same Message-ID)"
                );
            }
            settled.sent = sent.len();
            for outcome in &outcomes {
                if let Outcome::Failed(m, err) = outcome {
                    let status = store::record_failure(
                        conn, m, &worker, &err.message, err.permanent, now, max, base,
                    )?;
                    tracing::warn!(id = %m.id, ?status, error = %err.message, "mail delivery failed");
                    settled.failed += 1;
                }
            }
            settled.released = store::release(conn, &release, &worker)?;
            settled.renewed = store::renew(conn, &renew, &worker, now, lease)?;
            Ok(settled)
        })
        .await
    }

    /// Deletes idempotency records older than 24 h, at most once a minute per worker.
    /// Returns how many were deleted.
    pub async fn purge_idempotency(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        if !due(&self.last_purge, now, PURGE_EVERY) {
            return Ok(0);
        }
        self.write(move |conn| crate::idempotency::store::purge(conn, now))
            .await
    }

    /// Seals the audit events old enough into the hash chain (see `docs/audit.md`), at most
    /// `audit.seal_batch` of them per pass.
    pub async fn seal_audit(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        let settle = chrono::Duration::milliseconds(
            i64::try_from(self.settings.audit.seal_after_ms).unwrap_or(i64::MAX),
        );
        let max = usize::try_from(self.settings.audit.seal_batch.max(1)).unwrap_or(usize::MAX);
        // In transactions of at most SEAL_CHUNK events, so that requests' writes queued behind
        // the sealing (SQLite has one writer) wait for a few milliseconds, not for the pass.
        let mut sealed = 0;
        while sealed < max {
            let chunk = (max - sealed).min(SEAL_CHUNK);
            let limit = i64::try_from(chunk).unwrap_or(i64::MAX);
            let n = self
                .write(move |conn| crate::audit::store::seal(conn, now, settle, limit))
                .await?;
            sealed += n;
            if n < chunk {
                break;
            }
        }
        Ok(sealed)
    }

    /// One pass: housekeeping when due (every `outbox.housekeeping_ms` of the worker's clock),
    /// then one claimed batch.
    pub async fn run_once(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Pass, WorkerError> {
        let every = chrono::Duration::milliseconds(
            i64::try_from(self.settings.outbox.housekeeping_ms).unwrap_or(i64::MAX),
        );
        let mut reminders = 0;
        if due(&self.last_housekeeping, self.clock.now(), every) {
            if let Err(e) = self.purge_idempotency().await {
                tracing::warn!(error = %e, "idempotency records not purged this pass");
            }
            if let Err(e) = self.seal_audit().await {
                tracing::warn!(error = %e, "audit events not sealed this pass");
            }
            reminders = self.enqueue_reminders().await;
        }
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
        match self.recover().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(worker = %self.id, claims = n, "took back the claims a previous run left")
            }
            Err(e) => {
                tracing::warn!(error = %e, "claims of a previous run not taken back; their leases will end")
            }
        }
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
