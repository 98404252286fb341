//! Scoring and ranking of a lot's bids, and the abnormally-low rule. Pure: no I/O.
//!
//! * Price scores by the tender's method, among the admissible bids received in time:
//!   `proportional` = max × P_min / P, `linear` = max × (P_max − P) / (P_max − P_min) (all
//!   bids equal → max). Computed with rust_decimal's 28 significant digits, rounded half-up to
//!   2 decimals only when shown.
//! * Total score = price score + the lead's scores of the other criteria.
//! * Ranking among the admissible bids: higher total first; ties go to the earlier receipt
//!   (then the lower bid id, so the order is total).
//! * Abnormally low (L2152-5): total ≥ `mean_percent` % below the mean of the lot's other
//!   admissible bids, or ≥ `next_percent` % below the next bid by price (the cheapest of the
//!   others that is not cheaper). Compared in exact arithmetic.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::round_half_up;
use crate::ids::{BidId, SupplierId};
use crate::tenders::domain::{Criterion, CriterionKind, PriceMethod};

crate::stored_enum! {
    /// The lead's verdict on a bid's regularity (R2152-1 to R2152-3).
    pub enum Admissibility {
        /// Ranked.
        Admissible,
        /// Does not meet the tender's requirements (*irrégulière*).
        Irregular,
        /// Above the budget or unlawful (*inacceptable*).
        Unacceptable,
        /// Unrelated to the need (*inappropriée*).
        Inappropriate,
    }
}

crate::stored_enum! {
    /// Outcome of a justification asked of an abnormally low bid.
    pub enum JustificationOutcome {
        /// The justification is accepted: the bid may be awarded.
        Accepted,
        /// The justification is rejected: the bid is excluded.
        Rejected,
    }
}

/// The configurable abnormally-low thresholds, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbnormalRule {
    /// Percent below the mean of the other admissible bids (default 40).
    pub mean_percent: Decimal,
    /// Percent below the next bid by price (default 30).
    pub next_percent: Decimal,
}

/// The justification procedure of an abnormally low bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Justification {
    /// When the lead asked the bidder to justify its price.
    pub requested_at: DateTime<Utc>,
    /// The lead's decision, once made.
    pub outcome: Option<JustificationOutcome>,
}

/// One current bid of a lot, with the lead's evaluation so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Bid version.
    pub bid_id: BidId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Exact total HT.
    pub total: Decimal,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// Received after the deadline: never evaluated.
    pub late: bool,
    /// The lead's verdict; none yet counts as admissible.
    pub admissibility: Option<Admissibility>,
    /// Scores of the non-price criteria, by criterion name.
    pub scores: BTreeMap<String, Decimal>,
    /// Justification procedure, if one was started.
    pub justification: Option<Justification>,
}

impl Candidate {
    /// True when the bid competes: in time, admissible (or not yet judged) and not excluded
    /// as abnormally low.
    pub fn competes(&self) -> bool {
        !self.late
            && matches!(self.admissibility, None | Some(Admissibility::Admissible))
            && !matches!(
                self.justification,
                Some(Justification {
                    outcome: Some(JustificationOutcome::Rejected),
                    ..
                })
            )
    }
}

/// A bid's place in the ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The candidate.
    pub candidate: Candidate,
    /// Price score (exact), for competing bids.
    pub price_score: Option<Decimal>,
    /// Price score + the other criteria's scores (exact), for competing bids.
    pub total_score: Option<Decimal>,
    /// 1 for the best competing bid; none for the others.
    pub rank: Option<u32>,
    /// Flagged by the abnormally-low rule.
    pub abnormally_low: bool,
    /// Every non-price criterion scored.
    pub complete: bool,
}

impl Ranked {
    /// True when the bid may be awarded now: ranked, fully scored, and if abnormally low,
    /// its justification accepted.
    pub fn awardable(&self) -> Result<(), &'static str> {
        if self.rank.is_none() {
            return Err("the bid is not ranked (late, excluded or rejected as abnormally low)");
        }
        if !self.complete {
            return Err("the bid is not fully scored");
        }
        if self.abnormally_low && !self.justified() {
            return Err("the bid is abnormally low: record an accepted justification first");
        }
        Ok(())
    }

    fn justified(&self) -> bool {
        matches!(
            self.candidate.justification,
            Some(Justification {
                outcome: Some(JustificationOutcome::Accepted),
                ..
            })
        )
    }
}

/// Price score of a bid of total `p` among bids from `p_min` to `p_max`, out of `max`.
pub fn price_score(
    method: PriceMethod,
    max: Decimal,
    p: Decimal,
    p_min: Decimal,
    p_max: Decimal,
) -> Decimal {
    match method {
        PriceMethod::Proportional => {
            if p.is_zero() {
                max
            } else {
                (max * p_min).checked_div(p).unwrap_or(Decimal::ZERO)
            }
        }
        PriceMethod::Linear => {
            let spread = p_max - p_min;
            if spread.is_zero() {
                max
            } else {
                (max * (p_max - p))
                    .checked_div(spread)
                    .unwrap_or(Decimal::ZERO)
            }
        }
    }
}

/// True when `total` is abnormally low against `others` (the other competing bids' totals).
pub fn abnormally_low(total: Decimal, others: &[Decimal], rule: AbnormalRule) -> bool {
    if others.is_empty() {
        return false;
    }
    let hundred = Decimal::ONE_HUNDRED;
    // total ≤ mean × (100 − m) / 100  ⇔  total × n × 100 ≤ Σ × (100 − m), exact.
    let sum: Decimal = others.iter().copied().sum();
    let n = Decimal::from(others.len());
    let below_mean = match (
        total.checked_mul(n).and_then(|v| v.checked_mul(hundred)),
        sum.checked_mul(hundred - rule.mean_percent),
    ) {
        (Some(l), Some(r)) => l <= r,
        _ => false,
    };
    let next = others.iter().copied().filter(|o| *o >= total).min();
    let below_next = next.is_some_and(|next| {
        match (
            total.checked_mul(hundred),
            next.checked_mul(hundred - rule.next_percent),
        ) {
            (Some(l), Some(r)) => l <= r,
            _ => false,
        }
    });
    below_mean || below_next
}

/// Scores and ranks a lot's `candidates` under `criteria` (exactly one `price`), in ranking
/// order (ranked first, then the others by receipt).
pub fn rank(
    criteria: &[Criterion],
    method: PriceMethod,
    candidates: &[Candidate],
    rule: AbnormalRule,
) -> Vec<Ranked> {
    let price_weight = criteria
        .iter()
        .find(|c| c.kind == CriterionKind::Price)
        .map_or(Decimal::ZERO, |c| c.weight.value());
    let others: Vec<&Criterion> = criteria
        .iter()
        .filter(|c| c.kind != CriterionKind::Price)
        .collect();
    let competing: Vec<Decimal> = candidates
        .iter()
        .filter(|c| c.competes())
        .map(|c| c.total)
        .collect();
    let p_min = competing.iter().copied().min().unwrap_or(Decimal::ZERO);
    let p_max = competing.iter().copied().max().unwrap_or(Decimal::ZERO);
    let mut out: Vec<Ranked> = candidates
        .iter()
        .map(|c| {
            if !c.competes() {
                return Ranked {
                    candidate: c.clone(),
                    price_score: None,
                    total_score: None,
                    rank: None,
                    abnormally_low: false,
                    complete: false,
                };
            }
            let price = price_score(method, price_weight, c.total, p_min, p_max);
            let rest: Decimal = others
                .iter()
                .filter_map(|k| c.scores.get(&k.name))
                .copied()
                .sum();
            let complete = others.iter().all(|k| c.scores.contains_key(&k.name));
            let mut rivals: Vec<Decimal> = Vec::with_capacity(competing.len());
            let mut skipped = false;
            for t in &competing {
                // Leave this bid's own total out once.
                if !skipped && *t == c.total {
                    skipped = true;
                } else {
                    rivals.push(*t);
                }
            }
            Ranked {
                candidate: c.clone(),
                price_score: Some(price),
                total_score: Some(price + rest),
                rank: None,
                abnormally_low: abnormally_low(c.total, &rivals, rule),
                complete,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &Ranked| r.total_score.is_none();
        key(a)
            .cmp(&key(b))
            .then_with(|| b.total_score.cmp(&a.total_score))
            .then_with(|| a.candidate.received_at.cmp(&b.candidate.received_at))
            .then_with(|| a.candidate.bid_id.cmp(&b.candidate.bid_id))
    });
    let mut next = 1u32;
    for r in &mut out {
        if r.total_score.is_some() {
            r.rank = Some(next);
            next += 1;
        }
    }
    out
}

/// A score as shown: rounded half-up to 2 decimals, written with 2.
pub fn shown(score: Decimal) -> String {
    crate::decimal::fixed(round_half_up(score, 2), 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Percent;
    use chrono::TimeZone;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn criteria() -> Vec<Criterion> {
        vec![
            Criterion {
                name: "prix".into(),
                weight: Percent::parse("60").unwrap(),
                kind: CriterionKind::Price,
            },
            Criterion {
                name: "technique".into(),
                weight: Percent::parse("30").unwrap(),
                kind: CriterionKind::Quality,
            },
            Criterion {
                name: "environnement".into(),
                weight: Percent::parse("10").unwrap(),
                kind: CriterionKind::Environmental,
            },
        ]
    }

    fn candidate(total: &str, minute: u32, tech: &str, env: &str) -> Candidate {
        Candidate {
            bid_id: BidId::new(),
            supplier_id: SupplierId::new(),
            total: dec(total),
            received_at: Utc.with_ymd_and_hms(2027, 1, 10, 9, minute, 0).unwrap(),
            late: false,
            admissibility: Some(Admissibility::Admissible),
            scores: [
                ("technique".to_owned(), dec(tech)),
                ("environnement".to_owned(), dec(env)),
            ]
            .into_iter()
            .collect(),
            justification: None,
        }
    }

    const RULE: AbnormalRule = AbnormalRule {
        mean_percent: Decimal::from_parts(40, 0, 0, false, 0),
        next_percent: Decimal::from_parts(30, 0, 0, false, 0),
    };

    #[test]
    fn proportional_formula_is_max_times_min_over_price() {
        let s = price_score(
            PriceMethod::Proportional,
            dec("60"),
            dec("120000"),
            dec("100000"),
            dec("150000"),
        );
        assert_eq!(s, dec("50"));
        // 60 × 100 / 300 = 20 exactly; 60 × 100 / 110 = 54.5454…, shown 54.55.
        let s = price_score(
            PriceMethod::Proportional,
            dec("60"),
            dec("110"),
            dec("100"),
            dec("300"),
        );
        assert_eq!(shown(s), "54.55");
        assert!(s > dec("54.545454") && s < dec("54.545455"));
        assert_eq!(
            price_score(
                PriceMethod::Proportional,
                dec("60"),
                dec("100"),
                dec("100"),
                dec("300")
            ),
            dec("60")
        );
    }

    #[test]
    fn linear_formula_spreads_between_cheapest_and_dearest() {
        let f = |p: &str| {
            price_score(
                PriceMethod::Linear,
                dec("60"),
                dec(p),
                dec("100"),
                dec("300"),
            )
        };
        assert_eq!(f("100"), dec("60"));
        assert_eq!(f("300"), dec("0"));
        assert_eq!(f("200"), dec("30"));
        // 60 × (300 − 250) / 200 = 15
        assert_eq!(f("250"), dec("15"));
        // All bids equal: everyone gets the maximum.
        assert_eq!(
            price_score(PriceMethod::Linear, dec("60"), dec("5"), dec("5"), dec("5")),
            dec("60")
        );
    }

    #[test]
    fn ties_go_to_the_earlier_receipt() {
        let late_equal = candidate("100", 30, "20", "5");
        let early_equal = candidate("100", 10, "20", "5");
        let ranked = rank(
            &criteria(),
            PriceMethod::Proportional,
            &[late_equal.clone(), early_equal.clone()],
            RULE,
        );
        assert_eq!(ranked[0].candidate.bid_id, early_equal.bid_id);
        assert_eq!(ranked[0].rank, Some(1));
        assert_eq!(ranked[1].candidate.bid_id, late_equal.bid_id);
        assert_eq!(ranked[1].rank, Some(2));
        assert_eq!(ranked[0].total_score, ranked[1].total_score);
    }

    #[test]
    fn ranking_adds_price_and_quality_and_skips_excluded_and_late_bids() {
        let cheap = candidate("100", 1, "10", "2"); // 60 + 12 = 72
        let good = candidate("120", 2, "30", "10"); // 50 + 40 = 90
        let mut excluded = candidate("50", 3, "30", "10");
        excluded.admissibility = Some(Admissibility::Irregular);
        let mut late = candidate("40", 4, "30", "10");
        late.late = true;
        let r = rank(
            &criteria(),
            PriceMethod::Proportional,
            &[cheap.clone(), good.clone(), excluded.clone(), late.clone()],
            RULE,
        );
        assert_eq!(r[0].candidate.bid_id, good.bid_id);
        assert_eq!(r[0].total_score, Some(dec("90")));
        assert_eq!(r[1].total_score, Some(dec("72")));
        assert_eq!(
            r[1].price_score,
            Some(dec("60")),
            "excluded bids do not set P_min"
        );
        assert_eq!(r[2].rank, None);
        assert_eq!(r[3].rank, None);
        assert!(r.iter().all(|x| x.complete || x.rank.is_none()));
    }

    #[test]
    fn abnormally_low_edges_of_the_mean_rule() {
        // Others' mean 100: exactly 40 % below (60) is flagged, 60.01 is not.
        let others = [dec("100"), dec("100")];
        // next_percent 100: only a zero total would be flagged by the other rule.
        let rule = AbnormalRule {
            mean_percent: dec("40"),
            next_percent: dec("100"),
        };
        assert!(abnormally_low(dec("60"), &others, rule));
        assert!(!abnormally_low(dec("60.01"), &others, rule));
        // A mean that is not a finite decimal: (100 + 100 + 101) / 3 = 100.333…; 60 % of it is
        // 60.2 exactly: 60.2 flagged, 60.21 not.
        let others = [dec("100"), dec("100"), dec("101")];
        assert!(abnormally_low(dec("60.2"), &others, rule));
        assert!(!abnormally_low(dec("60.21"), &others, rule));
    }

    #[test]
    fn abnormally_low_edges_of_the_next_bid_rule() {
        let rule = AbnormalRule {
            mean_percent: dec("100"),
            next_percent: dec("30"),
        };
        // Next bid by price is 100 (not the dearer 1000): 70 flagged, 70.01 not.
        let others = [dec("1000"), dec("100")];
        assert!(abnormally_low(dec("70"), &others, rule));
        assert!(!abnormally_low(dec("70.01"), &others, rule));
        // No bid above it: the rule does not apply.
        assert!(!abnormally_low(dec("2000"), &[dec("100")], rule));
        // Alone in its lot: never flagged.
        assert!(!abnormally_low(dec("1"), &[], RULE));
    }

    #[test]
    fn a_flagged_bid_is_awardable_only_once_justified() {
        let mut cheap = candidate("50", 1, "30", "10");
        let dear = candidate("100", 2, "10", "2");
        let r = rank(
            &criteria(),
            PriceMethod::Proportional,
            &[cheap.clone(), dear.clone()],
            RULE,
        );
        assert!(r[0].abnormally_low);
        assert!(r[0].awardable().is_err());
        cheap.justification = Some(Justification {
            requested_at: Utc::now(),
            outcome: Some(JustificationOutcome::Accepted),
        });
        let r = rank(
            &criteria(),
            PriceMethod::Proportional,
            &[cheap.clone(), dear.clone()],
            RULE,
        );
        assert!(r[0].awardable().is_ok());
        cheap.justification = Some(Justification {
            requested_at: Utc::now(),
            outcome: Some(JustificationOutcome::Rejected),
        });
        let r = rank(
            &criteria(),
            PriceMethod::Proportional,
            &[cheap, dear.clone()],
            RULE,
        );
        assert_eq!(r[0].candidate.bid_id, dear.bid_id);
        assert_eq!(
            r[0].price_score,
            Some(dec("60")),
            "a rejected bid no longer sets P_min"
        );
        assert_eq!(r[1].rank, None);
    }

    #[test]
    fn an_unscored_bid_is_ranked_but_not_awardable() {
        let mut c = candidate("100", 1, "10", "2");
        c.scores.remove("environnement");
        c.admissibility = None;
        let r = rank(&criteria(), PriceMethod::Proportional, &[c], RULE);
        assert_eq!(r[0].rank, Some(1));
        assert!(!r[0].complete);
        assert!(r[0].awardable().is_err());
    }
}
