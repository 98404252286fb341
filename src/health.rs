//! `GET /health` (the process answers) and `GET /ready` (database reachable, schema migrated).

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Status)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(tag = "operations", responses((status = 200, body = Status), (status = 503, body = Problem)))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let migrated = state
        .db
        .read(|conn| crate::db::is_migrated(conn).map_err(ApiError::internal))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("database not ready: {}", e.detail),
            )
        })?;
    if !migrated {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "database migrations are pending",
        ));
    }
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}
