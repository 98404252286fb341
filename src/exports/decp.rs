//! DECP 2.0 (*données essentielles de la commande publique*, arrêté of 22 December 2022): one
//! `marche` per member part of a contract — each member signs for its own needs, so each is
//! the `acheteur` of its part. Pure; valid against `standards/decp-2.0`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::number;
use super::ocds::{category, cents, ContractRecord};
use crate::procedures::advice::Procedure;
use crate::spelled::Spelled;
use crate::suppliers::domain::Supplier;
use crate::tenders::domain::{CriterionKind, Tender};

/// Longest DECP contract id.
pub const MAX_ID: usize = 16;

/// The DECP id of lot `lot_number` of tender `reference`: `<reference>-<lot>` (`2027-GRP-004-1`)
/// when it fits in 16 characters, otherwise the reference cut, 4 hex digits of the SHA-256 of
/// the whole reference (so two long references sharing a start differ) and `L<lot>`. The same
/// for every member: an id is unique per buyer.
pub fn marche_id(reference: &str, lot_number: u32) -> String {
    use sha2::Digest;
    let full = format!("{reference}-{lot_number}");
    if full.chars().count() <= MAX_ID {
        return full;
    }
    let digest = hex::encode(sha2::Sha256::digest(reference.as_bytes()));
    let suffix = format!("{}L{lot_number}", digest.get(..4).unwrap_or(""));
    let keep = MAX_ID.saturating_sub(suffix.len());
    let head: String = reference.chars().take(keep).collect();
    format!("{head}{suffix}")
}

/// DECP's name of a procedure.
pub fn procedure(p: Procedure) -> &'static str {
    match p {
        Procedure::OpenTender => "Appel d'offres ouvert",
        Procedure::Mapa => "Procédure adaptée",
        Procedure::NoPublicity => "Marché passé sans publicité ni mise en concurrence préalable",
    }
}

/// What a DECP record needs besides the contract.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The tender.
    pub tender: &'a Tender,
    /// The contractor.
    pub supplier: &'a Supplier,
    /// Bids received in time in the lot (`offresRecues`, at least 1).
    pub bids_received: usize,
    /// The publication date of the data (the export's day, Paris).
    pub published_on: NaiveDate,
}

/// One `marche` per member part of `c` (parts under 1 € are left out: DECP's `montant` is at
/// least 1).
pub fn marches(c: &ContractRecord, ctx: &Context<'_>) -> Vec<Value> {
    let t = ctx.tender;
    let Some(lot) = t.lots.iter().find(|l| l.id == c.lot_id) else {
        return Vec::new();
    };
    let cpv = lot.items.first().map(|i| i.cpv.clone()).unwrap_or_default();
    let works = category(&cpv) == "works";
    let environmental = t
        .criteria
        .iter()
        .any(|k| k.kind == CriterionKind::Environmental);
    let objet: String = format!("{} — lot {} : {}", t.title, lot.number, lot.title)
        .chars()
        .take(1000)
        .collect();
    let notified = crate::dates::paris_date(c.created_at);
    c.parts
        .iter()
        .filter(|p| p.total_ht >= rust_decimal::Decimal::ONE)
        .map(|p| {
            json!({
                "id": marche_id(&t.reference, lot.number),
                "acheteur": {"id": p.member.siret},
                "nature": "Marché",
                "objet": objet,
                "codeCPV": cpv,
                "techniques": {"technique": ["Sans objet"]},
                "modalitesExecution": {"modaliteExecution": ["Sans objet"]},
                "marcheInnovant": false,
                "ccag": if works { "Travaux" } else { "Fournitures courantes et services" },
                "offresRecues": ctx.bids_received.max(1),
                "attributionAvance": false,
                "typeGroupementOperateurs": "Pas de groupement",
                "procedure": procedure(t.procedure),
                "lieuExecution": {"code": "FR", "typeCode": "Code pays"},
                "dureeMois": c.months.max(1),
                "dateNotification": notified.to_string(),
                "datePublicationDonnees": ctx.published_on.to_string(),
                "montant": number(cents(p.total_ht)),
                "typesPrix": {"typePrix": ["Définitif ferme"]},
                "formePrix": "Unitaire",
                "sousTraitanceDeclaree": false,
                "titulaires": [{"titulaire": {
                    "typeIdentifiant": ctx.supplier.identifier.kind.spelling(),
                    "id": ctx.supplier.identifier.value,
                }}],
                "considerationsSociales": {"considerationSociale": ["Pas de considération sociale"]},
                "considerationsEnvironnementales": {"considerationEnvironnementale": [
                    if environmental { "Critère environnemental" } else { "Pas de considération environnementale" }
                ]},
            })
        })
        .collect()
}

/// The DECP document of `marches`.
pub fn document(marches: Vec<Value>) -> Value {
    json!({"marches": {"marche": marches}})
}

/// Today in Paris, the publication date of data exported now.
pub fn published_on(now: DateTime<Utc>) -> NaiveDate {
    crate::dates::paris_date(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_in_16_characters() {
        assert_eq!(marche_id("2027-GRP-004", 1), "2027-GRP-004-1");
        let (a, b) = (
            marche_id("2027-GRP-004-AB", 12),
            marche_id("2027-GRP-004-AC", 12),
        );
        assert_ne!(a, b, "long references sharing a start keep distinct ids");
        assert!(a.starts_with("2027-GRP-") && a.ends_with("L12"), "{a}");
        assert_eq!(a.chars().count(), MAX_ID);
        for (r, n) in [("X", 1), ("ABCDEFGHIJKLMNOP", 50), ("2027-GRP-004", 50)] {
            assert!(marche_id(r, n).chars().count() <= MAX_ID);
        }
    }
}
