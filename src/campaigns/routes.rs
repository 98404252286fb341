//! Campaign routes.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::domain::{Campaign, CreateCampaign};
use super::store;
use crate::auth::{Caller, Lead, Staff};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::ids::{CampaignId, GroupId};
use crate::needs::aggregation::{Aggregation, Level};
use crate::pagination::{ListQuery, PageQuery, Paginated};
use crate::state::AppState;

/// Opens a needs campaign for a group the caller leads; every member of the group gets a
/// *campagne ouverte* e-mail (enqueued in the same transaction).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "group id")),
    request_body = CreateCampaign,
    responses(
        (status = 201, body = Campaign),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/groups/{id}/campaigns")]
pub async fn open_campaign(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<GroupId>,
    idem: Idempotency,
    body: ApiJson<CreateCampaign>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let input = body.into_inner()?;
    let max_years = state.settings.limits.max_years_ahead;
    let group = id.into_inner();
    let domain = crate::notifications::domain::sender_domain(&state.settings.mail.from);
    // A retry after the deadline fails here, then gets its replay (see `once`).
    let reply = once(
        &state.db,
        WriteAs::Transaction,
        lead.caller.token_id,
        idem,
        now,
        Secret::No,
        move |conn, _batch| {
            let new = input.parse(now, max_years)?;
            let campaign = store::insert(conn, &lead, group, &new, now)?;
            super::notices::enqueue_opened(conn, &campaign, &domain, now)?;
            Ok(campaign)
        },
    )
    .await?;
    Ok(reply.created())
}

/// Filters of `GET /api/v1/campaigns`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CampaignsFilter {
    /// Only campaigns of this group.
    pub group: Option<GroupId>,
}

/// Lists the campaigns the caller may see (lead: its groups'; officer: its member's groups').
#[utoipa::path(
    tag = "campaigns",
    params(CampaignsFilter, PageQuery),
    responses((status = 200, body = Paginated<Campaign>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    caller: Staff,
    query: ListQuery<CampaignsFilter>,
) -> Result<HttpResponse, ApiError> {
    let Staff(caller) = caller;
    let ListQuery { page, filter } = query;
    let now = state.clock.now();
    let rows = state
        .db
        .read(move |conn| store::list(conn, &caller, filter.group, page, now))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |c| c.id)))
}

/// Reads a campaign (its group's lead, officers of its members, admin).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "campaign id")),
    responses((status = 200, body = Campaign), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let campaign = state
        .db
        .read(move |conn| store::get(conn, &caller, id, now))
        .await?;
    Ok(HttpResponse::Ok().json(campaign))
}

/// Closes a campaign before its deadline (lead). Closing a closed campaign changes nothing.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "campaign id")),
    responses((status = 200, body = Campaign), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[post("/campaigns/{id}/close")]
pub async fn close_campaign(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let campaign = state
        .db
        .write(move |conn| store::close(conn, &lead, id, now))
        .await?;
    Ok(HttpResponse::Ok().json(campaign))
}

/// `?level=` of the aggregation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AggregationQuery {
    /// `division` (2 digits), `group` (3, default) or `class` (4).
    pub level: Option<Level>,
    /// Planned launch date of the procedure (`YYYY-MM-DD`, years 2000–2199): the advice
    /// applies the thresholds in force that day. Default: today in Europe/Paris.
    #[param(value_type = Option<String>, format = Date)]
    pub launch_date: Option<String>,
}

/// Proposed lots from the submitted needs, with yearly values per member, contract values over
/// the campaign's duration, and procedure advice on the contract values with the thresholds in
/// force on `launch_date` (lead).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "campaign id"), AggregationQuery),
    responses((status = 200, body = Aggregation), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/campaigns/{id}/aggregation")]
pub async fn aggregation(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<CampaignId>,
    query: web::Query<AggregationQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, level, now) = (
        id.into_inner(),
        query.level.unwrap_or_default(),
        state.clock.now(),
    );
    let launch_date = match query.launch_date.as_deref() {
        None => crate::dates::paris_date(now),
        Some(raw) => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|d| raw.len() == 10 && crate::dates::date_in_range(*d))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "/query/launch_date",
                    "must be a date YYYY-MM-DD in the years 2000 to 2199",
                )
            })?,
    };
    let (contract_months, groups) = state
        .db
        .query(move |conn| crate::needs::store::submitted_for_aggregation(conn, &lead, id, now))
        .await?;
    let terms = crate::needs::aggregation::Terms {
        level,
        contract_months,
        launch_date,
    };
    let agg = crate::needs::aggregation::aggregate(
        id,
        &groups,
        terms,
        &state.settings.procedures.thresholds,
    );
    Ok(HttpResponse::Ok().json(agg))
}
