//! Contract queries. Reads put the caller's scope in the SQL: the lead sees its groups'
//! contracts, an officer only contracts where its member has a part and only that part, an
//! admin all; anything else is 404. Making a contract holds the tender exclusively.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::allocation::{allocate_contract, Claimant, ItemInput, ItemTotal, MemberPart};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead, Principal};
use crate::db::types::{DbDecimal, DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, OnUnique};
use crate::groups::store::led_group_ids;
use crate::ids::{AwardId, ContractId, GroupId, MemberId, SupplierId, TenderId, TenderLotId};
use crate::schema::{contract_parts, contracts};
use crate::tenders::domain::{LotStatus, TenderStatus};
use crate::tenders::store::{hold, lot_for_bidding, lot_shares, move_lot, Hold};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = contracts)]
#[diesel(check_for_backend(MultiBackend))]
struct ContractRow {
    id: ContractId,
    tender_id: TenderId,
    lot_id: TenderLotId,
    award_id: AwardId,
    group_id: GroupId,
    supplier_id: SupplierId,
    total_ht: DbDecimal,
    contract_months: i32,
    items: DbJson<Vec<ItemTotal>>,
    created_at: DbTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = contract_parts)]
#[diesel(check_for_backend(MultiBackend))]
struct PartRow {
    contract_id: ContractId,
    member_id: MemberId,
    total_ht: DbDecimal,
    total_vat: DbDecimal,
    total_ttc: DbDecimal,
    detail: DbJson<MemberPart>,
}

/// A contract as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Contract {
    /// Id.
    pub id: ContractId,
    /// Tender.
    pub tender_id: TenderId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// The award it executes.
    pub award_id: AwardId,
    /// Group.
    pub group_id: GroupId,
    /// Contractor.
    pub supplier_id: SupplierId,
    /// Contractor's legal name.
    pub supplier_name: String,
    /// The lot's awarded total HT (Σ item totals = Σ member parts), 2 decimals; for an
    /// officer, its own part's.
    #[schema(value_type = String, example = "1234.50")]
    pub total_ht: String,
    /// Duration in months.
    pub contract_months: u32,
    /// Item totals, rule step 1: round_half_up(Σ member quantities × unit price, 2) (empty
    /// for an officer: they would tell the other members' quantities).
    pub items: Vec<ItemTotal>,
    /// Member parts with their VAT, lines and allocation proof (an officer: its own only).
    pub parts: Vec<MemberPart>,
    /// When made.
    pub created_at: DateTime<Utc>,
}

/// The contracts `caller` may read.
fn visible(caller: &Caller) -> contracts::BoxedQuery<'static, MultiBackend> {
    let q = contracts::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => {
            q.filter(contracts::group_id.eq_any(led_group_ids(member_id)))
        }
        Principal::Officer { member_id } => q.filter(
            contracts::id.eq_any(
                contract_parts::table
                    .filter(contract_parts::member_id.eq(member_id))
                    .select(contract_parts::contract_id),
            ),
        ),
        Principal::Supplier { .. } => q.filter(contracts::id.is_null()),
    }
}

/// The parts of `contract` `caller` may read (an officer: its member's only).
fn visible_parts(
    conn: &mut DbConn,
    caller: &Caller,
    contract: ContractId,
) -> QueryResult<Vec<MemberPart>> {
    let mut q = contract_parts::table
        .filter(contract_parts::contract_id.eq(contract))
        .into_boxed();
    if let Principal::Officer { member_id } = caller.principal {
        q = q.filter(contract_parts::member_id.eq(member_id));
    }
    let mut parts: Vec<MemberPart> = q
        .select(PartRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|p| p.detail.0)
        .collect();
    parts.sort_by(|a, b| a.member_code.cmp(&b.member_code));
    Ok(parts)
}

fn view(conn: &mut DbConn, caller: &Caller, row: ContractRow) -> Result<Contract, ApiError> {
    let parts = visible_parts(conn, caller, row.id)?;
    let supplier_name = crate::suppliers::store::by_ids(conn, &[row.supplier_id])?
        .into_iter()
        .next()
        .map(|s| s.legal_name)
        .unwrap_or_default();
    // An officer sees its own part only: neither the lot's total nor its item quantities,
    // from which the other members' parts could be worked out.
    let (total_ht, items) = match caller.principal {
        Principal::Officer { .. } => (
            parts
                .iter()
                .map(|p| p.total_ht)
                .sum::<rust_decimal::Decimal>(),
            Vec::new(),
        ),
        _ => (row.total_ht.0, row.items.0),
    };
    Ok(Contract {
        id: row.id,
        tender_id: row.tender_id,
        lot_id: row.lot_id,
        award_id: row.award_id,
        group_id: row.group_id,
        supplier_id: row.supplier_id,
        supplier_name,
        total_ht: crate::decimal::fixed(total_ht, 2),
        contract_months: u32::try_from(row.contract_months).unwrap_or(12),
        items,
        parts,
        created_at: row.created_at.get(),
    })
}

/// A contract `caller` may read, or 404.
pub fn get(conn: &mut DbConn, caller: &Caller, id: ContractId) -> Result<Contract, ApiError> {
    let row = visible(caller)
        .filter(contracts::id.eq(id))
        .select(ContractRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("contract"))?;
    view(conn, caller, row)
}

/// Makes the contract of an awarded lot once its standstill is over (409
/// `notices_pending` / `standstill_running` before): one part per member with quantities,
/// allocated by the largest remainder rule; the lot, its needs and the award become
/// `contracted`; each member's contact is mailed its part, in this transaction.
pub fn create(
    conn: &mut DbConn,
    lead: &Lead,
    tender: TenderId,
    lot: TenderLotId,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<Contract, ApiError> {
    lot_for_bidding(conn, &lead.caller, tender, lot, now)?;
    hold(conn, tender, Hold::Exclusive)?;
    let ctx = lot_for_bidding(conn, &lead.caller, tender, lot, now)?;
    if ctx.status == TenderStatus::Cancelled || ctx.lot_status != LotStatus::Awarded {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "only an awarded lot can be contracted; this one is {}",
                crate::spelled::Spelled::spelling(&ctx.lot_status)
            ),
        ));
    }
    let (award_id, bid_id, supplier_id) = crate::awards::store::ready_to_contract(conn, lot, now)?;
    let shares = lot_shares(conn, lot)?;
    let prices = crate::bids::store::prices_of(conn, bid_id)?;
    let mut codes: HashMap<String, MemberId> = HashMap::new();
    let mut inputs = Vec::with_capacity(shares.len());
    for item in &shares {
        let unit_price = *prices.get(&item.item_id).ok_or_else(|| {
            ApiError::internal(format!(
                "bid {bid_id} has no price for item {}",
                item.item_id
            ))
        })?;
        inputs.push(ItemInput {
            item_id: item.item_id,
            vat_rate: item.vat_rate,
            unit_price,
            members: item
                .members
                .iter()
                .map(|(id, code, q)| {
                    codes.insert(code.clone(), *id);
                    Claimant::new(code.clone(), *q)
                })
                .collect(),
        });
    }
    let allocation = allocate_contract(&inputs).map_err(ApiError::internal)?;
    let row = ContractRow {
        id: ContractId::new(),
        tender_id: tender,
        lot_id: lot,
        award_id,
        group_id: ctx.group_id,
        supplier_id,
        total_ht: DbDecimal(allocation.total_ht),
        contract_months: i32::try_from(ctx.contract_months).unwrap_or(12),
        items: DbJson(allocation.items.clone()),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(contracts::table)
        .values(&row)
        .execute(conn)
        .on_unique("contracts_lot_key", || {
            ApiError::conflict("invalid_state", "the lot is already contracted")
        })?;
    let members =
        crate::members::store::by_ids(conn, &codes.values().copied().collect::<Vec<_>>())?;
    let group_name = crate::groups::store::name_of(conn, ctx.group_id)?;
    let supplier_name = crate::suppliers::store::by_ids(conn, &[supplier_id])?
        .into_iter()
        .next()
        .map(|s| s.legal_name)
        .unwrap_or_default();
    for part in &allocation.parts {
        let member_id = *codes
            .get(&part.member_code)
            .ok_or_else(|| ApiError::internal("a part names an unknown member"))?;
        diesel::insert_into(contract_parts::table)
            .values(PartRow {
                contract_id: row.id,
                member_id,
                total_ht: DbDecimal(part.total_ht),
                total_vat: DbDecimal(part.total_vat),
                total_ttc: DbDecimal(part.total_ttc),
                detail: DbJson(part.clone()),
            })
            .execute(conn)?;
        if let Some(m) = members.get(&member_id) {
            super::notices::enqueue_ready(
                conn,
                &super::notices::ContractReady {
                    lot: crate::tenders::notices::TenderLot {
                        group_name: group_name.clone(),
                        tender_reference: ctx.reference.clone(),
                        tender_title: ctx.title.clone(),
                        lot_number: ctx.lot_number,
                        lot_title: ctx.lot_title.clone(),
                    },
                    supplier_name: supplier_name.clone(),
                    member_name: m.legal_name.clone(),
                    total_ht: crate::decimal::Amount::from_stored(part.total_ht),
                    total_ttc: crate::decimal::Amount::from_stored(part.total_ttc),
                },
                &m.contact_email,
                &format!("contract_ready:{}:{}", row.id, m.code),
                domain,
                now,
            )?;
        }
    }
    crate::awards::store::mark_contracted(conn, award_id)?;
    move_lot(
        conn,
        tender,
        lot,
        &[LotStatus::Awarded],
        LotStatus::Contracted,
        now,
    )?;
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::ContractCreated,
            entity_type: EntityType::Contract,
            entity_id: row.id.0,
            group_id: Some(ctx.group_id),
            data: &serde_json::json!({
                "lot_id": lot,
                "supplier_id": supplier_id,
                "total_ht": crate::decimal::fixed(allocation.total_ht, 2),
                "parts": allocation.parts.iter().map(|p| serde_json::json!({
                    "member_code": p.member_code,
                    "total_ht": crate::decimal::fixed(p.total_ht, 2),
                })).collect::<Vec<_>>(),
            }),
        },
        now,
    )?;
    view(conn, &lead.caller, row)
}

/// Contracted value HT of each member of group `group` (Σ of its parts), for the
/// `awarded_value` key and savings; no caller scope (the caller scoped the group).
pub fn contracted_by_member(
    conn: &mut DbConn,
    group: GroupId,
) -> QueryResult<HashMap<MemberId, rust_decimal::Decimal>> {
    let rows: Vec<(MemberId, DbDecimal)> = contract_parts::table
        .inner_join(contracts::table)
        .filter(contracts::group_id.eq(group))
        .select((contract_parts::member_id, contract_parts::total_ht))
        .load(conn)?;
    let mut out: HashMap<MemberId, rust_decimal::Decimal> = HashMap::new();
    for (m, v) in rows {
        *out.entry(m).or_default() += v.0;
    }
    Ok(out)
}

/// One member's part of one contract of a group, for savings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFigures {
    /// Lot.
    pub lot_id: TenderLotId,
    /// Member.
    pub member_id: MemberId,
    /// Its yearly HT.
    pub total_ht: rust_decimal::Decimal,
    /// Contract duration in months.
    pub contract_months: u32,
}

/// The member parts of group `group`'s contracts (only `member`'s when given).
pub fn parts_of_group(
    conn: &mut DbConn,
    group: GroupId,
    member: Option<MemberId>,
) -> QueryResult<Vec<PartFigures>> {
    let mut q = contract_parts::table
        .inner_join(contracts::table)
        .filter(contracts::group_id.eq(group))
        .into_boxed();
    if let Some(m) = member {
        q = q.filter(contract_parts::member_id.eq(m));
    }
    let rows: Vec<(TenderLotId, MemberId, DbDecimal, i32)> = q
        .select((
            contracts::lot_id,
            contract_parts::member_id,
            contract_parts::total_ht,
            contracts::contract_months,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(lot_id, member_id, ht, months)| PartFigures {
            lot_id,
            member_id,
            total_ht: ht.0,
            contract_months: u32::try_from(months).unwrap_or(12),
        })
        .collect())
}

/// A contract as the exports read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSummary {
    /// Contract.
    pub id: ContractId,
    /// Tender.
    pub tender_id: TenderId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Award.
    pub award_id: AwardId,
    /// Contractor.
    pub supplier_id: SupplierId,
    /// Lot total HT.
    pub total_ht: rust_decimal::Decimal,
    /// Duration in months.
    pub months: u32,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Member parts: (member, HT).
    pub parts: Vec<(MemberId, rust_decimal::Decimal)>,
}

fn summaries(
    conn: &mut DbConn,
    rows: Vec<ContractRow>,
    member: Option<MemberId>,
) -> QueryResult<Vec<ContractSummary>> {
    let ids: Vec<ContractId> = rows.iter().map(|r| r.id).collect();
    let mut q = contract_parts::table
        .filter(contract_parts::contract_id.eq_any(ids))
        .into_boxed();
    if let Some(m) = member {
        q = q.filter(contract_parts::member_id.eq(m));
    }
    let parts: Vec<(ContractId, MemberId, DbDecimal)> = q
        .select((
            contract_parts::contract_id,
            contract_parts::member_id,
            contract_parts::total_ht,
        ))
        .load(conn)?;
    let mut by: HashMap<ContractId, Vec<(MemberId, rust_decimal::Decimal)>> = HashMap::new();
    for (c, m, v) in parts {
        by.entry(c).or_default().push((m, v.0));
    }
    Ok(rows
        .into_iter()
        .map(|r| ContractSummary {
            id: r.id,
            tender_id: r.tender_id,
            lot_id: r.lot_id,
            award_id: r.award_id,
            supplier_id: r.supplier_id,
            total_ht: r.total_ht.0,
            months: u32::try_from(r.contract_months).unwrap_or(12),
            created_at: r.created_at.get(),
            parts: by.remove(&r.id).unwrap_or_default(),
        })
        .collect())
}

/// The contracts of tender `tender` (every part; for exports, the caller scoped the tender).
pub fn of_tender(conn: &mut DbConn, tender: TenderId) -> QueryResult<Vec<ContractSummary>> {
    let rows: Vec<ContractRow> = contracts::table
        .filter(contracts::tender_id.eq(tender))
        .order(contracts::created_at.asc())
        .select(ContractRow::as_select())
        .load(conn)?;
    summaries(conn, rows, None)
}

/// Contract `id` as `caller` may read it (an officer: its member's part only), or 404.
pub fn summary(
    conn: &mut DbConn,
    caller: &Caller,
    id: ContractId,
) -> Result<ContractSummary, ApiError> {
    let row = visible(caller)
        .filter(contracts::id.eq(id))
        .select(ContractRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("contract"))?;
    let member = match caller.principal {
        Principal::Officer { member_id } => Some(member_id),
        _ => None,
    };
    summaries(conn, vec![row], member)?
        .pop()
        .ok_or_else(|| ApiError::not_found("contract"))
}

/// Every contract made at or after `since` and before `until` (the yearly DECP file; the
/// CLI, run by the operator).
pub fn made_between(
    conn: &mut DbConn,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> QueryResult<Vec<ContractSummary>> {
    let mut q = contracts::table
        .filter(contracts::created_at.ge(DbTime::new(since)))
        .into_boxed();
    if let Some(end) = until {
        q = q.filter(contracts::created_at.lt(DbTime::new(end)));
    }
    let rows: Vec<ContractRow> = q
        .order(contracts::created_at.asc())
        .select(ContractRow::as_select())
        .load(conn)?;
    summaries(conn, rows, None)
}
