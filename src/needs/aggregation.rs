//! The aggregation proposal of a campaign: submitted needs grouped into lots by CPV prefix,
//! identical items (same CPV code, unit and VAT rate) merged, values per item, lot, member and
//! in total, and the procedure advice for the group. Pure.
//!
//! Every yearly value is a sum of the needs' own estimated values (each already rounded to the
//! cent), so all yearly aggregates add up exactly. Quantities are per year; each lot, nature
//! and the total also report a `contract_value` over the campaign's `contract_months`
//! (round_half_up(yearly × months / 12, 2), computed from that aggregate's yearly sum), and the
//! procedure advice compares the contract value of each nature (R2121-1), with the thresholds
//! in force on the planned launch date.

use std::collections::BTreeMap;

use crate::ids::{CampaignId, NeedId};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::domain::Unit;
use crate::decimal::round_half_up;
use crate::decimal::{Amount, Quantity, VatRate};
use crate::procedures::advice::{advise, Advice, Nature, ThresholdRow, Values};

/// A yearly value over `months` months: round_half_up(yearly × months / 12, 2).
pub fn contract_value(yearly: Decimal, months: u32) -> Amount {
    let total = yearly
        .checked_mul(Decimal::from(months))
        .and_then(|v| v.checked_div(Decimal::from(12)))
        .unwrap_or(Decimal::MAX);
    Amount::from_stored(round_half_up(total, 2))
}

/// How many CPV digits make a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 2 digits.
    Division,
    /// 3 digits (default).
    #[default]
    Group,
    /// 4 digits.
    Class,
}

impl Level {
    /// Number of leading CPV digits forming the lot key.
    pub fn digits(self) -> usize {
        match self {
            Level::Division => 2,
            Level::Group => 3,
            Level::Class => 4,
        }
    }
}

/// A submitted need, as the aggregation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggNeed {
    /// Need id.
    pub id: NeedId,
    /// Member code.
    pub member_code: String,
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Quantity.
    pub quantity: Quantity,
    /// Estimated value HT (already rounded to the cent).
    pub estimated_value: Amount,
}

/// The submitted needs of one member with the same CPV code, unit and VAT rate, added up:
/// what [`aggregate`] works from. On PostgreSQL the database adds them up (its `numeric`
/// sums are exact); on SQLite, whose sums would go through REAL, the needs are read and
/// grouped by [`group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggGroup {
    /// Member code.
    pub member_code: String,
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Σ quantity.
    pub quantity: Decimal,
    /// Σ estimated value HT (each need's already rounded to the cent).
    pub value: Decimal,
    /// The needs added up.
    pub need_ids: Vec<NeedId>,
}

/// Groups `needs` by member, CPV code, unit and VAT rate (see [`AggGroup`]).
pub fn group(needs: &[AggNeed]) -> Vec<AggGroup> {
    let mut groups: BTreeMap<(&str, &str, Unit, VatRate), AggGroup> = BTreeMap::new();
    for n in needs {
        let key = (n.member_code.as_str(), n.cpv.as_str(), n.unit, n.vat_rate);
        let g = groups.entry(key).or_insert_with(|| AggGroup {
            member_code: n.member_code.clone(),
            cpv: n.cpv.clone(),
            unit: n.unit,
            vat_rate: n.vat_rate,
            quantity: Decimal::ZERO,
            value: Decimal::ZERO,
            need_ids: Vec::new(),
        });
        g.quantity += n.quantity.value();
        g.value += n.estimated_value.value();
        g.need_ids.push(n.id);
    }
    groups.into_values().collect()
}

/// A value per member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberValue {
    /// Member code.
    pub member_code: String,
    /// Estimated value HT.
    pub estimated_value: Amount,
}

/// One member's part of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemMember {
    /// Member code.
    pub member_code: String,
    /// The member's total quantity.
    pub quantity: Quantity,
    /// The member's needs merged into the item.
    pub need_ids: Vec<NeedId>,
}

/// Needs with the same CPV code, unit and VAT rate, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: Unit,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Total quantity.
    pub quantity: Quantity,
    /// Total estimated value HT.
    pub estimated_value: Amount,
    /// Each member's quantity and needs.
    pub members: Vec<ItemMember>,
}

/// A proposed lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Lot {
    /// CPV prefix shared by the lot's items.
    pub key: String,
    /// Works or supplies/services.
    pub nature: Nature,
    /// Estimated value HT of the lot, per year.
    pub estimated_value: Amount,
    /// Value HT of the lot over the contract's duration.
    pub contract_value: Amount,
    /// Value per member, per year.
    pub members: Vec<MemberValue>,
    /// Items (quantities per year).
    pub items: Vec<Item>,
}

/// The whole proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Aggregation {
    /// Campaign.
    pub campaign_id: CampaignId,
    /// Level used.
    pub level: Level,
    /// Duration of the future contracts in months, renewals included (the campaign's).
    pub contract_months: u32,
    /// Date whose thresholds the advice applies (the planned launch date).
    pub launch_date: NaiveDate,
    /// Estimated value HT of all lots, per year.
    pub total_estimated_value: Amount,
    /// Value HT of all lots over the contract's duration.
    pub total_contract_value: Amount,
    /// Value per member over all lots, per year.
    pub members: Vec<MemberValue>,
    /// Proposed lots, by key.
    pub lots: Vec<Lot>,
    /// One advice per nature present, from the group's combined contract value.
    pub procedure_advice: Vec<Advice>,
}

/// What the aggregation is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// CPV digits making a lot.
    pub level: Level,
    /// Contract duration in months (1–48).
    pub contract_months: u32,
    /// Planned launch date (thresholds in force that day).
    pub launch_date: NaiveDate,
}

fn member_values(map: BTreeMap<&str, Decimal>) -> Vec<MemberValue> {
    map.into_iter()
        .map(|(member_code, v)| MemberValue {
            member_code: member_code.to_owned(),
            estimated_value: Amount::from_stored(v),
        })
        .collect()
}

/// The first `n` characters of `s`.
fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// An item's key, borrowed from the groups: the maps below hold no copy of any text.
type ItemKey<'a> = (&'a str, Unit, VatRate);
/// Running totals of an item: its value, and per member code the quantity and need ids.
type ItemAcc<'a> = (Decimal, BTreeMap<&'a str, (Decimal, Vec<NeedId>)>);

/// Builds the proposal from the submitted needs, added up per member, CPV code, unit and VAT
/// rate ([`AggGroup`]; each need in one group). `date` chooses the threshold table row.
pub fn aggregate(
    campaign_id: CampaignId,
    groups: &[AggGroup],
    terms: Terms,
    thresholds: &[ThresholdRow],
) -> Aggregation {
    let Terms {
        level,
        contract_months: months,
        launch_date: date,
    } = terms;
    // lot key → item key → member code → (quantity, need ids); plus values.
    let mut lots: BTreeMap<&str, BTreeMap<ItemKey<'_>, ItemAcc<'_>>> = BTreeMap::new();
    let mut lot_members: BTreeMap<&str, BTreeMap<&str, Decimal>> = BTreeMap::new();
    let mut members: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut by_nature: BTreeMap<Nature, Decimal> = BTreeMap::new();
    for g in groups {
        let key = prefix(&g.cpv, level.digits());
        let code = g.member_code.as_str();
        let value = g.value;
        let item = lots
            .entry(key)
            .or_default()
            .entry((g.cpv.as_str(), g.unit, g.vat_rate))
            .or_insert_with(|| (Decimal::ZERO, BTreeMap::new()));
        item.0 += value;
        let part = item
            .1
            .entry(code)
            .or_insert_with(|| (Decimal::ZERO, Vec::new()));
        part.0 += g.quantity;
        part.1.extend_from_slice(&g.need_ids);
        *lot_members.entry(key).or_default().entry(code).or_default() += value;
        *members.entry(code).or_default() += value;
        *by_nature.entry(Nature::of_cpv(&g.cpv)).or_default() += value;
    }
    let lots: Vec<Lot> = lots
        .into_iter()
        .map(|(key, items)| {
            let items: Vec<Item> = items
                .into_iter()
                .map(|((cpv, unit, vat_rate), (value, parts))| Item {
                    cpv: cpv.to_owned(),
                    unit,
                    vat_rate,
                    quantity: Quantity::from_stored(parts.values().map(|p| p.0).sum()),
                    estimated_value: Amount::from_stored(value),
                    members: parts
                        .into_iter()
                        .map(|(member_code, (q, mut need_ids))| {
                            need_ids.sort();
                            ItemMember {
                                member_code: member_code.to_owned(),
                                quantity: Quantity::from_stored(q),
                                need_ids,
                            }
                        })
                        .collect(),
                })
                .collect();
            let per_member = lot_members.remove(key).unwrap_or_default();
            let yearly: Decimal = per_member.values().copied().sum();
            Lot {
                nature: Nature::of_cpv(key),
                estimated_value: Amount::from_stored(yearly),
                contract_value: contract_value(yearly, months),
                members: member_values(per_member),
                items,
                key: key.to_owned(),
            }
        })
        .collect();
    let procedure_advice = by_nature
        .into_iter()
        .map(|(nature, v)| {
            let values = Values {
                yearly: Amount::from_stored(v),
                contract: contract_value(v, months),
            };
            advise(thresholds, nature, values, date)
        })
        .collect();
    let total: Decimal = members.values().copied().sum();
    Aggregation {
        campaign_id,
        level,
        contract_months: months,
        launch_date: date,
        total_estimated_value: Amount::from_stored(total),
        total_contract_value: contract_value(total, months),
        members: member_values(members),
        lots,
        procedure_advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::UnitPrice;
    use crate::needs::domain::estimated_value;
    use proptest::prelude::*;

    fn table() -> Vec<ThresholdRow> {
        crate::config::Settings::load_from(std::path::Path::new("/nonexistent"), &[])
            .unwrap()
            .procedures
            .thresholds
    }

    fn need(member: &str, cpv: &str, unit: Unit, vat: &str, q: &str, p: &str) -> AggNeed {
        let quantity = Quantity::parse(q).unwrap();
        AggNeed {
            id: NeedId::new(),
            member_code: member.into(),
            cpv: cpv.into(),
            unit,
            vat_rate: VatRate::parse(vat).unwrap(),
            quantity,
            estimated_value: estimated_value(quantity, UnitPrice::parse(p).unwrap()).unwrap(),
        }
    }

    /// The campaign-agnostic aggregation of `needs` at `level` with the default table.
    fn agg(needs: &[AggNeed], level: Level) -> Aggregation {
        aggregate(
            CampaignId(uuid::Uuid::nil()),
            &group(needs),
            Terms {
                level,
                contract_months: 12,
                launch_date: date(),
            },
            &table(),
        )
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    #[test]
    fn identical_items_merge_keeping_each_members_quantity() {
        let needs = vec![
            need("NMH", "45442100-8", Unit::M2, "10", "100", "18"),
            need("BMH", "45442100-8", Unit::M2, "10", "50.5", "20"),
            need("BMH", "45442100-8", Unit::M2, "20", "10", "18"),
            need("ARCH", "45421100-5", Unit::Unit, "20", "12", "350"),
        ];
        let agg = agg(&needs, Level::Group);
        assert_eq!(
            agg.lots.len(),
            1,
            "45442100 and 45421100 share the group 454"
        );
        let items: Vec<(String, String, Vec<&str>)> = agg.lots[0]
            .items
            .iter()
            .map(|i| {
                (
                    i.cpv.clone(),
                    i.quantity.to_string(),
                    i.members.iter().map(|m| m.member_code.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            items,
            [
                ("45421100-5".to_owned(), "12".to_owned(), vec!["ARCH"]),
                (
                    "45442100-8".to_owned(),
                    "150.5".to_owned(),
                    vec!["BMH", "NMH"]
                ),
                ("45442100-8".to_owned(), "10".to_owned(), vec!["BMH"]),
            ]
        );
        assert_eq!(agg.lots[0].items[1].members[0].quantity.to_string(), "50.5");
        assert_eq!(agg.lots[0].items[1].members[1].quantity.to_string(), "100");
    }

    #[test]
    fn lots_follow_the_level() {
        let needs = vec![
            need("NMH", "45442100-8", Unit::M2, "10", "100", "18"),
            need("ARCH", "45421100-5", Unit::Unit, "20", "12", "350"),
            need("BMH", "09134100-8", Unit::L, "20", "1000", "1.5"),
        ];
        let keys = |level| {
            agg(&needs, level)
                .lots
                .into_iter()
                .map(|l| l.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(Level::Division), ["09", "45"]);
        assert_eq!(keys(Level::Group), ["091", "454"]);
        assert_eq!(keys(Level::Class), ["0913", "4542", "4544"]);
        let agg = agg(&needs, Level::Class);
        let lot = agg.lots.iter().find(|l| l.key == "4544").unwrap();
        assert_eq!(lot.nature, Nature::Works);
        assert_eq!(lot.items[0].quantity.to_string(), "100");
        assert_eq!(lot.items[0].members[0].member_code, "NMH");
        assert_eq!(agg.total_estimated_value.to_string(), "7500.00");
        // One advice per nature, on the group's combined value.
        let natures: Vec<_> = agg
            .procedure_advice
            .iter()
            .map(|a| (a.nature, a.estimated_value.to_string()))
            .collect();
        assert_eq!(
            natures,
            [
                (Nature::Works, "6000.00".to_owned()),
                (Nature::SuppliesServices, "1500.00".to_owned())
            ]
        );
    }

    #[test]
    fn merge_example_with_values() {
        let needs = vec![
            need("NMH", "45442100-8", Unit::M2, "10", "100", "18"),
            need("BMH", "45442100-8", Unit::M2, "10", "50.5", "20"),
            need("NMH", "45442100-8", Unit::M2, "10", "0.25", "18"),
            need("BMH", "45442100-8", Unit::M2, "20", "10", "18"),
        ];
        let agg = agg(&needs, Level::Group);
        let items = &agg.lots[0].items;
        assert_eq!(items.len(), 2, "different VAT rate → different item");
        assert_eq!(items[0].quantity.to_string(), "150.75");
        assert_eq!(items[0].estimated_value.to_string(), "2814.50");
        let nmh = &items[0]
            .members
            .iter()
            .find(|m| m.member_code == "NMH")
            .unwrap();
        assert_eq!(nmh.quantity.to_string(), "100.25");
        assert_eq!(nmh.need_ids.len(), 2);
    }

    #[test]
    fn group_value_decides_the_procedure_not_one_members() {
        // Each member below 60 000, together above: MAPA, not exemption.
        let needs = vec![
            need("NMH", "09134100-8", Unit::L, "20", "30000", "1"),
            need("BMH", "09134100-8", Unit::L, "20", "30000", "1"),
            need("ARCH", "09134100-8", Unit::L, "20", "30000", "1"),
        ];
        let agg = agg(&needs, Level::Group);
        assert_eq!(agg.procedure_advice.len(), 1);
        assert_eq!(
            agg.procedure_advice[0].procedure,
            Some(crate::procedures::advice::Procedure::Mapa)
        );
        assert!(agg.procedure_advice[0].advert_required);
    }

    fn arb_need() -> impl Strategy<Value = AggNeed> {
        let cpvs = prop::sample::select(vec![
            "45442100-8",
            "45421100-5",
            "45000000-7",
            "09134100-8",
            "09100000-0",
            "44111000-1",
        ]);
        let members = prop::sample::select(vec!["NMH", "BMH", "ARCH"]);
        let units = prop::sample::select(vec![Unit::M2, Unit::Unit, Unit::L]);
        let vats = prop::sample::select(vec!["0", "5.5", "10", "20"]);
        (
            members,
            cpvs,
            units,
            vats,
            1u64..10_000_000u64,
            0u64..100_000_000u64,
        )
            .prop_map(|(m, cpv, unit, vat, q, p)| {
                let quantity = Quantity::parse(&format!("{}.{:03}", q / 1000, q % 1000)).unwrap();
                let price = UnitPrice::parse(&format!("{}.{:04}", p / 10_000, p % 10_000)).unwrap();
                AggNeed {
                    id: NeedId::new(),
                    member_code: m.to_owned(),
                    cpv: cpv.to_owned(),
                    unit,
                    vat_rate: VatRate::parse(vat).unwrap(),
                    quantity,
                    estimated_value: estimated_value(quantity, price).unwrap(),
                }
            })
    }

    #[test]
    fn contract_values_round_half_up_from_the_yearly_sum() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(contract_value(d("100.01"), 7).to_string(), "58.34"); // 58.339166…
        assert_eq!(contract_value(d("0.06"), 1).to_string(), "0.01"); // 0.005 → up
        assert_eq!(contract_value(d("0.05"), 1).to_string(), "0.00"); // 0.00416…
        assert_eq!(contract_value(d("75000.05"), 36).to_string(), "225000.15");
        assert_eq!(contract_value(d("1000"), 48).to_string(), "4000.00");
    }

    #[test]
    fn the_advice_compares_the_contract_value_not_one_years() {
        // 80 000 € of supplies a year: MAPA for one year, above the EU threshold over three.
        let needs = vec![need("NMH", "09134100-8", Unit::L, "20", "80000", "1")];
        let advice = |months| {
            let terms = Terms {
                level: Level::Group,
                contract_months: months,
                launch_date: date(),
            };
            aggregate(
                CampaignId(uuid::Uuid::nil()),
                &group(&needs),
                terms,
                &table(),
            )
            .procedure_advice[0]
                .clone()
        };
        let one = advice(12);
        assert_eq!(
            one.procedure,
            Some(crate::procedures::advice::Procedure::Mapa)
        );
        let three = advice(36);
        assert_eq!(
            three.procedure,
            Some(crate::procedures::advice::Procedure::OpenTender)
        );
        assert_eq!(three.estimated_value.to_string(), "80000.00");
        assert_eq!(three.contract_value.to_string(), "240000.00");
    }

    proptest! {
        #[test]
        fn a_year_long_contract_is_worth_its_yearly_value(cents in 0i64..10_000_000_000i64) {
            let yearly = Decimal::new(cents, 2);
            prop_assert_eq!(contract_value(yearly, 12).value(), yearly);
        }

        #[test]
        fn longer_contracts_are_worth_more(cents in 0i64..10_000_000_000i64, months in 1u32..48) {
            let yearly = Decimal::new(cents, 2);
            prop_assert!(contract_value(yearly, months).value() <= contract_value(yearly, months + 1).value());
            let exact = yearly * Decimal::from(months) / Decimal::from(12);
            prop_assert!((contract_value(yearly, months).value() - exact).abs() <= Decimal::new(5, 3));
        }

        #[test]
        fn grouping_keeps_every_need_once_with_its_key_and_every_sum(needs in prop::collection::vec(arb_need(), 0..40)) {
            let groups = group(&needs);
            let keys: std::collections::BTreeSet<_> = groups.iter().map(|g| (&g.member_code, &g.cpv, g.unit, g.vat_rate)).collect();
            prop_assert_eq!(keys.len(), groups.len(), "one group per key");
            let mut seen = std::collections::BTreeSet::new();
            for g in &groups {
                let members: Vec<&AggNeed> = g.need_ids.iter().map(|id| needs.iter().find(|n| n.id == *id).unwrap()).collect();
                prop_assert!(!members.is_empty());
                for n in &members {
                    prop_assert_eq!((&n.member_code, &n.cpv, n.unit, n.vat_rate), (&g.member_code, &g.cpv, g.unit, g.vat_rate));
                    prop_assert!(seen.insert(n.id), "a need in two groups");
                }
                prop_assert_eq!(members.iter().map(|n| n.quantity.value()).sum::<Decimal>(), g.quantity);
                prop_assert_eq!(members.iter().map(|n| n.estimated_value.value()).sum::<Decimal>(), g.value);
            }
            prop_assert_eq!(seen.len(), needs.len(), "every need in a group");
        }

        #[test]
        fn sums_are_exact_at_every_level(needs in prop::collection::vec(arb_need(), 0..40)) {
            let total: Decimal = needs.iter().map(|n| n.estimated_value.value()).sum();
            for level in [Level::Division, Level::Group, Level::Class] {
                let agg = agg(&needs, level);
                prop_assert_eq!(agg.total_estimated_value.value(), total);
                // Per member, over all lots.
                for m in &agg.members {
                    let expected: Decimal = needs.iter().filter(|n| n.member_code == m.member_code).map(|n| n.estimated_value.value()).sum();
                    prop_assert_eq!(m.estimated_value.value(), expected);
                }
                prop_assert_eq!(agg.members.iter().map(|m| m.estimated_value.value()).sum::<Decimal>(), total);
                prop_assert_eq!(agg.lots.iter().map(|l| l.estimated_value.value()).sum::<Decimal>(), total);
                prop_assert_eq!(agg.procedure_advice.iter().map(|a| a.estimated_value.value()).sum::<Decimal>(), total);
                let mut seen = 0usize;
                for lot in &agg.lots {
                    prop_assert_eq!(lot.key.len(), level.digits());
                    prop_assert_eq!(lot.members.iter().map(|m| m.estimated_value.value()).sum::<Decimal>(), lot.estimated_value.value());
                    prop_assert_eq!(lot.items.iter().map(|i| i.estimated_value.value()).sum::<Decimal>(), lot.estimated_value.value());
                    for m in &lot.members {
                        let expected: Decimal = needs.iter()
                            .filter(|n| n.member_code == m.member_code && n.cpv.starts_with(&lot.key))
                            .map(|n| n.estimated_value.value()).sum();
                        prop_assert_eq!(m.estimated_value.value(), expected);
                    }
                    let keys: std::collections::BTreeSet<_> = lot.items.iter().map(|i| (i.cpv.clone(), i.unit, i.vat_rate)).collect();
                    prop_assert_eq!(keys.len(), lot.items.len(), "an item key appears once per lot");
                    for item in &lot.items {
                        prop_assert!(item.cpv.starts_with(&lot.key));
                        prop_assert_eq!(item.members.iter().map(|m| m.quantity.value()).sum::<Decimal>(), item.quantity.value());
                        let mut item_value = Decimal::ZERO;
                        for part in &item.members {
                            for id in &part.need_ids {
                                let n = needs.iter().find(|n| n.id == *id).unwrap();
                                // Merged only when CPV, unit and VAT rate are equal.
                                prop_assert_eq!(&n.cpv, &item.cpv);
                                prop_assert_eq!(n.unit, item.unit);
                                prop_assert_eq!(n.vat_rate, item.vat_rate);
                                prop_assert_eq!(&n.member_code, &part.member_code);
                                item_value += n.estimated_value.value();
                                seen += 1;
                            }
                        }
                        prop_assert_eq!(item_value, item.estimated_value.value());
                    }
                }
                prop_assert_eq!(seen, needs.len(), "every need is in exactly one item");
            }
        }
    }
}
