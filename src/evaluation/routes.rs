//! Evaluation routes: the lead scores bids, records the abnormally-low procedure, and reads
//! a lot's ranking — all from the bid deadline on.

use actix_web::{get, post, put, web, HttpResponse};

use super::store::{self, EvaluationInput, JustificationInput, Ranking};
use crate::auth::{AdminOrLead, Lead};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::ids::{BidId, TenderId, TenderLotId};
use crate::state::AppState;

/// Records the lead's scores of a bid's quality and environmental criteria and its verdict
/// (`admissible`, or `irregular` / `unacceptable` / `inappropriate` with a reason). Answers
/// the lot's ranking. A bid is 404 until the deadline.
#[utoipa::path(
    tag = "evaluation",
    params(("id" = Uuid, Path, description = "bid id")),
    request_body = EvaluationInput,
    responses(
        (status = 200, body = Ranking),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "invalid_state (lot awarded, tender closed, not the current version), late_bid", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/bids/{id}/evaluation")]
pub async fn evaluate_bid(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<BidId>,
    body: ApiJson<EvaluationInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let input = body.into_inner()?;
    let rule = state.settings.award.abnormal_rule();
    let r = state
        .db
        .write(move |conn| store::evaluate(conn, &lead, id, &input, rule, now))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Records that a flagged (abnormally low) bid was asked to justify its price, and the
/// outcome once decided: `accepted` (it may be awarded) or `rejected` (it is excluded).
#[utoipa::path(
    tag = "evaluation",
    params(("id" = Uuid, Path, description = "bid id")),
    request_body = JustificationInput,
    responses(
        (status = 200, body = Ranking),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "not_abnormally_low, invalid_state (outcome already recorded, lot awarded), late_bid", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/bids/{id}/abnormally-low")]
pub async fn abnormally_low(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<BidId>,
    body: ApiJson<JustificationInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let input = body.into_inner()?;
    let rule = state.settings.award.abnormal_rule();
    let r = state
        .db
        .write(move |conn| store::justify(conn, &lead, id, &input, rule, now))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// A lot's bids with price scores, criterion scores, totals, ranks (ties: earlier receipt)
/// and abnormally-low flags; the lead of the group (an admin reads too). 409 `bids_sealed`
/// before the deadline.
#[utoipa::path(
    tag = "evaluation",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses(
        (status = 200, body = Ranking), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "bids_sealed", body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/tenders/{id}/lots/{lot_id}/ranking")]
pub async fn lot_ranking(
    state: web::Data<AppState>,
    caller: AdminOrLead,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let (tender, lot) = path.into_inner();
    let now = state.clock.now();
    let rule = state.settings.award.abnormal_rule();
    // A write transaction: it holds the tender until the bids still being received commit.
    let r = state
        .db
        .write(move |conn| store::ranking(conn, &caller, tender, lot, rule, now))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}
