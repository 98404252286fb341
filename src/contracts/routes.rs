//! Contract and cost-sharing routes.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::costs::{self, NewSharedCost, Savings, SharedCost};
use super::domain::{allocation_csv, Dialect};
use super::store::{self, Contract};
use crate::allocation::{ItemTotal, MemberPart};
use crate::auth::{Lead, OfficerOrLead, Staff};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::ids::{ContractId, GroupId, TenderId, TenderLotId};
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Makes the contract of an awarded lot once its standstill is over: one part per member,
/// allocated to the cent (largest remainder, `docs/allocation.md`); each member's contact is
/// mailed its part.
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "tender id"), ("lot_id" = Uuid, Path, description = "lot id")),
    responses(
        (status = 201, body = Contract),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "invalid_state, notices_pending (rejection letters unsent), standstill_running (with the date)", body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tenders/{id}/lots/{lot_id}/contract")]
pub async fn create_contract(
    state: web::Data<AppState>,
    lead: Lead,
    path: web::Path<(TenderId, TenderLotId)>,
) -> Result<HttpResponse, ApiError> {
    let (tender, lot) = path.into_inner();
    let now = state.clock.now();
    let domain = crate::notifications::domain::sender_domain(&state.settings.mail.from);
    let contract = state
        .db
        .write(move |conn| store::create(conn, &lead, tender, lot, &domain, now))
        .await?;
    Ok(HttpResponse::Created().json(contract))
}

/// A contract with its member parts (the lead of its group; an officer sees only its
/// member's part; an admin all).
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "contract id")),
    responses((status = 200, body = Contract), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contracts/{id}")]
pub async fn get_contract(
    state: web::Data<AppState>,
    caller: Staff,
    id: web::Path<ContractId>,
) -> Result<HttpResponse, ApiError> {
    let Staff(caller) = caller;
    let id = id.into_inner();
    let contract = state
        .db
        .read(move |conn| store::get(conn, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(contract))
}

/// `?dialect=` of the CSV allocation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AllocationQuery {
    /// CSV dialect: `rfc4180` (default) or `excel-fr` (`;`, UTF-8 BOM, decimal commas).
    #[param(inline)]
    pub dialect: Option<Dialect>,
}

/// A contract's allocation: item totals and member parts with their proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Allocation {
    /// Contract.
    pub contract_id: ContractId,
    /// Lot total HT.
    #[schema(value_type = String)]
    pub total_ht: String,
    /// Item totals.
    pub items: Vec<ItemTotal>,
    /// Member parts (an officer: its own).
    pub parts: Vec<MemberPart>,
}

/// A contract's allocation per member and item with the proof of each share; JSON, or CSV
/// with `Accept: text/csv` (`?dialect=excel-fr` for French spreadsheets). Officers get their
/// member's part only.
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "contract id"), AllocationQuery),
    responses(
        (status = 200, content((Allocation = "application/json"), (String = "text/csv"))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/contracts/{id}/allocation")]
pub async fn contract_allocation(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Staff,
    id: web::Path<ContractId>,
    query: web::Query<AllocationQuery>,
) -> Result<HttpResponse, ApiError> {
    let Staff(caller) = caller;
    let id = id.into_inner();
    let csv = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let c = state
        .db
        .read(move |conn| store::get(conn, &caller, id))
        .await?;
    if csv {
        let dialect = query.dialect.unwrap_or_default();
        let body = allocation_csv(&c.parts, &c.items, dialect);
        let name = match dialect {
            Dialect::Rfc4180 => format!("allocation-{}.csv", c.id),
            Dialect::ExcelFr => format!("allocation-{}-excel-fr.csv", c.id),
        };
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            .body(body));
    }
    Ok(HttpResponse::Ok().json(Allocation {
        contract_id: c.id,
        total_ht: c.total_ht,
        items: c.items,
        parts: c.parts,
    }))
}

/// Splits a shared cost (procedure costs, publication fees, a consultant) among the group's
/// members by `equal`, `dwellings` or `awarded_value` (default: the group's key), to the
/// cent with the proof of each share (the group's lead).
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "group id")),
    request_body = NewSharedCost,
    responses(
        (status = 201, body = SharedCost),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/groups/{id}/shared-costs")]
pub async fn create_shared_cost(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<GroupId>,
    body: ApiJson<NewSharedCost>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let input = body.into_inner()?;
    let cost = state
        .db
        .write(move |conn| costs::create(conn, &lead, id, &input, now))
        .await?;
    Ok(HttpResponse::Created().json(cost))
}

/// The group's shared costs with their split (the group's lead).
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "group id"), PageQuery),
    responses((status = 200, body = Paginated<SharedCost>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/groups/{id}/shared-costs")]
pub async fn list_shared_costs(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<GroupId>,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let (id, page) = (id.into_inner(), query.page);
    let rows = state
        .db
        .query(move |conn| costs::list(conn, &lead, id, page))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |c| c.id)))
}

/// Savings: estimated value of the needs in contracted lots against the contracted value,
/// yearly and over the contracts' durations, per member and for the group, and the
/// coordinator fee (the group's lead; an officer sees its member's line only).
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 200, body = Savings), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/groups/{id}/savings")]
pub async fn savings(
    state: web::Data<AppState>,
    caller: OfficerOrLead,
    id: web::Path<GroupId>,
) -> Result<HttpResponse, ApiError> {
    let OfficerOrLead(caller) = caller;
    let id = id.into_inner();
    let s = state
        .db
        .read(move |conn| costs::savings(conn, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}
