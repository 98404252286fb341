//! `GET /api/v1/outbox` (admin): every message with its delivery state.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::domain::OutboxStatus;
use super::store::{self, OutboxEntry};
use crate::auth::Admin;
use crate::error::{ApiError, Problem};
use crate::pagination::{ListQuery, PageQuery, Paginated};
use crate::spelled::Spelled;
use crate::state::AppState;

/// Filters of `GET /api/v1/outbox`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxFilter {
    /// `pending`, `sending`, `sent` or `failed`.
    #[param(value_type = Option<OutboxStatus>)]
    pub status: Option<String>,
}

/// Lists outbox messages with status, attempts, last error and next attempt (admin).
#[utoipa::path(
    tag = "operations",
    params(OutboxFilter, PageQuery),
    responses((status = 200, body = Paginated<OutboxEntry>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    _admin: Admin,
    query: ListQuery<OutboxFilter>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { page, filter } = query;
    let status = match filter.status.as_deref() {
        None => None,
        Some(s) => Some(OutboxStatus::from_spelling(s).ok_or_else(|| {
            ApiError::invalid_field("/query/status", "must be pending, sending, sent or failed")
        })?),
    };
    let now = state.clock.now();
    let rows = state
        .db
        .query(move |conn| store::list(conn, status, page, now))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |e| e.id)))
}
