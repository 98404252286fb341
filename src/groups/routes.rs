//! Group routes.

use actix_web::{get, post, web, HttpResponse};

use super::domain::{CreateGroup, Group};
use super::store;
use crate::audit::Actor;
use crate::auth::{Admin, AdminOrLead, Caller, Staff};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::ids::GroupId;
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Creates a purchasing group (admin).
#[utoipa::path(
    tag = "groups",
    request_body = CreateGroup,
    responses(
        (status = 201, body = Group),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    admin: Admin,
    idem: Idempotency,
    body: ApiJson<CreateGroup>,
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

/// Lists the groups the caller may see (admin: all; lead: coordinated; officer: its member's).
#[utoipa::path(
    tag = "groups",
    params(PageQuery),
    responses((status = 200, body = Paginated<Group>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/groups")]
pub async fn list_groups(
    state: web::Data<AppState>,
    caller: Staff,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let Staff(caller) = caller;
    let page = query.page;
    let rows = state
        .db
        .read(move |conn| store::list(conn, &caller, page))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |g| g.id)))
}

/// Reads a group (admin; its lead; officers of its members). Others get 404.
#[utoipa::path(
    tag = "groups",
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 200, body = Group), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/groups/{id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<GroupId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let group = state
        .db
        .read(move |conn| store::get(conn, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(group))
}

/// Records a member's signature of the *convention constitutive* (admin, the group's lead).
/// Repeating it keeps the first date.
#[utoipa::path(
    tag = "groups",
    params(("id" = Uuid, Path, description = "group id"), ("code" = String, Path, description = "member code")),
    responses(
        (status = 200, description = "the group with the signature recorded", body = Group),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/groups/{id}/members/{code}/convention")]
pub async fn sign_convention(
    state: web::Data<AppState>,
    caller: AdminOrLead,
    path: web::Path<(GroupId, String)>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let (id, code) = path.into_inner();
    let now = state.clock.now();
    let group = state
        .db
        .write(move |conn| store::sign_convention(conn, &caller, id, &code, now))
        .await?;
    Ok(HttpResponse::Ok().json(group))
}
