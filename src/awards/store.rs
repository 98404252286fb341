//! Award queries. Every change holds the tender exclusively, checks the lot's state under
//! that lock, writes with conditional updates (and a unique index: one live award per lot),
//! queues its letters in the same transaction and journals.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::domain::{days_after, signable_from, standstill_days, AwardStatus, Notification};
use super::notices::{award, rejection, AwardNotice, Buyer, RejectionNotice, ScoreLine};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead};
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::decimal::Amount;
use crate::error::ApiError;
use crate::evaluation::domain::{AbnormalRule, Admissibility, JustificationOutcome, Ranked};
use crate::evaluation::store::{standing, Standing};
use crate::ids::{AwardId, BidId, SupplierId, TenderId, TenderLotId};
use crate::notifications::domain::MailKind;
use crate::notifications::store::{enqueue_each, ToEach};
use crate::schema::awards;
use crate::tenders::domain::{CriterionKind, LotStatus, TenderStatus};
use crate::tenders::notices::TenderLot;
use crate::tenders::store::{hold, lot_for_bidding, move_lot, BidLot, Hold};
use crate::validate::Checks;

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = awards)]
#[diesel(check_for_backend(MultiBackend))]
struct AwardRow {
    id: AwardId,
    lot_id: TenderLotId,
    bid_id: BidId,
    supplier_id: SupplierId,
    rank: i32,
    reason: Option<String>,
    notification: Notification,
    standstill_days: i32,
    certificates_due: NaiveDate,
    status: AwardStatus,
    awarded_at: DbTime,
    withdrawn_at: Option<DbTime>,
    withdraw_reason: Option<String>,
}

/// What the award letters need from the configuration.
#[derive(Debug, Clone)]
pub struct Letters {
    /// Abnormally-low thresholds.
    pub rule: AbnormalRule,
    /// Days to produce the certificates.
    pub certificates_days: u32,
    /// Competent court.
    pub court: String,
    /// Address to reply to.
    pub reply_to: String,
    /// Message-ID domain.
    pub domain: String,
}

/// Body of `POST /api/v1/tenders/{id}/lots/{lot_id}/award`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardInput {
    /// The bid awarded: a ranked, fully scored bid of the lot.
    pub bid_id: BidId,
    /// Why, when it is not the bid ranked first (1–2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    /// How the decision is notified: `electronic` (11 days of standstill) or `postal` (16).
    pub notification: Notification,
}

/// Body of `POST /api/v1/tenders/{id}/lots/{lot_id}/award/withdraw`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    /// Why (certificates not produced, winner withdrew…), 1–2000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Where the standstill stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Standstill {
    /// Days (0: none for this procedure or a single bid).
    pub days: u32,
    /// Rejection letters queued.
    pub letters: usize,
    /// Of which actually sent.
    pub letters_sent: usize,
    /// First day (Paris) the contract may be signed, once every letter is sent.
    pub signable_from: Option<NaiveDate>,
}

/// An award as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Award {
    /// Id.
    pub id: AwardId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Awarded bid.
    pub bid_id: BidId,
    /// Winner.
    pub supplier_id: SupplierId,
    /// The bid's rank when awarded.
    pub rank: u32,
    /// Why another bid than the first, or the cascade.
    pub reason: Option<String>,
    /// How the decision was notified.
    pub notification: Notification,
    /// Status.
    pub status: AwardStatus,
    /// Date by which the winner must produce its certificates.
    pub certificates_due: NaiveDate,
    /// When.
    pub awarded_at: DateTime<Utc>,
    /// When withdrawn.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Why withdrawn.
    pub withdraw_reason: Option<String>,
    /// The standstill.
    pub standstill: Standstill,
}

/// Answer of a withdrawal: the withdrawn award, the next one (cascade) if any, the lot's
/// status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Withdrawal {
    /// The withdrawn award.
    pub withdrawn: Award,
    /// The award to the next-ranked bid, if there was one.
    pub next: Option<Award>,
    /// The lot's status (`awarded` again, or `unsuccessful`).
    pub lot_status: LotStatus,
}

fn rejection_prefix(award: AwardId) -> String {
    format!("rejection:{award}:")
}

/// The standstill of an award (its days, and how far its rejection letters got).
fn standstill(conn: &mut DbConn, row: &AwardRow) -> QueryResult<Standstill> {
    let (letters, sent, last) =
        crate::notifications::store::delivery(conn, &rejection_prefix(row.id))?;
    let days = u32::try_from(row.standstill_days).unwrap_or(0);
    let signable = if sent == letters {
        Some(match last {
            Some(at) if days > 0 => signable_from(at, days),
            _ => crate::dates::paris_date(row.awarded_at.get()),
        })
    } else {
        None
    };
    Ok(Standstill {
        days,
        letters,
        letters_sent: sent,
        signable_from: signable,
    })
}

fn view(conn: &mut DbConn, row: &AwardRow) -> QueryResult<Award> {
    Ok(Award {
        id: row.id,
        lot_id: row.lot_id,
        bid_id: row.bid_id,
        supplier_id: row.supplier_id,
        rank: u32::try_from(row.rank).unwrap_or(0),
        reason: row.reason.clone(),
        notification: row.notification,
        status: row.status,
        certificates_due: row.certificates_due,
        awarded_at: row.awarded_at.get(),
        withdrawn_at: row.withdrawn_at.map(DbTime::get),
        withdraw_reason: row.withdraw_reason.clone(),
        standstill: standstill(conn, row)?,
    })
}

/// The lot, reached through the lead's scope, opened, held exclusively and re-read.
fn held_lot(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    now: DateTime<Utc>,
) -> Result<BidLot, ApiError> {
    let ctx = lot_for_bidding(conn, caller, tender, lot, now)?;
    if now < ctx.deadline {
        return Err(crate::bids::store::sealed_until(ctx.deadline));
    }
    hold(conn, tender, Hold::Exclusive)?;
    let ctx = lot_for_bidding(conn, caller, tender, lot, now)?;
    if matches!(ctx.status, TenderStatus::Cancelled | TenderStatus::Draft) {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "the tender is {}",
                crate::spelled::Spelled::spelling(&ctx.status)
            ),
        ));
    }
    Ok(ctx)
}

fn live_award(conn: &mut DbConn, lot: TenderLotId) -> QueryResult<Option<AwardRow>> {
    awards::table
        .filter(awards::lot_id.eq(lot))
        .filter(awards::status.ne(AwardStatus::Withdrawn))
        .select(AwardRow::as_select())
        .first(conn)
        .optional()
}

/// The current award of a lot (any status but withdrawn), for the lead; 404 when none.
pub fn current(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    now: DateTime<Utc>,
) -> Result<Award, ApiError> {
    lot_for_bidding(conn, caller, tender, lot, now)?;
    let row = live_award(conn, lot)?.ok_or_else(|| ApiError::not_found("award"))?;
    Ok(view(conn, &row)?)
}

/// Awards lot `lot` to `input.bid_id`: the lot active, every competing bid fully scored, the
/// bid ranked (another than the first needs a reason) and, if abnormally low, justified.
/// Queues the award letter and a rejection letter to every other bidder.
pub fn award_lot(
    conn: &mut DbConn,
    lead: &Lead,
    tender: TenderId,
    lot: TenderLotId,
    input: &AwardInput,
    letters: &Letters,
    now: DateTime<Utc>,
) -> Result<Award, ApiError> {
    let mut c = Checks::new();
    let reason = input
        .reason
        .as_ref()
        .map(|r| c.paragraph("/reason", r, 1, 2000));
    c.finish()?;
    let ctx = held_lot(conn, &lead.caller, tender, lot, now)?;
    if ctx.lot_status != LotStatus::Active {
        return Err(ApiError::conflict(
            "invalid_state",
            format!(
                "the lot is {}",
                crate::spelled::Spelled::spelling(&ctx.lot_status)
            ),
        ));
    }
    let s = standing(conn, &ctx, letters.rule, now)?;
    let Some(entry) = s.of(input.bid_id) else {
        return Err(ApiError::validation(vec![crate::error::FieldError::new(
            "/bid_id",
            "is not a current bid of this lot",
        )]));
    };
    if s.ranked.iter().any(|r| r.rank.is_some() && !r.complete) {
        return Err(ApiError::conflict(
            "evaluation_incomplete",
            "score every competing bid on every criterion before awarding",
        ));
    }
    check_awardable(entry)?;
    if entry.rank != Some(1) && reason.is_none() {
        return Err(ApiError::validation(vec![crate::error::FieldError::new(
            "/reason",
            "is required to award another bid than the one ranked first",
        )]));
    }
    let entry = entry.clone();
    let row = grant(
        conn,
        lead,
        &ctx,
        &s,
        &entry,
        reason,
        input.notification,
        &HashMap::new(),
        letters,
        now,
    )?;
    Ok(view(conn, &row)?)
}

fn check_awardable(entry: &Ranked) -> Result<(), ApiError> {
    entry.awardable().map_err(|msg| {
        let code = if entry.abnormally_low && entry.rank.is_some() && entry.complete {
            "abnormally_low_unjustified"
        } else {
            "not_awardable"
        };
        ApiError::conflict(code, msg)
    })
}

/// Writes the award of `entry`, moves the lot, queues the letters, journals.
#[allow(clippy::too_many_arguments)]
fn grant(
    conn: &mut DbConn,
    lead: &Lead,
    ctx: &BidLot,
    s: &Standing,
    entry: &Ranked,
    reason: Option<String>,
    notification: Notification,
    extra_reasons: &HashMap<BidId, String>,
    letters: &Letters,
    now: DateTime<Utc>,
) -> Result<AwardRow, ApiError> {
    let in_time = s.ranked.iter().filter(|r| !r.candidate.late).count();
    let days = standstill_days(ctx.procedure, notification, in_time);
    let row = AwardRow {
        id: AwardId::new(),
        lot_id: ctx.lot_id,
        bid_id: entry.candidate.bid_id,
        supplier_id: entry.candidate.supplier_id,
        rank: i32::try_from(entry.rank.unwrap_or(0)).unwrap_or(0),
        reason,
        notification,
        standstill_days: i32::try_from(days).unwrap_or(0),
        certificates_due: days_after(crate::dates::paris_date(now), letters.certificates_days),
        status: AwardStatus::Active,
        awarded_at: DbTime::new(now),
        withdrawn_at: None,
        withdraw_reason: None,
    };
    diesel::insert_into(awards::table)
        .values(&row)
        .execute(conn)?;
    move_lot(
        conn,
        ctx.tender_id,
        ctx.lot_id,
        &[LotStatus::Active, LotStatus::Awarded],
        LotStatus::Awarded,
        now,
    )?;
    queue_letters(
        conn,
        lead,
        ctx,
        s,
        entry,
        &row,
        days,
        extra_reasons,
        letters,
        now,
    )?;
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::LotAwarded,
            entity_type: EntityType::Lot,
            entity_id: ctx.lot_id.0,
            group_id: Some(ctx.group_id),
            data: &serde_json::json!({
                "award_id": row.id,
                "bid_id": row.bid_id,
                "supplier_id": row.supplier_id,
                "rank": row.rank,
                "reason": row.reason,
                "notification": notification,
                "standstill_days": days,
            }),
        },
        now,
    )?;
    Ok(row)
}

/// Why a bid was not retained, in the rejection letter's words.
fn rejection_reason(
    r: &Ranked,
    winner: &Ranked,
    s: &Standing,
    extra: &HashMap<BidId, String>,
) -> String {
    if let Some(why) = extra.get(&r.candidate.bid_id) {
        return why.clone();
    }
    if r.candidate.late {
        return "offre reçue après la date limite de remise des offres".into();
    }
    let own = s
        .reasons
        .get(&r.candidate.bid_id)
        .map(String::as_str)
        .unwrap_or("");
    match r.candidate.admissibility {
        Some(Admissibility::Irregular) => return format!("offre irrégulière : {own}"),
        Some(Admissibility::Unacceptable) => return format!("offre inacceptable : {own}"),
        Some(Admissibility::Inappropriate) => return format!("offre inappropriée : {own}"),
        _ => {}
    }
    if matches!(
        r.candidate.justification.and_then(|j| j.outcome),
        Some(JustificationOutcome::Rejected)
    ) {
        return "offre anormalement basse dont les justifications n'ont pas été jugées satisfaisantes".into();
    }
    match (r.rank, winner.rank) {
        (Some(rank), Some(1)) => format!(
            "offre classée {rank}e sur {} ; l'offre retenue est l'offre économiquement la plus avantageuse au regard des critères d'attribution",
            s.competing()
        ),
        (Some(rank), _) => format!("offre classée {rank}e sur {}", s.competing()),
        _ => "offre non classée".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn queue_letters(
    conn: &mut DbConn,
    lead: &Lead,
    ctx: &BidLot,
    s: &Standing,
    winner: &Ranked,
    row: &AwardRow,
    days: u32,
    extra: &HashMap<BidId, String>,
    letters: &Letters,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let group = crate::groups::store::get(conn, &lead.caller, ctx.group_id)?;
    let coordinator = group
        .members
        .iter()
        .find(|m| m.member_code == group.coordinator)
        .map_or_else(|| group.coordinator.clone(), |m| m.legal_name.clone());
    let buyer = Buyer {
        coordinator,
        reply_to: letters.reply_to.clone(),
    };
    let lot = TenderLot {
        group_name: group.name.clone(),
        tender_reference: ctx.reference.clone(),
        tender_title: ctx.title.clone(),
        lot_number: ctx.lot_number,
        lot_title: ctx.lot_title.clone(),
    };
    let signable = (days > 0).then(|| signable_from(now, days));
    let suppliers: Vec<SupplierId> = s.ranked.iter().map(|r| r.candidate.supplier_id).collect();
    let contacts: HashMap<SupplierId, Vec<String>> =
        crate::suppliers::store::by_ids(conn, &suppliers)?
            .into_iter()
            .map(|x| (x.id, x.contact_emails))
            .collect();
    let name = |id: SupplierId| s.names.get(&id).cloned().unwrap_or_default();
    let winner_total = Amount::from_rounded(winner.candidate.total).unwrap_or(Amount::ZERO);
    let winner_score = winner.total_score.unwrap_or_default();
    let rendered = award(&AwardNotice {
        lot: lot.clone(),
        supplier_name: name(winner.candidate.supplier_id),
        total: winner_total,
        score: winner_score,
        signable_from: signable,
        certificates_due: row.certificates_due,
        buyer: buyer.clone(),
    })
    .map_err(ApiError::internal)?;
    let no_one: Vec<String> = Vec::new();
    enqueue_each(
        conn,
        &ToEach {
            kind: MailKind::Award,
            rendered: &rendered,
            to: contacts
                .get(&winner.candidate.supplier_id)
                .unwrap_or(&no_one),
            dedup: format!("award:{}", row.id),
            sealed_until: None,
        },
        &letters.domain,
        now,
    )?;
    // Every other bidder: a winner's own late version gets no rejection letter.
    for r in s
        .ranked
        .iter()
        .filter(|r| r.candidate.supplier_id != winner.candidate.supplier_id)
    {
        let scores = ctx
            .criteria
            .iter()
            .map(|k| {
                let pick = |x: &Ranked| {
                    if k.kind == CriterionKind::Price {
                        x.price_score
                    } else {
                        x.candidate.scores.get(&k.name).copied()
                    }
                };
                ScoreLine {
                    criterion: k.name.clone(),
                    weight: k.weight.value(),
                    winner: pick(winner).unwrap_or_default(),
                    own: pick(r).filter(|_| r.rank.is_some()),
                }
            })
            .collect();
        let rendered = rejection(&RejectionNotice {
            lot: lot.clone(),
            supplier_name: name(r.candidate.supplier_id),
            reasons: rejection_reason(r, winner, s, extra),
            winner_name: name(winner.candidate.supplier_id),
            winner_total,
            winner_score_value: winner_score,
            own_score_value: r.total_score.filter(|_| r.rank.is_some()),
            scores,
            signable_from: signable,
            buyer: buyer.clone(),
            court: letters.court.clone(),
        })
        .map_err(ApiError::internal)?;
        enqueue_each(
            conn,
            &ToEach {
                kind: MailKind::Rejection,
                rendered: &rendered,
                to: contacts.get(&r.candidate.supplier_id).unwrap_or(&no_one),
                dedup: format!("{}{}", rejection_prefix(row.id), r.candidate.bid_id),
                sealed_until: None,
            },
            &letters.domain,
            now,
        )?;
    }
    Ok(())
}

/// Withdraws the lot's active award with `reason` (certificates not produced, winner
/// withdrawn — R2144-7) and awards the next-ranked competing bid that was never awarded,
/// with new letters and a new standstill; with none left, the lot is `unsuccessful`; when
/// that bid is flagged abnormally low without an accepted justification, the lot goes back
/// to `active` for the lead to record it and award again.
pub fn withdraw(
    conn: &mut DbConn,
    lead: &Lead,
    tender: TenderId,
    lot: TenderLotId,
    input: &WithdrawInput,
    letters: &Letters,
    now: DateTime<Utc>,
) -> Result<Withdrawal, ApiError> {
    let mut c = Checks::new();
    let reason = c.paragraph("/reason", &input.reason, 1, 2000);
    c.finish()?;
    let ctx = held_lot(conn, &lead.caller, tender, lot, now)?;
    let row = live_award(conn, lot)?.ok_or_else(|| ApiError::not_found("award"))?;
    if row.status != AwardStatus::Active {
        return Err(ApiError::conflict(
            "invalid_state",
            "the award is contracted: it can no longer be withdrawn",
        ));
    }
    let changed = diesel::update(
        awards::table
            .filter(awards::id.eq(row.id))
            .filter(awards::status.eq(AwardStatus::Active)),
    )
    .set((
        awards::status.eq(AwardStatus::Withdrawn),
        awards::withdrawn_at.eq(Some(DbTime::new(now))),
        awards::withdraw_reason.eq(Some(reason.clone())),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "invalid_state",
            "the award changed meanwhile",
        ));
    }
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::AwardWithdrawn,
            entity_type: EntityType::Award,
            entity_id: row.id.0,
            group_id: Some(ctx.group_id),
            data: &serde_json::json!({"lot_id": lot, "bid_id": row.bid_id, "reason": reason}),
        },
        now,
    )?;
    let before: Vec<BidId> = awards::table
        .filter(awards::lot_id.eq(lot))
        .select(awards::bid_id)
        .load(conn)?;
    let s = standing(conn, &ctx, letters.rule, now)?;
    let next = s
        .ranked
        .iter()
        .filter(|r| r.rank.is_some() && !before.contains(&r.candidate.bid_id))
        .min_by_key(|r| r.rank)
        .cloned();
    let mut withdrawn = row.clone();
    withdrawn.status = AwardStatus::Withdrawn;
    withdrawn.withdrawn_at = Some(DbTime::new(now));
    withdrawn.withdraw_reason = Some(reason.clone());
    let Some(next) = next else {
        move_lot(
            conn,
            tender,
            lot,
            &[LotStatus::Awarded],
            LotStatus::Unsuccessful,
            now,
        )?;
        audit::record(
            conn,
            &Actor::from(&lead.caller),
            Change {
                action: Action::LotUnsuccessful,
                entity_type: EntityType::Lot,
                entity_id: lot.0,
                group_id: Some(ctx.group_id),
                data: &serde_json::json!({"reason": "no other competing bid after the withdrawal"}),
            },
            now,
        )?;
        return Ok(Withdrawal {
            withdrawn: view(conn, &withdrawn)?,
            next: None,
            lot_status: LotStatus::Unsuccessful,
        });
    };
    if check_awardable(&next).is_err() {
        // The next bid needs the lead first (a justification to record): the lot goes back to
        // `active` so it can be evaluated and awarded again.
        move_lot(
            conn,
            tender,
            lot,
            &[LotStatus::Awarded],
            LotStatus::Active,
            now,
        )?;
        return Ok(Withdrawal {
            withdrawn: view(conn, &withdrawn)?,
            next: None,
            lot_status: LotStatus::Active,
        });
    }
    let extra: HashMap<BidId, String> = [(
        row.bid_id,
        format!("attribution retirée (article R2144-7 du code de la commande publique) : {reason}"),
    )]
    .into_iter()
    .collect();
    let cascade =
        format!("attribution à l'offre classée suivante après retrait (R2144-7) : {reason}");
    let new = grant(
        conn,
        lead,
        &ctx,
        &s,
        &next,
        Some(cascade),
        row.notification,
        &extra,
        letters,
        now,
    )?;
    Ok(Withdrawal {
        withdrawn: view(conn, &withdrawn)?,
        next: Some(view(conn, &new)?),
        lot_status: LotStatus::Awarded,
    })
}

/// What contracting needs of a lot's award: 409 `notices_pending` while a rejection letter
/// is unsent, 409 `standstill_running` (with the date) before the standstill ends.
pub fn ready_to_contract(
    conn: &mut DbConn,
    lot: TenderLotId,
    now: DateTime<Utc>,
) -> Result<(AwardId, BidId, SupplierId), ApiError> {
    let row = live_award(conn, lot)?
        .ok_or_else(|| ApiError::conflict("invalid_state", "the lot has no award to contract"))?;
    if row.status != AwardStatus::Active {
        return Err(ApiError::conflict(
            "invalid_state",
            "the lot is already contracted",
        ));
    }
    let st = standstill(conn, &row)?;
    if st.letters_sent < st.letters {
        return Err(ApiError::conflict(
            "notices_pending",
            format!(
                "{} of {} rejection letters are not sent yet: the standstill starts when they are",
                st.letters - st.letters_sent,
                st.letters
            ),
        ));
    }
    if let Some(from) = st.signable_from {
        if crate::dates::paris_date(now) < from {
            return Err(ApiError::conflict(
                "standstill_running",
                format!("the standstill runs until the contract may be signed on {from} (Paris)"),
            ));
        }
    }
    Ok((row.id, row.bid_id, row.supplier_id))
}

/// Marks award `id` contracted (the contracts feature calls it in its transaction).
pub fn mark_contracted(conn: &mut DbConn, id: AwardId) -> Result<(), ApiError> {
    let changed = diesel::update(
        awards::table
            .filter(awards::id.eq(id))
            .filter(awards::status.eq(AwardStatus::Active)),
    )
    .set(awards::status.eq(AwardStatus::Contracted))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "invalid_state",
            "the award changed meanwhile",
        ));
    }
    Ok(())
}

/// An award as the exports read it (no standstill: that reads the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardEntry {
    /// Award.
    pub id: AwardId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Bid awarded.
    pub bid_id: BidId,
    /// Winner.
    pub supplier_id: SupplierId,
    /// Withdrawn (R2144-7).
    pub withdrawn: bool,
    /// When.
    pub awarded_at: DateTime<Utc>,
}

/// Every award of lots `lots`, withdrawn ones included, oldest first (for exports; the
/// caller scoped the tender).
pub fn of_lots(conn: &mut DbConn, lots: &[TenderLotId]) -> QueryResult<Vec<AwardEntry>> {
    let rows: Vec<AwardRow> = awards::table
        .filter(awards::lot_id.eq_any(lots.to_vec()))
        .order(awards::awarded_at.asc())
        .select(AwardRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| AwardEntry {
            id: r.id,
            lot_id: r.lot_id,
            bid_id: r.bid_id,
            supplier_id: r.supplier_id,
            withdrawn: r.status == AwardStatus::Withdrawn,
            awarded_at: r.awarded_at.get(),
        })
        .collect())
}
