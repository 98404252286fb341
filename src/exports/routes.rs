//! Export routes: OCDS per tender (open data once contracted), DECP per contract, the bid
//! comparison as XLSX or CSV.

use actix_web::{get, web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::store::{self, OcdsSettings};
use crate::auth::{AdminOrLead, Caller, Principal, Staff};
use crate::contracts::domain::Dialect;
use crate::error::{ApiError, Problem};
use crate::ids::{ContractId, TenderId, TenderLotId};
use crate::state::AppState;

fn json_text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

/// The tender's OCDS 1.1 release package (lots, bid and contract_buyer extensions): the lead
/// of its group or an admin, at any stage (bids only from the deadline); anyone else, with a
/// token or without one, once the tender is contracted. Amounts are JSON numbers with the decimals' exact
/// digits.
#[utoipa::path(
    tag = "exports",
    params(("id" = Uuid, Path, description = "tender id")),
    responses(
        (status = 200, description = "OCDS release package", content_type = "application/json", body = Object),
        (status = 401, body = Problem), (status = 404, body = Problem)
    ),
    security((), ("bearer" = []))
)]
#[get("/tenders/{id}/ocds")]
pub async fn tender_ocds(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<TenderId>,
) -> Result<HttpResponse, ApiError> {
    let caller = req.extensions().get::<Caller>().copied();
    let (id, now) = (id.into_inner(), state.clock.now());
    let settings = OcdsSettings {
        ocid_prefix: state.settings.exports.ocid_prefix.clone(),
        public_base_url: state.settings.exports.public_base_url.clone(),
    };
    let staff = caller
        .as_ref()
        .is_some_and(|c| matches!(c.principal, Principal::Admin | Principal::Lead { .. }));
    let body = if staff {
        // A write transaction: from the deadline it holds the tender until the bids still
        // being received commit.
        state
            .db
            .write(move |conn| store::ocds(conn, caller.as_ref(), id, &settings, now))
            .await?
    } else {
        // Open data never waits behind the writers.
        state
            .db
            .read(move |conn| store::ocds(conn, None, id, &settings, now))
            .await?
    };
    Ok(json_text(body))
}

/// The contract's DECP 2.0 data: one `marche` per member part (the member as `acheteur`), for
/// the lead of its group (an admin); an officer gets its member's part.
#[utoipa::path(
    tag = "exports",
    params(("id" = Uuid, Path, description = "contract id")),
    responses(
        (status = 200, description = "DECP 2.0 document", content_type = "application/json", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/contracts/{id}/decp")]
pub async fn contract_decp(
    state: web::Data<AppState>,
    caller: Staff,
    id: web::Path<ContractId>,
) -> Result<HttpResponse, ApiError> {
    let Staff(caller) = caller;
    let (id, now) = (id.into_inner(), state.clock.now());
    let body = state
        .db
        .read(move |conn| store::decp_contract(conn, &caller, id, now))
        .await?;
    Ok(json_text(body))
}

/// `?dialect=` of the CSV comparison.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ComparisonQuery {
    /// CSV dialect: `rfc4180` (default) or `excel-fr` (`;`, UTF-8 BOM, decimal commas).
    #[param(inline)]
    pub dialect: Option<Dialect>,
}

/// MIME type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The lot's bid comparison (*tableau d'analyse des offres*) from the deadline: XLSX with
/// `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`, otherwise CSV
/// (`?dialect=excel-fr`). The group's lead (an admin).
#[utoipa::path(
    tag = "exports",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id"), ComparisonQuery),
    responses(
        (status = 200, content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "bids_sealed", body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/tenders/{id}/lots/{lot_id}/comparison")]
pub async fn lot_comparison(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AdminOrLead,
    path: web::Path<(TenderId, TenderLotId)>,
    query: web::Query<ComparisonQuery>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let (tender, lot) = path.into_inner();
    let xlsx = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(XLSX));
    let rule = state.settings.award.abnormal_rule();
    let clock = state.clock.clone();
    let table = state
        .db
        .write(move |conn| store::comparison(conn, &caller, tender, lot, rule, clock.as_ref()))
        .await?;
    let name = format!("analyse-des-offres-{lot}");
    if xlsx {
        let bytes = web::block(move || table.xlsx())
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        return Ok(HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ))
            .body(bytes));
    }
    let dialect = query.dialect.unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(table.csv(dialect)))
}
