//! Tender queries. Every read goes through [`visible`], which puts the caller's scope in the
//! SQL: the lead of a group's coordinator sees its groups' tenders, an officer its member's
//! groups', a supplier only the tenders it was invited to once published, an admin all (read
//! only). Changes are the lead's and run inside the caller's write transaction, with the
//! tender row locked on PostgreSQL and conditional updates on its status.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::domain::{
    build_items, check_bid_deadline, check_criteria, Criterion, Item, ItemPart, Lot, LotNeed,
    LotStatus, NewTender, PriceMethod, Tender, TenderStatus,
};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead, Principal};
use crate::db::types::{DbDecimal, DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{Quantity, VatRate};
use crate::error::{ApiError, FieldError, OnUnique};
use crate::groups::store::{group_ids_of_member, led_group_ids};
use crate::ids::{
    CampaignId, GroupId, MemberId, NeedId, SupplierId, TenderId, TenderItemId, TenderLotId,
};
use crate::needs::domain::Unit;
use crate::pagination::{keyset, Page};
use crate::procedures::advice::Procedure;
use crate::schema::{
    tender_invitations, tender_item_parts, tender_items, tender_lots, tender_needs, tenders,
};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tenders)]
#[diesel(check_for_backend(MultiBackend))]
struct TenderRow {
    id: TenderId,
    group_id: GroupId,
    campaign_id: CampaignId,
    reference: String,
    title: String,
    procedure: Procedure,
    bid_deadline: DbTime,
    contract_months: i32,
    price_method: PriceMethod,
    criteria: DbJson<Vec<Criterion>>,
    listed_suppliers: DbJson<Vec<SupplierId>>,
    /// Stored status (`published` past the deadline is reported opened).
    status: TenderStatus,
    cancel_reason: Option<String>,
    published_at: Option<DbTime>,
    cancelled_at: Option<DbTime>,
    created_at: DbTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tender_lots)]
#[diesel(check_for_backend(MultiBackend))]
struct LotRow {
    id: TenderLotId,
    tender_id: TenderId,
    number: i32,
    title: String,
    status: LotStatus,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tender_items)]
#[diesel(check_for_backend(MultiBackend))]
struct ItemRow {
    id: TenderItemId,
    lot_id: TenderLotId,
    position: i32,
    cpv: String,
    unit: Unit,
    vat_rate: DbDecimal,
    quantity: DbDecimal,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tender_item_parts)]
#[diesel(check_for_backend(MultiBackend))]
struct PartRow {
    item_id: TenderItemId,
    member_id: MemberId,
    quantity: DbDecimal,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tender_needs)]
#[diesel(check_for_backend(MultiBackend))]
struct TenderNeedRow {
    need_id: NeedId,
    item_id: TenderItemId,
    member_id: MemberId,
}

#[derive(Insertable)]
#[diesel(table_name = tender_invitations)]
#[diesel(check_for_backend(MultiBackend))]
struct InvitationRow {
    tender_id: TenderId,
    supplier_id: SupplierId,
    invited_at: DbTime,
}

/// The tenders `caller` may read.
fn visible(caller: &Caller) -> tenders::BoxedQuery<'static, MultiBackend> {
    let q = tenders::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => {
            q.filter(tenders::group_id.eq_any(led_group_ids(member_id)))
        }
        Principal::Officer { member_id } => {
            q.filter(tenders::group_id.eq_any(group_ids_of_member(member_id)))
        }
        Principal::Supplier { supplier_id } => {
            q.filter(tenders::status.ne(TenderStatus::Draft)).filter(
                tenders::id.eq_any(
                    tender_invitations::table
                        .filter(tender_invitations::supplier_id.eq(supplier_id))
                        .select(tender_invitations::tender_id),
                ),
            )
        }
    }
}

fn find(conn: &mut DbConn, caller: &Caller, id: TenderId) -> Result<TenderRow, ApiError> {
    visible(caller)
        .filter(tenders::id.eq(id))
        .select(TenderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("tender"))
}

/// The API view of `row` as of `now`; suppliers see neither the members' shares nor the
/// listed suppliers.
fn view(
    conn: &mut DbConn,
    caller: &Caller,
    row: TenderRow,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    let staff = !matches!(caller.principal, Principal::Supplier { .. });
    view_as(conn, staff, row, now)
}

/// The view of `row`, with the members' shares and listed suppliers when `staff`.
fn view_as(
    conn: &mut DbConn,
    staff: bool,
    row: TenderRow,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    let lots: Vec<LotRow> = tender_lots::table
        .filter(tender_lots::tender_id.eq(row.id))
        .order(tender_lots::number.asc())
        .select(LotRow::as_select())
        .load(conn)?;
    let lot_ids: Vec<TenderLotId> = lots.iter().map(|l| l.id).collect();
    let items: Vec<ItemRow> = tender_items::table
        .filter(tender_items::lot_id.eq_any(lot_ids))
        .order((tender_items::lot_id.asc(), tender_items::position.asc()))
        .select(ItemRow::as_select())
        .load(conn)?;
    let mut shares: HashMap<TenderItemId, Vec<ItemPart>> = HashMap::new();
    if staff {
        let item_ids: Vec<TenderItemId> = items.iter().map(|i| i.id).collect();
        let parts: Vec<PartRow> = tender_item_parts::table
            .filter(tender_item_parts::item_id.eq_any(item_ids.clone()))
            .select(PartRow::as_select())
            .load(conn)?;
        let needs: Vec<TenderNeedRow> = tender_needs::table
            .filter(tender_needs::item_id.eq_any(item_ids))
            .select(TenderNeedRow::as_select())
            .load(conn)?;
        let mut need_ids: BTreeMap<(TenderItemId, MemberId), Vec<NeedId>> = BTreeMap::new();
        for n in needs {
            need_ids
                .entry((n.item_id, n.member_id))
                .or_default()
                .push(n.need_id);
        }
        let members: Vec<MemberId> = parts.iter().map(|p| p.member_id).collect();
        let codes = crate::members::store::by_ids(conn, &members)?;
        for p in parts {
            let code = codes
                .get(&p.member_id)
                .map(|m| m.code.clone())
                .ok_or_else(|| {
                    ApiError::internal(format!("tender {} names an unknown member", row.id))
                })?;
            let mut ids = need_ids
                .remove(&(p.item_id, p.member_id))
                .unwrap_or_default();
            ids.sort();
            shares.entry(p.item_id).or_default().push(ItemPart {
                member_code: code,
                quantity: Quantity::from_stored(p.quantity.0),
                need_ids: ids,
            });
        }
        for list in shares.values_mut() {
            list.sort_by(|a, b| a.member_code.cmp(&b.member_code));
        }
    }
    let mut by_lot: HashMap<TenderLotId, Vec<Item>> = HashMap::new();
    for i in items {
        by_lot.entry(i.lot_id).or_default().push(Item {
            id: i.id,
            cpv: i.cpv,
            unit: i.unit,
            vat_rate: VatRate::from_stored(i.vat_rate.0.normalize()),
            quantity: Quantity::from_stored(i.quantity.0),
            members: staff.then(|| shares.remove(&i.id).unwrap_or_default()),
        });
    }
    let deadline = row.bid_deadline.get();
    Ok(Tender {
        id: row.id,
        group_id: row.group_id,
        campaign_id: row.campaign_id,
        reference: row.reference,
        title: row.title,
        procedure: row.procedure,
        bid_deadline: deadline,
        bid_deadline_local: crate::dates::paris_local(deadline),
        contract_months: u32::try_from(row.contract_months).unwrap_or(12),
        price_method: row.price_method,
        criteria: row.criteria.0,
        status: row.status.effective(deadline, now),
        cancel_reason: row.cancel_reason,
        published_at: row.published_at.map(DbTime::get),
        cancelled_at: row.cancelled_at.map(DbTime::get),
        created_at: row.created_at.get(),
        lots: lots
            .into_iter()
            .map(|l| Lot {
                id: l.id,
                number: u32::try_from(l.number).unwrap_or(0),
                title: l.title,
                status: l.status,
                items: by_lot.remove(&l.id).unwrap_or_default(),
            })
            .collect(),
        listed_suppliers: staff.then_some(row.listed_suppliers.0),
    })
}

/// What the journal keeps of a tender change (never a price or a bidder).
#[derive(Serialize)]
struct Journaled<'a> {
    reference: &'a str,
    status: TenderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    lots: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    needs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn journal(
    conn: &mut DbConn,
    lead: &Lead,
    action: Action,
    tender: &Tender,
    data: &Journaled<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action,
            entity_type: EntityType::Tender,
            entity_id: tender.id.0,
            group_id: Some(tender.group_id),
            data,
        },
        now,
    )
}

/// Creates a draft tender from the submitted needs of a closed campaign the lead runs, and
/// freezes the campaign. Needs that are unknown, not submitted, of another campaign or
/// already in a tender are 422 naming them; a taken reference is 409
/// `tender_reference_taken`.
pub fn insert(
    conn: &mut DbConn,
    lead: &Lead,
    new: &NewTender,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    let campaign = crate::campaigns::store::get_led(conn, lead.member, new.campaign_id, now)?;
    crate::campaigns::store::hold(conn, campaign.id, crate::campaigns::store::Hold::Exclusive)?;
    if campaign.status == crate::campaigns::domain::CampaignStatus::Open {
        return Err(ApiError::conflict(
            "campaign_open",
            "the campaign is still open: close it (or wait for its deadline) before making a tender of its needs",
        ));
    }
    let all: Vec<NeedId> = new
        .lots
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    let found: HashMap<NeedId, LotNeed> =
        crate::needs::store::submitted_for_tender(conn, lead, campaign.id, &all)?
            .into_iter()
            .map(|n| (n.id, n))
            .collect();
    let taken: BTreeSet<NeedId> = tender_needs::table
        .filter(tender_needs::need_id.eq_any(all.clone()))
        .select(tender_needs::need_id)
        .load(conn)?
        .into_iter()
        .collect();
    let mut errors = Vec::new();
    for (i, (_, ids)) in new.lots.iter().enumerate() {
        for (j, id) in ids.iter().enumerate() {
            let pointer = format!("/lots/{i}/need_ids/{j}");
            if taken.contains(id) {
                errors.push(FieldError::new(pointer, "is already in a lot of a tender"));
            } else if !found.contains_key(id) {
                errors.push(FieldError::new(
                    pointer,
                    "is not a submitted need of this campaign",
                ));
            }
        }
    }
    let known = crate::suppliers::store::existing(conn, &new.suppliers)?;
    for (k, s) in new.suppliers.iter().enumerate() {
        if !known.contains(s) {
            errors.push(FieldError::new(
                format!("/invited_suppliers/{k}"),
                "is not a supplier",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let row = TenderRow {
        id: TenderId::new(),
        group_id: campaign.group_id,
        campaign_id: campaign.id,
        reference: new.reference.clone(),
        title: new.title.clone(),
        procedure: new.procedure,
        bid_deadline: DbTime::new(new.bid_deadline),
        contract_months: i32::try_from(campaign.contract_months).unwrap_or(12),
        price_method: new.price_method,
        criteria: DbJson(new.criteria.clone()),
        listed_suppliers: DbJson(new.suppliers.clone()),
        status: TenderStatus::Draft,
        cancel_reason: None,
        published_at: None,
        cancelled_at: None,
        created_at: DbTime::new(now),
    };
    diesel::insert_into(tenders::table)
        .values(&row)
        .execute(conn)
        .on_unique("tenders_reference_key", || {
            ApiError::conflict(
                "tender_reference_taken",
                format!("a tender with reference {} already exists", new.reference),
            )
        })?;
    for (number, (title, ids)) in new.lots.iter().enumerate() {
        let lot = LotRow {
            id: TenderLotId::new(),
            tender_id: row.id,
            number: i32::try_from(number + 1).unwrap_or(i32::MAX),
            title: title.clone(),
            status: LotStatus::Active,
        };
        diesel::insert_into(tender_lots::table)
            .values(&lot)
            .execute(conn)?;
        let needs: Vec<LotNeed> = ids.iter().filter_map(|id| found.get(id).cloned()).collect();
        for (position, item) in build_items(&needs).into_iter().enumerate() {
            let item_row = ItemRow {
                id: TenderItemId::new(),
                lot_id: lot.id,
                position: i32::try_from(position + 1).unwrap_or(i32::MAX),
                cpv: item.cpv,
                unit: item.unit,
                vat_rate: DbDecimal(item.vat_rate.value()),
                quantity: DbDecimal(item.quantity),
            };
            diesel::insert_into(tender_items::table)
                .values(&item_row)
                .execute(conn)?;
            for (member_id, (quantity, need_ids)) in item.parts {
                diesel::insert_into(tender_item_parts::table)
                    .values(PartRow {
                        item_id: item_row.id,
                        member_id,
                        quantity: DbDecimal(quantity),
                    })
                    .execute(conn)?;
                for need_id in need_ids {
                    diesel::insert_into(tender_needs::table)
                        .values(TenderNeedRow {
                            need_id,
                            item_id: item_row.id,
                            member_id,
                        })
                        .execute(conn)?;
                }
            }
        }
    }
    crate::campaigns::store::freeze(conn, campaign.id)?;
    let tender = view(conn, &lead.caller, row, now)?;
    let data = Journaled {
        reference: &tender.reference,
        status: tender.status,
        lots: Some(tender.lots.len()),
        needs: Some(all.len()),
        reason: None,
    };
    journal(conn, lead, Action::TenderCreated, &tender, &data, now)?;
    Ok(tender)
}

/// A tender `caller` may read, or 404.
pub fn get(
    conn: &mut DbConn,
    caller: &Caller,
    id: TenderId,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    let row = find(conn, caller, id)?;
    view(conn, caller, row, now)
}

/// A **contracted** tender, for anyone (its open data, without the members' shares); 404
/// for any other.
pub fn get_public(conn: &mut DbConn, id: TenderId, now: DateTime<Utc>) -> Result<Tender, ApiError> {
    let row = tenders::table
        .filter(tenders::id.eq(id))
        .filter(tenders::status.eq(TenderStatus::Contracted))
        .select(TenderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("tender"))?;
    view_as(conn, false, row, now)
}

/// A tender in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TenderSummary {
    /// Id.
    pub id: TenderId,
    /// Group.
    pub group_id: GroupId,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Procedure.
    pub procedure: Procedure,
    /// Bid deadline (UTC).
    pub bid_deadline: DateTime<Utc>,
    /// Status as of the request.
    pub status: TenderStatus,
}

/// One page of the tenders `caller` may read.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    page: Page,
    now: DateTime<Utc>,
) -> Result<Vec<TenderSummary>, ApiError> {
    let rows: Vec<TenderRow> = keyset(
        visible(caller).select(TenderRow::as_select()),
        tenders::id,
        page,
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let deadline = r.bid_deadline.get();
            TenderSummary {
                id: r.id,
                group_id: r.group_id,
                reference: r.reference,
                title: r.title,
                procedure: r.procedure,
                bid_deadline: deadline,
                status: r.status.effective(deadline, now),
            }
        })
        .collect())
}

/// Publishes a draft tender: every member's convention signed (409 `convention_unsigned`
/// naming those that are not), the deadline at least the procedure's minimum away and, from
/// 2026-08-22, an environmental criterion (422); the needs become `consolidated`; the listed
/// suppliers and those whose CPV divisions match an item are invited, one mail per address,
/// in this transaction.
pub fn publish(
    conn: &mut DbConn,
    lead: &Lead,
    id: TenderId,
    procedures: &crate::config::ProceduresSettings,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    hold(conn, id, Hold::Exclusive)?;
    let row = find(conn, &lead.caller, id)?;
    let status = row.status.effective(row.bid_deadline.get(), now);
    if status != TenderStatus::Draft {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "only a draft tender can be published; this one is {}",
                crate::spelled::Spelled::spelling(&status)
            ),
        ));
    }
    let unsigned = crate::groups::store::unsigned_members(conn, row.group_id)?;
    if !unsigned.is_empty() {
        return Err(ApiError::conflict(
            "convention_unsigned",
            format!(
                "the group's convention is not signed by: {}",
                unsigned.join(", ")
            ),
        ));
    }
    let mut checks = crate::validate::Checks::new();
    let min_days = procedures.min_bid_days(row.procedure);
    if let Err(msg) = check_bid_deadline(row.bid_deadline.get(), now, min_days) {
        checks.add("/bid_deadline", msg);
    }
    check_criteria(
        &mut checks,
        &row.criteria.0,
        Some(crate::dates::paris_date(now)),
    );
    checks.finish()?;
    let mut row = row;
    row.status = TenderStatus::Published;
    row.published_at = Some(DbTime::new(now));
    let changed = diesel::update(
        tenders::table
            .filter(tenders::id.eq(id))
            .filter(tenders::status.eq(TenderStatus::Draft)),
    )
    .set((
        tenders::status.eq(row.status),
        tenders::published_at.eq(row.published_at),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "invalid_state",
            "the tender was published or cancelled meanwhile",
        ));
    }
    let tender = view(conn, &lead.caller, row, now)?;
    let need_ids: Vec<NeedId> = tender
        .lots
        .iter()
        .flat_map(|l| l.items.iter())
        .flat_map(|i| i.members.iter().flatten())
        .flat_map(|p| p.need_ids.iter().copied())
        .collect();
    let consolidated = crate::needs::store::consolidate(conn, &need_ids, now)?;
    if consolidated != need_ids.len() {
        return Err(ApiError::conflict(
            "needs_changed",
            "some needs of the tender are no longer submitted",
        ));
    }
    let mut divisions: Vec<String> = tender
        .lots
        .iter()
        .flat_map(|l| l.items.iter())
        .map(|i| i.cpv.chars().take(2).collect())
        .collect();
    divisions.sort();
    divisions.dedup();
    let listed = tender.listed_suppliers.clone().unwrap_or_default();
    let invitees = crate::suppliers::store::invitees(conn, &listed, &divisions)?;
    let group_name = crate::groups::store::name_of(conn, tender.group_id)?;
    for s in &invitees {
        diesel::insert_into(tender_invitations::table)
            .values(InvitationRow {
                tender_id: id,
                supplier_id: s.id,
                invited_at: DbTime::new(now),
            })
            .execute(conn)?;
        super::notices::enqueue_invitation(conn, &tender, &group_name, s, domain, now)?;
    }
    let data = Journaled {
        reference: &tender.reference,
        status: tender.status,
        lots: None,
        needs: Some(need_ids.len()),
        reason: None,
    };
    journal(conn, lead, Action::TenderPublished, &tender, &data, now)?;
    Ok(tender)
}

/// Declares a tender *sans suite* with `reason`, from any state before `contracted`; every
/// invited supplier is told, in this transaction.
pub fn cancel(
    conn: &mut DbConn,
    lead: &Lead,
    id: TenderId,
    reason: &str,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<Tender, ApiError> {
    hold(conn, id, Hold::Exclusive)?;
    let row = find(conn, &lead.caller, id)?;
    let status = row.status.effective(row.bid_deadline.get(), now);
    if !status.cancellable() {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "a {} tender cannot be cancelled",
                crate::spelled::Spelled::spelling(&status)
            ),
        ));
    }
    let stored = row.status;
    let mut row = row;
    row.status = TenderStatus::Cancelled;
    row.cancel_reason = Some(reason.to_owned());
    row.cancelled_at = Some(DbTime::new(now));
    let changed = diesel::update(
        tenders::table
            .filter(tenders::id.eq(id))
            .filter(tenders::status.eq(stored)),
    )
    .set((
        tenders::status.eq(row.status),
        tenders::cancel_reason.eq(row.cancel_reason.clone()),
        tenders::cancelled_at.eq(row.cancelled_at),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "invalid_state",
            "the tender changed meanwhile",
        ));
    }
    let open_lots: Vec<TenderLotId> = tender_lots::table
        .filter(tender_lots::tender_id.eq(id))
        .filter(tender_lots::status.eq_any([LotStatus::Active, LotStatus::Awarded]))
        .select(tender_lots::id)
        .load(conn)?;
    for lot in open_lots {
        diesel::update(tender_lots::table.filter(tender_lots::id.eq(lot)))
            .set(tender_lots::status.eq(LotStatus::Cancelled))
            .execute(conn)?;
        let needs = lot_needs(conn, lot)?;
        let (from, to) = need_move(LotStatus::Cancelled);
        crate::needs::store::follow_lot(conn, &needs, from, to, now)?;
    }
    let invited: Vec<SupplierId> = tender_invitations::table
        .filter(tender_invitations::tender_id.eq(id))
        .select(tender_invitations::supplier_id)
        .load(conn)?;
    let tender = view(conn, &lead.caller, row, now)?;
    let group_name = crate::groups::store::name_of(conn, tender.group_id)?;
    for s in crate::suppliers::store::by_ids(conn, &invited)? {
        super::notices::enqueue_cancellation(conn, &tender, &group_name, &s, domain, now)?;
    }
    let data = Journaled {
        reference: &tender.reference,
        status: tender.status,
        lots: None,
        needs: None,
        reason: Some(reason),
    };
    journal(conn, lead, Action::TenderCancelled, &tender, &data, now)?;
    Ok(tender)
}

pub use crate::db::Hold;

/// Holds tender `id` in `mode` for the rest of the caller's transaction: receiving a bid
/// holds it shared (many at once, not while the bids are being opened); publishing,
/// cancelling and reading the bids after the deadline hold it exclusively (the last waits
/// for the bids still being received).
pub fn hold(conn: &mut DbConn, id: TenderId, mode: Hold) -> QueryResult<()> {
    crate::db::lock_on_postgres(conn, |pg| {
        let row = tenders::table
            .filter(tenders::id.eq(id))
            .select(tenders::id);
        let _: Vec<TenderId> = match mode {
            Hold::Shared => row.for_share().load(pg)?,
            Hold::Exclusive => row.for_update().load(pg)?,
        };
        Ok(())
    })
}

/// A lot as bidding sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidLot {
    /// Tender.
    pub tender_id: TenderId,
    /// Its group.
    pub group_id: GroupId,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Bid deadline.
    pub deadline: DateTime<Utc>,
    /// Status as of `now`.
    pub status: TenderStatus,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Lot number.
    pub lot_number: u32,
    /// Lot title.
    pub lot_title: String,
    /// Items with their yearly quantities.
    pub items: Vec<(TenderItemId, Quantity)>,
    /// Procedure.
    pub procedure: Procedure,
    /// Award criteria.
    pub criteria: Vec<Criterion>,
    /// Price scoring method.
    pub price_method: PriceMethod,
    /// The lot's status.
    pub lot_status: LotStatus,
    /// Contract duration in months.
    pub contract_months: u32,
}

/// Lot `lot` of tender `tender` as `caller` may reach it (a supplier: only if invited and
/// published), or 404.
pub fn lot_for_bidding(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    now: DateTime<Utc>,
) -> Result<BidLot, ApiError> {
    let row = find(conn, caller, tender)?;
    let lot_row: LotRow = tender_lots::table
        .filter(tender_lots::id.eq(lot))
        .filter(tender_lots::tender_id.eq(tender))
        .select(LotRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("lot"))?;
    let items: Vec<ItemRow> = tender_items::table
        .filter(tender_items::lot_id.eq(lot))
        .order(tender_items::position.asc())
        .select(ItemRow::as_select())
        .load(conn)?;
    let deadline = row.bid_deadline.get();
    Ok(BidLot {
        tender_id: row.id,
        group_id: row.group_id,
        reference: row.reference,
        title: row.title,
        deadline,
        status: row.status.effective(deadline, now),
        lot_id: lot_row.id,
        lot_number: u32::try_from(lot_row.number).unwrap_or(0),
        lot_title: lot_row.title,
        items: items
            .into_iter()
            .map(|i| (i.id, Quantity::from_stored(i.quantity.0)))
            .collect(),
        procedure: row.procedure,
        criteria: row.criteria.0,
        price_method: row.price_method,
        lot_status: lot_row.status,
        contract_months: u32::try_from(row.contract_months).unwrap_or(12),
    })
}

/// An item of a lot with every member's quantity (for the contract's allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemShares {
    /// Item.
    pub item_id: TenderItemId,
    /// VAT rate.
    pub vat_rate: rust_decimal::Decimal,
    /// Each member's quantity: (member, code, quantity).
    pub members: Vec<(MemberId, String, rust_decimal::Decimal)>,
}

/// The items of lot `lot` (already reached through [`lot_for_bidding`]) with each member's
/// quantity, in item order.
pub fn lot_shares(conn: &mut DbConn, lot: TenderLotId) -> Result<Vec<ItemShares>, ApiError> {
    let items: Vec<ItemRow> = tender_items::table
        .filter(tender_items::lot_id.eq(lot))
        .order(tender_items::position.asc())
        .select(ItemRow::as_select())
        .load(conn)?;
    let ids: Vec<TenderItemId> = items.iter().map(|i| i.id).collect();
    let parts: Vec<PartRow> = tender_item_parts::table
        .filter(tender_item_parts::item_id.eq_any(ids))
        .select(PartRow::as_select())
        .load(conn)?;
    let members: Vec<MemberId> = parts.iter().map(|p| p.member_id).collect();
    let codes = crate::members::store::by_ids(conn, &members)?;
    let mut by_item: HashMap<TenderItemId, Vec<(MemberId, String, rust_decimal::Decimal)>> =
        HashMap::new();
    for p in parts {
        let code = codes
            .get(&p.member_id)
            .map(|m| m.code.clone())
            .ok_or_else(|| ApiError::internal(format!("lot {lot} names an unknown member")))?;
        by_item
            .entry(p.item_id)
            .or_default()
            .push((p.member_id, code, p.quantity.0));
    }
    Ok(items
        .into_iter()
        .map(|i| ItemShares {
            item_id: i.id,
            vat_rate: i.vat_rate.0.normalize(),
            members: by_item.remove(&i.id).unwrap_or_default(),
        })
        .collect())
}

/// The needs pooled in lot `lot`.
pub fn lot_needs(conn: &mut DbConn, lot: TenderLotId) -> QueryResult<Vec<NeedId>> {
    tender_needs::table
        .inner_join(tender_items::table)
        .filter(tender_items::lot_id.eq(lot))
        .select(tender_needs::need_id)
        .load(conn)
}

/// The needs pooled in lot `lot` with their member.
pub fn lot_needs_by_member(
    conn: &mut DbConn,
    lot: TenderLotId,
) -> QueryResult<Vec<(MemberId, NeedId)>> {
    tender_needs::table
        .inner_join(tender_items::table)
        .filter(tender_items::lot_id.eq(lot))
        .select((tender_needs::member_id, tender_needs::need_id))
        .load(conn)
}

/// Marks an opened tender `evaluated` (the first score recorded); any later status stays.
pub fn mark_evaluated(conn: &mut DbConn, tender: TenderId) -> QueryResult<()> {
    diesel::update(
        tenders::table
            .filter(tenders::id.eq(tender))
            .filter(tenders::status.eq(TenderStatus::Published)),
    )
    .set(tenders::status.eq(TenderStatus::Evaluated))
    .execute(conn)
    .map(|_| ())
}

/// Moves lot `lot` of `tender` from one of `from` to `to` (409 `invalid_state` if it is in
/// none: a concurrent change won), its needs with it, and the tender's status on: `awarded`
/// once every lot is awarded, unsuccessful, cancelled or contracted; `contracted` once every
/// lot is contracted, unsuccessful or cancelled (at least one contracted). The caller holds
/// the tender exclusively.
pub fn move_lot(
    conn: &mut DbConn,
    tender: TenderId,
    lot: TenderLotId,
    from: &[LotStatus],
    to: LotStatus,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let changed = diesel::update(
        tender_lots::table
            .filter(tender_lots::id.eq(lot))
            .filter(tender_lots::tender_id.eq(tender))
            .filter(tender_lots::status.eq_any(from.to_vec())),
    )
    .set(tender_lots::status.eq(to))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "invalid_state",
            "the lot changed meanwhile",
        ));
    }
    let needs = lot_needs(conn, lot)?;
    let (need_from, need_to) = need_move(to);
    crate::needs::store::follow_lot(conn, &needs, need_from, need_to, now)?;
    settle(conn, tender)?;
    Ok(())
}

fn need_move(
    to: LotStatus,
) -> (
    &'static [crate::needs::domain::NeedStatus],
    crate::needs::domain::NeedStatus,
) {
    use crate::needs::domain::NeedStatus as N;
    match to {
        LotStatus::Active => (&[N::Awarded], N::Consolidated),
        LotStatus::Awarded => (&[N::Consolidated], N::Awarded),
        LotStatus::Contracted => (&[N::Awarded], N::Contracted),
        LotStatus::Unsuccessful => (&[N::Consolidated, N::Awarded], N::Unsuccessful),
        LotStatus::Cancelled => (&[N::Consolidated, N::Awarded], N::Cancelled),
    }
}

/// Moves the tender's status on from its lots' statuses.
fn settle(conn: &mut DbConn, tender: TenderId) -> QueryResult<()> {
    let lots: Vec<LotStatus> = tender_lots::table
        .filter(tender_lots::tender_id.eq(tender))
        .select(tender_lots::status)
        .load(conn)?;
    let done = |s: &LotStatus| {
        matches!(
            s,
            LotStatus::Awarded
                | LotStatus::Contracted
                | LotStatus::Unsuccessful
                | LotStatus::Cancelled
        )
    };
    let last = |s: &LotStatus| {
        matches!(
            s,
            LotStatus::Contracted | LotStatus::Unsuccessful | LotStatus::Cancelled
        )
    };
    let to = if lots.iter().all(last) && lots.contains(&LotStatus::Contracted) {
        TenderStatus::Contracted
    } else if lots.iter().all(done) {
        TenderStatus::Awarded
    } else {
        TenderStatus::Evaluated
    };
    diesel::update(
        tenders::table
            .filter(tenders::id.eq(tender))
            .filter(tenders::status.eq_any([
                TenderStatus::Published,
                TenderStatus::Evaluated,
                TenderStatus::Awarded,
            ])),
    )
    .set(tenders::status.eq(to))
    .execute(conn)
    .map(|_| ())
}
