//! `GET /api/v1/outbox` (admin): every message with its delivery state.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::domain::OutboxStatus;
use super::store::{self, OutboxEntry};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, Problem};
use crate::extract::{PageQuery, Paginated};
use crate::spelled::Spelled;

/// `GET /api/v1/outbox` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: Option<String>,
    /// Page size.
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// Lists outbox messages with status, attempts, last error and next attempt (admin).
#[utoipa::path(
    tag = "operations",
    params(OutboxQuery),
    responses((status = 200, body = Paginated<OutboxEntry>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(OutboxStatus::from_spelling(s).ok_or_else(|| {
            ApiError::invalid_field("/query/status", "must be pending, sending, sent or failed")
        })?),
    };
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let rows = state
        .db
        .read(move |conn| store::list(conn, status, page))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page.limit, |e| e.id)))
}
