//! Outbox queries: enqueue inside the caller's transaction, claim with a lease, record the
//! outcome, list for the admin.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::domain::{after_failure, message_id, AfterFailure, OutboxStatus};
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::extract::Page;
use crate::schema::outbox;
use crate::spelled::Spelled;

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// What kind of notice (`campaign_opened`, `campaign_reminder`, …).
    pub kind: &'static str,
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

/// Writes `mail` to the outbox on `conn`, which must be inside the transaction of the change
/// that causes it: both commit or neither does. `domain` names the Message-ID's right side.
pub fn enqueue(
    conn: &mut DbConn,
    mail: &NewMail,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let t = DbTime::new(now);
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(DbUuid(id)),
            outbox::kind.eq(mail.kind),
            outbox::recipient.eq(&mail.to),
            outbox::subject.eq(&mail.subject),
            outbox::body_text.eq(&mail.text),
            outbox::body_html.eq(&mail.html),
            outbox::message_id.eq(message_id(id, domain)),
            outbox::dedup_key.eq(&mail.dedup_key),
            outbox::status.eq(OutboxStatus::Pending.spelling()),
            outbox::attempts.eq(0i64),
            outbox::last_error.eq(None::<String>),
            outbox::next_attempt_at.eq(t),
            outbox::claimed_by.eq(None::<String>),
            outbox::claimed_until.eq(None::<DbTime>),
            outbox::created_at.eq(t),
            outbox::sent_at.eq(None::<DbTime>),
        ))
        .execute(conn)?;
    Ok(id)
}

/// True when a message with this dedup key exists already.
pub fn exists_dedup(conn: &mut DbConn, key: &str) -> Result<bool, ApiError> {
    Ok(outbox::table
        .filter(outbox::dedup_key.eq(key))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A claimed message, with what the transport needs.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Claimed {
    /// Outbox id.
    pub id: DbUuid,
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

/// Claims up to `limit` due messages for `worker` until `now + lease`, counting the attempt.
/// Call inside [`crate::db::write_tx`].
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Claimed>, ApiError> {
    let ids: Vec<DbUuid> = crate::db::lock_due_outbox(conn, now, limit)?
        .into_iter()
        .map(DbUuid)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let until = now + chrono::Duration::from_std(lease).map_err(ApiError::internal)?;
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set((
            outbox::status.eq(OutboxStatus::Sending.spelling()),
            outbox::claimed_by.eq(Some(worker)),
            outbox::claimed_until.eq(Some(DbTime::new(until))),
            outbox::attempts.eq(outbox::attempts + 1i64),
        ))
        .execute(conn)?;
    Ok(outbox::table
        .filter(outbox::id.eq_any(&ids))
        .select((
            outbox::id,
            outbox::recipient,
            outbox::subject,
            outbox::body_text,
            outbox::body_html,
            outbox::message_id,
            outbox::attempts,
        ))
        .order(outbox::next_attempt_at.asc())
        .load(conn)?)
}

/// Renews the claim of `worker` on message `id` until `now + lease`, right before sending it.
/// False when the claim is no longer this worker's (its lease ran out and another worker took
/// the message): the caller must then not send it.
pub fn renew(
    conn: &mut DbConn,
    id: Uuid,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, ApiError> {
    let until = now + chrono::Duration::from_std(lease).map_err(ApiError::internal)?;
    let n = diesel::update(
        outbox::table
            .filter(outbox::id.eq(DbUuid(id)))
            .filter(outbox::status.eq(OutboxStatus::Sending.spelling()))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set(outbox::claimed_until.eq(Some(DbTime::new(until))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a delivery. Returns false if the claim had been taken over meanwhile (the message
/// may then go out twice; its Message-ID is the same both times).
pub fn mark_sent(
    conn: &mut DbConn,
    id: Uuid,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::id.eq(DbUuid(id)))
            .filter(outbox::status.eq(OutboxStatus::Sending.spelling()))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Sent.spelling()),
        outbox::sent_at.eq(Some(DbTime::new(now))),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(n == 1)
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
) -> Result<OutboxStatus, ApiError> {
    let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
    let (status, next) = match after_failure(permanent, attempts, max_attempts, retry_base) {
        AfterFailure::GiveUp => (OutboxStatus::Failed, now),
        AfterFailure::RetryIn(d) => (
            OutboxStatus::Pending,
            now + chrono::Duration::from_std(d).map_err(ApiError::internal)?,
        ),
    };
    let error: String = error.chars().take(2000).collect();
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(claimed.id))
            .filter(outbox::status.eq(OutboxStatus::Sending.spelling()))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(status.spelling()),
        outbox::last_error.eq(Some(error)),
        outbox::next_attempt_at.eq(DbTime::new(next)),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
    ))
    .execute(conn)?;
    Ok(status)
}

/// Gives claimed-but-unsent messages back (shutdown): pending again, attempt not counted.
pub fn release(conn: &mut DbConn, ids: &[Uuid], worker: &str) -> Result<usize, ApiError> {
    let ids: Vec<DbUuid> = ids.iter().copied().map(DbUuid).collect();
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(&ids))
            .filter(outbox::status.eq(OutboxStatus::Sending.spelling()))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(OutboxStatus::Pending.spelling()),
        outbox::claimed_by.eq(None::<String>),
        outbox::claimed_until.eq(None::<DbTime>),
        outbox::attempts.eq(outbox::attempts - 1i64),
    ))
    .execute(conn)?)
}

/// An outbox message as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    /// Id.
    pub id: Uuid,
    /// Kind of notice.
    pub kind: String,
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

type EntryRow = (
    DbUuid,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    DbTime,
    DbTime,
    Option<DbTime>,
);

/// One page of the outbox, optionally of one status (admin: checked by the handler).
pub fn list(
    conn: &mut DbConn,
    status: Option<OutboxStatus>,
    page: Page,
) -> Result<Vec<OutboxEntry>, ApiError> {
    let mut q = outbox::table
        .select((
            outbox::id,
            outbox::kind,
            outbox::recipient,
            outbox::subject,
            outbox::message_id,
            outbox::status,
            outbox::attempts,
            outbox::last_error,
            outbox::next_attempt_at,
            outbox::created_at,
            outbox::sent_at,
        ))
        .order(outbox::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(outbox::id.gt(DbUuid(after)));
    }
    if let Some(s) = status {
        q = q.filter(outbox::status.eq(s.spelling()));
    }
    q.load::<EntryRow>(conn)?
        .into_iter()
        .map(
            |(
                id,
                kind,
                recipient,
                subject,
                message_id,
                status,
                attempts,
                last_error,
                next,
                created,
                sent,
            )| {
                Ok(OutboxEntry {
                    id: id.0,
                    kind,
                    recipient,
                    subject,
                    message_id,
                    status: OutboxStatus::from_spelling(&status).ok_or_else(|| {
                        ApiError::internal(format!("outbox {} has status {status:?}", id.0))
                    })?,
                    attempts,
                    last_error,
                    next_attempt_at: next.get(),
                    created_at: created.get(),
                    sent_at: sent.map(DbTime::get),
                })
            },
        )
        .collect()
}
