//! Bid routes. Only the bidder reaches its own bid; the lead reads a lot's bids once the
//! deadline has passed (409 `bids_sealed` before).

use actix_web::{delete, get, put, web, HttpResponse};

use super::domain::{Bid, PutBid, Receipt};
use super::store;
use crate::auth::{AdminOrLead, SupplierUser};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::ids::{TenderId, TenderLotId};
use crate::state::AppState;

/// Submits or revises the caller's bid on a lot (invited supplier). Returns the receipt,
/// also mailed: version, `submitted` or `late`, reception instant, exact total, SHA-256 of
/// the canonical bid (`docs/bids.md`).
#[utoipa::path(
    tag = "bids",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    request_body = PutBid,
    responses(
        (status = 201, body = Receipt),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "invalid_state: the tender takes no bids", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/tenders/{id}/lots/{lot_id}/bid")]
pub async fn put_bid(
    state: web::Data<AppState>,
    supplier: SupplierUser,
    path: web::Path<(TenderId, TenderLotId)>,
    body: ApiJson<PutBid>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let input = body.into_inner()?;
    let clock = state.clock.clone();
    let domain = crate::notifications::domain::sender_domain(&state.settings.mail.from);
    let receipt = state
        .db
        .write(move |conn| {
            store::put(
                conn,
                &supplier,
                tender,
                lot,
                &input,
                clock.as_ref(),
                &domain,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(receipt))
}

/// Reads the caller's latest bid version on a lot (invited supplier; 404 if none).
#[utoipa::path(
    tag = "bids",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses((status = 200, body = Bid), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/tenders/{id}/lots/{lot_id}/bid")]
pub async fn get_bid(
    state: web::Data<AppState>,
    supplier: SupplierUser,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let now = state.clock.now();
    let bid = state
        .db
        .read(move |conn| store::get_own(conn, &supplier, tender, lot, now))
        .await?;
    Ok(HttpResponse::Ok().json(bid))
}

/// Withdraws the caller's bid before the deadline (invited supplier).
#[utoipa::path(
    tag = "bids",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses(
        (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "deadline_passed", body = Problem)
    ),
    security(("bearer" = []))
)]
#[delete("/tenders/{id}/lots/{lot_id}/bid")]
pub async fn withdraw_bid(
    state: web::Data<AppState>,
    supplier: SupplierUser,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let clock = state.clock.clone();
    state
        .db
        .write(move |conn| store::withdraw(conn, &supplier, tender, lot, clock.as_ref()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every current bid of a lot, late ones flagged (the group's lead; an admin reads too), once
/// the deadline has passed; before it, 409 `bids_sealed` whoever asks.
#[utoipa::path(
    tag = "bids",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses(
        (status = 200, body = Vec<Bid>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "bids_sealed", body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/tenders/{id}/lots/{lot_id}/bids")]
pub async fn lot_bids(
    state: web::Data<AppState>,
    caller: AdminOrLead,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let (tender, lot) = path.into_inner();
    let clock = state.clock.clone();
    // A write transaction: it holds the tender until the bids still being received commit.
    let bids = state
        .db
        .write(move |conn| store::lot_bids(conn, &caller, tender, lot, clock.as_ref()))
        .await?;
    Ok(HttpResponse::Ok().json(bids))
}
