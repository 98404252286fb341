//! Evaluation queries. A bid is reached only through a tender the lead runs **and whose
//! deadline has passed** ([`crate::bids::store::locate_opened`]): before it, a bid id is 404,
//! so nothing confirms that a bid exists. Changes hold the tender exclusively (one change of
//! a tender's evaluation or awards at a time, on PostgreSQL too) and are journaled.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::domain::{
    rank, shown, AbnormalRule, Admissibility, Candidate, Justification, JustificationOutcome,
    Ranked,
};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead};
use crate::bids::domain::BidStatus;
use crate::bids::store::{locate_opened, opened_bids};
use crate::db::types::{DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::Percent;
use crate::error::ApiError;
use crate::ids::{BidId, SupplierId, TenderId, TenderLotId};
use crate::schema::bid_evaluations;
use crate::tenders::domain::{CriterionKind, LotStatus, TenderStatus};
use crate::tenders::store::{hold, lot_for_bidding, BidLot, Hold};
use crate::validate::Checks;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bid_evaluations)]
#[diesel(check_for_backend(MultiBackend))]
struct EvalRow {
    bid_id: BidId,
    lot_id: TenderLotId,
    scores: DbJson<BTreeMap<String, Decimal>>,
    admissibility: Admissibility,
    reason: Option<String>,
    justification_requested_at: Option<DbTime>,
    justification_outcome: Option<JustificationOutcome>,
    updated_at: DbTime,
}

/// Body of `PUT /api/v1/bids/{id}/evaluation`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationInput {
    /// Score of each quality or environmental criterion, by name: a decimal string from 0 to
    /// the criterion's weight (≤ 2 decimals). Every one is required for an admissible bid;
    /// the price criterion is computed, never given.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub scores: BTreeMap<String, Percent>,
    /// The verdict on the bid.
    pub admissibility: Admissibility,
    /// Why (required unless `admissible`; 1–2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// Body of `POST /api/v1/bids/{id}/abnormally-low`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JustificationInput {
    /// When the bidder was asked to justify its price (between the deadline and now).
    pub justification_requested_at: DateTime<Utc>,
    /// The decision on its justification, once made (final).
    #[serde(default)]
    pub outcome: Option<JustificationOutcome>,
}

/// One bid in a lot's ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RankingEntry {
    /// Bid version.
    pub bid_id: BidId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Bidder's legal name.
    pub supplier_name: String,
    /// Exact total HT.
    pub total: String,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// Received after the deadline: never evaluated.
    pub late: bool,
    /// The lead's verdict (none: not judged yet, counted admissible).
    pub admissibility: Option<Admissibility>,
    /// The verdict's reason.
    pub reason: Option<String>,
    /// Price score rounded half-up to 2 decimals (competing bids).
    pub price_score: Option<String>,
    /// Scores of every criterion by name, 2 decimals, the price's included.
    pub scores: BTreeMap<String, String>,
    /// Total score rounded half-up to 2 decimals.
    pub total_score: Option<String>,
    /// Total score as computed (28 significant digits), which the ranking compares.
    pub total_score_exact: Option<String>,
    /// 1 for the best competing bid (ties: earlier receipt).
    pub rank: Option<u32>,
    /// Flagged by the abnormally-low rule.
    pub abnormally_low: bool,
    /// The justification procedure, if started.
    pub justification: Option<Justification>,
    /// Every quality and environmental criterion scored.
    pub complete: bool,
}

/// `GET /api/v1/tenders/{id}/lots/{lot_id}/ranking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ranking {
    /// Lot.
    pub lot_id: TenderLotId,
    /// Competing bids by rank, then the others by receipt.
    pub bids: Vec<RankingEntry>,
}

/// A lot's bids, scored and ranked, with what the views need.
#[derive(Debug, Clone)]
pub struct Standing {
    /// In ranking order.
    pub ranked: Vec<Ranked>,
    /// Bidders' names.
    pub names: HashMap<SupplierId, String>,
    /// Verdict reasons by bid.
    pub reasons: HashMap<BidId, String>,
}

impl Standing {
    /// The entry of bid `id`.
    pub fn of(&self, id: BidId) -> Option<&Ranked> {
        self.ranked.iter().find(|r| r.candidate.bid_id == id)
    }

    /// Number of bids that competed (admissible, in time).
    pub fn competing(&self) -> usize {
        self.ranked.iter().filter(|r| r.rank.is_some()).count()
    }
}

/// Scores and ranks the current bids of lot `ctx` (opened; the caller reached it through its
/// scope).
pub fn standing(
    conn: &mut DbConn,
    ctx: &BidLot,
    rule: AbnormalRule,
    now: DateTime<Utc>,
) -> Result<Standing, ApiError> {
    let bids = opened_bids(conn, ctx, now)?;
    let evals: Vec<EvalRow> = bid_evaluations::table
        .filter(bid_evaluations::lot_id.eq(ctx.lot_id))
        .select(EvalRow::as_select())
        .load(conn)?;
    let mut evals: HashMap<BidId, EvalRow> = evals.into_iter().map(|e| (e.bid_id, e)).collect();
    let mut names = HashMap::new();
    let mut reasons = HashMap::new();
    let candidates: Vec<Candidate> = bids
        .into_iter()
        .map(|b| {
            names.insert(b.supplier_id, b.supplier_name);
            let e = evals.remove(&b.id);
            if let Some(r) = e.as_ref().and_then(|e| e.reason.clone()) {
                reasons.insert(b.id, r);
            }
            Candidate {
                bid_id: b.id,
                supplier_id: b.supplier_id,
                total: b.total,
                received_at: b.received_at,
                late: b.late,
                admissibility: e.as_ref().map(|e| e.admissibility),
                scores: e.as_ref().map(|e| e.scores.0.clone()).unwrap_or_default(),
                justification: e.as_ref().and_then(|e| {
                    e.justification_requested_at.map(|at| Justification {
                        requested_at: at.get(),
                        outcome: e.justification_outcome,
                    })
                }),
            }
        })
        .collect();
    Ok(Standing {
        ranked: rank(&ctx.criteria, ctx.price_method, &candidates, rule),
        names,
        reasons,
    })
}

fn view(ctx: &BidLot, s: &Standing) -> Ranking {
    let price_name = ctx
        .criteria
        .iter()
        .find(|c| c.kind == CriterionKind::Price)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    Ranking {
        lot_id: ctx.lot_id,
        bids: s
            .ranked
            .iter()
            .map(|r| {
                let c = &r.candidate;
                let mut scores: BTreeMap<String, String> = c
                    .scores
                    .iter()
                    .map(|(k, v)| (k.clone(), shown(*v)))
                    .collect();
                if let Some(p) = r.price_score {
                    scores.insert(price_name.clone(), shown(p));
                }
                RankingEntry {
                    bid_id: c.bid_id,
                    supplier_id: c.supplier_id,
                    supplier_name: s.names.get(&c.supplier_id).cloned().unwrap_or_default(),
                    total: c.total.normalize().to_string(),
                    received_at: c.received_at,
                    late: c.late,
                    admissibility: c.admissibility,
                    reason: s.reasons.get(&c.bid_id).cloned(),
                    price_score: r.price_score.map(shown),
                    scores,
                    total_score: r.total_score.map(shown),
                    total_score_exact: r.total_score.map(|t| t.normalize().to_string()),
                    rank: r.rank,
                    abnormally_low: r.abnormally_low,
                    justification: c.justification,
                    complete: r.complete,
                }
            })
            .collect(),
    }
}

/// The ranking of a lot for the lead of its group (or an admin): 409 `bids_sealed` before
/// the deadline. Holds the tender exclusively so bids in flight commit first.
pub fn ranking(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    rule: AbnormalRule,
    now: DateTime<Utc>,
) -> Result<Ranking, ApiError> {
    let ctx = lot_for_bidding(conn, caller, tender, lot, now)?;
    if now >= ctx.deadline {
        hold(conn, tender, Hold::Exclusive)?;
    }
    let s = standing(conn, &ctx, rule, now)?;
    Ok(view(&ctx, &s))
}

fn pointer_key(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The opened, still-active lot of bid `id`, held: what evaluating it needs.
fn open_lot(
    conn: &mut DbConn,
    lead: &Lead,
    id: BidId,
    now: DateTime<Utc>,
) -> Result<BidLot, ApiError> {
    let (ctx, _) = locate_opened(conn, &lead.caller, id, now)?;
    hold(conn, ctx.tender_id, Hold::Exclusive)?;
    let (ctx, status) = locate_opened(conn, &lead.caller, id, now)?;
    if !matches!(
        ctx.status,
        TenderStatus::Opened | TenderStatus::Evaluated | TenderStatus::Awarded
    ) {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "the tender is {}: its bids can no longer be evaluated",
                crate::spelled::Spelled::spelling(&ctx.status)
            ),
        ));
    }
    if ctx.lot_status != LotStatus::Active {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "the lot is {}: withdraw its award before changing the evaluation",
                crate::spelled::Spelled::spelling(&ctx.lot_status)
            ),
        ));
    }
    match status {
        BidStatus::Submitted => Ok(ctx),
        BidStatus::Late => Err(ApiError::conflict(
            "late_bid",
            "a bid received after the deadline is kept but never evaluated",
        )),
        BidStatus::Superseded | BidStatus::Withdrawn => Err(ApiError::conflict(
            "invalid_state",
            "this is not the bidder's current version",
        )),
    }
}

fn find_eval(conn: &mut DbConn, id: BidId) -> QueryResult<Option<EvalRow>> {
    bid_evaluations::table
        .filter(bid_evaluations::bid_id.eq(id))
        .select(EvalRow::as_select())
        .first(conn)
        .optional()
}

fn save(conn: &mut DbConn, row: &EvalRow, existed: bool) -> QueryResult<()> {
    if existed {
        diesel::update(bid_evaluations::table.filter(bid_evaluations::bid_id.eq(row.bid_id)))
            .set((
                bid_evaluations::scores.eq(&row.scores),
                bid_evaluations::admissibility.eq(row.admissibility),
                bid_evaluations::reason.eq(row.reason.clone()),
                bid_evaluations::justification_requested_at.eq(row.justification_requested_at),
                bid_evaluations::justification_outcome.eq(row.justification_outcome),
                bid_evaluations::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(bid_evaluations::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Records the lead's scores and verdict on bid `id` (its tender opened, its lot not yet
/// awarded); returns the lot's ranking.
pub fn evaluate(
    conn: &mut DbConn,
    lead: &Lead,
    id: BidId,
    input: &EvaluationInput,
    rule: AbnormalRule,
    now: DateTime<Utc>,
) -> Result<Ranking, ApiError> {
    let mut c = Checks::new();
    if input.scores.len() > crate::tenders::domain::MAX_CRITERIA {
        c.add("/scores", "must list at most 10 criteria");
        return Err(c.into_error());
    }
    let reason = match &input.reason {
        Some(r) => Some(c.paragraph("/reason", r, 1, 2000)),
        None if input.admissibility != Admissibility::Admissible => {
            c.add("/reason", "is required when the bid is not admissible");
            None
        }
        None => None,
    };
    let ctx = open_lot(conn, lead, id, now)?;
    for (name, score) in &input.scores {
        let pointer = format!("/scores/{}", pointer_key(name));
        match ctx.criteria.iter().find(|k| &k.name == name) {
            Some(k) if k.kind == CriterionKind::Price => {
                c.add(pointer, "is the price criterion: its score is computed")
            }
            Some(k) if score.value() > k.weight.value() => c.add(
                pointer,
                format!(
                    "must be at most the criterion's weight, {}",
                    k.weight.value()
                ),
            ),
            Some(_) => {}
            None => c.add(pointer, "is not a criterion of this tender"),
        }
    }
    if input.admissibility == Admissibility::Admissible {
        for k in ctx
            .criteria
            .iter()
            .filter(|k| k.kind != CriterionKind::Price)
        {
            if !input.scores.contains_key(&k.name) {
                c.add(
                    format!("/scores/{}", pointer_key(&k.name)),
                    "is required for an admissible bid",
                );
            }
        }
    }
    c.finish()?;
    let existing = find_eval(conn, id)?;
    let row = EvalRow {
        bid_id: id,
        lot_id: ctx.lot_id,
        scores: DbJson(
            input
                .scores
                .iter()
                .map(|(k, v)| (k.clone(), v.value()))
                .collect(),
        ),
        admissibility: input.admissibility,
        reason: reason.clone(),
        justification_requested_at: existing.as_ref().and_then(|e| e.justification_requested_at),
        justification_outcome: existing.as_ref().and_then(|e| e.justification_outcome),
        updated_at: DbTime::new(now),
    };
    save(conn, &row, existing.is_some())?;
    crate::tenders::store::mark_evaluated(conn, ctx.tender_id)?;
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::BidEvaluated,
            entity_type: EntityType::Bid,
            entity_id: id.0,
            group_id: Some(ctx.group_id),
            data: &serde_json::json!({
                "admissibility": input.admissibility,
                "scores": row.scores.0,
                "reason": reason,
            }),
        },
        now,
    )?;
    let s = standing(conn, &ctx, rule, now)?;
    Ok(view(&ctx, &s))
}

/// Records that a justification of its price was asked of bid `id` (flagged abnormally low),
/// and the decision once made: `accepted` lets it be awarded, `rejected` excludes it. The
/// decision is final.
pub fn justify(
    conn: &mut DbConn,
    lead: &Lead,
    id: BidId,
    input: &JustificationInput,
    rule: AbnormalRule,
    now: DateTime<Utc>,
) -> Result<Ranking, ApiError> {
    let ctx = open_lot(conn, lead, id, now)?;
    let mut c = Checks::new();
    let at = input.justification_requested_at;
    if at < ctx.deadline || at > now {
        c.add(
            "/justification_requested_at",
            "must lie between the bid deadline and now",
        );
    }
    c.finish()?;
    let existing = find_eval(conn, id)?;
    if existing
        .as_ref()
        .is_some_and(|e| e.justification_outcome.is_some())
    {
        return Err(ApiError::conflict(
            "invalid_state",
            "the justification's outcome is already recorded",
        ));
    }
    let s = standing(conn, &ctx, rule, now)?;
    let flagged = s.of(id).is_some_and(|r| r.abnormally_low);
    if !flagged
        && existing
            .as_ref()
            .and_then(|e| e.justification_requested_at)
            .is_none()
    {
        return Err(ApiError::conflict(
            "not_abnormally_low",
            "this bid is not flagged as abnormally low",
        ));
    }
    let row = EvalRow {
        bid_id: id,
        lot_id: ctx.lot_id,
        scores: existing
            .as_ref()
            .map(|e| DbJson(e.scores.0.clone()))
            .unwrap_or_else(|| DbJson(BTreeMap::new())),
        admissibility: existing
            .as_ref()
            .map_or(Admissibility::Admissible, |e| e.admissibility),
        reason: existing.as_ref().and_then(|e| e.reason.clone()),
        justification_requested_at: Some(DbTime::new(at)),
        justification_outcome: input.outcome,
        updated_at: DbTime::new(now),
    };
    save(conn, &row, existing.is_some())?;
    crate::tenders::store::mark_evaluated(conn, ctx.tender_id)?;
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::BidJustification,
            entity_type: EntityType::Bid,
            entity_id: id.0,
            group_id: Some(ctx.group_id),
            data: &serde_json::json!({
                "justification_requested_at": at,
                "outcome": input.outcome,
            }),
        },
        now,
    )?;
    let s = standing(conn, &ctx, rule, now)?;
    Ok(view(&ctx, &s))
}

/// The lead's verdicts on the bids of lots `lots` (for exports, after the deadline).
pub fn verdicts(
    conn: &mut DbConn,
    lots: &[TenderLotId],
) -> QueryResult<HashMap<BidId, Admissibility>> {
    let rows: Vec<(BidId, Admissibility)> = bid_evaluations::table
        .filter(bid_evaluations::lot_id.eq_any(lots.to_vec()))
        .select((bid_evaluations::bid_id, bid_evaluations::admissibility))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
