//! Request ids and the request log line.
//!
//! Every request gets an id: the client's `X-Request-Id` when it is well-formed (1 to 128 of
//! `A-Z a-z 0-9 . _ : -`), else a new UUID. The id is answered in `X-Request-Id`, written into
//! every problem+json body (`request_id`), and carried by the tracing span of the request, so
//! every log line of the request names it. When the request ends, one line records its
//! method, route template (never the raw path), status, duration and the caller's token id
//! (never the token).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;

use crate::auth::Caller;

/// The request and response header.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// True when a client's id may be kept: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The outermost middleware: assigns the id, runs the request inside its span, answers the
/// header and logs the request's line.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match result {
        Ok(res) => {
            let mut res = res.map_into_boxed_body();
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            // A supplier's own bid routes say nothing of who bid, even to the operator: no
            // token id in the log line and no per-route count in the metrics (sealed bids).
            let sealed = route.ends_with("/bid");
            let token_id = res
                .request()
                .extensions()
                .get::<Caller>()
                .filter(|_| !sealed)
                .map(|c| c.token_id.to_string());
            let status = res.status().as_u16();
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(HEADER), value);
            }
            span.in_scope(|| {
                tracing::info!(
                    route = %route,
                    status,
                    duration_us,
                    token_id = token_id.as_deref().unwrap_or("-"),
                    "request"
                );
            });
            if !sealed {
                crate::metrics::observe(&method, &route, status, duration_us);
            }
            Ok(res)
        }
        Err(e) => {
            span.in_scope(|| tracing::warn!(error = %e, "request failed before a response"));
            Err(e)
        }
    }
}
