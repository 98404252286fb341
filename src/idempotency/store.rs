//! Idempotency record queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{ABANDONED_AFTER, RETENTION};
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, OnUnique};
use crate::ids::IdempotencyRecordId;
use crate::schema::idempotency_records as rec;

crate::stored_enum! {
    /// State of an idempotency record.
    pub enum RecordState {
        /// The first request with the key is running.
        InProgress,
        /// Its response is kept for replays.
        Done,
    }
}

/// A stored first response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: String,
}

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First use: run the request; the record id to finish or abandon.
    Proceed(IdempotencyRecordId),
    /// Seen before with the same request: answer this.
    Replay(Stored),
    /// Seen before with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
struct RecordRow {
    id: IdempotencyRecordId,
    fingerprint: String,
    state: RecordState,
    response_status: Option<i64>,
    response_content_type: Option<String>,
    response_body: Option<String>,
    created_at: DbTime,
}

#[derive(Insertable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(MultiBackend))]
struct NewRecordRow<'a> {
    id: IdempotencyRecordId,
    scope: &'a str,
    idem_key: &'a str,
    fingerprint: &'a str,
    state: RecordState,
    created_at: DbTime,
}

fn insert(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<IdempotencyRecordId, ApiError> {
    let row = NewRecordRow {
        id: IdempotencyRecordId::new(),
        scope,
        idem_key: key,
        fingerprint,
        state: RecordState::InProgress,
        created_at: DbTime::new(now),
    };
    diesel::insert_into(rec::table)
        .values(&row)
        .execute(conn)
        // Another request with this key got in first (concurrent retry).
        .on_unique("idempotency_records_scope_idem_key_key", || {
            ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is in progress",
            )
        })?;
    Ok(row.id)
}

/// Looks the key up and reserves it when it is free. Call inside a write transaction.
pub fn begin(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Begin, ApiError> {
    let existing: Option<RecordRow> = rec::table
        .filter(rec::scope.eq(scope))
        .filter(rec::idem_key.eq(key))
        .select(RecordRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = existing else {
        return Ok(Begin::Proceed(insert(conn, scope, key, fingerprint, now)?));
    };
    let age = now - row.created_at.get();
    let stale = if row.state == RecordState::Done {
        age >= RETENTION
    } else {
        age >= ABANDONED_AFTER
    };
    if stale {
        diesel::delete(rec::table.filter(rec::id.eq(row.id))).execute(conn)?;
        return Ok(Begin::Proceed(insert(conn, scope, key, fingerprint, now)?));
    }
    if row.fingerprint != fingerprint {
        return Ok(Begin::Mismatch);
    }
    if row.state != RecordState::Done {
        return Ok(Begin::InProgress);
    }
    Ok(Begin::Replay(Stored {
        status: row
            .response_status
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200),
        content_type: row
            .response_content_type
            .unwrap_or_else(|| "application/json".to_owned()),
        body: row.response_body.unwrap_or_default(),
    }))
}

/// Keeps the first response of a reserved key.
pub fn finish(
    conn: &mut DbConn,
    id: IdempotencyRecordId,
    response: &Stored,
) -> Result<(), ApiError> {
    diesel::update(rec::table.filter(rec::id.eq(id)))
        .set((
            rec::state.eq(RecordState::Done),
            rec::response_status.eq(Some(i64::from(response.status))),
            rec::response_content_type.eq(Some(&response.content_type)),
            rec::response_body.eq(Some(&response.body)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Frees a reserved key (the request failed: the client may retry with the same key).
pub fn abandon(conn: &mut DbConn, id: IdempotencyRecordId) -> Result<(), ApiError> {
    diesel::delete(rec::table.filter(rec::id.eq(id))).execute(conn)?;
    Ok(())
}
