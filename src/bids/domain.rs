//! A bid (*offre*) on a lot: a unit price HT for every item, an optional technical offer, an
//! exact total, versions, and the receipt's canonical form and SHA-256. Pure.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decimal::{Quantity, UnitPrice};
use crate::error::ApiError;
use crate::ids::{BidId, SupplierId, TenderId, TenderItemId, TenderLotId};
use crate::validate::Checks;

crate::stored_enum! {
    /// Status of a bid version.
    pub enum BidStatus {
        /// Received before the deadline; the current version.
        Submitted,
        /// Received at or after the deadline: kept, never evaluated.
        Late,
        /// Replaced by a later version received before the deadline.
        Superseded,
        /// Withdrawn by the bidder before the deadline.
        Withdrawn,
    }
}

/// Longest technical offer, in characters.
pub const MAX_TECHNICAL_OFFER: usize = 20_000;
/// Most price lines in one bid (a lot has at most as many items as needs).
pub const MAX_PRICES: usize = 2_000;

/// One priced item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceLine {
    /// The lot's item.
    pub item_id: TenderItemId,
    /// Unit price HT (≥ 0, ≤ 4 decimals), e.g. `"18.5"`.
    pub unit_price: UnitPrice,
}

/// Body of `PUT /api/v1/tenders/{id}/lots/{lot_id}/bid`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBid {
    /// A unit price for every item of the lot, each once.
    #[serde(rename = "lines")]
    #[schema(max_items = 2000)]
    pub prices: Vec<PriceLine>,
    /// Technical offer (at most 20 000 characters).
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub technical_offer: String,
}

/// A checked bid: prices by item id, and the exact total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBid {
    /// Unit prices by item.
    pub prices: BTreeMap<TenderItemId, UnitPrice>,
    /// Technical offer.
    pub technical_offer: String,
    /// Σ quantity × unit price, exact.
    pub total: Decimal,
}

impl PutBid {
    /// Checks the bid against the lot's `items` (id, yearly quantity): every item priced
    /// once, none unknown; 422 names each problem. The list is bounded before any per-entry
    /// work.
    pub fn check(&self, items: &[(TenderItemId, Quantity)]) -> Result<CheckedBid, ApiError> {
        let mut c = Checks::new();
        if self.prices.len() > MAX_PRICES {
            c.add("/lines", "must list at most 2000 lines");
            return Err(c.into_error());
        }
        let technical_offer = c.paragraph(
            "/technical_offer",
            &self.technical_offer,
            0,
            MAX_TECHNICAL_OFFER,
        );
        let quantities: BTreeMap<TenderItemId, Quantity> = items.iter().copied().collect();
        let mut prices = BTreeMap::new();
        for (i, line) in self.prices.iter().enumerate() {
            if !quantities.contains_key(&line.item_id) {
                c.add(format!("/lines/{i}/item_id"), "is not an item of this lot");
            } else if prices.insert(line.item_id, line.unit_price).is_some() {
                c.add(format!("/lines/{i}/item_id"), "is priced twice");
            }
        }
        let missing: Vec<String> = quantities
            .keys()
            .filter(|id| !prices.contains_key(id))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
            c.add(
                "/lines",
                format!(
                    "must price every item of the lot; missing: {}{}",
                    shown.join(", "),
                    if missing.len() > 20 { ", …" } else { "" }
                ),
            );
        }
        c.finish()?;
        let total = prices
            .iter()
            .try_fold(Decimal::ZERO, |sum, (id, price)| {
                let q = quantities.get(id)?.value();
                sum.checked_add(q.checked_mul(price.value())?)
            })
            .filter(|t| *t <= crate::decimal::MAX_VALUE)
            .ok_or_else(|| {
                ApiError::invalid_field("/lines", "the bid's total exceeds 999 999 999 999.99")
            })?;
        Ok(CheckedBid {
            prices,
            technical_offer,
            total: total.normalize(),
        })
    }
}

/// What a receipt's hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Sealed<'a> {
    /// Tender.
    pub tender_id: TenderId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Version.
    pub version: u32,
    /// The checked bid.
    pub bid: &'a CheckedBid,
    /// Reception instant (microseconds).
    pub received_at: DateTime<Utc>,
}

impl Sealed<'_> {
    /// The canonical JSON of the bid version (documented in `docs/bids.md`): keys sorted,
    /// no spaces, decimals as strings without trailing zeros, lines by item id, the instant
    /// in UTC with 6 decimals.
    pub fn canonical(&self) -> String {
        let prices: Vec<serde_json::Value> = self
            .bid
            .prices
            .iter()
            .map(|(id, p)| serde_json::json!({"item_id": id, "unit_price": p.value().normalize().to_string()}))
            .collect();
        let value = serde_json::json!({
            "tender_id": self.tender_id,
            "lot_id": self.lot_id,
            "supplier_id": self.supplier_id,
            "version": self.version,
            "lines": prices,
            "technical_offer": self.bid.technical_offer,
            "total": self.bid.total.normalize().to_string(),
            "received_at": self.received_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        });
        crate::audit::domain::canonical_json(&value)
    }

    /// Lower-case hex SHA-256 of [`Sealed::canonical`].
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}

/// The receipt of a bid version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Bid version id.
    pub bid_id: BidId,
    /// Version, from 1.
    pub version: u32,
    /// `submitted`, or `late` when received at or after the deadline (kept, never evaluated).
    pub status: BidStatus,
    /// Server reception instant (UTC, microseconds).
    pub received_at: DateTime<Utc>,
    /// The same in Europe/Paris local time.
    pub received_at_local: String,
    /// Σ quantity × unit price HT, exact.
    pub total: String,
    /// SHA-256 of the canonical JSON of the version (see `docs/bids.md`).
    pub sha256: String,
}

/// A bid version as its bidder, or the lead after the deadline, reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Bid {
    /// Version id.
    pub id: BidId,
    /// Tender.
    pub tender_id: TenderId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Bidder's legal name.
    pub supplier_name: String,
    /// Version.
    pub version: u32,
    /// Status.
    pub status: BidStatus,
    /// Unit prices, by item id.
    #[serde(rename = "lines")]
    pub prices: Vec<PriceLine>,
    /// Technical offer.
    pub technical_offer: String,
    /// Σ quantity × unit price HT, exact.
    pub total: String,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// SHA-256 of its canonical form.
    pub sha256: String,
}

/// Item ids in a set, for tests and checks.
pub fn item_set(items: &[(TenderItemId, Quantity)]) -> BTreeSet<TenderItemId> {
    items.iter().map(|(id, _)| *id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn items() -> Vec<(TenderItemId, Quantity)> {
        vec![
            (
                TenderItemId(uuid::Uuid::from_u128(1)),
                Quantity::parse("150.5").unwrap(),
            ),
            (
                TenderItemId(uuid::Uuid::from_u128(2)),
                Quantity::parse("12").unwrap(),
            ),
        ]
    }

    fn line(item: u128, price: &str) -> PriceLine {
        PriceLine {
            item_id: TenderItemId(uuid::Uuid::from_u128(item)),
            unit_price: UnitPrice::parse(price).unwrap(),
        }
    }

    fn pointers(prices: Vec<PriceLine>) -> Vec<String> {
        PutBid {
            prices,
            technical_offer: String::new(),
        }
        .check(&items())
        .err()
        .map(|e| e.errors.into_iter().map(|f| f.pointer).collect())
        .unwrap_or_default()
    }

    #[test]
    fn every_item_priced_once_and_the_total_is_exact() {
        let ok = PutBid {
            prices: vec![line(2, "350"), line(1, "18.3333")],
            technical_offer: "Deux couches".into(),
        }
        .check(&items())
        .unwrap();
        // 150.5 × 18.3333 + 12 × 350 = 2759.16165 + 4200
        assert_eq!(ok.total.to_string(), "6959.16165");
        assert_eq!(pointers(vec![line(1, "1")]), ["/lines"], "item 2 missing");
        assert_eq!(
            pointers(vec![line(1, "1"), line(2, "1"), line(1, "2")]),
            ["/lines/2/item_id"]
        );
        assert_eq!(
            pointers(vec![line(1, "1"), line(2, "1"), line(3, "1")]),
            ["/lines/2/item_id"]
        );
        let many: Vec<PriceLine> = (0..2001).map(|i| line(i, "1")).collect();
        assert_eq!(pointers(many), ["/lines"]);
    }

    #[test]
    fn the_canonical_form_is_stable_and_hashed() {
        let bid = PutBid {
            prices: vec![line(2, "350.00"), line(1, "18.5")],
            technical_offer: "Offre".into(),
        }
        .check(&items())
        .unwrap();
        let sealed = Sealed {
            tender_id: TenderId(uuid::Uuid::from_u128(10)),
            lot_id: TenderLotId(uuid::Uuid::from_u128(11)),
            supplier_id: SupplierId(uuid::Uuid::from_u128(12)),
            version: 2,
            bid: &bid,
            received_at: Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0).unwrap(),
        };
        assert_eq!(
            sealed.canonical(),
            r#"{"lines":[{"item_id":"00000000-0000-0000-0000-000000000001","unit_price":"18.5"},{"item_id":"00000000-0000-0000-0000-000000000002","unit_price":"350"}],"lot_id":"00000000-0000-0000-0000-00000000000b","received_at":"2027-01-10T09:00:00.000000Z","supplier_id":"00000000-0000-0000-0000-00000000000c","technical_offer":"Offre","tender_id":"00000000-0000-0000-0000-00000000000a","total":"6984.25","version":2}"#
        );
        assert_eq!(
            sealed.sha256(),
            hex::encode(Sha256::digest(sealed.canonical().as_bytes()))
        );
        assert_eq!(sealed.sha256().len(), 64);
    }

    proptest! {
        #[test]
        fn the_total_is_the_exact_sum_of_the_lines(a in 0u64..10_000_000u64, b in 0u64..10_000_000u64) {
            let pa = Decimal::new(i64::try_from(a).unwrap_or(0), 4);
            let pb = Decimal::new(i64::try_from(b).unwrap_or(0), 4);
            let bid = PutBid {
                prices: vec![line(1, &pa.to_string()), line(2, &pb.to_string())],
                technical_offer: String::new(),
            }
            .check(&items())
            .unwrap();
            let expected = Decimal::new(1505, 1) * pa + Decimal::from(12) * pb;
            prop_assert_eq!(bid.total, expected.normalize());
        }
    }
}
