//! Shared costs of a group and its coordinator fee, split among its members by a key with the
//! allocation's largest remainder rule; savings per member and group. Reads and writes take
//! the caller's scope: the group must be visible to it (`groups::store::get`), an officer
//! sees its own member's figures only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::allocation::{split, Claimant, Share, SplitError};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead, Principal};
use crate::db::types::{DbDecimal, DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{round_half_up, Amount};
use crate::error::ApiError;
use crate::groups::domain::{CostSharingKey, Group};
use crate::ids::{GroupId, MemberId, SharedCostId};
use crate::pagination::{keyset, Page};
use crate::schema::shared_costs;
use crate::validate::Checks;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = shared_costs)]
#[diesel(check_for_backend(MultiBackend))]
struct CostRow {
    id: SharedCostId,
    group_id: GroupId,
    label: String,
    amount: DbDecimal,
    key: CostSharingKey,
    shares: DbJson<Vec<Share>>,
    created_at: DbTime,
}

/// Body of `POST /api/v1/groups/{id}/shared-costs`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSharedCost {
    /// What it is (procedure costs, publication fees, a consultant…), 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    /// Amount to split, e.g. `"1500.00"`.
    pub amount: Amount,
    /// Sharing key; default: the group's.
    #[serde(default)]
    pub key: Option<CostSharingKey>,
}

/// One member's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CostShare {
    /// Member code.
    pub member_code: String,
    /// Its share, 2 decimals.
    #[schema(value_type = String, example = "33.34")]
    pub amount: String,
    /// How it was obtained (weight, exact share, truncation, remainder, rank, tie-break).
    pub proof: Share,
}

/// A shared cost and its split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SharedCost {
    /// Id.
    pub id: SharedCostId,
    /// Group.
    pub group_id: GroupId,
    /// Label.
    pub label: String,
    /// Amount split.
    pub amount: Amount,
    /// Key used.
    pub key: CostSharingKey,
    /// Shares by member code.
    pub shares: Vec<CostShare>,
    /// When recorded.
    pub created_at: DateTime<Utc>,
}

fn cost_view(r: CostRow) -> SharedCost {
    SharedCost {
        id: r.id,
        group_id: r.group_id,
        label: r.label,
        amount: Amount::from_stored(r.amount.0),
        key: r.key,
        shares: shares_view(r.shares.0),
        created_at: r.created_at.get(),
    }
}

fn shares_view(shares: Vec<Share>) -> Vec<CostShare> {
    shares
        .into_iter()
        .map(|s| CostShare {
            member_code: s.code.clone(),
            amount: crate::decimal::fixed(s.amount, 2),
            proof: s,
        })
        .collect()
}

/// Each member's weight under `key` (equal: 1; dwellings; awarded value: its contracted HT
/// in the group).
fn weights(
    conn: &mut DbConn,
    group: &Group,
    key: CostSharingKey,
) -> Result<Vec<Claimant>, ApiError> {
    let contracted = match key {
        CostSharingKey::AwardedValue => {
            let by_id = crate::contracts::store::contracted_by_member(conn, group.id)?;
            let codes =
                crate::members::store::by_ids(conn, &by_id.keys().copied().collect::<Vec<_>>())?;
            by_id
                .into_iter()
                .filter_map(|(id, v)| codes.get(&id).map(|m| (m.code.clone(), v)))
                .collect::<HashMap<String, Decimal>>()
        }
        _ => HashMap::new(),
    };
    Ok(group
        .members
        .iter()
        .map(|m| {
            let w = match key {
                CostSharingKey::Equal => Decimal::ONE,
                CostSharingKey::Dwellings => Decimal::from(m.dwellings),
                CostSharingKey::AwardedValue => {
                    contracted.get(&m.member_code).copied().unwrap_or_default()
                }
            };
            Claimant::new(m.member_code.clone(), w)
        })
        .collect())
}

fn split_or_422(
    amount: Decimal,
    claimants: &[Claimant],
    key: CostSharingKey,
) -> Result<Vec<Share>, ApiError> {
    split(amount, claimants).map_err(|e| match e {
        SplitError::NoWeight => ApiError::validation(vec![crate::error::FieldError::new(
            "/key",
            match key {
                CostSharingKey::AwardedValue => "no member has a contracted value yet",
                CostSharingKey::Dwellings => "no member has any dwellings",
                CostSharingKey::Equal => "the group has no member",
            },
        )]),
        other => ApiError::internal(other),
    })
}

/// Splits a shared cost among the members of group `id` (the lead of its coordinator).
pub fn create(
    conn: &mut DbConn,
    lead: &Lead,
    id: GroupId,
    input: &NewSharedCost,
    now: DateTime<Utc>,
) -> Result<SharedCost, ApiError> {
    let mut c = Checks::new();
    let label = c.line("/label", &input.label, 1, 200);
    c.finish()?;
    let group = crate::groups::store::get(conn, &lead.caller, id)?;
    let key = input.key.unwrap_or(group.cost_sharing_key);
    let claimants = weights(conn, &group, key)?;
    let shares = split_or_422(input.amount.value(), &claimants, key)?;
    let row = CostRow {
        id: SharedCostId::new(),
        group_id: id,
        label,
        amount: DbDecimal(input.amount.value()),
        key,
        shares: DbJson(shares),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(shared_costs::table)
        .values(&row)
        .execute(conn)?;
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::SharedCostCreated,
            entity_type: EntityType::SharedCost,
            entity_id: row.id.0,
            group_id: Some(id),
            data: &serde_json::json!({
                "label": row.label,
                "amount": input.amount,
                "key": key,
                "shares": row.shares.0.iter().map(|s| serde_json::json!({
                    "member_code": s.code, "amount": crate::decimal::fixed(s.amount, 2)
                })).collect::<Vec<_>>(),
            }),
        },
        now,
    )?;
    Ok(cost_view(row))
}

/// One page of group `id`'s shared costs (its lead).
pub fn list(
    conn: &mut DbConn,
    lead: &Lead,
    id: GroupId,
    page: Page,
) -> Result<Vec<SharedCost>, ApiError> {
    crate::groups::store::get(conn, &lead.caller, id)?;
    let rows: Vec<CostRow> = keyset(
        shared_costs::table
            .filter(shared_costs::group_id.eq(id))
            .into_boxed()
            .select(CostRow::as_select()),
        shared_costs::id,
        page,
    )
    .load(conn)?;
    Ok(rows.into_iter().map(cost_view).collect())
}

/// Estimated against contracted values, for one member or the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SavingsLine {
    /// Member code (none for the group's line).
    pub member_code: Option<String>,
    /// Estimated yearly value of its needs in contracted lots (Σ quantity × estimated price).
    #[schema(value_type = String)]
    pub estimated_yearly: String,
    /// Contracted yearly HT (its parts).
    #[schema(value_type = String)]
    pub contracted_yearly: String,
    /// Estimated − contracted, yearly.
    #[schema(value_type = String)]
    pub savings_yearly: String,
    /// Savings in percent of the estimate (2 decimals), when there is an estimate.
    #[schema(value_type = Option<String>)]
    pub savings_percent: Option<String>,
    /// The same over each contract's duration (yearly × months / 12, to the cent).
    #[schema(value_type = String)]
    pub estimated_over_duration: String,
    /// Contracted over the durations.
    #[schema(value_type = String)]
    pub contracted_over_duration: String,
    /// Savings over the durations.
    #[schema(value_type = String)]
    pub savings_over_duration: String,
}

/// The coordinator fee: the group's percent of its contracted value over the contracts'
/// durations, split by the group's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CoordinatorFee {
    /// Percent.
    #[schema(value_type = String)]
    pub percent: String,
    /// Contracted HT over the durations.
    #[schema(value_type = String)]
    pub base: String,
    /// round_half_up(base × percent / 100, 2).
    #[schema(value_type = String)]
    pub amount: String,
    /// Key.
    pub key: CostSharingKey,
    /// Shares with their proof.
    pub shares: Vec<CostShare>,
}

/// `GET /api/v1/groups/{id}/savings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Savings {
    /// Group.
    pub group_id: GroupId,
    /// Per member (an officer: its own).
    pub members: Vec<SavingsLine>,
    /// The whole group (the lead only).
    pub group: Option<SavingsLine>,
    /// The coordinator fee (the lead only, when the group has one).
    pub coordinator_fee: Option<CoordinatorFee>,
}

#[derive(Default, Clone, Copy)]
struct Sums {
    est_y: Decimal,
    con_y: Decimal,
    est_d: Decimal,
    con_d: Decimal,
}

fn line(code: Option<String>, s: Sums) -> SavingsLine {
    let m = |v: Decimal| crate::decimal::fixed(v, 2);
    SavingsLine {
        member_code: code,
        estimated_yearly: m(s.est_y),
        contracted_yearly: m(s.con_y),
        savings_yearly: m(s.est_y - s.con_y),
        savings_percent: (!s.est_y.is_zero()).then(|| {
            crate::decimal::fixed(
                round_half_up((s.est_y - s.con_y) * Decimal::ONE_HUNDRED / s.est_y, 2),
                2,
            )
        }),
        estimated_over_duration: m(s.est_d),
        contracted_over_duration: m(s.con_d),
        savings_over_duration: m(s.est_d - s.con_d),
    }
}

fn over(months: u32, yearly: Decimal) -> Decimal {
    round_half_up(yearly * Decimal::from(months) / Decimal::from(12), 2)
}

/// Savings of group `id`'s contracts: per member (an officer: its own only), the group and
/// the coordinator fee (the lead).
pub fn savings(conn: &mut DbConn, caller: &Caller, id: GroupId) -> Result<Savings, ApiError> {
    let group = crate::groups::store::get(conn, caller, id)?;
    let only = match caller.principal {
        Principal::Officer { member_id } => Some(member_id),
        _ => None,
    };
    let parts = crate::contracts::store::parts_of_group(conn, id, only)?;
    let mut sums: HashMap<MemberId, Sums> = HashMap::new();
    let mut lots: Vec<(crate::ids::TenderLotId, u32)> = parts
        .iter()
        .map(|p| (p.lot_id, p.contract_months))
        .collect();
    lots.sort();
    lots.dedup();
    for p in &parts {
        let e = sums.entry(p.member_id).or_default();
        e.con_y += p.total_ht;
        e.con_d += over(p.contract_months, p.total_ht);
    }
    for (lot, months) in lots {
        let needs: Vec<crate::ids::NeedId> = crate::tenders::store::lot_needs_by_member(conn, lot)?
            .into_iter()
            .filter(|(m, _)| only.is_none_or(|o| o == *m))
            .map(|(_, n)| n)
            .collect();
        let mut per_member: HashMap<MemberId, Decimal> = HashMap::new();
        for (m, v) in crate::needs::store::estimated_values(conn, &needs)? {
            *per_member.entry(m).or_default() += v;
        }
        for (m, v) in per_member {
            let e = sums.entry(m).or_default();
            e.est_y += v;
            e.est_d += over(months, v);
        }
    }
    let codes = crate::members::store::by_ids(conn, &sums.keys().copied().collect::<Vec<_>>())?;
    let mut members: Vec<SavingsLine> = sums
        .iter()
        .filter_map(|(id, s)| codes.get(id).map(|m| line(Some(m.code.clone()), *s)))
        .collect();
    members.sort_by(|a, b| a.member_code.cmp(&b.member_code));
    if only.is_some() {
        return Ok(Savings {
            group_id: id,
            members,
            group: None,
            coordinator_fee: None,
        });
    }
    let total = sums.values().fold(Sums::default(), |a, s| Sums {
        est_y: a.est_y + s.est_y,
        con_y: a.con_y + s.con_y,
        est_d: a.est_d + s.est_d,
        con_d: a.con_d + s.con_d,
    });
    let pct = group.coordinator_fee_percent.value();
    let coordinator_fee = if pct.is_zero() || total.con_d.is_zero() {
        None
    } else {
        let amount = round_half_up(total.con_d * pct / Decimal::ONE_HUNDRED, 2);
        let key = group.cost_sharing_key;
        let claimants = weights(conn, &group, key)?;
        // A key with no weight (no dwellings recorded) leaves the fee unsplit: not an error
        // of this read.
        split(amount, &claimants).ok().map(|shares| CoordinatorFee {
            percent: pct.normalize().to_string(),
            base: crate::decimal::fixed(total.con_d, 2),
            amount: crate::decimal::fixed(amount, 2),
            key,
            shares: shares_view(shares),
        })
    };
    Ok(Savings {
        group_id: id,
        members,
        group: Some(line(None, total)),
        coordinator_fee,
    })
}
