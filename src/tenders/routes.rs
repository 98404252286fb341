//! Tender routes.

use actix_web::{get, post, web, HttpResponse};

use super::domain::{CancelTender, CreateTender, Tender};
use super::store::{self, TenderSummary};
use crate::auth::{Caller, Lead};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::ids::TenderId;
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Creates a draft tender from a closed campaign's submitted needs (the lead of its group);
/// the campaign becomes `frozen`.
#[utoipa::path(
    tag = "tenders",
    request_body = CreateTender,
    responses(
        (status = 201, body = Tender),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "campaign_open, tender_reference_taken, need_in_another_tender", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders")]
pub async fn create_tender(
    state: web::Data<AppState>,
    lead: Lead,
    idem: Idempotency,
    body: ApiJson<CreateTender>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let input = body.into_inner()?;
    let max_years = state.settings.limits.max_years_ahead;
    let reply = once(
        &state.db,
        WriteAs::Transaction,
        lead.caller.token_id,
        idem,
        now,
        Secret::No,
        move |conn, _batch| {
            let new = input.parse(now, crate::dates::paris_date(now), max_years)?;
            store::insert(conn, &lead, &new, now)
        },
    )
    .await?;
    Ok(reply.created())
}

/// Lists the tenders the caller may read (lead: its groups'; officer: its member's groups';
/// supplier: those it was invited to; admin: all).
#[utoipa::path(
    tag = "tenders",
    params(PageQuery),
    responses((status = 200, body = Paginated<TenderSummary>), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/tenders")]
pub async fn list_tenders(
    state: web::Data<AppState>,
    caller: Caller,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page;
    let now = state.clock.now();
    let rows = state
        .db
        .query(move |conn| store::list(conn, &caller, page, now))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |t| t.id)))
}

/// Reads a tender with its lots and items. Suppliers see the published tenders they were
/// invited to, without the members' shares; anything else is 404.
#[utoipa::path(
    tag = "tenders",
    params(("id" = Uuid, Path, description = "tender id")),
    responses((status = 200, body = Tender), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/tenders/{id}")]
pub async fn get_tender(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<TenderId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    // Several statements that must agree (the tender, its lots, items and shares).
    let tender = state
        .db
        .read(move |conn| store::get(conn, &caller, id, now))
        .await?;
    Ok(HttpResponse::Ok().json(tender))
}

/// Publishes a draft tender (the group's lead): conventions signed, deadline far enough for
/// the procedure; needs consolidated; suppliers invited by e-mail in the same transaction.
#[utoipa::path(
    tag = "tenders",
    params(("id" = Uuid, Path, description = "tender id")),
    responses(
        (status = 200, body = Tender),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "convention_unsigned (names the members), invalid_state", body = Problem),
        (status = 422, description = "bid_deadline too close for the procedure, criteria", body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders/{id}/publish")]
pub async fn publish_tender(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<TenderId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let procedures = state.settings.procedures.clone();
    let domain = crate::notifications::domain::sender_domain(&state.settings.mail.from);
    let tender = state
        .db
        .write(move |conn| store::publish(conn, &lead, id, &procedures, &domain, now))
        .await?;
    Ok(HttpResponse::Ok().json(tender))
}

/// Declares a tender *sans suite* (the group's lead), with a reason, from any state before
/// `contracted`; every invited supplier is told by e-mail.
#[utoipa::path(
    tag = "tenders",
    params(("id" = Uuid, Path, description = "tender id")),
    request_body = CancelTender,
    responses(
        (status = 200, body = Tender),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "invalid_state", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders/{id}/cancel")]
pub async fn cancel_tender(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<TenderId>,
    body: ApiJson<CancelTender>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let reason = body.into_inner()?.parse()?;
    let domain = crate::notifications::domain::sender_domain(&state.settings.mail.from);
    let tender = state
        .db
        .write(move |conn| store::cancel(conn, &lead, id, &reason, &domain, now))
        .await?;
    Ok(HttpResponse::Ok().json(tender))
}
