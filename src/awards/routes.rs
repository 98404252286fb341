//! Award routes: award a lot, withdraw its award (cascade), read the current award and its
//! standstill. The group's lead only (an admin reads).

use actix_web::{get, post, web, HttpResponse};

use super::store::{self, Award, AwardInput, Letters, WithdrawInput, Withdrawal};
use crate::auth::{AdminOrLead, Lead};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::ids::{TenderId, TenderLotId};
use crate::state::AppState;

/// The letters' settings.
pub fn letters(state: &AppState) -> Letters {
    let mail = &state.settings.mail;
    let reply_to = if mail.reply_to.trim().is_empty() {
        crate::notifications::domain::sender_address(&mail.from)
    } else {
        mail.reply_to.clone()
    };
    Letters {
        rule: state.settings.award.abnormal_rule(),
        certificates_days: state.settings.award.certificates_days,
        court: state.settings.award.court.clone(),
        reply_to,
        domain: crate::notifications::domain::sender_domain(&mail.from),
    }
}

/// Awards a lot to a ranked bid (normally the first; another needs a reason). Queues the
/// award letter (certificates to produce by a date) and a rejection letter (R2181-3) to every
/// other bidder, in the same transaction.
#[utoipa::path(
    tag = "awards",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    request_body = AwardInput,
    responses(
        (status = 201, body = Award),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "bids_sealed, invalid_state, evaluation_incomplete, not_awardable, abnormally_low_unjustified", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders/{id}/lots/{lot_id}/award")]
pub async fn award_lot(
    state: web::Data<AppState>,
    lead: Lead,
    path: web::Path<(TenderId, TenderLotId)>,
    body: ApiJson<AwardInput>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let input = body.into_inner()?;
    let now = state.clock.now();
    let letters = letters(&state);
    let award = state
        .db
        .write(move |conn| store::award_lot(conn, &lead, tender, lot, &input, &letters, now))
        .await?;
    Ok(HttpResponse::Created().json(award))
}

/// Withdraws the lot's award with a reason (the winner did not produce its certificates or
/// withdrew before signature, R2144-7) and awards the next-ranked bid, with new letters and a
/// new standstill; with no bid left the lot becomes `unsuccessful`; when the next bid is
/// abnormally low and not yet justified, the lot goes back to `active`.
#[utoipa::path(
    tag = "awards",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    request_body = WithdrawInput,
    responses(
        (status = 200, body = Withdrawal),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "bids_sealed, invalid_state", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders/{id}/lots/{lot_id}/award/withdraw")]
pub async fn withdraw_award(
    state: web::Data<AppState>,
    lead: Lead,
    path: web::Path<(TenderId, TenderLotId)>,
    body: ApiJson<WithdrawInput>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let input = body.into_inner()?;
    let now = state.clock.now();
    let letters = letters(&state);
    let w = state
        .db
        .write(move |conn| store::withdraw(conn, &lead, tender, lot, &input, &letters, now))
        .await?;
    Ok(HttpResponse::Ok().json(w))
}

/// The lot's current award and its standstill: letters queued and sent, first day the
/// contract may be signed.
#[utoipa::path(
    tag = "awards",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses(
        (status = 200, body = Award), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/tenders/{id}/lots/{lot_id}/award")]
pub async fn get_award(
    state: web::Data<AppState>,
    caller: AdminOrLead,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let (tender, lot) = path.into_inner();
    let now = state.clock.now();
    let award = state
        .db
        .read(move |conn| store::current(conn, &caller, tender, lot, now))
        .await?;
    Ok(HttpResponse::Ok().json(award))
}
