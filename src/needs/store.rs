//! Need queries. Tenancy is in every query ([`visible_needs`]): an officer reaches only its
//! member's needs, a lead only needs that were submitted in campaigns of groups it leads —
//! never drafts. Anything else is not found.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::aggregation::AggNeed;
use super::domain::{
    estimated_value, transition, Action, Context, CreateNeed, Need, NeedFields, NeedStatus,
    PatchNeed, Unit,
};
use crate::auth::{Caller, Principal};
use crate::campaigns::domain::CampaignStatus;
use crate::campaigns::store::{led_campaigns, visible_campaigns};
use crate::db::types::{DbDecimal, DbTime, DbUuid};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{Quantity, UnitPrice, VatRate};
use crate::error::ApiError;
use crate::extract::Page;
use crate::schema::{campaigns, groups, members, needs};
use crate::spelled::Spelled;

/// The needs `caller` may reach.
pub fn visible_needs(caller: &Caller) -> needs::BoxedQuery<'static, MultiBackend> {
    let q = needs::table.into_boxed();
    match caller.principal {
        Principal::Officer { member_id } => q.filter(needs::member_id.eq(DbUuid(member_id))),
        Principal::Lead { member_id } => q.filter(needs::submitted_at.is_not_null()).filter(
            needs::campaign_id.eq_any(
                campaigns::table
                    .inner_join(groups::table)
                    .filter(groups::coordinator_id.eq(DbUuid(member_id)))
                    .select(campaigns::id),
            ),
        ),
        Principal::Admin | Principal::Supplier { .. } => q.filter(needs::id.is_null()),
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = needs)]
#[diesel(check_for_backend(MultiBackend))]
struct NeedRow {
    id: DbUuid,
    campaign_id: DbUuid,
    #[diesel(select_expression = members::code)]
    member_code: String,
    title: String,
    description: String,
    cpv: String,
    quantity: DbDecimal,
    unit: String,
    estimated_unit_price: DbDecimal,
    vat_rate: DbDecimal,
    delivery_site: String,
    wanted_by: NaiveDate,
    status: String,
    rejection_reason: Option<String>,
    submitted_at: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
}

fn corrupt(id: Uuid, what: &str) -> ApiError {
    ApiError::internal(format!("need {id} has an invalid stored {what}"))
}

impl NeedRow {
    fn fields(&self) -> Result<NeedFields, ApiError> {
        let id = self.id.0;
        Ok(NeedFields {
            title: self.title.clone(),
            description: self.description.clone(),
            cpv: self.cpv.clone(),
            quantity: Quantity::from_stored(self.quantity.0),
            unit: Unit::from_spelling(&self.unit).ok_or_else(|| corrupt(id, "unit"))?,
            estimated_unit_price: UnitPrice::from_stored(self.estimated_unit_price.0),
            vat_rate: VatRate::from_stored(self.vat_rate.0.normalize()),
            delivery_site: self.delivery_site.clone(),
            wanted_by: self.wanted_by,
        })
    }

    fn status(&self) -> Result<NeedStatus, ApiError> {
        NeedStatus::from_spelling(&self.status).ok_or_else(|| corrupt(self.id.0, "status"))
    }

    fn into_need(self) -> Result<Need, ApiError> {
        let f = self.fields()?;
        let status = self.status()?;
        let value = estimated_value(f.quantity, f.estimated_unit_price)
            .ok_or_else(|| corrupt(self.id.0, "value"))?;
        Ok(Need {
            id: self.id.0,
            campaign_id: self.campaign_id.0,
            member_code: self.member_code,
            status,
            estimated_value: value,
            rejection_reason: self.rejection_reason,
            submitted_at: self.submitted_at.map(DbTime::get),
            created_at: self.created_at.get(),
            updated_at: self.updated_at.get(),
            fields: f,
        })
    }
}

fn find(conn: &mut DbConn, caller: &Caller, id: Uuid) -> Result<NeedRow, ApiError> {
    visible_needs(caller)
        .inner_join(members::table)
        .filter(needs::id.eq(DbUuid(id)))
        .select(NeedRow::as_select())
        .first::<NeedRow>(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("need"))
}

/// The campaign's stored status, deadline and CPV scope.
struct CampaignState {
    status: CampaignStatus,
    scope: Vec<String>,
}

fn campaign_state(
    conn: &mut DbConn,
    campaign_id: Uuid,
    now: DateTime<Utc>,
) -> Result<CampaignState, ApiError> {
    let (status, deadline, scope): (String, DbTime, String) = campaigns::table
        .filter(campaigns::id.eq(DbUuid(campaign_id)))
        .select((
            campaigns::status,
            campaigns::needs_deadline,
            campaigns::cpv_scope,
        ))
        .first(conn)?;
    let status = CampaignStatus::from_spelling(&status).ok_or_else(|| {
        ApiError::internal(format!("campaign {campaign_id} has status {status:?}"))
    })?;
    Ok(CampaignState {
        status: status.effective(deadline.get(), now),
        scope: serde_json::from_str(&scope).map_err(ApiError::internal)?,
    })
}

fn require_open(state: &CampaignState) -> Result<(), ApiError> {
    if state.status == CampaignStatus::Open {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "campaign_closed",
            "the campaign is closed: needs can no longer be created, changed, submitted or withdrawn",
        ))
    }
}

fn state_conflict(msg: String) -> ApiError {
    ApiError::conflict("invalid_state", msg)
}

/// Creates a draft need for the officer's member in an open campaign of one of its groups.
pub fn create(
    conn: &mut DbConn,
    caller: &Caller,
    campaign_id: Uuid,
    input: &CreateNeed,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let Principal::Officer { member_id } = caller.principal else {
        return Err(ApiError::forbidden());
    };
    let visible = visible_campaigns(caller)
        .filter(campaigns::id.eq(DbUuid(campaign_id)))
        .select(campaigns::id)
        .first::<DbUuid>(conn)
        .optional()?;
    if visible.is_none() {
        return Err(ApiError::not_found("campaign"));
    }
    let state = campaign_state(conn, campaign_id, now)?;
    require_open(&state)?;
    let fields = input.parse(&Context {
        cpv_scope: &state.scope,
        today: crate::dates::paris_date(now),
    })?;
    let id = Uuid::now_v7();
    let t = DbTime::new(now);
    diesel::insert_into(needs::table)
        .values((
            needs::id.eq(DbUuid(id)),
            needs::campaign_id.eq(DbUuid(campaign_id)),
            needs::member_id.eq(DbUuid(member_id)),
            needs::title.eq(&fields.title),
            needs::description.eq(&fields.description),
            needs::cpv.eq(&fields.cpv),
            needs::quantity.eq(DbDecimal(fields.quantity.value())),
            needs::unit.eq(fields.unit.spelling()),
            needs::estimated_unit_price.eq(DbDecimal(fields.estimated_unit_price.value())),
            needs::vat_rate.eq(DbDecimal(fields.vat_rate.value())),
            needs::delivery_site.eq(&fields.delivery_site),
            needs::wanted_by.eq(fields.wanted_by),
            needs::status.eq("draft"),
            needs::rejection_reason.eq(None::<String>),
            needs::submitted_at.eq(None::<DbTime>),
            needs::created_at.eq(t),
            needs::updated_at.eq(t),
        ))
        .execute(conn)?;
    find(conn, caller, id)?.into_need()
}

/// A need the caller may reach, or 404.
pub fn get(conn: &mut DbConn, caller: &Caller, id: Uuid) -> Result<Need, ApiError> {
    find(conn, caller, id)?.into_need()
}

/// Filters of `GET /api/v1/needs`, already validated.
#[derive(Debug, Clone, Default)]
pub struct NeedFilter {
    /// Campaign.
    pub campaign: Option<Uuid>,
    /// Status.
    pub status: Option<NeedStatus>,
    /// CPV prefix.
    pub cpv: Option<String>,
    /// Member code.
    pub member: Option<String>,
}

/// One page of the needs the caller may reach, filtered.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    filter: &NeedFilter,
    page: Page,
) -> Result<Vec<Need>, ApiError> {
    let mut q = visible_needs(caller)
        .inner_join(members::table)
        .select(NeedRow::as_select())
        .order(needs::id.asc())
        .limit(i64::from(page.limit) + 1);
    if let Some(after) = page.after {
        q = q.filter(needs::id.gt(DbUuid(after)));
    }
    if let Some(c) = filter.campaign {
        q = q.filter(needs::campaign_id.eq(DbUuid(c)));
    }
    if let Some(s) = filter.status {
        q = q.filter(needs::status.eq(s.spelling()));
    }
    if let Some(cpv) = &filter.cpv {
        q = q.filter(needs::cpv.like(format!("{cpv}%")));
    }
    if let Some(m) = &filter.member {
        q = q.filter(members::code.eq(m.clone()));
    }
    q.load::<NeedRow>(conn)?
        .into_iter()
        .map(NeedRow::into_need)
        .collect()
}

/// Changes fields of a draft need (officer of its member) in an open campaign.
pub fn patch(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    patch: &PatchNeed,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let row = find(conn, caller, id)?;
    let state = campaign_state(conn, row.campaign_id.0, now)?;
    require_open(&state)?;
    transition(row.status()?, Action::Edit).map_err(state_conflict)?;
    let next = patch.apply(
        &row.fields()?,
        &Context {
            cpv_scope: &state.scope,
            today: crate::dates::paris_date(now),
        },
    )?;
    diesel::update(needs::table.filter(needs::id.eq(DbUuid(id))))
        .set((
            needs::title.eq(&next.title),
            needs::description.eq(&next.description),
            needs::cpv.eq(&next.cpv),
            needs::quantity.eq(DbDecimal(next.quantity.value())),
            needs::unit.eq(next.unit.spelling()),
            needs::estimated_unit_price.eq(DbDecimal(next.estimated_unit_price.value())),
            needs::vat_rate.eq(DbDecimal(next.vat_rate.value())),
            needs::delivery_site.eq(&next.delivery_site),
            needs::wanted_by.eq(next.wanted_by),
            needs::updated_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    get(conn, caller, id)
}

/// Deletes a draft need (officer of its member) in an open campaign.
pub fn delete(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let row = find(conn, caller, id)?;
    require_open(&campaign_state(conn, row.campaign_id.0, now)?)?;
    transition(row.status()?, Action::Delete).map_err(state_conflict)?;
    diesel::delete(needs::table.filter(needs::id.eq(DbUuid(id)))).execute(conn)?;
    Ok(())
}

/// Submits or withdraws a need (officer of its member) while the campaign is open.
pub fn officer_action(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let row = find(conn, caller, id)?;
    require_open(&campaign_state(conn, row.campaign_id.0, now)?)?;
    let to = transition(row.status()?, action).map_err(state_conflict)?;
    let t = DbTime::new(now);
    let submitted_at = if action == Action::Submit {
        Some(t)
    } else {
        row.submitted_at
    };
    diesel::update(needs::table.filter(needs::id.eq(DbUuid(id))))
        .set((
            needs::status.eq(to.spelling()),
            needs::submitted_at.eq(submitted_at),
            needs::updated_at.eq(t),
        ))
        .execute(conn)?;
    get(conn, caller, id)
}

/// Rejects a submitted need with a reason (lead of its group), unless the campaign is frozen.
pub fn reject(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let row = find(conn, caller, id)?;
    if campaign_state(conn, row.campaign_id.0, now)?.status == CampaignStatus::Frozen {
        return Err(ApiError::conflict(
            "campaign_frozen",
            "a tender was created from this campaign; its needs are fixed",
        ));
    }
    let to = transition(row.status()?, Action::Reject).map_err(state_conflict)?;
    diesel::update(needs::table.filter(needs::id.eq(DbUuid(id))))
        .set((
            needs::status.eq(to.spelling()),
            needs::rejection_reason.eq(Some(reason)),
            needs::updated_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    get(conn, caller, id)
}

/// The submitted needs of a campaign the caller leads (404 otherwise), for aggregation.
pub fn submitted_for_aggregation(
    conn: &mut DbConn,
    caller: &Caller,
    campaign_id: Uuid,
) -> Result<Vec<AggNeed>, ApiError> {
    let led = led_campaigns(caller)
        .filter(campaigns::id.eq(DbUuid(campaign_id)))
        .select(campaigns::id)
        .first::<DbUuid>(conn)
        .optional()?;
    if led.is_none() {
        return Err(ApiError::not_found("campaign"));
    }
    let rows: Vec<NeedRow> = visible_needs(caller)
        .inner_join(members::table)
        .filter(needs::campaign_id.eq(DbUuid(campaign_id)))
        .filter(needs::status.eq("submitted"))
        .select(NeedRow::as_select())
        .order(needs::id.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            let n = r.into_need()?;
            Ok(AggNeed {
                id: n.id,
                member_code: n.member_code,
                cpv: n.fields.cpv,
                unit: n.fields.unit,
                vat_rate: n.fields.vat_rate,
                quantity: n.fields.quantity,
                estimated_value: n.estimated_value,
            })
        })
        .collect()
}
