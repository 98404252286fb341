//! Need queries. Tenancy is in every query ([`visible_needs`]): an officer reaches only its
//! member's needs, a lead only needs that were submitted in campaigns of groups it leads —
//! never drafts. Anything else is not found.
//!
//! Status changes are conditional updates (`WHERE id = ? AND status = <the status read>`): of
//! two concurrent changes, one updates the row and the other finds nothing to update and gets
//! 409, on PostgreSQL as on SQLite.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::aggregation::{self, AggGroup, AggNeed};
use super::domain::{
    estimated_value, transition, Action, Context, CreateNeed, Need, NeedFields, NeedStatus,
    PatchNeed, Unit,
};
use crate::audit;
use crate::auth::{Caller, Lead, Officer, Principal};
use crate::campaigns::cache::CampaignCache;
use crate::campaigns::domain::{Campaign, CampaignStatus};
use crate::campaigns::store::{hold, led_campaign_ids, Hold};
use crate::db::batch::Batch;
use crate::db::types::{DbDecimal, DbTime, DbUuidList};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{Quantity, UnitPrice, VatRate};
use crate::error::ApiError;
use crate::ids::{CampaignId, GroupId, MemberId, NeedId};
use crate::members::store::{by_ids, code as member_code, ids_by_code, member_code_of};
use crate::pagination::{keyset, Page};
use crate::schema::needs;

/// The needs `caller` may reach.
pub fn visible_needs(caller: &Caller) -> needs::BoxedQuery<'static, MultiBackend> {
    let q = needs::table.into_boxed();
    match caller.principal {
        Principal::Officer { member_id } => q.filter(needs::member_id.eq(member_id)),
        Principal::Lead { member_id } => led_needs(member_id).into_boxed(),
        Principal::Admin | Principal::Supplier { .. } => q.filter(needs::id.is_null()),
    }
}

/// The needs the lead of `member` may see: submitted, in the campaigns of the groups it leads.
pub type LedNeeds = diesel::dsl::Filter<
    diesel::dsl::Filter<needs::table, diesel::dsl::IsNotNull<needs::submitted_at>>,
    diesel::dsl::EqAny<needs::campaign_id, crate::campaigns::store::LedCampaignIds>,
>;

/// The lead's scope of [`visible_needs`], unboxed (to nest, or to group).
pub fn led_needs(member: MemberId) -> LedNeeds {
    needs::table
        .filter(needs::submitted_at.is_not_null())
        .filter(needs::campaign_id.eq_any(led_campaign_ids(member)))
}

/// Ids of the needs the lead of `member` may see: a subquery for other features' scopes (the
/// audit journal).
pub type LeadVisibleNeedIds = diesel::dsl::Select<LedNeeds, needs::id>;

/// The needs the lead of `member` may see.
pub fn lead_visible_need_ids(member: MemberId) -> LeadVisibleNeedIds {
    led_needs(member).select(needs::id)
}

/// A stored need (every column is written at creation, so it is also the insert value).
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = needs)]
#[diesel(check_for_backend(MultiBackend))]
#[diesel(treat_none_as_default_value = false)]
struct NeedRow {
    id: NeedId,
    campaign_id: CampaignId,
    member_id: MemberId,
    title: String,
    description: String,
    cpv: String,
    quantity: DbDecimal,
    unit: Unit,
    estimated_unit_price: DbDecimal,
    vat_rate: DbDecimal,
    delivery_site: String,
    wanted_by: NaiveDate,
    status: NeedStatus,
    rejection_reason: Option<String>,
    submitted_at: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl NeedRow {
    fn new(
        id: NeedId,
        campaign_id: CampaignId,
        member_id: MemberId,
        f: &NeedFields,
        now: DbTime,
    ) -> Self {
        NeedRow {
            id,
            campaign_id,
            member_id,
            title: f.title.clone(),
            description: f.description.clone(),
            cpv: f.cpv.clone(),
            quantity: DbDecimal(f.quantity.value()),
            unit: f.unit,
            estimated_unit_price: DbDecimal(f.estimated_unit_price.value()),
            vat_rate: DbDecimal(f.vat_rate.value()),
            delivery_site: f.delivery_site.clone(),
            wanted_by: f.wanted_by,
            status: NeedStatus::Draft,
            rejection_reason: None,
            submitted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn fields(&self) -> NeedFields {
        NeedFields {
            title: self.title.clone(),
            description: self.description.clone(),
            cpv: self.cpv.clone(),
            quantity: Quantity::from_stored(self.quantity.0),
            unit: self.unit,
            estimated_unit_price: UnitPrice::from_stored(self.estimated_unit_price.0),
            vat_rate: VatRate::from_stored(self.vat_rate.0.normalize()),
            delivery_site: self.delivery_site.clone(),
            wanted_by: self.wanted_by,
        }
    }

    /// The API view, with the code of the need's member (`None`: the member was not found).
    fn into_need(self, member_code: Option<String>) -> Result<Need, ApiError> {
        let fields = self.fields();
        let id = self.id;
        let corrupt =
            |what: &str| ApiError::internal(format!("need {id} has an invalid stored {what}"));
        let member_code = member_code.ok_or_else(|| corrupt("member"))?;
        let value = estimated_value(fields.quantity, fields.estimated_unit_price)
            .ok_or_else(|| corrupt("value"))?;
        Ok(Need {
            id,
            campaign_id: self.campaign_id,
            member_code,
            status: self.status,
            estimated_value: value,
            rejection_reason: self.rejection_reason,
            submitted_at: self.submitted_at.map(DbTime::get),
            created_at: self.created_at.get(),
            updated_at: self.updated_at.get(),
            fields,
        })
    }
}

/// The API views of `rows`, with their members' codes looked up once.
fn into_needs(conn: &mut DbConn, rows: Vec<NeedRow>) -> Result<Vec<Need>, ApiError> {
    let mut ids: Vec<MemberId> = rows.iter().map(|r| r.member_id).collect();
    ids.sort();
    ids.dedup();
    let members = by_ids(conn, &ids)?;
    rows.into_iter()
        .map(|r| {
            let code = members.get(&r.member_id).map(|m| m.code.clone());
            r.into_need(code)
        })
        .collect()
}

/// The API view of `row` (its member's code read by id).
fn into_one(conn: &mut DbConn, row: NeedRow) -> Result<Need, ApiError> {
    let code = member_code(conn, row.member_id).optional()?;
    row.into_need(code)
}

fn find(conn: &mut DbConn, caller: &Caller, id: NeedId) -> Result<NeedRow, ApiError> {
    visible_needs(caller)
        .filter(needs::id.eq(id))
        .select(NeedRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("need"))
}

/// Holds need `id` for the rest of the transaction (PostgreSQL; SQLite writers take turns).
fn lock_need(conn: &mut DbConn, id: NeedId) -> QueryResult<()> {
    crate::db::lock_on_postgres(conn, |pg| {
        let _: Vec<NeedId> = needs::table
            .filter(needs::id.eq(id))
            .select(needs::id)
            .for_update()
            .load(pg)?;
        Ok(())
    })
}

fn require_open(campaign: &Campaign) -> Result<(), ApiError> {
    if campaign.status == CampaignStatus::Open {
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

/// Need `id` if it still has the `status` that was read: the target of every conditional
/// update, so that of two concurrent changes only one finds the row.
fn still(
    id: NeedId,
    status: NeedStatus,
) -> diesel::dsl::Filter<
    diesel::dsl::Filter<needs::table, diesel::dsl::Eq<needs::id, NeedId>>,
    diesel::dsl::Eq<needs::status, NeedStatus>,
> {
    needs::table
        .filter(needs::id.eq(id))
        .filter(needs::status.eq(status))
}

/// 409 when a conditional update changed no row: the need's status changed meanwhile.
fn changed_once(n: usize) -> Result<(), ApiError> {
    if n == 1 {
        Ok(())
    } else {
        Err(state_conflict(
            "the need changed while this request ran; read it again".to_owned(),
        ))
    }
}

/// The need's campaign as `caller` sees it (the campaign of a visible need is visible), held
/// for the rest of the transaction so that it cannot close under this change.
fn campaign_of(
    conn: &mut DbConn,
    caller: &Caller,
    row: &NeedRow,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    hold(conn, row.campaign_id, Hold::Shared)?;
    crate::campaigns::store::get(conn, caller, row.campaign_id, now)
}

/// Creates a draft need for the officer's member in an open campaign of one of its groups.
///
/// No write of its own: the need and its audit event are queued in `batch`, which the caller
/// sends as the write's only change ([`crate::idempotency::WriteAs::OneStatement`]: on
/// PostgreSQL one statement, no transaction). The campaign (with the member's code) comes
/// from `campaigns` when an officer of the member read it open before ([`crate::campaigns::cache`]):
/// one round trip in all; else it is read first, in one statement: two round trips. Either
/// way the batch is conditional on the campaign being still open to the member, its row
/// taken `FOR KEY SHARE` on PostgreSQL: a creation meeting a close in progress waits and
/// writes nothing. A draft committed just before a close stays inert: submitting, changing
/// or withdrawing it holds the campaign and finds it closed, and a tender takes only
/// submitted needs.
pub fn create(
    conn: &mut DbConn,
    batch: &mut Batch,
    campaigns: &CampaignCache,
    officer: &Officer,
    campaign_id: CampaignId,
    input: &CreateNeed,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let target = crate::campaigns::store::get_open_for_member(
        conn,
        batch,
        campaigns,
        officer.member,
        campaign_id,
        now,
    )?;
    let (campaign, member_code) = (target.campaign, target.member_code);
    let checked = require_open(&campaign).and_then(|()| {
        input.parse(&Context {
            cpv_scope: &campaign.cpv_scope,
            today: crate::dates::paris_date(now),
        })
    });
    let fields = match checked {
        Ok(fields) => fields,
        // A refusal based on a kept campaign is confirmed on the stored one (closed since:
        // 409 before any 422, as without the cache; out of scope: 404).
        Err(_) if target.kept => return Err(ApiError::condition_changed()),
        Err(refused) => return Err(refused),
    };
    let row = NeedRow::new(
        NeedId::new(),
        campaign_id,
        officer.member,
        &fields,
        DbTime::new(now),
    );
    let need = row.clone().into_need(member_code)?;
    batch.push(diesel::insert_into(needs::table).values(row));
    audit::queue(
        batch,
        &audit::Actor::from(&officer.caller),
        change(audit::Action::NeedCreated, &need, campaign.group_id, &need),
        now,
    )?;
    Ok(need)
}

/// Journals a change of `need` in its campaign's group, in the change's transaction.
fn journal<T: serde::Serialize>(
    conn: &mut DbConn,
    caller: &Caller,
    action: audit::Action,
    need: &Need,
    group: GroupId,
    data: &T,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    audit::record(
        conn,
        &audit::Actor::from(caller),
        change(action, need, group, data),
        now,
    )
}

/// The audit change `action` of `need`, in its campaign's group.
fn change<'a, T: serde::Serialize>(
    action: audit::Action,
    need: &Need,
    group: GroupId,
    data: &'a T,
) -> audit::Change<'a, T> {
    audit::Change {
        action,
        entity_type: audit::EntityType::Need,
        entity_id: need.id.0,
        group_id: Some(group),
        data,
    }
}

/// A need the caller may reach, or 404 — one statement (its member's code is a subquery).
pub fn get(conn: &mut DbConn, caller: &Caller, id: NeedId) -> Result<Need, ApiError> {
    let (row, code): (NeedRow, Option<String>) = visible_needs(caller)
        .filter(needs::id.eq(id))
        .select((NeedRow::as_select(), member_code_of!(needs::member_id)))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("need"))?;
    row.into_need(code)
}

/// Filters of `GET /api/v1/needs`, already validated.
#[derive(Debug, Clone, Default)]
pub struct NeedFilter {
    /// Campaign.
    pub campaign: Option<CampaignId>,
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
    let mut q = visible_needs(caller).select(NeedRow::as_select());
    if let Some(c) = filter.campaign {
        q = q.filter(needs::campaign_id.eq(c));
    }
    if let Some(s) = filter.status {
        q = q.filter(needs::status.eq(s));
    }
    if let Some(cpv) = &filter.cpv {
        q = q.filter(needs::cpv.like(format!("{cpv}%")));
    }
    if let Some(code) = &filter.member {
        match ids_by_code(conn, std::slice::from_ref(code))?
            .pop()
            .flatten()
        {
            Some(member) => q = q.filter(needs::member_id.eq(member)),
            None => return Ok(Vec::new()),
        }
    }
    let rows: Vec<NeedRow> = keyset(q, needs::id, page).load(conn)?;
    into_needs(conn, rows)
}

/// Changes fields of a draft need (officer of its member) in an open campaign.
pub fn patch(
    conn: &mut DbConn,
    officer: &Officer,
    id: NeedId,
    patch: &PatchNeed,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let caller = &officer.caller;
    // A PATCH writes every field from what it read: the row is held from the read on, so a
    // concurrent PATCH waits and then applies its change on top of this one (none is lost).
    lock_need(conn, id)?;
    let row = find(conn, caller, id)?;
    let campaign = campaign_of(conn, caller, &row, now)?;
    require_open(&campaign)?;
    transition(row.status, Action::Edit).map_err(state_conflict)?;
    let next = patch.apply(
        &row.fields(),
        &Context {
            cpv_scope: &campaign.cpv_scope,
            today: crate::dates::paris_date(now),
        },
    )?;
    let n = diesel::update(still(id, row.status))
        .set((
            needs::title.eq(&next.title),
            needs::description.eq(&next.description),
            needs::cpv.eq(&next.cpv),
            needs::quantity.eq(DbDecimal(next.quantity.value())),
            needs::unit.eq(next.unit),
            needs::estimated_unit_price.eq(DbDecimal(next.estimated_unit_price.value())),
            needs::vat_rate.eq(DbDecimal(next.vat_rate.value())),
            needs::delivery_site.eq(&next.delivery_site),
            needs::wanted_by.eq(next.wanted_by),
            needs::updated_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    changed_once(n)?;
    let need = get(conn, caller, id)?;
    journal(
        conn,
        caller,
        audit::Action::NeedUpdated,
        &need,
        campaign.group_id,
        &need,
        now,
    )?;
    Ok(need)
}

/// Deletes a draft need (officer of its member) in an open campaign.
pub fn delete(
    conn: &mut DbConn,
    officer: &Officer,
    id: NeedId,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let caller = &officer.caller;
    let row = find(conn, caller, id)?;
    let campaign = campaign_of(conn, caller, &row, now)?;
    require_open(&campaign)?;
    transition(row.status, Action::Delete).map_err(state_conflict)?;
    let need = into_one(conn, row)?;
    let n = diesel::delete(still(id, need.status)).execute(conn)?;
    changed_once(n)?;
    journal(
        conn,
        caller,
        audit::Action::NeedDeleted,
        &need,
        campaign.group_id,
        &serde_json::json!({}),
        now,
    )?;
    Ok(())
}

/// Submits or withdraws a need (officer of its member) while the campaign is open.
pub fn officer_action(
    conn: &mut DbConn,
    officer: &Officer,
    id: NeedId,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let caller = &officer.caller;
    let row = find(conn, caller, id)?;
    let campaign = campaign_of(conn, caller, &row, now)?;
    require_open(&campaign)?;
    let to = transition(row.status, action).map_err(state_conflict)?;
    let t = DbTime::new(now);
    let submitted_at = if action == Action::Submit {
        Some(t)
    } else {
        row.submitted_at
    };
    let n = diesel::update(still(id, row.status))
        .set((
            needs::status.eq(to),
            needs::submitted_at.eq(submitted_at),
            needs::updated_at.eq(t),
        ))
        .execute(conn)?;
    changed_once(n)?;
    let need = get(conn, caller, id)?;
    let journaled = if action == Action::Submit {
        audit::Action::NeedSubmitted
    } else {
        audit::Action::NeedWithdrawn
    };
    let data = serde_json::json!({"status": need.status, "submitted_at": need.submitted_at});
    journal(
        conn,
        caller,
        journaled,
        &need,
        campaign.group_id,
        &data,
        now,
    )?;
    Ok(need)
}

/// Rejects a submitted need with a reason (lead of its group), unless the campaign is frozen.
pub fn reject(
    conn: &mut DbConn,
    lead: &Lead,
    id: NeedId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Need, ApiError> {
    let caller = &lead.caller;
    let row = find(conn, caller, id)?;
    let campaign = campaign_of(conn, caller, &row, now)?;
    if campaign.status == CampaignStatus::Frozen {
        return Err(ApiError::conflict(
            "campaign_frozen",
            "a tender was created from this campaign; its needs are fixed",
        ));
    }
    let to = transition(row.status, Action::Reject).map_err(state_conflict)?;
    let n = diesel::update(still(id, row.status))
        .set((
            needs::status.eq(to),
            needs::rejection_reason.eq(Some(reason)),
            needs::updated_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    changed_once(n)?;
    let need = get(conn, caller, id)?;
    let data = serde_json::json!({"status": need.status, "rejection_reason": reason});
    journal(
        conn,
        caller,
        audit::Action::NeedRejected,
        &need,
        campaign.group_id,
        &data,
        now,
    )?;
    Ok(need)
}

/// What the aggregation reads of a need: seven columns, not the seventeen of [`NeedRow`]
/// (at 100 000 needs, reading and holding the titles and descriptions dominated).
#[derive(Queryable, Selectable)]
#[diesel(table_name = needs)]
#[diesel(check_for_backend(MultiBackend))]
struct AggRow {
    id: NeedId,
    member_id: MemberId,
    cpv: String,
    quantity: DbDecimal,
    unit: Unit,
    estimated_unit_price: DbDecimal,
    vat_rate: DbDecimal,
}

/// The contract duration (months) of a campaign the lead runs (404 otherwise) and its
/// submitted needs added up per member, CPV code, unit and VAT rate, for aggregation: one
/// statement for the campaign's scope, one for the needs, one for the members' codes (they
/// never change, so no transaction is needed for the three to agree).
///
/// Where the database's sums of decimals are exact ([`crate::db::sums_exactly`]: PostgreSQL)
/// it adds the needs up itself, each need's value rounded half away from zero to the cent as
/// [`estimated_value`] does (`round(numeric, 2)`), and sends one row per group with its needs'
/// ids: at 100 000 needs, reading every need was most of the request's time. Each need's
/// value is within the API's limits there by a `CHECK` of the schema (`needs_value_in_range`),
/// so the sums need no check per need. Elsewhere
/// (SQLite) the needs are read and grouped in process ([`aggregation::group`]).
pub fn submitted_for_aggregation(
    conn: &mut DbConn,
    lead: &Lead,
    campaign_id: CampaignId,
    now: DateTime<Utc>,
) -> Result<(u32, Vec<AggGroup>), ApiError> {
    let campaign = crate::campaigns::store::get_led(conn, lead.member, campaign_id, now)?;
    let groups = if crate::db::sums_exactly(conn) {
        summed_in_sql(conn, lead, campaign_id)?
    } else {
        aggregation::group(&submitted_needs(conn, lead, campaign_id)?)
    };
    Ok((campaign.contract_months, groups))
}

/// The codes of members `ids` (a stored need always names an existing member: the callers
/// answer 500 for one missing here).
fn codes_of(
    conn: &mut DbConn,
    mut ids: Vec<MemberId>,
) -> Result<HashMap<MemberId, String>, ApiError> {
    ids.sort();
    ids.dedup();
    Ok(by_ids(conn, &ids)?
        .into_iter()
        .map(|(id, m)| (id, m.code))
        .collect())
}

/// The submitted needs of the campaign, one by one.
fn submitted_needs(
    conn: &mut DbConn,
    lead: &Lead,
    campaign_id: CampaignId,
) -> Result<Vec<AggNeed>, ApiError> {
    let rows: Vec<AggRow> = visible_needs(&lead.caller)
        .filter(needs::campaign_id.eq(campaign_id))
        .filter(needs::status.eq(NeedStatus::Submitted))
        .select(AggRow::as_select())
        .load(conn)?;
    let codes = codes_of(conn, rows.iter().map(|r| r.member_id).collect())?;
    rows.into_iter()
        .map(|r| {
            let corrupt = |what: &str| {
                ApiError::internal(format!("need {} has an invalid stored {what}", r.id))
            };
            let quantity = Quantity::from_stored(r.quantity.0);
            let value = estimated_value(quantity, UnitPrice::from_stored(r.estimated_unit_price.0))
                .ok_or_else(|| corrupt("value"))?;
            Ok(AggNeed {
                id: r.id,
                member_code: codes
                    .get(&r.member_id)
                    .cloned()
                    .ok_or_else(|| corrupt("member"))?,
                cpv: r.cpv,
                unit: r.unit,
                vat_rate: VatRate::from_stored(r.vat_rate.0.normalize()),
                quantity,
                estimated_value: value,
            })
        })
        .collect()
}

/// One group of [`summed_in_sql`] as the database sends it.
#[derive(Queryable)]
struct SummedRow {
    member_id: MemberId,
    cpv: String,
    unit: Unit,
    vat_rate: DbDecimal,
    /// Σ quantity.
    quantity: DbDecimal,
    /// Σ each need's value rounded to the cent.
    value: DbDecimal,
    /// The needs' ids.
    need_ids: DbUuidList,
}

/// The submitted needs of the campaign added up by the database (see
/// [`submitted_for_aggregation`]), in the lead's scope as [`visible_needs`] puts it.
fn summed_in_sql(
    conn: &mut DbConn,
    lead: &Lead,
    campaign_id: CampaignId,
) -> Result<Vec<AggGroup>, ApiError> {
    use diesel::dsl::sql;

    use crate::db::types::sql::{Dec, UidList};
    // Each need's value as `estimated_value` computes it: quantity × price, rounded half away
    // from zero to the cent (PostgreSQL's `round(numeric, 2)`).
    let rows: Vec<SummedRow> = led_needs(lead.member)
        .filter(needs::campaign_id.eq(campaign_id))
        .filter(needs::status.eq(NeedStatus::Submitted))
        .group_by((needs::member_id, needs::cpv, needs::unit, needs::vat_rate))
        .select((
            needs::member_id,
            needs::cpv,
            needs::unit,
            needs::vat_rate,
            sql::<Dec>("sum(needs.quantity)"),
            sql::<Dec>("sum(round(needs.quantity * needs.estimated_unit_price, 2))"),
            sql::<UidList>("array_agg(needs.id)"),
        ))
        .load(conn)?;
    let codes = codes_of(conn, rows.iter().map(|r| r.member_id).collect())?;
    rows.into_iter()
        .map(|r| {
            let member_code = codes.get(&r.member_id).cloned().ok_or_else(|| {
                ApiError::internal(format!(
                    "needs in CPV {} name an unknown member {}",
                    r.cpv, r.member_id.0
                ))
            })?;
            Ok(AggGroup {
                member_code,
                need_ids: r.need_ids.0.into_iter().map(NeedId).collect(),
                vat_rate: VatRate::from_stored(r.vat_rate.0.normalize()),
                quantity: r.quantity.0,
                value: r.value.0,
                cpv: r.cpv,
                unit: r.unit,
            })
        })
        .collect()
}

/// The submitted needs among `ids` of campaign `campaign_id`, as the lead sees them, for a
/// tender's lots (ids not returned are unknown, not submitted, or out of scope).
pub fn submitted_for_tender(
    conn: &mut DbConn,
    lead: &Lead,
    campaign_id: CampaignId,
    ids: &[NeedId],
) -> Result<Vec<crate::tenders::domain::LotNeed>, ApiError> {
    let rows: Vec<AggRow> = visible_needs(&lead.caller)
        .filter(needs::campaign_id.eq(campaign_id))
        .filter(needs::status.eq(NeedStatus::Submitted))
        .filter(needs::id.eq_any(ids.to_vec()))
        .select(AggRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| crate::tenders::domain::LotNeed {
            id: r.id,
            member_id: r.member_id,
            cpv: r.cpv,
            unit: r.unit,
            vat_rate: VatRate::from_stored(r.vat_rate.0.normalize()),
            quantity: Quantity::from_stored(r.quantity.0),
        })
        .collect())
}

/// Marks `ids` consolidated (their tender is published). Only submitted needs change; returns
/// how many did. Journaled by the tender's own event, not one event per need.
pub fn consolidate(conn: &mut DbConn, ids: &[NeedId], now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        needs::table
            .filter(needs::id.eq_any(ids.to_vec()))
            .filter(needs::status.eq(NeedStatus::Submitted)),
    )
    .set((
        needs::status.eq(NeedStatus::Consolidated),
        needs::updated_at.eq(DbTime::new(now)),
    ))
    .execute(conn)
}

/// True when `member` has a need submitted (or already consolidated) in `campaign` (for
/// reminders; no caller scope: the campaign feature already scoped the campaign).
pub fn has_submitted(
    conn: &mut DbConn,
    campaign: CampaignId,
    member: MemberId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        needs::table
            .filter(needs::campaign_id.eq(campaign))
            .filter(needs::member_id.eq(member))
            .filter(needs::status.eq_any([NeedStatus::Submitted, NeedStatus::Consolidated])),
    ))
    .get_result(conn)
}

/// Moves the needs `ids` that are in one of the statuses `from` to `to` (a tender's lot
/// moving on: awarded, contracted, unsuccessful, cancelled); returns how many moved. The
/// tenders feature calls it with the needs of its own lots.
pub fn follow_lot(
    conn: &mut DbConn,
    ids: &[NeedId],
    from: &[NeedStatus],
    to: NeedStatus,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        needs::table
            .filter(needs::id.eq_any(ids.to_vec()))
            .filter(needs::status.eq_any(from.to_vec())),
    )
    .set((needs::status.eq(to), needs::updated_at.eq(DbTime::new(now))))
    .execute(conn)
}

/// Estimated value (quantity × estimated unit price, rounded to the cent) of each of the
/// needs `ids`, with its member (for savings; the caller scoped the ids).
pub fn estimated_values(
    conn: &mut DbConn,
    ids: &[NeedId],
) -> QueryResult<Vec<(MemberId, rust_decimal::Decimal)>> {
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = needs)]
    #[diesel(check_for_backend(MultiBackend))]
    struct ValueRow {
        member_id: MemberId,
        quantity: DbDecimal,
        estimated_unit_price: DbDecimal,
    }
    let rows: Vec<ValueRow> = needs::table
        .filter(needs::id.eq_any(ids.to_vec()))
        .select(ValueRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let value = estimated_value(
                Quantity::from_stored(r.quantity.0),
                UnitPrice::from_stored(r.estimated_unit_price.0),
            )
            .map_or(rust_decimal::Decimal::ZERO, |a| a.value());
            (r.member_id, value)
        })
        .collect())
}
