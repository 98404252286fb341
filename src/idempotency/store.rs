//! Idempotency record queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{ABANDONED_AFTER, RETENTION};
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::schema::idempotency_records as rec;

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
    Proceed(Uuid),
    /// Seen before with the same request: answer this.
    Replay(Stored),
    /// Seen before with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = rec)]
#[diesel(check_for_backend(crate::db::MultiBackend))]
struct Row {
    id: DbUuid,
    fingerprint: String,
    state: String,
    response_status: Option<i64>,
    response_content_type: Option<String>,
    response_body: Option<String>,
    created_at: DbTime,
}

fn insert(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    diesel::insert_into(rec::table)
        .values((
            rec::id.eq(DbUuid(id)),
            rec::scope.eq(scope),
            rec::idem_key.eq(key),
            rec::fingerprint.eq(fingerprint),
            rec::state.eq("in_progress"),
            rec::created_at.eq(DbTime::new(now)),
        ))
        .execute(conn)
        .map_err(|e| match e {
            // Another request with this key got in first (concurrent retry).
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is in progress",
            ),
            other => other.into(),
        })?;
    Ok(id)
}

/// Looks the key up and reserves it when it is free. Call inside a write transaction.
pub fn begin(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Begin, ApiError> {
    let existing: Option<Row> = rec::table
        .filter(rec::scope.eq(scope))
        .filter(rec::idem_key.eq(key))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = existing else {
        return Ok(Begin::Proceed(insert(conn, scope, key, fingerprint, now)?));
    };
    let age = now - row.created_at.get();
    let stale = if row.state == "done" {
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
    if row.state != "done" {
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
pub fn finish(conn: &mut DbConn, id: Uuid, response: &Stored) -> Result<(), ApiError> {
    diesel::update(rec::table.filter(rec::id.eq(DbUuid(id))))
        .set((
            rec::state.eq("done"),
            rec::response_status.eq(Some(i64::from(response.status))),
            rec::response_content_type.eq(Some(&response.content_type)),
            rec::response_body.eq(Some(&response.body)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Frees a reserved key (the request failed: the client may retry with the same key).
pub fn abandon(conn: &mut DbConn, id: Uuid) -> Result<(), ApiError> {
    diesel::delete(rec::table.filter(rec::id.eq(DbUuid(id)))).execute(conn)?;
    Ok(())
}
