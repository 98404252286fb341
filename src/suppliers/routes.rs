//! `POST /api/v1/suppliers`, `GET /api/v1/suppliers`.

use actix_web::{get, post, web, HttpResponse};

use super::domain::{CreateSupplier, Supplier};
use super::store;
use crate::audit::Actor;
use crate::auth::{Admin, AdminOrLead};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Registers a supplier (admin).
#[utoipa::path(
    tag = "suppliers",
    request_body = CreateSupplier,
    responses(
        (status = 201, body = Supplier),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "supplier_siret_taken or supplier_identifier_taken", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/suppliers")]
pub async fn create_supplier(
    state: web::Data<AppState>,
    admin: Admin,
    idem: Idempotency,
    body: ApiJson<CreateSupplier>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner()?.parse()?;
    let (now, token) = (state.clock.now(), admin.caller.token_id);
    let reply = once(
        &state.db,
        WriteAs::Transaction,
        token,
        idem,
        now,
        Secret::No,
        move |conn, _batch| store::insert(conn, &Actor::from(&admin.caller), &new, now),
    )
    .await?;
    Ok(reply.created())
}

/// Lists suppliers (admin, lead).
#[utoipa::path(
    tag = "suppliers",
    params(PageQuery),
    responses((status = 200, body = Paginated<Supplier>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/suppliers")]
pub async fn list_suppliers(
    state: web::Data<AppState>,
    _caller: AdminOrLead,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page;
    let rows = state.db.query(move |conn| store::list(conn, page)).await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |s| s.id)))
}
