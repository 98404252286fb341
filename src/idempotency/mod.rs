//! `Idempotency-Key` for writes: a POST carrying the header is run once per caller and key;
//! the same key with the same request within 24 h gets the first response again (with
//! `Idempotent-Replayed: true`) instead of acting twice.
//!
//! - Only successful (2xx) responses are kept: after an error the client may fix its request
//!   and retry with the same key.
//! - The same key with another method, path or body is refused with 422
//!   `idempotency_key_reused`; while the first request runs, 409 `idempotency_key_in_use`.
//! - Records live in the database, so every instance behind a load balancer sees them.

pub mod domain;
pub mod store;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web::{web, HttpResponse, ResponseError};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;
use store::{Begin, Stored};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

fn answer(req: ServiceRequest, err: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(err.error_response())
}

/// The middleware (see the module documentation).
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(raw_key) = req.headers().get(HEADER).cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if req.method() != Method::POST {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
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
    let scope = domain::scope(req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes));
    req.set_payload(Payload::from(bytes));

    let now = state.clock.now();
    let (s, k, f) = (scope.clone(), key.clone(), fingerprint.clone());
    let begun = match state
        .db
        .write(move |conn| store::begin(conn, &s, &k, &f, now))
        .await
    {
        Ok(b) => b,
        Err(e) => return Ok(answer(req, e)),
    };
    let record = match begun {
        Begin::Proceed(id) => id,
        Begin::Replay(stored) => {
            let mut res =
                HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
            res.insert_header((CONTENT_TYPE, stored.content_type));
            res.insert_header((
                HeaderName::from_static(REPLAYED),
                HeaderValue::from_static("true"),
            ));
            return Ok(req.into_response(res.body(stored.body)));
        }
        Begin::Mismatch => {
            let err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            );
            return Ok(answer(req, err));
        }
        Begin::InProgress => {
            return Ok(answer(
                req,
                ApiError::conflict(
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is in progress",
                ),
            ));
        }
    };

    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            let _ = state
                .db
                .write(move |conn| store::abandon(conn, record))
                .await;
            return Err(e);
        }
    };
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let body = body::to_bytes(body)
        .await
        .map_err(|e| ApiError::internal(format!("response body: {}", e.into())))?;
    if head.status().is_success() {
        let stored = Stored {
            status: head.status().as_u16(),
            content_type: head
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        if let Err(e) = state
            .db
            .write(move |conn| store::finish(conn, record, &stored))
            .await
        {
            tracing::warn!(error = %e, "idempotency record not kept");
        }
    } else {
        let _ = state
            .db
            .write(move |conn| store::abandon(conn, record))
            .await;
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(body).map_into_boxed_body(),
    ))
}
