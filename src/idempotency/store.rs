//! Idempotency record queries: the record is queued in the change's batch; the look-up and
//! the removal of an expired record run after a failed write.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::RETENTION;
use super::KeyedRequest;
use crate::db::batch::Batch;
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::ids::{IdempotencyRecordId, TokenId};
use crate::schema::idempotency_records as rec;

crate::stored_enum! {
    /// State of an idempotency record. (The tables' CHECK still allows `in_progress`, which
    /// earlier versions wrote and overwrote inside one transaction: no committed row has it.)
    pub enum RecordState {
        /// The first response is kept for replays.
        Done,
        /// The first response carried a secret: nothing of it is kept.
        Redacted,
    }
}

/// What is kept of a first response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The body, replayed as it was.
    Response {
        /// JSON body.
        body: String,
    },
    /// Nothing: it carried a secret.
    Redacted,
}

/// What an earlier use of a key means for a request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Used over 24 h ago: forget it, the key is fresh again.
    Expired,
    /// Used with the same request: answer this.
    Replay(Stored),
    /// Used with another request.
    Mismatch,
}

/// A stored record of a key.
#[derive(Queryable, Selectable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
pub struct Record {
    fingerprint: String,
    state: RecordState,
    response_body: Option<String>,
    created_at: DbTime,
}

impl Record {
    /// What this record means for `keyed` at `now`.
    pub fn seen(self, keyed: &KeyedRequest, now: DateTime<Utc>) -> Seen {
        if now - self.created_at.get() >= RETENTION {
            return Seen::Expired;
        }
        if self.fingerprint != keyed.fingerprint {
            return Seen::Mismatch;
        }
        Seen::Replay(match (self.state, self.response_body) {
            (RecordState::Done, Some(body)) => Stored::Response { body },
            _ => Stored::Redacted,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
// `None` is NULL (the columns have no default): diesel then caches the statement.
#[diesel(treat_none_as_default_value = false)]
struct NewRecordRow {
    id: IdempotencyRecordId,
    scope: String,
    idem_key: String,
    fingerprint: String,
    state: RecordState,
    response_status: Option<i64>,
    response_content_type: Option<&'static str>,
    response_body: Option<String>,
    created_at: DbTime,
}

/// The caller's record of `key`, if any (one statement).
pub fn find(conn: &mut DbConn, token: TokenId, key: &str) -> QueryResult<Option<Record>> {
    rec::table
        .filter(rec::scope.eq(token.to_string()))
        .filter(rec::idem_key.eq(key))
        .select(Record::as_select())
        .first(conn)
        .optional()
}

/// Deletes the caller's record of `key` if it is over 24 h old at `now` (the purge had not
/// run yet), so that the key can be recorded again.
pub fn forget_expired(
    conn: &mut DbConn,
    token: TokenId,
    key: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        rec::table
            .filter(rec::scope.eq(token.to_string()))
            .filter(rec::idem_key.eq(key))
            .filter(rec::created_at.le(DbTime::new(now - RETENTION))),
    )
    .execute(conn)
}

/// Queues the record of the first response under the caller's key in the change's `batch`:
/// it is written by the batch's statement, at the end of the change's transaction. Its unique
/// key `(scope, idem_key)` makes the batch fail when the key is recorded already (or by a
/// concurrent request, once that one commits).
pub fn queue(
    batch: &mut Batch,
    token: TokenId,
    keyed: &KeyedRequest,
    now: DateTime<Utc>,
    kept: Stored,
) {
    let (state, body) = match kept {
        Stored::Response { body } => (RecordState::Done, Some(body)),
        Stored::Redacted => (RecordState::Redacted, None),
    };
    batch.push(diesel::insert_into(rec::table).values(NewRecordRow {
        id: IdempotencyRecordId::new(),
        scope: token.to_string(),
        idem_key: keyed.key.clone(),
        fingerprint: keyed.fingerprint.clone(),
        state,
        response_status: Some(201),
        response_content_type: Some("application/json"),
        response_body: body,
        created_at: DbTime::new(now),
    }));
}

/// Deletes the records older than 24 h at `now` (the worker calls it); returns how many.
pub fn purge(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(rec::table.filter(rec::created_at.lt(DbTime::new(now - RETENTION))))
        .execute(conn)
}
