//! Need routes. Officers act on their own member's needs; the lead reads submitted needs of
//! its groups and rejects them with a reason.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;

use super::domain::{Action, CreateNeed, Need, NeedStatus, PatchNeed};
use super::store::{self, NeedFilter};
use crate::auth::{Lead, Officer, OfficerOrLead};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{once, Idempotency, Secret, WriteAs};
use crate::ids::{CampaignId, NeedId};
use crate::members::domain::is_member_code;
use crate::pagination::{ListQuery, PageQuery, Paginated};
use crate::spelled::Spelled;
use crate::state::AppState;
use crate::validate::Checks;

/// Creates a draft need for the caller's member (officer) in an open campaign.
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "campaign id")),
    request_body = CreateNeed,
    responses(
        (status = 201, body = Need),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "campaign_closed", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/campaigns/{id}/needs")]
pub async fn create_need(
    state: web::Data<AppState>,
    officer: Officer,
    id: web::Path<CampaignId>,
    idem: Idempotency,
    body: ApiJson<CreateNeed>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, now) = (id.into_inner(), state.clock.now());
    let input = body.into_inner()?;
    let cache = state.campaigns.clone();
    let reply = once(
        &state.db,
        WriteAs::OneStatement,
        officer.caller.token_id,
        idem,
        now,
        Secret::No,
        move |conn, batch| store::create(conn, batch, &cache, &officer, campaign, &input, now),
    )
    .await?;
    Ok(reply.created())
}

/// Filters of `GET /api/v1/needs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NeedsFilter {
    /// Campaign id.
    #[param(value_type = Option<String>, format = Uuid)]
    pub campaign: Option<String>,
    /// Status.
    #[param(value_type = Option<NeedStatus>)]
    pub status: Option<String>,
    /// CPV code or its leading digits (digits, optionally `-` and check digit).
    #[param(pattern = r"^[0-9-]{1,10}$")]
    pub cpv: Option<String>,
    /// Member code.
    #[param(pattern = r"^[A-Z0-9_-]{2,16}$")]
    pub member: Option<String>,
}

impl NeedsFilter {
    fn filter(&self) -> Result<NeedFilter, ApiError> {
        let mut c = Checks::new();
        let campaign = self.campaign.as_deref().and_then(|s| {
            let id = s.parse::<CampaignId>().ok();
            c.check(id.is_some(), "/query/campaign", "must be a campaign id");
            id
        });
        let status = self.status.as_deref().and_then(|s| {
            let st = NeedStatus::from_spelling(s);
            c.check(
                st.is_some(),
                "/query/status",
                "must be draft, submitted, consolidated, withdrawn or rejected",
            );
            st
        });
        if let Some(cpv) = &self.cpv {
            let ok = (1..=10).contains(&cpv.len())
                && cpv.bytes().all(|b| b.is_ascii_digit() || b == b'-');
            c.check(ok, "/query/cpv", "must be a CPV code or its leading digits");
        }
        if let Some(m) = &self.member {
            c.check(is_member_code(m), "/query/member", "must be a member code");
        }
        c.finish()?;
        Ok(NeedFilter {
            campaign,
            status,
            cpv: self.cpv.clone(),
            member: self.member.clone(),
        })
    }
}

/// Lists needs: an officer its member's (every status); the lead submitted needs of the groups
/// it leads (never drafts). Filters: `campaign`, `status`, `cpv` (prefix), `member`.
#[utoipa::path(
    tag = "needs",
    params(NeedsFilter, PageQuery),
    responses((status = 200, body = Paginated<Need>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/needs")]
pub async fn list_needs(
    state: web::Data<AppState>,
    caller: OfficerOrLead,
    query: ListQuery<NeedsFilter>,
) -> Result<HttpResponse, ApiError> {
    let OfficerOrLead(caller) = caller;
    let ListQuery { page, filter } = query;
    let filter = filter.filter()?;
    let rows = state
        .db
        .query(move |conn| store::list(conn, &caller, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |n| n.id)))
}

/// Reads a need (officer of its member; the lead once submitted).
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/needs/{id}")]
pub async fn get_need(
    state: web::Data<AppState>,
    caller: OfficerOrLead,
    id: web::Path<NeedId>,
) -> Result<HttpResponse, ApiError> {
    let OfficerOrLead(caller) = caller;
    let id = id.into_inner();
    let need = state
        .db
        .query(move |conn| store::get(conn, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(need))
}

/// Changes a draft need (officer of its member) while the campaign is open.
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    request_body = PatchNeed,
    responses(
        (status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/needs/{id}")]
pub async fn patch_need(
    state: web::Data<AppState>,
    officer: Officer,
    id: web::Path<NeedId>,
    body: ApiJson<PatchNeed>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let patch = body.into_inner()?;
    let need = state
        .db
        .write(move |conn| store::patch(conn, &officer, id, &patch, now))
        .await?;
    Ok(HttpResponse::Ok().json(need))
}

/// Deletes a draft need (officer of its member) while the campaign is open.
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/needs/{id}")]
pub async fn delete_need(
    state: web::Data<AppState>,
    officer: Officer,
    id: web::Path<NeedId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    state
        .db
        .write(move |conn| store::delete(conn, &officer, id, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn officer_action(
    state: web::Data<AppState>,
    officer: Officer,
    id: NeedId,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let need = state
        .db
        .write(move |conn| store::officer_action(conn, &officer, id, action, now))
        .await?;
    Ok(HttpResponse::Ok().json(need))
}

/// Submits a draft need to the lead (officer of its member) while the campaign is open.
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/needs/{id}/submit")]
pub async fn submit_need(
    state: web::Data<AppState>,
    officer: Officer,
    id: web::Path<NeedId>,
) -> Result<HttpResponse, ApiError> {
    officer_action(state, officer, id.into_inner(), Action::Submit).await
}

/// Withdraws a draft or submitted need (officer of its member) while the campaign is open.
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    responses((status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/needs/{id}/withdraw")]
pub async fn withdraw_need(
    state: web::Data<AppState>,
    officer: Officer,
    id: web::Path<NeedId>,
) -> Result<HttpResponse, ApiError> {
    officer_action(state, officer, id.into_inner(), Action::Withdraw).await
}

/// Body of the rejection.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectNeed {
    /// Why (1–2000 characters); shown to the member.
    pub reason: String,
}

/// Rejects a submitted need with a reason (lead of its group).
#[utoipa::path(
    tag = "needs",
    params(("id" = Uuid, Path, description = "need id")),
    request_body = RejectNeed,
    responses(
        (status = 200, body = Need), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/needs/{id}/reject")]
pub async fn reject_need(
    state: web::Data<AppState>,
    lead: Lead,
    id: web::Path<NeedId>,
    body: ApiJson<RejectNeed>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut c = Checks::new();
    let reason = c.paragraph("/reason", &body.reason, 1, 2000);
    c.finish()?;
    let (id, now) = (id.into_inner(), state.clock.now());
    let need = state
        .db
        .write(move |conn| store::reject(conn, &lead, id, &reason, now))
        .await?;
    Ok(HttpResponse::Ok().json(need))
}
