//! `POST /api/v1/members`, `GET /api/v1/members`.

use actix_web::{get, post, web, HttpResponse};

use super::domain::{CreateMember, Member};
use super::store;
use crate::audit::Actor;
use crate::auth::Admin;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Registers a member office (admin).
#[utoipa::path(
    tag = "members",
    request_body = CreateMember,
    responses(
        (status = 201, body = Member),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "member_code_taken", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/members")]
pub async fn create_member(
    state: web::Data<AppState>,
    admin: Admin,
    idem: Idempotency,
    body: ApiJson<CreateMember>,
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

/// Lists member offices (admin).
#[utoipa::path(
    tag = "members",
    params(PageQuery),
    responses((status = 200, body = Paginated<Member>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    _admin: Admin,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page;
    let rows = state.db.query(move |conn| store::list(conn, page)).await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |m| m.id)))
}
