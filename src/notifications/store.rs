//! Outbox queries: enqueue inside the caller's transaction, claim with a lease, record the
//! outcome, list for the admin. They return diesel's own errors: the handlers that enqueue
//! turn them into `ApiError`, the worker into its `WorkerError`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::QueryResult;
use serde::Serialize;

use super::domain::{after_failure, message_id, AfterFailure, MailKind, OutboxStatus};
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiError;
use crate::ids::MailId;
use crate::pagination::{keyset, Page};
use crate::schema::outbox;

/// `now + d`, or `now` if that is out of range (a lease or a retry delay never is).
fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// What kind of notice.
    pub kind: MailKind,
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Set when the message must exist at most once.
    pub dedup_key: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(MultiBackend))]
struct NewOutboxRow<'a> {
    id: MailId,
    kind: MailKind,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
    body_html: &'a str,
    message_id: String,
    dedup_key: Option<&'a str>,
    status: OutboxStatus,
    attempts: i64,
    next_attempt_at: DbTime,
    created_at: DbTime,
    sealed_until: Option<DbTime>,
}

/// Writes `mail` to the outbox on `conn`, which must be inside the transaction of the change
/// that causes it: both commit or neither does. `domain` names the Message-ID's right side.
pub fn enqueue(
    conn: &mut DbConn,
    mail: &NewMail,
    domain: &str,
    now: DateTime<Utc>,
) -> QueryResult<MailId> {
    insert(conn, mail, domain, now, None)
}

/// One notice for every address of one recipient (a supplier's contact addresses).
#[derive(Debug, Clone)]
pub struct ToEach<'a> {
    /// What kind of notice.
    pub kind: MailKind,
    /// The rendered notice, the same for every address.
    pub rendered: &'a super::templates::Rendered,
    /// The addresses; each gets one message.
    pub to: &'a [String],
    /// Dedup key prefix: each message's key is `{dedup}:{address}`.
    pub dedup: String,
    /// For a mail that says who bid: left out of the admin's listing (`GET /api/v1/outbox`)
    /// until this instant, the tender's bid deadline. It is delivered at once all the same.
    pub sealed_until: Option<DateTime<Utc>>,
}

/// Writes one message per address of `mails.to` to the outbox, on `conn` inside the
/// caller's transaction (see [`enqueue`]).
pub fn enqueue_each(
    conn: &mut DbConn,
    mails: &ToEach<'_>,
    domain: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for to in mails.to {
        let mail = NewMail {
            kind: mails.kind,
            to: to.clone(),
            subject: mails.rendered.subject.clone(),
            text: mails.rendered.text.clone(),
            html: mails.rendered.html.clone(),
            dedup_key: Some(format!("{}:{to}", mails.dedup)),
        };
        insert(
            conn,
            &mail,
            domain,
            now,
            mails.sealed_until.map(DbTime::new),
        )?;
    }
    Ok(())
}

fn insert(
    conn: &mut DbConn,
    mail: &NewMail,
    domain: &str,
    now: DateTime<Utc>,
    sealed_until: Option<DbTime>,
) -> QueryResult<MailId> {
    let id = MailId::new();
    let t = DbTime::new(now);
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            id,
            kind: mail.kind,
            recipient: &mail.to,
            subject: &mail.subject,
            body_text: &mail.text,
            body_html: &mail.html,
            message_id: message_id(id.0, domain),
            dedup_key: mail.dedup_key.as_deref(),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: t,
            created_at: t,
            sealed_until,
        })
        .execute(conn)?;
    Ok(id)
}

/// True when a message with this dedup key exists already.
pub fn exists_dedup(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        outbox::table.filter(outbox::dedup_key.eq(key)),
    ))
    .get_result(conn)
}

/// A claimed message, with what the transport needs.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(MultiBackend))]
pub struct Claimed {
    /// Outbox id.
    pub id: MailId,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: String,
    /// Stable Message-ID.
    pub message_id: String,
    /// Attempts including this one.
    pub attempts: i64,
}

/// A message whose lease ran out on its last allowed attempt.
#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(MultiBackend))]
struct AbandonedRow {
    id: MailId,
    attempts: i64,
    last_error: Option<String>,
}

/// Claims up to `limit` due messages for `worker` until `now + lease`, counting the attempt.
/// A message whose lease ran out on its last allowed attempt (its worker died while sending
/// it, `max_attempts` times) is marked `failed` with that reason instead of being claimed
/// again forever. Call inside [`crate::db::write_tx`].
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
    max_attempts: u32,
) -> QueryResult<Vec<Claimed>> {
    let ids = crate::db::lock_due_outbox(conn, now, limit)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let abandoned: Vec<AbandonedRow> = outbox::table
        .filter(outbox::id.eq_any(&ids))
        .filter(outbox::status.eq(OutboxStatus::Sending))
        .filter(outbox::attempts.ge(i64::from(max_attempts)))
        .select(AbandonedRow::as_select())
        .load(conn)?;
    for row in abandoned {
        let lease = format!(
            "the lease expired on attempt {} of {max_attempts}: the worker stopped while sending",
            row.attempts
        );
        let error = match row.last_error {
            Some(previous) => format!("{lease} (previous error: {previous})"),
            None => lease,
        };
        diesel::update(outbox::table.filter(outbox::id.eq(row.id)))
            .set((
                outbox::status.eq(OutboxStatus::Failed),
                outbox::last_error.eq(Some(error.chars().take(2000).collect::<String>())),
                outbox::claimed_by.eq(None::<String>),
                outbox::claimed_until.eq(None::<DbTime>),
            ))
            .execute(conn)?;
    }
    let until = later(now, lease);
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(&ids))
            .filter(outbox::status.ne(OutboxStatus::Failed)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Sending),
        outbox::claimed_by.eq(Some(worker)),
        outbox::claimed_until.eq(Some(DbTime::new(until))),
        outbox::attempts.eq(outbox::attempts + 1i64),
    ))
    .execute(conn)?;
    outbox::table
        .filter(outbox::id.eq_any(&ids))
        .filter(outbox::status.eq(OutboxStatus::Sending))
        .select(Claimed::as_select())
        .order(outbox::next_attempt_at.asc())
        .load(conn)
}

/// Renews the claims of `worker` on `ids` until `now + lease`, right before sending them.
/// Returns the ids still this worker's: a message whose lease ran out and that another worker
/// took over must not be sent by this one.
pub fn renew(
    conn: &mut DbConn,
    ids: &[MailId],
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> QueryResult<Vec<MailId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let until = DbTime::new(later(now, lease));
    let ours = || {
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::claimed_by.eq(worker))
    };
    diesel::update(ours())
        .set(outbox::claimed_until.eq(Some(until)))
        .execute(conn)?;
    ours().select(outbox::id).load(conn)
}

/// Records deliveries. Returns how many were still this worker's claims; the others had been
/// taken over meanwhile (such a message may go out twice, with the same Message-ID).
pub fn mark_sent(
    conn: &mut DbConn,
    ids: &[MailId],
    worker: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Sent),
        outbox::sent_at.eq(Some(DbTime::new(now))),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)
}

/// Records a failed attempt: back to `pending` with a later `next_attempt_at`, or `failed`
/// for a permanent refusal or when attempts are exhausted.
#[allow(clippy::too_many_arguments)]
pub fn record_failure(
    conn: &mut DbConn,
    claimed: &Claimed,
    worker: &str,
    error: &str,
    permanent: bool,
    now: DateTime<Utc>,
    max_attempts: u32,
    retry_base: Duration,
) -> QueryResult<OutboxStatus> {
    let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
    let (status, next) = match after_failure(permanent, attempts, max_attempts, retry_base) {
        AfterFailure::GiveUp => (OutboxStatus::Failed, now),
        AfterFailure::RetryIn(d) => (OutboxStatus::Pending, later(now, d)),
    };
    // A server's reply may hold any byte; PostgreSQL's TEXT refuses NUL.
    let error: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(2000)
        .collect();
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(claimed.id))
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(status),
        outbox::last_error.eq(Some(error)),
        outbox::next_attempt_at.eq(DbTime::new(next)),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
    ))
    .execute(conn)?;
    Ok(status)
}

/// Ends, as of `now`, the leases of the claims held by earlier runs named `name` (claims are
/// `name#run`), except `current`'s own: called when a worker starts, so the messages a killed
/// run left claimed are taken at once by the next claim instead of after their lease. The
/// claim path then treats them as any expired lease (a last attempt left unfinished becomes
/// `failed`).
pub fn expire_claims_of(
    conn: &mut DbConn,
    name: &str,
    current: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let escaped: String = name
        .chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    diesel::update(
        outbox::table
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::claimed_by.like(format!("{escaped}#%")).escape('\\'))
            .filter(outbox::claimed_by.ne(current)),
    )
    .set(outbox::claimed_until.eq(Some(DbTime::new(now))))
    .execute(conn)
}

/// Gives claimed-but-unsent messages back (shutdown): pending again, attempt not counted.
pub fn release(conn: &mut DbConn, ids: &[MailId], worker: &str) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Pending),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
        outbox::attempts.eq(outbox::attempts - 1i64),
    ))
    .execute(conn)
}

/// The outbox's state for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxHealth {
    /// Messages waiting for an attempt.
    pub pending: i64,
    /// Messages given up on.
    pub failed: i64,
    /// Seconds since the oldest pending message was enqueued (0: none).
    pub oldest_pending_age_s: i64,
}

/// Counts pending and failed messages and the oldest pending one's age at `now`.
pub fn health(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<OutboxHealth> {
    let count = |conn: &mut DbConn, s: OutboxStatus| -> QueryResult<i64> {
        outbox::table
            .filter(outbox::status.eq(s))
            .count()
            .get_result(conn)
    };
    let pending = count(conn, OutboxStatus::Pending)?;
    let failed = count(conn, OutboxStatus::Failed)?;
    let oldest: Option<DbTime> = outbox::table
        .filter(outbox::status.eq(OutboxStatus::Pending))
        .order(outbox::created_at.asc())
        .select(outbox::created_at)
        .first(conn)
        .optional()?;
    Ok(OutboxHealth {
        pending,
        failed,
        oldest_pending_age_s: oldest.map_or(0, |t| (now - t.get()).num_seconds().max(0)),
    })
}

/// An outbox message as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    /// Id.
    pub id: MailId,
    /// Kind of notice.
    pub kind: MailKind,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Message-ID header, the same on every attempt.
    pub message_id: String,
    /// Status.
    pub status: OutboxStatus,
    /// Attempts made.
    pub attempts: i64,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending messages).
    pub next_attempt_at: DateTime<Utc>,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// Delivered at.
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(MultiBackend))]
struct OutboxRow {
    id: MailId,
    kind: MailKind,
    recipient: String,
    subject: String,
    message_id: String,
    status: OutboxStatus,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: DbTime,
    created_at: DbTime,
    sent_at: Option<DbTime>,
}

impl From<OutboxRow> for OutboxEntry {
    fn from(r: OutboxRow) -> Self {
        OutboxEntry {
            id: r.id,
            kind: r.kind,
            recipient: r.recipient,
            subject: r.subject,
            message_id: r.message_id,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at.get(),
            created_at: r.created_at.get(),
            sent_at: r.sent_at.map(DbTime::get),
        }
    }
}

/// One page of the outbox as of `now`, optionally of one status (admin: the handler's
/// extractor). Mails sealed until a later instant (bid receipts before the deadline) are left
/// out.
pub fn list(
    conn: &mut DbConn,
    status: Option<OutboxStatus>,
    page: Page,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxEntry>, ApiError> {
    let mut q = outbox::table
        .select(OutboxRow::as_select())
        .filter(
            outbox::sealed_until
                .is_null()
                .or(outbox::sealed_until.le(DbTime::new(now))),
        )
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(outbox::status.eq(s));
    }
    let rows: Vec<OutboxRow> = keyset(q, outbox::id, page).load(conn)?;
    Ok(rows.into_iter().map(OutboxEntry::from).collect())
}

/// How far the messages whose dedup key starts with `prefix` got: (how many, how many sent,
/// the last sending instant). A feature uses it for the letters it enqueued under its own
/// prefix (the standstill counts from when rejection letters were actually sent).
pub fn delivery(
    conn: &mut DbConn,
    prefix: &str,
) -> QueryResult<(usize, usize, Option<DateTime<Utc>>)> {
    let rows: Vec<(OutboxStatus, Option<DbTime>)> = outbox::table
        .filter(outbox::dedup_key.like(format!("{prefix}%")))
        .select((outbox::status, outbox::sent_at))
        .load(conn)?;
    let sent: Vec<DateTime<Utc>> = rows
        .iter()
        .filter(|(s, _)| *s == OutboxStatus::Sent)
        .filter_map(|(_, at)| at.map(DbTime::get))
        .collect();
    Ok((rows.len(), sent.len(), sent.into_iter().max()))
}
