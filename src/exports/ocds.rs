//! An OCDS 1.1 release package for one tender, with the lots, bid and contract_buyer
//! extensions: one release per stage that happened (tender, award, contract). Pure.
//!
//! Nothing sealed: `bids` appears only once the deadline has passed (the caller passes `None`
//! before). Amounts are JSON numbers with exactly the decimals' digits ([`super::number`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::number;
use crate::evaluation::domain::Admissibility;
use crate::ids::{AwardId, BidId, ContractId, SupplierId, TenderLotId};
use crate::members::domain::Member;
use crate::procedures::advice::Procedure;
use crate::spelled::Spelled;
use crate::suppliers::domain::Supplier;
use crate::tenders::domain::{LotStatus, Tender, TenderStatus};

/// The three extensions used, as the package lists them.
pub const EXTENSIONS: [&str; 3] = [
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_contract_buyer_extension/master/extension.json",
];

/// A bid as the export shows it (opened tenders only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidRecord {
    /// Bid version.
    pub id: BidId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Exact total HT.
    pub total: Decimal,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// Received after the deadline.
    pub late: bool,
    /// The lead's verdict, if any.
    pub admissibility: Option<Admissibility>,
}

/// An award of a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardRecord {
    /// Award.
    pub id: AwardId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// Bid awarded.
    pub bid_id: BidId,
    /// Winner.
    pub supplier_id: SupplierId,
    /// The awarded bid's total HT.
    pub value: Decimal,
    /// Withdrawn (R2144-7).
    pub withdrawn: bool,
    /// When.
    pub date: DateTime<Utc>,
}

/// One member's part of a lot's contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    /// The member (buyer of this part).
    pub member: Member,
    /// Its HT.
    pub total_ht: Decimal,
}

/// A lot's contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    /// Contract.
    pub id: ContractId,
    /// Lot.
    pub lot_id: TenderLotId,
    /// The award it executes.
    pub award_id: AwardId,
    /// Contractor.
    pub supplier_id: SupplierId,
    /// Lot total HT.
    pub total_ht: Decimal,
    /// Duration in months.
    pub months: u32,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Member parts.
    pub parts: Vec<PartRecord>,
}

/// What the package is made of.
#[derive(Debug, Clone)]
pub struct TenderRecord {
    /// The ocid prefix (`exports.ocid_prefix`).
    pub ocid_prefix: String,
    /// The package's own URI.
    pub uri: String,
    /// The tender (members' shares not needed).
    pub tender: Tender,
    /// The group's name (the publisher).
    pub group_name: String,
    /// The coordinating member: the buyer of the process.
    pub coordinator: Member,
    /// Bids, once opened; `None` while sealed.
    pub bids: Option<Vec<BidRecord>>,
    /// Awards, withdrawn ones included.
    pub awards: Vec<AwardRecord>,
    /// Contracts.
    pub contracts: Vec<ContractRecord>,
    /// Every supplier named above.
    pub suppliers: HashMap<SupplierId, Supplier>,
    /// When the package is published (now).
    pub published: DateTime<Utc>,
}

/// The ocid of a tender.
pub fn ocid(prefix: &str, tender: &Tender) -> String {
    format!("{prefix}-{}", tender.id)
}

/// A party's id: `FR-SIRET-<siret>` for a French establishment, `<DECP type>-<value>`
/// otherwise (e.g. `TVA-DE123456789`).
pub fn party_id(scheme: &str, value: &str) -> String {
    format!("{scheme}-{value}")
}

fn supplier_scheme(s: &Supplier) -> String {
    let kind = s.identifier.kind.spelling();
    if kind == "SIRET" {
        "FR-SIRET".to_owned()
    } else {
        kind
    }
}

fn supplier_ref(s: &Supplier) -> Value {
    json!({"id": party_id(&supplier_scheme(s), &s.identifier.value), "name": s.legal_name})
}

fn member_ref(m: &Member) -> Value {
    json!({"id": party_id("FR-SIRET", &m.siret), "name": m.legal_name})
}

/// A money amount with its 2 decimals (`1009.50`).
fn money(amount: Decimal) -> Value {
    json!({"amount": number(cents(amount)), "currency": "EUR"})
}

/// `amount` rounded half-up to the cent and written with 2 decimals.
pub fn cents(amount: Decimal) -> Decimal {
    let mut v = crate::decimal::round_half_up(amount, 2);
    v.rescale(2);
    v
}

fn money_exact(amount: Decimal) -> Value {
    json!({"amount": number(amount.normalize()), "currency": "EUR"})
}

fn tender_status(s: TenderStatus) -> &'static str {
    match s {
        TenderStatus::Draft => "planned",
        TenderStatus::Published | TenderStatus::Opened | TenderStatus::Evaluated => "active",
        TenderStatus::Awarded | TenderStatus::Contracted => "complete",
        TenderStatus::Cancelled => "cancelled",
    }
}

fn lot_status(s: LotStatus) -> &'static str {
    match s {
        LotStatus::Active | LotStatus::Awarded => "active",
        LotStatus::Unsuccessful => "unsuccessful",
        LotStatus::Cancelled => "cancelled",
        LotStatus::Contracted => "complete",
    }
}

/// OCDS procurement method and its French name.
pub fn method(p: Procedure) -> (&'static str, &'static str) {
    match p {
        Procedure::OpenTender => ("open", "Appel d'offres ouvert"),
        Procedure::Mapa => ("open", "Procédure adaptée"),
        Procedure::NoPublicity => (
            "direct",
            "Marché passé sans publicité ni mise en concurrence préalable",
        ),
    }
}

/// `works` for CPV division 45, `goods` below 45 and for 48, `services` otherwise.
pub fn category(cpv: &str) -> &'static str {
    match cpv.get(..2).and_then(|d| d.parse::<u32>().ok()) {
        Some(45) => "works",
        Some(d) if d < 45 || d == 48 => "goods",
        _ => "services",
    }
}

fn tender_section(r: &TenderRecord) -> Value {
    let t = &r.tender;
    let (m, details) = method(t.procedure);
    let first_cpv = t
        .lots
        .iter()
        .flat_map(|l| l.items.iter())
        .map(|i| i.cpv.as_str())
        .next()
        .unwrap_or("");
    let items: Vec<Value> = t
        .lots
        .iter()
        .flat_map(|l| {
            l.items.iter().map(move |i| {
                json!({
                    "id": i.id.to_string(),
                    "classification": {"scheme": "CPV", "id": i.cpv.get(..8).unwrap_or(&i.cpv)},
                    "quantity": number(i.quantity.value().normalize()),
                    "unit": {"name": i.unit.spelling()},
                    "relatedLot": l.id.to_string(),
                })
            })
        })
        .collect();
    let lots: Vec<Value> = t
        .lots
        .iter()
        .map(|l| json!({"id": l.id.to_string(), "title": l.title, "status": lot_status(l.status)}))
        .collect();
    let criteria: Vec<String> = t
        .criteria
        .iter()
        .map(|c| format!("{} : {} points", c.name, c.weight.value().normalize()))
        .collect();
    let mut tender = json!({
        "id": t.reference,
        "title": t.title,
        "status": tender_status(t.status),
        "procurementMethod": m,
        "procurementMethodDetails": details,
        "mainProcurementCategory": category(first_cpv),
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": criteria.join(" ; "),
        "tenderPeriod": {"endDate": t.bid_deadline.to_rfc3339()},
        "items": items,
        "lots": lots,
    });
    if let Some(start) = t.published_at {
        tender["tenderPeriod"]["startDate"] = json!(start.to_rfc3339());
    }
    if let Some(bids) = &r.bids {
        let mut seen: Vec<SupplierId> = bids
            .iter()
            .filter(|b| !b.late)
            .map(|b| b.supplier_id)
            .collect();
        seen.sort();
        seen.dedup();
        tender["numberOfTenderers"] = json!(seen.len());
    }
    tender
}

fn parties(r: &TenderRecord) -> Value {
    let mut out: Vec<Value> = Vec::new();
    let mut roles: HashMap<String, (Value, Vec<&'static str>)> = HashMap::new();
    let mut add = |id: String, party: Value, role: &'static str| {
        let e = roles.entry(id).or_insert((party, Vec::new()));
        if !e.1.contains(&role) {
            e.1.push(role);
        }
    };
    let org = |m: &Member| {
        json!({
            "id": party_id("FR-SIRET", &m.siret), "name": m.legal_name,
            "identifier": {"scheme": "FR-SIRET", "id": m.siret, "legalName": m.legal_name},
        })
    };
    add(
        party_id("FR-SIRET", &r.coordinator.siret),
        org(&r.coordinator),
        "buyer",
    );
    add(
        party_id("FR-SIRET", &r.coordinator.siret),
        org(&r.coordinator),
        "procuringEntity",
    );
    for c in &r.contracts {
        for p in &c.parts {
            add(
                party_id("FR-SIRET", &p.member.siret),
                org(&p.member),
                "buyer",
            );
        }
    }
    let sup = |s: &Supplier| {
        let scheme = supplier_scheme(s);
        json!({
            "id": party_id(&scheme, &s.identifier.value), "name": s.legal_name,
            "identifier": {"scheme": scheme, "id": s.identifier.value, "legalName": s.legal_name},
            "address": {"countryName": s.identifier.country},
        })
    };
    for b in r.bids.iter().flatten() {
        if let Some(s) = r.suppliers.get(&b.supplier_id) {
            add(
                party_id(&supplier_scheme(s), &s.identifier.value),
                sup(s),
                "tenderer",
            );
        }
    }
    for a in r.awards.iter().filter(|a| !a.withdrawn) {
        if let Some(s) = r.suppliers.get(&a.supplier_id) {
            add(
                party_id(&supplier_scheme(s), &s.identifier.value),
                sup(s),
                "supplier",
            );
        }
    }
    let mut ids: Vec<&String> = roles.keys().collect();
    ids.sort();
    for id in ids {
        if let Some((party, rs)) = roles.get(id) {
            let mut p = party.clone();
            p["roles"] = json!(rs);
            out.push(p);
        }
    }
    Value::Array(out)
}

fn bids_section(r: &TenderRecord, bids: &[BidRecord]) -> Value {
    let mut statistics = Vec::new();
    for (n, l) in r.tender.lots.iter().enumerate() {
        // Bids received in time (late versions are listed in `details`, not counted).
        let count = bids.iter().filter(|b| b.lot_id == l.id && !b.late).count();
        statistics.push(json!({
            "id": (n + 1).to_string(), "measure": "bids", "value": count,
            "relatedLot": l.id.to_string(),
        }));
    }
    let details: Vec<Value> = bids
        .iter()
        .map(|b| {
            let valid =
                !b.late && matches!(b.admissibility, None | Some(Admissibility::Admissible));
            let mut d = json!({
                "id": b.id.to_string(),
                "date": b.received_at.to_rfc3339(),
                "status": if valid { "valid" } else { "disqualified" },
                "value": money_exact(b.total),
                "relatedLots": [b.lot_id.to_string()],
            });
            if let Some(s) = r.suppliers.get(&b.supplier_id) {
                d["tenderers"] = json!([supplier_ref(s)]);
            }
            d
        })
        .collect();
    json!({"statistics": statistics, "details": details})
}

fn awards_section(r: &TenderRecord) -> Value {
    Value::Array(
        r.awards
            .iter()
            .map(|a| {
                let lot = r.tender.lots.iter().find(|l| l.id == a.lot_id);
                let mut v = json!({
                    "id": a.id.to_string(),
                    "title": lot.map(|l| format!("Lot {} : {}", l.number, l.title)).unwrap_or_default(),
                    "date": a.date.to_rfc3339(),
                    "status": if a.withdrawn { "cancelled" } else { "active" },
                    "value": money_exact(a.value),
                    "relatedLots": [a.lot_id.to_string()],
                    "relatedBid": a.bid_id.to_string(),
                });
                if let Some(s) = r.suppliers.get(&a.supplier_id) {
                    v["suppliers"] = json!([supplier_ref(s)]);
                }
                v
            })
            .collect(),
    )
}

fn contracts_section(r: &TenderRecord) -> Value {
    let mut out = Vec::new();
    for c in &r.contracts {
        let lot = r.tender.lots.iter().find(|l| l.id == c.lot_id);
        for p in &c.parts {
            let end = c
                .created_at
                .checked_add_months(chrono::Months::new(c.months))
                .unwrap_or(c.created_at);
            out.push(json!({
                "id": format!("{}-{}", c.id, p.member.code),
                "awardID": c.award_id.to_string(),
                "title": lot.map(|l| format!("Lot {} : {} — part de {}", l.number, l.title, p.member.legal_name)).unwrap_or_default(),
                "status": "active",
                "value": money(p.total_ht),
                "dateSigned": c.created_at.to_rfc3339(),
                "period": {"startDate": c.created_at.to_rfc3339(), "endDate": end.to_rfc3339()},
                "buyer": member_ref(&p.member),
            }));
        }
    }
    Value::Array(out)
}

/// The release package.
pub fn package(r: &TenderRecord) -> Value {
    let ocid = ocid(&r.ocid_prefix, &r.tender);
    let base = |id: &str, tag: &str, date: DateTime<Utc>| {
        json!({
            "ocid": ocid,
            "id": format!("{ocid}-{id}"),
            "date": date.to_rfc3339(),
            "tag": [tag],
            "initiationType": "tender",
            "language": "fr",
            "buyer": member_ref(&r.coordinator),
            "parties": parties(r),
            "tender": tender_section(r),
        })
    };
    let t = &r.tender;
    let mut releases = vec![base(
        "tender",
        if t.status == TenderStatus::Cancelled {
            "tenderCancellation"
        } else {
            "tender"
        },
        t.published_at.unwrap_or(t.created_at),
    )];
    if let Some(date) = r.awards.iter().map(|a| a.date).max() {
        let mut rel = base("award", "award", date);
        rel["awards"] = awards_section(r);
        if let Some(bids) = &r.bids {
            rel["bids"] = bids_section(r, bids);
        }
        releases.push(rel);
    }
    if let Some(date) = r.contracts.iter().map(|c| c.created_at).max() {
        let mut rel = base("contract", "contract", date);
        rel["awards"] = awards_section(r);
        if let Some(bids) = &r.bids {
            rel["bids"] = bids_section(r, bids);
        }
        rel["contracts"] = contracts_section(r);
        releases.push(rel);
    }
    json!({
        "uri": r.uri,
        "version": "1.1",
        "extensions": EXTENSIONS,
        "publishedDate": r.published.to_rfc3339(),
        "publisher": {"name": r.group_name},
        "releases": releases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_cpv_division() {
        assert_eq!(category("45442100-8"), "works");
        assert_eq!(category("09134100-8"), "goods");
        assert_eq!(category("48000000-8"), "goods");
        assert_eq!(category("50000000-5"), "services");
        assert_eq!(category(""), "services");
    }
}
