//! A tender (*consultation*), its lots and items, its criteria and its status machine. Pure.
//!
//! ```text
//!   draft ──publish──▶ published ──(bid deadline passes)──▶ opened ──▶ evaluated ──▶ awarded ──▶ contracted
//!     └───────────────────┴──────────── cancel (sans suite, with a reason) ◀──────────┘
//! ```
//! The deadline is applied on read: a request at or after it sees `opened` even if nothing ran.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{Percent, Quantity, VatRate};
use crate::error::ApiError;
use crate::ids::{CampaignId, GroupId, MemberId, NeedId, SupplierId, TenderId, TenderLotId};
use crate::needs::domain::Unit;
use crate::procedures::advice::Procedure;
use crate::validate::Checks;

crate::stored_enum! {
    /// Status of a tender.
    pub enum TenderStatus {
        /// Being prepared by the lead; invisible to suppliers.
        Draft,
        /// Bids accepted until the deadline.
        Published,
        /// Deadline passed: bids unsealed.
        Opened,
        /// Bids scored.
        Evaluated,
        /// Every lot awarded, unsuccessful or cancelled.
        Awarded,
        /// Contracts made.
        Contracted,
        /// Declared *sans suite*, with a reason.
        Cancelled,
    }
}

impl TenderStatus {
    /// The status as of `now`: a published tender at or past its deadline is opened.
    pub fn effective(self, deadline: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Published && now >= deadline {
            Self::Opened
        } else {
            self
        }
    }

    /// True when the tender may still be cancelled (any state before `contracted`).
    pub fn cancellable(self) -> bool {
        !matches!(self, Self::Contracted | Self::Cancelled)
    }
}

crate::stored_enum! {
    /// Status of a lot.
    pub enum LotStatus {
        /// Open to bids, then to evaluation.
        Active,
        /// Awarded to a bid.
        Awarded,
        /// No acceptable bid.
        Unsuccessful,
        /// Cancelled.
        Cancelled,
        /// Its contract is made.
        Contracted,
    }
}

crate::stored_enum! {
    /// What a criterion scores.
    pub enum CriterionKind {
        /// The price (scored by the tender's price method).
        Price,
        /// Technical value.
        Quality,
        /// Environmental performance.
        Environmental,
    }
}

crate::stored_enum! {
    /// How price scores are computed.
    pub enum PriceMethod {
        /// max × P_min / P (default).
        Proportional,
        /// max × (P_max − P) / (P_max − P_min).
        Linear,
    }
}

/// An award criterion; weights of a tender's criteria sum to exactly 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Name (1–100 characters, unique in the tender).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Weight in points, > 0, at most 2 decimals, e.g. `"60"`.
    pub weight: Percent,
    /// What it scores.
    pub kind: CriterionKind,
}

/// From this date (Paris), a tender must have an environmental criterion when published.
pub fn environmental_required_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 8, 22).unwrap_or_default()
}

/// Most criteria per tender.
pub const MAX_CRITERIA: usize = 10;
/// Most lots per tender.
pub const MAX_LOTS: usize = 50;
/// Most needs per lot.
pub const MAX_NEEDS_PER_LOT: usize = 2000;
/// Most needs per tender.
pub const MAX_NEEDS: usize = 10_000;
/// Most suppliers listed by the lead.
pub const MAX_LISTED_SUPPLIERS: usize = 500;

/// Checks criteria (shape, weights summing to exactly 100, one price criterion, an
/// environmental one on or after [`environmental_required_from`] when `date` is given).
pub fn check_criteria(c: &mut Checks, criteria: &[Criterion], date: Option<NaiveDate>) {
    if criteria.is_empty() || criteria.len() > MAX_CRITERIA {
        c.add("/criteria", "must list 1 to 10 criteria");
        return;
    }
    let mut names = BTreeSet::new();
    for (i, k) in criteria.iter().enumerate() {
        c.line(&format!("/criteria/{i}/name"), &k.name, 1, 100);
        c.check(
            names.insert(k.name.trim().to_lowercase()),
            &format!("/criteria/{i}/name"),
            "is already the name of another criterion",
        );
        c.check(
            !k.weight.value().is_zero(),
            &format!("/criteria/{i}/weight"),
            "must be greater than 0",
        );
    }
    let total: Decimal = criteria.iter().map(|k| k.weight.value()).sum();
    c.check(
        total == Decimal::ONE_HUNDRED,
        "/criteria",
        &format!("weights must sum to exactly 100, not {}", total.normalize()),
    );
    let prices = criteria
        .iter()
        .filter(|k| k.kind == CriterionKind::Price)
        .count();
    c.check(
        prices == 1,
        "/criteria",
        "must have exactly one price criterion",
    );
    if let Some(date) = date {
        c.check(
            date < environmental_required_from()
                || criteria
                    .iter()
                    .any(|k| k.kind == CriterionKind::Environmental),
            "/criteria",
            "must include an environmental criterion for a tender published on or after 2026-08-22",
        );
    }
}

/// A tender reference: 1–16 upper-case letters, digits, `-`, `_`, `/` or `.`, e.g.
/// `2027-GRP-004` (reused in DECP's 16-character contract ids).
pub fn is_reference(s: &str) -> bool {
    (1..=16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_/.".contains(&b))
}

/// One lot of `POST /api/v1/tenders`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLot {
    /// Title (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Submitted needs of the campaign in this lot (1–2000); needs with the same CPV code,
    /// unit and VAT rate become one item.
    #[schema(min_items = 1, max_items = 2000)]
    pub need_ids: Vec<NeedId>,
}

/// Body of `POST /api/v1/tenders`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTender {
    /// The campaign whose submitted needs the lots take (closed, led by the caller).
    pub campaign_id: CampaignId,
    /// Reference, unique: 1–16 of `A-Z 0-9 - _ / .`, e.g. `2027-GRP-004`.
    #[schema(pattern = r"^[A-Z0-9_./-]{1,16}$")]
    pub reference: String,
    /// Title (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Procedure.
    pub procedure: Procedure,
    /// RFC 3339 instant with offset, in the future; at publication it must be at least the
    /// procedure's minimum number of days away.
    #[schema(format = DateTime)]
    pub bid_deadline: String,
    /// Award criteria (weights sum to exactly 100, exactly one `price`).
    #[schema(min_items = 1, max_items = 10)]
    pub criteria: Vec<Criterion>,
    /// Price scoring method (default `proportional`).
    #[serde(rename = "price_scoring")]
    pub price_method: Option<PriceMethod>,
    /// Lots (1–50), in order.
    #[schema(min_items = 1, max_items = 50)]
    pub lots: Vec<CreateLot>,
    /// Suppliers to invite besides those whose CPV divisions match a lot (at most 500).
    #[serde(default, rename = "invited_suppliers")]
    #[schema(max_items = 500)]
    pub suppliers: Vec<SupplierId>,
}

/// A validated new tender (needs not yet checked against the campaign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTender {
    /// Campaign.
    pub campaign_id: CampaignId,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Procedure.
    pub procedure: Procedure,
    /// Bid deadline.
    pub bid_deadline: DateTime<Utc>,
    /// Criteria.
    pub criteria: Vec<Criterion>,
    /// Price method.
    pub price_method: PriceMethod,
    /// Lots as (title, need ids).
    pub lots: Vec<(String, Vec<NeedId>)>,
    /// Listed suppliers, sorted and unique.
    pub suppliers: Vec<SupplierId>,
}

impl CreateTender {
    /// Checks every field against `now` (Paris date `today`); 422 lists all that are wrong.
    /// Lists are bounded before any per-entry work.
    pub fn parse(
        &self,
        now: DateTime<Utc>,
        today: NaiveDate,
        max_years_ahead: u32,
    ) -> Result<NewTender, ApiError> {
        let mut c = Checks::new();
        let lots_ok = (1..=MAX_LOTS).contains(&self.lots.len());
        c.check(lots_ok, "/lots", "must list 1 to 50 lots");
        let per_lot_ok = self.lots.iter().enumerate().all(|(i, l)| {
            let ok = (1..=MAX_NEEDS_PER_LOT).contains(&l.need_ids.len());
            if !ok {
                c.add(
                    format!("/lots/{i}/need_ids"),
                    "must list 1 to 2000 need ids",
                );
            }
            ok
        });
        let total: usize = self.lots.iter().map(|l| l.need_ids.len()).sum();
        c.check(
            total <= MAX_NEEDS,
            "/lots",
            "must hold at most 10000 needs in all",
        );
        let suppliers_ok = self.suppliers.len() <= MAX_LISTED_SUPPLIERS;
        c.check(
            suppliers_ok,
            "/invited_suppliers",
            "must list at most 500 suppliers",
        );
        let criteria_ok = self.criteria.len() <= MAX_CRITERIA;
        if !(lots_ok && per_lot_ok && total <= MAX_NEEDS && suppliers_ok && criteria_ok) {
            if !criteria_ok {
                c.add("/criteria", "must list 1 to 10 criteria");
            }
            return Err(c.into_error());
        }
        c.check(
            is_reference(&self.reference),
            "/reference",
            "must be 1 to 16 upper-case letters, digits, '-', '_', '/' or '.', e.g. 2027-GRP-004",
        );
        let title = c.line("/title", &self.title, 1, 200);
        let deadline = crate::dates::parse_instant(&self.bid_deadline);
        match deadline {
            None => c.add(
                "/bid_deadline",
                "must be an RFC 3339 date-time with offset in the years 2000 to 2199, e.g. 2027-02-01T12:00:00+01:00",
            ),
            Some(d) => {
                if let Err(msg) = crate::dates::check_future(d, now, max_years_ahead) {
                    c.add("/bid_deadline", msg);
                }
            }
        }
        check_criteria(&mut c, &self.criteria, Some(today));
        let mut seen = BTreeSet::new();
        let mut lots = Vec::with_capacity(self.lots.len());
        for (i, lot) in self.lots.iter().enumerate() {
            let title = c.line(&format!("/lots/{i}/title"), &lot.title, 1, 200);
            for (j, id) in lot.need_ids.iter().enumerate() {
                c.check(
                    seen.insert(*id),
                    &format!("/lots/{i}/need_ids/{j}"),
                    "is listed twice: a need goes in one lot only",
                );
            }
            lots.push((title, lot.need_ids.clone()));
        }
        c.finish()?;
        let mut suppliers = self.suppliers.clone();
        suppliers.sort();
        suppliers.dedup();
        Ok(NewTender {
            campaign_id: self.campaign_id,
            reference: self.reference.clone(),
            title,
            procedure: self.procedure,
            bid_deadline: deadline.unwrap_or(now),
            criteria: self.criteria.clone(),
            price_method: self.price_method.unwrap_or(PriceMethod::Proportional),
            lots,
            suppliers,
        })
    }
}

/// Checks that `deadline` is at least `min_days` days after `now` (0: any future instant).
pub fn check_bid_deadline(
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    min_days: u32,
) -> Result<(), String> {
    if deadline <= now {
        return Err("is already past: set a later deadline before publishing".into());
    }
    let min = now
        .checked_add_signed(chrono::Duration::days(i64::from(min_days)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if deadline < min {
        return Err(format!(
            "must leave bidders at least {min_days} days for this procedure (from now: {})",
            crate::dates::paris_local(min)
        ));
    }
    Ok(())
}

/// A need going into a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotNeed {
    /// Need.
    pub id: NeedId,
    /// Its member.
    pub member_id: MemberId,
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Yearly quantity.
    pub quantity: Quantity,
}

/// An item being built: the merged needs with the same CPV code, unit and VAT rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDraft {
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Sum of the members' quantities.
    pub quantity: Decimal,
    /// Each member's quantity and needs.
    pub parts: BTreeMap<MemberId, (Decimal, Vec<NeedId>)>,
}

/// Merges a lot's needs into items (same CPV code, unit and VAT rate), in (CPV, unit, rate)
/// order, keeping each member's quantity and need ids. Quantities add up exactly.
pub fn build_items(needs: &[LotNeed]) -> Vec<ItemDraft> {
    let mut items: BTreeMap<(String, Unit, VatRate), ItemDraft> = BTreeMap::new();
    for n in needs {
        let item = items
            .entry((n.cpv.clone(), n.unit, n.vat_rate))
            .or_insert_with(|| ItemDraft {
                cpv: n.cpv.clone(),
                unit: n.unit,
                vat_rate: n.vat_rate,
                quantity: Decimal::ZERO,
                parts: BTreeMap::new(),
            });
        item.quantity += n.quantity.value();
        let part = item
            .parts
            .entry(n.member_id)
            .or_insert_with(|| (Decimal::ZERO, Vec::new()));
        part.0 += n.quantity.value();
        part.1.push(n.id);
    }
    items
        .into_values()
        .map(|mut i| {
            for part in i.parts.values_mut() {
                part.1.sort();
            }
            i
        })
        .collect()
}

/// One member's share of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemPart {
    /// Member code.
    pub member_code: String,
    /// Its yearly quantity.
    pub quantity: Quantity,
    /// Its needs merged into the item.
    pub need_ids: Vec<NeedId>,
}

/// An item of a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// Id (bids price items by it).
    pub id: crate::ids::TenderItemId,
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Yearly quantity of the whole group.
    pub quantity: Quantity,
    /// Each member's quantity and needs (absent for suppliers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<ItemPart>>,
}

/// A lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Lot {
    /// Id.
    pub id: TenderLotId,
    /// Number, from 1.
    pub number: u32,
    /// Title.
    pub title: String,
    /// Status.
    pub status: LotStatus,
    /// Items.
    pub items: Vec<Item>,
}

/// A tender as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tender {
    /// Id.
    pub id: TenderId,
    /// Group.
    pub group_id: GroupId,
    /// Campaign the needs come from.
    pub campaign_id: CampaignId,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Procedure.
    pub procedure: Procedure,
    /// Bid deadline (UTC).
    pub bid_deadline: DateTime<Utc>,
    /// The same in Europe/Paris local time.
    pub bid_deadline_local: String,
    /// Duration of the contracts in months (from the campaign).
    pub contract_months: u32,
    /// Price scoring method.
    #[serde(rename = "price_scoring")]
    pub price_method: PriceMethod,
    /// Criteria.
    pub criteria: Vec<Criterion>,
    /// Status as of the request.
    pub status: TenderStatus,
    /// Why it was declared *sans suite*.
    pub cancel_reason: Option<String>,
    /// Publication time.
    pub published_at: Option<DateTime<Utc>>,
    /// Cancellation time.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Lots.
    pub lots: Vec<Lot>,
    /// Suppliers the lead listed to invite, besides those whose CPV divisions match an item
    /// (absent for suppliers).
    #[serde(rename = "invited_suppliers", skip_serializing_if = "Option::is_none")]
    pub listed_suppliers: Option<Vec<SupplierId>>,
}

/// Body of `POST /api/v1/tenders/{id}/cancel`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelTender {
    /// Why the tender is declared *sans suite* (1–2000 characters), told to every invited
    /// supplier.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

impl CancelTender {
    /// The checked reason.
    pub fn parse(&self) -> Result<String, ApiError> {
        let mut c = Checks::new();
        let reason = c.paragraph("/reason", &self.reason, 1, 2000);
        c.finish()?;
        Ok(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
    }

    fn crit(name: &str, weight: &str, kind: CriterionKind) -> Criterion {
        Criterion {
            name: name.into(),
            weight: Percent::parse(weight).unwrap(),
            kind,
        }
    }

    fn pointers(criteria: &[Criterion], date: Option<NaiveDate>) -> Vec<String> {
        let mut c = Checks::new();
        check_criteria(&mut c, criteria, date);
        c.into_fields().into_iter().map(|f| f.pointer).collect()
    }

    #[test]
    fn criteria_weights_sum_to_exactly_100_with_one_price() {
        use CriterionKind::*;
        let d = Some(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        let good = [
            crit("Prix", "40", Price),
            crit("Valeur technique", "33.33", Quality),
            crit("Environnement", "26.67", Environmental),
        ];
        assert!(pointers(&good, d).is_empty());
        let off = [
            crit("Prix", "60", Price),
            crit("Technique", "39.99", Quality),
        ];
        assert_eq!(pointers(&off, None), ["/criteria"]);
        let two_prices = [crit("Prix", "50", Price), crit("Prix 2", "50", Price)];
        assert_eq!(pointers(&two_prices, None), ["/criteria"]);
        let no_price = [crit("Technique", "100", Quality)];
        assert_eq!(pointers(&no_price, None), ["/criteria"]);
        let twice = [crit("Prix", "50", Price), crit("prix", "50", Quality)];
        assert_eq!(pointers(&twice, None), ["/criteria/1/name"]);
        let zero = [crit("Prix", "100", Price), crit("Technique", "0", Quality)];
        assert_eq!(pointers(&zero, None), ["/criteria/1/weight"]);
        assert_eq!(pointers(&[], None), ["/criteria"]);
    }

    #[test]
    fn an_environmental_criterion_is_required_from_2026_08_22() {
        use CriterionKind::*;
        let price_only = [crit("Prix", "60", Price), crit("Technique", "40", Quality)];
        let day = |m, d| Some(NaiveDate::from_ymd_opt(2026, m, d).unwrap());
        assert!(pointers(&price_only, day(8, 21)).is_empty());
        assert_eq!(pointers(&price_only, day(8, 22)), ["/criteria"]);
    }

    #[test]
    fn status_opens_at_the_deadline_exactly() {
        let deadline = now();
        let before = deadline - chrono::Duration::microseconds(1);
        assert_eq!(
            TenderStatus::Published.effective(deadline, before),
            TenderStatus::Published
        );
        assert_eq!(
            TenderStatus::Published.effective(deadline, deadline),
            TenderStatus::Opened
        );
        assert_eq!(
            TenderStatus::Draft.effective(deadline, deadline),
            TenderStatus::Draft
        );
        assert_eq!(
            TenderStatus::Cancelled.effective(deadline, deadline),
            TenderStatus::Cancelled
        );
        assert!(TenderStatus::Opened.cancellable() && !TenderStatus::Contracted.cancellable());
    }

    #[test]
    fn minimum_bid_periods() {
        let n = now();
        assert!(check_bid_deadline(n + chrono::Duration::days(30), n, 30).is_ok());
        assert!(check_bid_deadline(
            n + chrono::Duration::days(30) - chrono::Duration::seconds(1),
            n,
            30
        )
        .is_err());
        assert!(check_bid_deadline(n + chrono::Duration::seconds(1), n, 0).is_ok());
        assert!(
            check_bid_deadline(n, n, 0).is_err(),
            "the deadline must be in the future"
        );
    }

    #[test]
    fn references() {
        assert!(is_reference("2027-GRP-004"));
        assert!(is_reference("A"));
        assert!(!is_reference(""));
        assert!(is_reference("2027-GRP-0040000"));
        assert!(!is_reference("2027-GRP-00400000"), "17 characters");
        assert!(!is_reference("2027-grp-004"));
        assert!(!is_reference("2027 GRP"));
    }

    fn need(member: u128, cpv: &str, unit: Unit, vat: &str, q: &str) -> LotNeed {
        LotNeed {
            id: NeedId::new(),
            member_id: MemberId(uuid::Uuid::from_u128(member)),
            cpv: cpv.into(),
            unit,
            vat_rate: VatRate::parse(vat).unwrap(),
            quantity: Quantity::parse(q).unwrap(),
        }
    }

    #[test]
    fn items_merge_same_code_unit_and_rate_keeping_members() {
        let needs = [
            need(1, "45442100-8", Unit::M2, "10", "100"),
            need(2, "45442100-8", Unit::M2, "10", "50.5"),
            need(2, "45442100-8", Unit::M2, "10", "0.5"),
            need(2, "45442100-8", Unit::M2, "20", "10"),
            need(3, "45421100-5", Unit::Unit, "20", "12"),
        ];
        let items = build_items(&needs);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].cpv, "45421100-5");
        let painting = &items[1];
        assert_eq!(painting.quantity.to_string(), "151.0");
        let member2 = &painting.parts[&MemberId(uuid::Uuid::from_u128(2))];
        assert_eq!((member2.0.to_string(), member2.1.len()), ("51.0".into(), 2));
        assert_eq!(items[2].vat_rate.to_string(), "20");
    }

    proptest! {
        #[test]
        fn item_quantities_are_the_exact_sums_of_the_needs(
            raw in prop::collection::vec((0u128..4, 0usize..3, 1u32..100_000u32), 0..60)
        ) {
            let cpvs = ["45442100-8", "45421100-5", "09134100-8"];
            let needs: Vec<LotNeed> = raw
                .iter()
                .map(|(m, c, q)| need(*m, cpvs[*c], Unit::M2, "10", &format!("{}.{}", q / 1000, q % 1000)))
                .collect();
            let items = build_items(&needs);
            let total: Decimal = needs.iter().map(|n| n.quantity.value()).sum();
            prop_assert_eq!(items.iter().map(|i| i.quantity).sum::<Decimal>(), total);
            for i in &items {
                prop_assert_eq!(i.parts.values().map(|p| p.0).sum::<Decimal>(), i.quantity);
            }
            let ids: usize = items.iter().flat_map(|i| i.parts.values()).map(|p| p.1.len()).sum();
            prop_assert_eq!(ids, needs.len(), "every need in exactly one item");
        }
    }
}
