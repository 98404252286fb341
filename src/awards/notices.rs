//! The award's notices: the award to the winner of a lot, and the rejection (R2181-3) to
//! every other bidder.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::dates::french_date;
use crate::decimal::Amount;
use crate::notice_templates;
use crate::notifications::templates::Rendered;
use crate::notifications::templates::{french_euros, french_number};
use crate::tenders::notices::TenderLot;

/// Who the letters come from and where to answer (R2181-3).
#[derive(Debug, Clone)]
pub struct Buyer {
    /// The coordinating member's legal name (the buyer, on behalf of the group).
    pub coordinator: String,
    /// Address to reply to.
    pub reply_to: String,
}

/// Award notice to the winner of a lot.
#[derive(Debug, Clone)]
pub struct AwardNotice {
    /// The tender and lot concerned.
    pub lot: TenderLot,
    /// Winner's legal name.
    pub supplier_name: String,
    /// Winning total HT.
    pub total: Amount,
    /// Winner's total score (exact; printed with 2 decimals).
    pub score: Decimal,
    /// First day the contract may be signed (end of standstill), if there is one.
    pub signable_from: Option<NaiveDate>,
    /// Date by which the tax and social certificates must be produced.
    pub certificates_due: NaiveDate,
    /// The buyer.
    pub buyer: Buyer,
}

impl AwardNotice {
    fn total_fr(&self) -> String {
        french_euros(self.total)
    }

    fn score(&self) -> String {
        french_number(self.score, 2)
    }

    fn signable_from_fr(&self) -> Option<String> {
        self.signable_from.map(french_date)
    }

    fn certificates_due_fr(&self) -> String {
        french_date(self.certificates_due)
    }
}

/// One criterion's line in a rejection letter: both bids' scores.
#[derive(Debug, Clone)]
pub struct ScoreLine {
    /// Criterion name.
    pub criterion: String,
    /// Its weight (the most points).
    pub weight: Decimal,
    /// The winning bid's score.
    pub winner: Decimal,
    /// The rejected bid's score (none when it was not ranked).
    pub own: Option<Decimal>,
}

impl ScoreLine {
    fn weight_fr(&self) -> String {
        french_number(self.weight, 2)
    }

    fn winner_fr(&self) -> String {
        french_number(self.winner, 2)
    }

    fn own_fr(&self) -> String {
        self.own
            .map_or_else(|| "—".to_owned(), |s| french_number(s, 2))
    }
}

/// Rejection notice to every other bidder of a lot (R2181-3).
#[derive(Debug, Clone)]
pub struct RejectionNotice {
    /// The tender and lot concerned.
    pub lot: TenderLot,
    /// Rejected bidder's legal name.
    pub supplier_name: String,
    /// Why the bid was not retained.
    pub reasons: String,
    /// Winner's legal name.
    pub winner_name: String,
    /// Winning total HT.
    pub winner_total: Amount,
    /// Winner's total score.
    pub winner_score_value: Decimal,
    /// The bidder's own score (none when its bid was excluded).
    pub own_score_value: Option<Decimal>,
    /// Both bids' scores per criterion.
    pub scores: Vec<ScoreLine>,
    /// First day the contract may be signed, if there is a standstill.
    pub signable_from: Option<NaiveDate>,
    /// The buyer.
    pub buyer: Buyer,
    /// The administrative court competent for remedies.
    pub court: String,
}

impl RejectionNotice {
    fn winner_score(&self) -> String {
        french_number(self.winner_score_value, 2)
    }

    fn winner_total_fr(&self) -> String {
        french_euros(self.winner_total)
    }

    fn own_score(&self) -> Option<String> {
        self.own_score_value.map(|s| french_number(s, 2))
    }

    fn signable_from_fr(&self) -> Option<String> {
        self.signable_from.map(french_date)
    }
}

notice_templates!(AwardNotice, AwardText => "mail/award.txt", AwardHtml => "mail/award.html");
notice_templates!(RejectionNotice, RejectionText => "mail/rejection.txt", RejectionHtml => "mail/rejection.html");

/// *Attribution*: to the winner of a lot.
pub fn award(n: &AwardNotice) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Lot {} : votre offre est retenue",
        n.lot.tender_reference, n.lot.lot_number
    );
    crate::notifications::templates::render(subject, &AwardText { n }, &AwardHtml { n })
}

/// *Rejet*: to every other bidder of the lot, with reasons, winner, scores and the date from
/// which the contract may be signed (R2181-3).
pub fn rejection(n: &RejectionNotice) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Lot {} : votre offre n'est pas retenue",
        n.lot.tender_reference, n.lot.lot_number
    );
    crate::notifications::templates::render(subject, &RejectionText { n }, &RejectionHtml { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(number: u32, title: &str) -> crate::tenders::notices::TenderLot {
        crate::tenders::notices::TenderLot {
            group_name: "Groupement Ouest".into(),
            tender_reference: "2027-GRP-004".into(),
            tender_title: "Peinture".into(),
            lot_number: number,
            lot_title: title.into(),
        }
    }

    fn buyer() -> Buyer {
        Buyer {
            coordinator: "Nantes Métropole Habitat".into(),
            reply_to: "achats@nmh.fr".into(),
        }
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn award_and_rejection_follow_r2181_3() {
        let signable = NaiveDate::from_ymd_opt(2027, 3, 12);
        let a = award(&AwardNotice {
            lot: lot(1, "Nantes"),
            supplier_name: "BTP Ouest".into(),
            total: amount("100000"),
            score: dec("87.456"),
            signable_from: signable,
            certificates_due: NaiveDate::from_ymd_opt(2027, 3, 5).unwrap(),
            buyer: buyer(),
        })
        .unwrap();
        assert!(a.text.contains("au plus tard le 5 mars 2027"));
        assert!(a.text.contains("attestations"));
        assert!(a.text.contains("Note obtenue : 87,46 / 100"));
        assert!(a.text.contains("à compter du 12 mars 2027"));
        let mut n = RejectionNotice {
            lot: lot(1, "Nantes"),
            supplier_name: "Peintures du Léon".into(),
            reasons: "offre classée deuxième".into(),
            winner_name: "BTP Ouest".into(),
            winner_total: amount("100000"),
            winner_score_value: dec("87.456"),
            own_score_value: Some(dec("80")),
            scores: vec![ScoreLine {
                criterion: "Prix".into(),
                weight: dec("60"),
                winner: dec("57.456"),
                own: Some(dec("60")),
            }],
            signable_from: signable,
            buyer: buyer(),
            court: "Tribunal administratif de Nantes".into(),
        };
        let r = rejection(&n).unwrap();
        assert_eq!(
            r.subject,
            "[2027-GRP-004] Lot 1 : votre offre n'est pas retenue"
        );
        assert!(r.text.contains("Motifs du rejet : offre classée deuxième"));
        assert!(r
            .text
            .contains("Attributaire : BTP Ouest, note 87,46 / 100, montant HT 100"));
        assert!(r.text.contains("Votre note : 80,00 / 100."));
        assert!(r.text.contains("R2181-3"));
        assert!(r.text.contains("pas signé avant le 12 mars 2027"));
        assert!(r
            .text
            .contains("Prix (sur 60,00) : attributaire 57,46, votre offre 60,00"));
        assert!(r.text.contains("Nantes Métropole Habitat, coordonnateur"));
        assert!(r.text.contains("achats@nmh.fr"));
        assert!(r.text.contains("référé précontractuel"));
        assert!(r.text.contains("Tribunal administratif de Nantes"));
        n.own_score_value = None;
        n.signable_from = None;
        let r = rejection(&n).unwrap();
        assert!(r.text.contains("Votre note : offre non classée."));
        assert!(r.text.contains("sans délai de suspension"));
    }
}
