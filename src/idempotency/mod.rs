//! `Idempotency-Key` for the writes that create something (tokens, members, suppliers, groups,
//! campaigns, needs): the same caller, key and request within 24 h gets the first response again
//! (with `Idempotent-Replayed: true`) instead of acting twice.
//!
//! - The request is authenticated first (the `/api/v1` auth middleware runs before this one): a
//!   revoked token gets 401, never a replay. Keys are scoped by the caller's **token id**, not
//!   by the header's spelling.
//! - [`middleware`] only validates the key (400 `invalid_idempotency_key`) and fingerprints the
//!   request (method, path and query, body). [`once`] opens the write: the change runs, then
//!   its record is queued last in the write's [`Batch`] and written with it: the change and
//!   its record commit together or not at all, so a crash can never leave one without the
//!   other.
//! - Only successful responses are kept: after an error nothing is recorded (the write rolled
//!   back) and the client may fix its request and retry with the same key.
//! - The record's unique key makes a second use fail and roll back whole. After any refused
//!   keyed write (4xx), the key is looked up: recorded with the same request → the first response
//!   again; with another → 422 `idempotency_key_reused`; not recorded → the write's own error.
//!   Two requests racing with one key: the second's insert waits for the first to commit,
//!   fails, and gets the first's response.
//! - A response carrying a secret (a new token) is never stored: its record keeps no body, and a
//!   retry gets 409 `idempotent_replay_unavailable` (the token was created; its secret was shown
//!   once).
//! - Records older than 24 h are deleted by the background worker ([`store::purge`]).

pub mod domain;
pub mod store;

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::db::batch::Batch;
use crate::db::{Db, DbConn};
use crate::error::{ApiError, OnUnique, CONDITION_CHANGED};
use crate::ids::TokenId;
use crate::state::AppState;
use store::{Seen, Stored};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// A validated key and the fingerprint of the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// The client's key.
    pub key: String,
    /// SHA-256 of method, path with query, and body.
    pub fingerprint: String,
}

/// The `Idempotency-Key` of a request, if it carried one (extractor).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Idempotency(pub Option<KeyedRequest>);

impl FromRequest for Idempotency {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Idempotency(
            req.extensions().get::<KeyedRequest>().cloned(),
        )))
    }
}

/// Whether a response may be stored for replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// It carries a secret shown once (a token): keep no copy.
    Yes,
    /// It may be kept and replayed.
    No,
}

/// What a keyed write answers: its own fresh response, or the first one replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    body: String,
    replayed: bool,
}

impl Reply {
    /// The answer as `201 Created` (the status of every write that creates).
    pub fn created(self) -> HttpResponse {
        let mut res = HttpResponse::Created();
        res.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if self.replayed {
            res.insert_header((
                HeaderName::from_static(REPLAYED),
                HeaderValue::from_static("true"),
            ));
        }
        res.body(self.body)
    }
}

/// How a keyed write is made atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAs {
    /// In a transaction ([`Db::write`]): the usual case.
    Transaction,
    /// As its one statement ([`Db::write_single`]): for a change `f` that only reads and
    /// queues its rows in the batch, which (the record included) is then the write's only
    /// statement, run on PostgreSQL without a transaction. Only where [`Db::write_single`]
    /// allows it.
    OneStatement,
}

/// Runs the change `f` once per (caller's token, key, request), in a write on `db` made
/// atomic as `write_as` says: the change and the record of its response commit together.
/// Without a key, just runs `f`.
///
/// The fresh path costs no statement before the change: `f` runs, then the record is queued
/// in `f`'s [`Batch`] and the batch is sent, in the change's write (on PostgreSQL the record
/// is written by the same statement as the change's queued rows). The record's unique key is
/// what makes a second use fail: **whenever a keyed write is refused (4xx), the key is looked
/// up** (after the rollback) and, if it was recorded, the request gets the first response
/// again (or 422 if the key came with another request), else the write's own error. After a
/// 5xx the outcome is unknown or nothing was done, and that error stands. So a retry gets the
/// replay even when the change itself would now fail (a closed campaign, a code now taken),
/// and of two requests racing with one key, the second waits on the first's record, fails
/// when it commits, and gets its response. A record over 24 h old that the purge has not
/// removed yet is deleted and the change runs again, once (`f` is therefore `Fn`). A write
/// refused by its batch's condition (409 `write_condition_changed`: what `f` took from a
/// cache changed, nothing was written) runs again once, before any key lookup, with a batch
/// that [`rechecks`](Batch::rechecks).
pub async fn once<T, F>(
    db: &Db,
    write_as: WriteAs,
    token: TokenId,
    idem: Idempotency,
    now: DateTime<Utc>,
    secret: Secret,
    f: F,
) -> Result<Reply, ApiError>
where
    T: Serialize,
    F: Fn(&mut DbConn, &mut Batch) -> Result<T, ApiError> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let attempt = |forget_expired: bool, rechecks: bool| {
        let (f, keyed) = (f.clone(), idem.0.clone());
        let job = move |conn: &mut DbConn| {
            if let (true, Some(keyed)) = (forget_expired, &keyed) {
                store::forget_expired(conn, token, &keyed.key, now)?;
            }
            let batch = if rechecks {
                Batch::rechecking()
            } else {
                Batch::new()
            };
            change(conn, &*f, batch, token, keyed.as_ref(), now, secret)
        };
        async move {
            match write_as {
                WriteAs::Transaction => db.write(job).await,
                // The removal of an expired record is a statement of its own: it runs in a
                // transaction with the change.
                WriteAs::OneStatement if forget_expired => db.write(job).await,
                WriteAs::OneStatement => db.write_single(job).await,
            }
        }
    };
    let (mut forget_expired, mut rechecks) = (false, false);
    loop {
        let failure = match attempt(forget_expired, rechecks).await {
            Ok(reply) => return Ok(reply),
            Err(failure) => failure,
        };
        // The batch's condition failed (what `f` took from a cache changed): nothing was
        // written; once more, reading from the database.
        if failure.code == CONDITION_CHANGED && !rechecks {
            rechecks = true;
            continue;
        }
        // Only a refusal (4xx: a unique key taken, a rule broken) can be a second use of the
        // key. After a 5xx the outcome is unknown or nothing was done: that error stands
        // (on SQLite, a commit whose flush failed must not be confirmed by a replay).
        let Some(keyed) = idem.0.clone().filter(|_| failure.status.is_client_error()) else {
            return Err(failure);
        };
        let key = keyed.key.clone();
        let found = db
            .query(move |conn| store::find(conn, token, &key).map_err(ApiError::from))
            .await;
        let seen = match found {
            Ok(Some(record)) => record.seen(&keyed, now),
            Ok(None) => return Err(failure),
            Err(lookup) => {
                tracing::warn!(cause = ?lookup.cause, "the idempotency key could not be looked up after a failed write");
                return Err(failure);
            }
        };
        return match seen {
            Seen::Replay(Stored::Response { body }) => Ok(Reply {
                body,
                replayed: true,
            }),
            Seen::Replay(Stored::Redacted) => Err(ApiError::conflict(
                "idempotent_replay_unavailable",
                "this Idempotency-Key already created a token; its secret was shown once and \
                 is not kept (list tokens to find it, or revoke it and create another)",
            )),
            Seen::Mismatch => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            )),
            // Run the change once more, after removing the expired record; should that fail
            // too (another retry recorded the key first), its record is looked up once more.
            Seen::Expired if !forget_expired => {
                forget_expired = true;
                continue;
            }
            Seen::Expired => Err(failure),
        };
    }
}

/// One attempt: the change, then its record queued last in its batch, then the batch.
fn change<T: Serialize>(
    conn: &mut DbConn,
    f: &dyn Fn(&mut DbConn, &mut Batch) -> Result<T, ApiError>,
    mut batch: Batch,
    token: TokenId,
    keyed: Option<&KeyedRequest>,
    now: DateTime<Utc>,
    secret: Secret,
) -> Result<Reply, ApiError> {
    let value = f(conn, &mut batch)?;
    let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
    if let Some(keyed) = keyed {
        let kept = match secret {
            Secret::No => Stored::Response { body: body.clone() },
            Secret::Yes => Stored::Redacted,
        };
        store::queue(&mut batch, token, keyed, now, kept);
    }
    batch
        .run(conn)
        .on_unique("idempotency_records_scope_idem_key_key", || {
            ApiError::conflict(
                "idempotency_key_in_use",
                "another request with this Idempotency-Key acted first; retry to get its response",
            )
        })?;
    Ok(Reply {
        body,
        replayed: false,
    })
}

fn answer(req: ServiceRequest, err: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(err.error_response())
}

/// The middleware (see the module documentation): validates the key of a POST and
/// fingerprints the request for [`once`]. It runs after authentication, so the body is read
/// only for a known caller, within the configured limit.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let raw_key = req.headers().get(HEADER).cloned();
    let Some(raw_key) = raw_key.filter(|_| req.method() == Method::POST) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match raw_key.to_str() {
        Ok(k) if domain::valid_key(k) => k.to_owned(),
        _ => {
            let err = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters, e.g. a UUID",
            );
            return Ok(answer(req, err));
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(answer(
            req,
            ApiError::internal("application state is not configured"),
        ));
    };

    // Read the body once (within the limit), then give it back to the handler.
    let limit = state.settings.server.body_limit_bytes;
    let mut payload = req.take_payload();
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if bytes.len() + chunk.len() > limit {
            let err = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the configured limit",
            );
            return Ok(answer(req, err));
        }
        bytes.extend_from_slice(&chunk);
    }
    let bytes = bytes.freeze();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let fingerprint = domain::fingerprint(req.method().as_str(), &path, &bytes);
    req.set_payload(Payload::from(bytes));
    req.extensions_mut()
        .insert(KeyedRequest { key, fingerprint });
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
