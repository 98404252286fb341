//! Idempotency record queries, run inside the transaction of the change they protect.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::RETENTION;
use super::KeyedRequest;
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, OnUnique};
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

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First use (or the last use is over 24 h old): run the change.
    Fresh,
    /// Seen before with the same request: answer this.
    Replay(Stored),
    /// Seen before with another request.
    Mismatch,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
struct RecordRow {
    id: IdempotencyRecordId,
    fingerprint: String,
    state: RecordState,
    response_body: Option<String>,
    created_at: DbTime,
}

#[derive(Insertable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
// `None` is NULL (the columns have no default): diesel then caches the statement.
#[diesel(treat_none_as_default_value = false)]
struct NewRecordRow<'a> {
    id: IdempotencyRecordId,
    scope: String,
    idem_key: &'a str,
    fingerprint: &'a str,
    state: RecordState,
    response_status: Option<i64>,
    response_content_type: Option<&'a str>,
    response_body: Option<&'a str>,
    created_at: DbTime,
}

/// Advisory lock class of idempotency keys ("IDEM").
const LOCK_CLASS: i32 = 0x4944_454d;

/// Makes requests with the caller's key take turns until the end of the transaction
/// (PostgreSQL; SQLite writers take turns anyway): call it before [`begin`], so that a second
/// request with the key waits for the first to commit and then finds its record (a replay).
pub fn hold(conn: &mut DbConn, token: TokenId, keyed: &KeyedRequest) -> QueryResult<()> {
    let scope = token.to_string();
    crate::db::hold_object(conn, LOCK_CLASS, &[scope.as_bytes(), keyed.key.as_bytes()])
}

/// Looks the caller's key up. A record over 24 h old is deleted and the key is fresh again.
pub fn begin(
    conn: &mut DbConn,
    token: TokenId,
    keyed: &KeyedRequest,
    now: DateTime<Utc>,
) -> Result<Begin, ApiError> {
    let existing: Option<RecordRow> = rec::table
        .filter(rec::scope.eq(token.to_string()))
        .filter(rec::idem_key.eq(&keyed.key))
        .select(RecordRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = existing else {
        return Ok(Begin::Fresh);
    };
    if now - row.created_at.get() >= RETENTION {
        diesel::delete(rec::table.filter(rec::id.eq(row.id))).execute(conn)?;
        return Ok(Begin::Fresh);
    }
    if row.fingerprint != keyed.fingerprint {
        return Ok(Begin::Mismatch);
    }
    Ok(Begin::Replay(match (row.state, row.response_body) {
        (RecordState::Done, Some(body)) => Stored::Response { body },
        _ => Stored::Redacted,
    }))
}

/// Records the first response under the caller's key, as the last statement of the change's
/// transaction, in one insert (the key is held by [`hold`] since the start). Should the key
/// be recorded anyway by then, this fails with 409 `idempotency_key_in_use` and the change
/// rolls back whole.
pub fn record(
    conn: &mut DbConn,
    token: TokenId,
    keyed: &KeyedRequest,
    now: DateTime<Utc>,
    kept: &Stored,
) -> Result<(), ApiError> {
    let (state, body) = match kept {
        Stored::Response { body } => (RecordState::Done, Some(body.as_str())),
        Stored::Redacted => (RecordState::Redacted, None),
    };
    diesel::insert_into(rec::table)
        .values(NewRecordRow {
            id: IdempotencyRecordId::new(),
            scope: token.to_string(),
            idem_key: &keyed.key,
            fingerprint: &keyed.fingerprint,
            state,
            response_status: Some(201),
            response_content_type: Some("application/json"),
            response_body: body,
            created_at: DbTime::new(now),
        })
        .execute(conn)
        .on_unique("idempotency_records_scope_idem_key_key", || {
            ApiError::conflict(
                "idempotency_key_in_use",
                "another request with this Idempotency-Key acted first; retry to get its response",
            )
        })?;
    Ok(())
}

/// Deletes the records older than 24 h at `now` (the worker calls it); returns how many.
pub fn purge(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(rec::table.filter(rec::created_at.lt(DbTime::new(now - RETENTION))))
        .execute(conn)
}
