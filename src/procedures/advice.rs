//! Procedure advice from the dated threshold table. Pure.
//!
//! The value compared is the **whole group's** estimated value HT for one nature (works, or
//! supplies and services), never one member's. French rules:
//! - below the no-publicity exemption (*dispense de publicité et de mise en concurrence*):
//!   `no_publicity` (the exemption applies to values strictly below the threshold);
//! - from that threshold up to the EU threshold (exclusive): `mapa` (*procédure adaptée*),
//!   with a mandatory advert from `mandatory_advert_from`;
//! - at or above the EU threshold: `open_tender` (*appel d'offres ouvert*).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::decimal::Amount;

/// Works (CPV division 45) or supplies and services (every other division).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    /// *Travaux*.
    Works,
    /// *Fournitures et services*.
    SuppliesServices,
}

impl Nature {
    /// The nature of a CPV code: division 45 is works.
    pub fn of_cpv(cpv: &str) -> Self {
        if cpv.starts_with("45") {
            Nature::Works
        } else {
            Nature::SuppliesServices
        }
    }
}

crate::stored_enum! {
    /// A procedure.
    pub enum Procedure {
        /// No publicity nor competition required.
        NoPublicity,
        /// *Procédure adaptée*.
        Mapa,
        /// *Appel d'offres ouvert*.
        OpenTender,
    }
}

/// One row of the threshold table, valid from a date (until `valid_until` if given).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRow {
    /// Which nature the row is for.
    pub nature: Nature,
    /// First day the row applies.
    pub valid_from: NaiveDate,
    /// Last day the row applies (none: until a later row).
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// Values strictly below are exempt from publicity and competition.
    pub no_publicity_below: Amount,
    /// From this value a MAPA needs a published advert.
    pub mandatory_advert_from: Amount,
    /// From this value the EU formal procedure applies.
    pub eu_threshold: Amount,
}

/// The advice for one nature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Advice {
    /// Nature compared.
    pub nature: Nature,
    /// The group's estimated value HT for that nature, per year.
    pub estimated_value: Amount,
    /// The group's value HT for that nature over the contract's whole duration (renewals
    /// included): the value compared with the thresholds (R2121-1).
    pub contract_value: Amount,
    /// The procedure called for; null when no table row covers the date.
    pub procedure: Option<Procedure>,
    /// The threshold that decides: the exemption ceiling for `no_publicity`, the exemption
    /// threshold crossed for `mapa`, the EU threshold crossed for `open_tender`.
    pub threshold: Option<Amount>,
    /// For `mapa`: whether an advert must be published.
    pub advert_required: bool,
    /// Start date of the table row used.
    pub rule_valid_from: Option<NaiveDate>,
    /// Explanation in words.
    pub note: String,
}

/// Checks a threshold table: per row, exemption and advert thresholds not above the EU
/// threshold, and a valid period.
pub fn check_table(rows: &[ThresholdRow]) -> Result<(), String> {
    for (i, r) in rows.iter().enumerate() {
        if r.no_publicity_below > r.eu_threshold || r.mandatory_advert_from > r.eu_threshold {
            return Err(format!(
                "procedures.thresholds[{i}]: no_publicity_below and mandatory_advert_from must not exceed eu_threshold"
            ));
        }
        if r.valid_until.is_some_and(|u| u < r.valid_from) {
            return Err(format!(
                "procedures.thresholds[{i}]: valid_until is before valid_from"
            ));
        }
    }
    Ok(())
}

/// The row that applies to `nature` on `date`: the latest `valid_from` not after `date`
/// whose `valid_until` (if any) is not before it.
pub fn row_for(rows: &[ThresholdRow], nature: Nature, date: NaiveDate) -> Option<&ThresholdRow> {
    rows.iter()
        .filter(|r| {
            r.nature == nature && r.valid_from <= date && r.valid_until.is_none_or(|u| date <= u)
        })
        .max_by_key(|r| r.valid_from)
}

/// The yearly and whole-duration values of a group's needs of one nature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values {
    /// Per year.
    pub yearly: Amount,
    /// Over the contract's whole duration: what the thresholds apply to.
    pub contract: Amount,
}

/// Advises the procedure for a group's needs of `nature` worth `values`, with the thresholds
/// in force on `date` (the planned launch date). The contract value is compared, never the
/// yearly one.
pub fn advise(rows: &[ThresholdRow], nature: Nature, values: Values, date: NaiveDate) -> Advice {
    let value = values.contract;
    let Some(row) = row_for(rows, nature, date) else {
        return Advice {
            nature,
            estimated_value: values.yearly,
            contract_value: value,
            procedure: None,
            threshold: None,
            advert_required: false,
            rule_valid_from: None,
            note: format!(
                "no threshold row in the configuration covers {date}; update procedures.thresholds"
            ),
        };
    };
    let (procedure, threshold, note) = if value < row.no_publicity_below {
        (
            Procedure::NoPublicity,
            row.no_publicity_below,
            format!(
                "below {} € HT: no publicity or competition required",
                row.no_publicity_below
            ),
        )
    } else if value < row.eu_threshold {
        (
            Procedure::Mapa,
            row.no_publicity_below,
            format!(
                "from {} € HT and below the EU threshold of {} € HT: procédure adaptée",
                row.no_publicity_below, row.eu_threshold
            ),
        )
    } else {
        (
            Procedure::OpenTender,
            row.eu_threshold,
            format!(
                "at or above the EU threshold of {} € HT: appel d'offres ouvert",
                row.eu_threshold
            ),
        )
    };
    Advice {
        nature,
        estimated_value: values.yearly,
        contract_value: value,
        procedure: Some(procedure),
        threshold: Some(threshold),
        advert_required: procedure == Procedure::Mapa && value >= row.mandatory_advert_from,
        rule_valid_from: Some(row.valid_from),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<ThresholdRow> {
        let cfg =
            crate::config::Settings::load_from(std::path::Path::new("/nonexistent"), &[]).unwrap();
        cfg.procedures.thresholds
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    /// A contract value (the yearly one does not decide anything).
    fn v(s: &str) -> Values {
        Values {
            yearly: Amount::ZERO,
            contract: a(s),
        }
    }

    fn proc(
        nature: Nature,
        value: &str,
        date: &str,
    ) -> (Option<Procedure>, Option<Amount>, Option<NaiveDate>) {
        let adv = advise(&table(), nature, v(value), d(date));
        (adv.procedure, adv.threshold, adv.rule_valid_from)
    }

    use Nature::*;
    use Procedure::*;

    #[test]
    fn default_table_is_consistent() {
        check_table(&table()).unwrap();
    }

    #[test]
    fn supplies_eu_threshold_2026_edges() {
        let date = "2026-06-01";
        assert_eq!(proc(SuppliesServices, "215999.99", date).0, Some(Mapa));
        assert_eq!(
            proc(SuppliesServices, "216000.00", date),
            (Some(OpenTender), Some(a("216000")), Some(d("2026-04-01")))
        );
        assert_eq!(
            proc(SuppliesServices, "216000.01", date).0,
            Some(OpenTender)
        );
    }

    #[test]
    fn supplies_eu_threshold_was_221000_before_2026() {
        assert_eq!(
            proc(SuppliesServices, "220999.99", "2025-12-31"),
            (Some(Mapa), Some(a("40000")), Some(d("2024-01-01")))
        );
        assert_eq!(
            proc(SuppliesServices, "221000.00", "2025-12-31").0,
            Some(OpenTender)
        );
        assert_eq!(
            proc(SuppliesServices, "220000.00", "2026-01-01").0,
            Some(OpenTender)
        );
    }

    #[test]
    fn supplies_exemption_switches_from_40000_to_60000_on_2026_04_01() {
        // Just below, at, just above 40 000 before the switch.
        assert_eq!(
            proc(SuppliesServices, "39999.99", "2026-03-31"),
            (Some(NoPublicity), Some(a("40000")), Some(d("2026-01-01")))
        );
        assert_eq!(
            proc(SuppliesServices, "40000.00", "2026-03-31").0,
            Some(Mapa)
        );
        assert_eq!(
            proc(SuppliesServices, "40000.01", "2026-03-31").0,
            Some(Mapa)
        );
        // The same value is exempt from 2026-04-01; edges of 60 000.
        assert_eq!(
            proc(SuppliesServices, "50000.00", "2026-04-01"),
            (Some(NoPublicity), Some(a("60000")), Some(d("2026-04-01")))
        );
        assert_eq!(
            proc(SuppliesServices, "59999.99", "2026-04-01").0,
            Some(NoPublicity)
        );
        assert_eq!(
            proc(SuppliesServices, "60000.00", "2026-04-01").0,
            Some(Mapa)
        );
        assert_eq!(
            proc(SuppliesServices, "60000.01", "2026-04-01").0,
            Some(Mapa)
        );
    }

    #[test]
    fn works_edges() {
        let date = "2026-06-01";
        assert_eq!(
            proc(Works, "99999.99", date),
            (Some(NoPublicity), Some(a("100000")), Some(d("2026-01-01")))
        );
        assert_eq!(proc(Works, "100000.00", date).0, Some(Mapa));
        assert_eq!(proc(Works, "100000.01", date).0, Some(Mapa));
        assert_eq!(proc(Works, "5403999.99", date).0, Some(Mapa));
        assert_eq!(
            proc(Works, "5404000.00", date),
            (Some(OpenTender), Some(a("5404000")), Some(d("2026-01-01")))
        );
        assert_eq!(proc(Works, "5404000.01", date).0, Some(OpenTender));
        assert_eq!(
            proc(Works, "5500000.00", "2025-06-01").0,
            Some(Mapa),
            "5 538 000 before 2026"
        );
        assert_eq!(proc(Works, "5538000.00", "2025-06-01").0, Some(OpenTender));
    }

    #[test]
    fn mandatory_advert_from_90000_in_mapa() {
        let t = table();
        assert!(!advise(&t, SuppliesServices, v("89999.99"), d("2026-06-01")).advert_required);
        assert!(advise(&t, SuppliesServices, v("90000.00"), d("2026-06-01")).advert_required);
        assert!(
            !advise(&t, SuppliesServices, v("216000.00"), d("2026-06-01")).advert_required,
            "open tender: not a MAPA advert"
        );
    }

    #[test]
    fn no_row_gives_no_procedure_but_says_why() {
        let adv = advise(&table(), Works, v("1"), d("2028-01-01"));
        assert_eq!(adv.procedure, None);
        assert!(adv.note.contains("2028-01-01"));
        let adv = advise(&table(), Works, v("1"), d("2023-12-31"));
        assert_eq!(adv.procedure, None);
    }

    #[test]
    fn cpv_division_45_is_works() {
        assert_eq!(Nature::of_cpv("45210000-2"), Works);
        assert_eq!(Nature::of_cpv("09100000-0"), SuppliesServices);
        assert_eq!(Nature::of_cpv("44100000-1"), SuppliesServices);
    }
}
