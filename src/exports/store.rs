//! Gathers what the exports need through the other features' public functions, within the
//! caller's scope (the lead: its groups' tenders; an officer: its member's contract parts;
//! anyone: a contracted tender's open data). Bids are read only from the deadline on.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::comparison::{self, Comparison};
use super::decp;
use super::ocds::{self, AwardRecord, BidRecord, ContractRecord, PartRecord, TenderRecord};
use crate::auth::{Caller, Principal};
use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::evaluation::domain::AbnormalRule;
use crate::ids::{ContractId, MemberId, SupplierId, TenderId, TenderLotId};
use crate::members::domain::Member;
use crate::spelled::Spelled;
use crate::suppliers::domain::Supplier;
use crate::tenders::domain::Tender;

/// What the OCDS export needs from the configuration.
#[derive(Debug, Clone)]
pub struct OcdsSettings {
    /// ocid prefix.
    pub ocid_prefix: String,
    /// Base URL of the service, for the package's `uri`.
    pub public_base_url: String,
}

fn members(conn: &mut DbConn, ids: &[MemberId]) -> Result<HashMap<MemberId, Member>, ApiError> {
    Ok(crate::members::store::by_ids(conn, ids)?)
}

fn suppliers(
    conn: &mut DbConn,
    ids: &[SupplierId],
) -> Result<HashMap<SupplierId, Supplier>, ApiError> {
    Ok(crate::suppliers::store::full_by_ids(conn, ids)?
        .into_iter()
        .map(|s| (s.id, s))
        .collect())
}

fn contract_records(
    conn: &mut DbConn,
    list: Vec<crate::contracts::store::ContractSummary>,
) -> Result<Vec<ContractRecord>, ApiError> {
    let ids: Vec<MemberId> = list
        .iter()
        .flat_map(|c| c.parts.iter().map(|(m, _)| *m))
        .collect();
    let by_id = members(conn, &ids)?;
    Ok(list
        .into_iter()
        .map(|c| {
            let mut parts: Vec<PartRecord> = c
                .parts
                .iter()
                .filter_map(|(m, v)| {
                    by_id.get(m).map(|member| PartRecord {
                        member: member.clone(),
                        total_ht: *v,
                    })
                })
                .collect();
            parts.sort_by(|a, b| a.member.code.cmp(&b.member.code));
            ContractRecord {
                id: c.id,
                lot_id: c.lot_id,
                award_id: c.award_id,
                supplier_id: c.supplier_id,
                total_ht: c.total_ht,
                months: c.months,
                created_at: c.created_at,
                parts,
            }
        })
        .collect())
}

/// The OCDS release package of tender `id` as JSON text: for the lead of its group or an
/// admin, any status; for anyone else (another lead, an officer, a supplier, no token), only
/// a contracted tender.
pub fn ocds(
    conn: &mut DbConn,
    caller: Option<&Caller>,
    id: TenderId,
    settings: &OcdsSettings,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let tender = match caller {
        Some(c) if matches!(c.principal, Principal::Admin | Principal::Lead { .. }) => {
            match crate::tenders::store::get(conn, c, id, now) {
                Ok(t) => {
                    if now >= t.bid_deadline {
                        // Bids still being received at the deadline commit (or fail) first.
                        crate::tenders::store::hold(
                            conn,
                            id,
                            crate::tenders::store::Hold::Exclusive,
                        )?;
                    }
                    t
                }
                // Another group's tender: its open data, if contracted.
                Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => {
                    crate::tenders::store::get_public(conn, id, now)?
                }
                Err(e) => return Err(e),
            }
        }
        // Anyone else sees what anyone sees without a token.
        _ => crate::tenders::store::get_public(conn, id, now)?,
    };
    let lot_ids: Vec<TenderLotId> = tender.lots.iter().map(|l| l.id).collect();
    let coordinator_id = crate::groups::store::coordinator_of(conn, tender.group_id)?;
    let coordinator = members(conn, &[coordinator_id])?
        .remove(&coordinator_id)
        .ok_or_else(|| ApiError::internal("a group without its coordinator"))?;
    let group_name = crate::groups::store::name_of(conn, tender.group_id)?;
    let opened = crate::bids::store::tender_bids(conn, id, tender.bid_deadline, now)?;
    let verdicts = crate::evaluation::store::verdicts(conn, &lot_ids)?;
    let bids: Option<Vec<BidRecord>> = opened.map(|list| {
        list.into_iter()
            .map(|(lot_id, b)| BidRecord {
                id: b.id,
                lot_id,
                supplier_id: b.supplier_id,
                total: b.total,
                received_at: b.received_at,
                late: b.late,
                admissibility: verdicts.get(&b.id).copied(),
            })
            .collect()
    });
    let totals: HashMap<_, _> = bids.iter().flatten().map(|b| (b.id, b.total)).collect();
    let awards: Vec<AwardRecord> = crate::awards::store::of_lots(conn, &lot_ids)?
        .into_iter()
        .map(|a| {
            let value = totals.get(&a.bid_id).copied().ok_or_else(|| {
                ApiError::internal(format!("award {} of a bid that is not current", a.id))
            })?;
            Ok(AwardRecord {
                id: a.id,
                lot_id: a.lot_id,
                bid_id: a.bid_id,
                supplier_id: a.supplier_id,
                value,
                withdrawn: a.withdrawn,
                date: a.awarded_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let made = crate::contracts::store::of_tender(conn, id)?;
    let contracts = contract_records(conn, made)?;
    let mut supplier_ids: Vec<SupplierId> = bids
        .iter()
        .flatten()
        .map(|b| b.supplier_id)
        .chain(awards.iter().map(|a| a.supplier_id))
        .chain(contracts.iter().map(|c| c.supplier_id))
        .collect();
    supplier_ids.sort();
    supplier_ids.dedup();
    let record = TenderRecord {
        ocid_prefix: settings.ocid_prefix.clone(),
        uri: format!(
            "{}/api/v1/tenders/{}/ocds",
            settings.public_base_url.trim_end_matches('/'),
            tender.id
        ),
        suppliers: suppliers(conn, &supplier_ids)?,
        tender,
        group_name,
        coordinator,
        bids,
        awards,
        contracts,
        published: now,
    };
    Ok(super::to_json_text(&ocds::package(&record)))
}

/// Bids received in time per lot of `tender` (DECP's `offresRecues`).
fn received_in_time(
    conn: &mut DbConn,
    tender: &Tender,
    now: DateTime<Utc>,
) -> Result<HashMap<TenderLotId, usize>, ApiError> {
    let mut counts = HashMap::new();
    for (lot, b) in crate::bids::store::tender_bids(conn, tender.id, tender.bid_deadline, now)?
        .unwrap_or_default()
    {
        if !b.late {
            *counts.entry(lot).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn marches_of(
    conn: &mut DbConn,
    tender: &Tender,
    received: &HashMap<TenderLotId, usize>,
    c: ContractRecord,
    now: DateTime<Utc>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let supplier = suppliers(conn, &[c.supplier_id])?
        .remove(&c.supplier_id)
        .ok_or_else(|| ApiError::internal("a contract without its supplier"))?;
    Ok(decp::marches(
        &c,
        &decp::Context {
            tender,
            supplier: &supplier,
            bids_received: received.get(&c.lot_id).copied().unwrap_or(0),
            published_on: decp::published_on(now),
        },
    ))
}

/// DECP 2.0 JSON text of contract `id`: every member part for the lead (an admin), the
/// caller's member's part for an officer.
pub fn decp_contract(
    conn: &mut DbConn,
    caller: &Caller,
    id: ContractId,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let summary = crate::contracts::store::summary(conn, caller, id)?;
    let tender = crate::tenders::store::get(conn, caller, summary.tender_id, now)?;
    let record = contract_records(conn, vec![summary])?
        .pop()
        .ok_or_else(|| ApiError::not_found("contract"))?;
    let received = received_in_time(conn, &tender, now)?;
    let marches = marches_of(conn, &tender, &received, record, now)?;
    Ok(super::to_json_text(&decp::document(marches)))
}

/// The DECP file of every contract made from `since` until before `until` (the operator's
/// yearly file). Each tender and its bid counts are read once, however many lots it has.
pub fn decp_between(
    conn: &mut DbConn,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let operator = Caller {
        token_id: crate::ids::TokenId(uuid::Uuid::nil()),
        principal: Principal::Admin,
    };
    let list = crate::contracts::store::made_between(conn, since, until)?;
    let tender_ids: Vec<TenderId> = list.iter().map(|c| c.tender_id).collect();
    let mut all = Vec::new();
    let mut tenders: HashMap<TenderId, (Tender, HashMap<TenderLotId, usize>)> = HashMap::new();
    for (record, tender_id) in contract_records(conn, list)?.into_iter().zip(tender_ids) {
        let (t, received) = match tenders.entry(tender_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let t = crate::tenders::store::get(conn, &operator, tender_id, now)?;
                let received = received_in_time(conn, &t, now)?;
                e.insert((t, received))
            }
        };
        all.extend(marches_of(conn, t, received, record, now)?);
    }
    Ok(super::to_json_text(&decp::document(all)))
}

/// The comparison of lot `lot` for the lead of its group (an admin): 409 `bids_sealed`
/// before the deadline.
pub fn comparison(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    rule: AbnormalRule,
    clock: &dyn Clock,
) -> Result<Comparison, ApiError> {
    let now = clock.now();
    let ranking = crate::evaluation::store::ranking(conn, caller, tender, lot, rule, now)?;
    let bids = crate::bids::store::lot_bids(conn, caller, tender, lot, clock)?;
    let t = crate::tenders::store::get(conn, caller, tender, now)?;
    let l = t
        .lots
        .iter()
        .find(|l| l.id == lot)
        .ok_or_else(|| ApiError::not_found("lot"))?;
    let prices: HashMap<_, _> = bids
        .iter()
        .map(|b| {
            (
                b.id,
                b.prices
                    .iter()
                    .map(|p| (p.item_id, p.unit_price.value()))
                    .collect::<HashMap<_, _>>(),
            )
        })
        .collect();
    let parse = |s: &str| s.parse::<rust_decimal::Decimal>().ok();
    let columns = ranking
        .bids
        .iter()
        .filter(|e| e.rank.is_some())
        .map(|e| comparison::Bid {
            supplier_name: e.supplier_name.clone(),
            prices: prices.get(&e.bid_id).cloned().unwrap_or_default(),
            total: parse(&e.total).unwrap_or_default(),
            scores: t
                .criteria
                .iter()
                .map(|k| e.scores.get(&k.name).and_then(|s| parse(s)))
                .collect(),
            total_score: e.total_score.as_deref().and_then(parse),
            rank: e.rank,
        })
        .collect();
    Ok(Comparison {
        title: format!(
            "Analyse des offres — {} « {} » — lot {} : {}",
            t.reference, t.title, l.number, l.title
        ),
        items: l
            .items
            .iter()
            .enumerate()
            .map(|(n, i)| comparison::Item {
                id: i.id,
                position: u32::try_from(n + 1).unwrap_or(u32::MAX),
                cpv: i.cpv.clone(),
                unit: i.unit.spelling(),
                quantity: i.quantity.value(),
            })
            .collect(),
        criteria: t
            .criteria
            .iter()
            .map(|k| (k.name.clone(), k.weight.value()))
            .collect(),
        bids: columns,
    })
}
