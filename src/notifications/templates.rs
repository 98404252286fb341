//! French e-mail templates (askama, in `templates/mail/`): plain text plus HTML sharing a
//! layout, the HTML auto-escaped. Rendering is pure; the result is stored in the outbox as it
//! was at the time of the change.
//!
//! Every notice of the product has its renderer here: campaign opened, campaign reminder,
//! tender invitation, bid receipt, award, rejection (R2181-3) and contract ready. Dates are
//! written in words in Europe/Paris time, amounts the French way (`12 345,67 €`).

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::dates::{french_date, french_datetime};
use crate::decimal::{round_half_up, Amount};
use crate::error::ApiError;
use crate::procedures::advice::Procedure;

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// A decimal the French way, with `dp` decimals, a comma and no-break spaces between
/// thousands: `12345.6` → `12 345,60`.
pub fn french_number(value: Decimal, dp: u32) -> String {
    let text = crate::decimal::fixed(round_half_up(value, dp), dp);
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(ch);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// An amount in euros the French way: `12 345,67 €`.
pub fn french_euros(a: Amount) -> String {
    format!("{}\u{a0}€", french_number(a.value(), 2))
}

/// Campaign opened / reminder.
#[derive(Debug, Clone)]
pub struct CampaignNotice {
    /// Group name.
    pub group_name: String,
    /// Campaign title.
    pub campaign_title: String,
    /// Campaign id.
    pub campaign_id: Uuid,
    /// Needs deadline.
    pub deadline: DateTime<Utc>,
    /// CPV prefixes of the campaign.
    pub cpv_scope: Vec<String>,
    /// Addressed member's legal name.
    pub member_name: String,
}

impl CampaignNotice {
    fn deadline_fr(&self) -> String {
        french_datetime(self.deadline)
    }
}

/// Invitation to bid, sent to each invited supplier when a tender is published.
#[derive(Debug, Clone)]
pub struct TenderInvitation {
    /// Group name.
    pub group_name: String,
    /// Tender reference (e.g. `2027-GRP-004`).
    pub tender_reference: String,
    /// Tender title.
    pub tender_title: String,
    /// Procedure.
    pub procedure: Procedure,
    /// Bid deadline.
    pub bid_deadline: DateTime<Utc>,
    /// Lots as (number, title).
    pub lots: Vec<(u32, String)>,
    /// Invited supplier's legal name.
    pub supplier_name: String,
}

impl TenderInvitation {
    fn procedure_fr(&self) -> &'static str {
        match self.procedure {
            Procedure::NoPublicity => "marché sans publicité ni mise en concurrence préalables",
            Procedure::Mapa => "procédure adaptée",
            Procedure::OpenTender => "appel d'offres ouvert",
        }
    }

    fn bid_deadline_fr(&self) -> String {
        french_datetime(self.bid_deadline)
    }
}

/// The tender and lot a notice is about.
#[derive(Debug, Clone)]
pub struct TenderLot {
    /// Group name.
    pub group_name: String,
    /// Tender reference (e.g. `2027-GRP-004`).
    pub tender_reference: String,
    /// Tender title.
    pub tender_title: String,
    /// Lot number.
    pub lot_number: u32,
    /// Lot title.
    pub lot_title: String,
}

/// Receipt of a bid version, sent to the bidder.
#[derive(Debug, Clone)]
pub struct BidReceipt {
    /// The tender and lot concerned.
    pub lot: TenderLot,
    /// Bidder's legal name.
    pub supplier_name: String,
    /// Version of the bid.
    pub version: u32,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// Bid total HT.
    pub total: Amount,
    /// SHA-256 of the canonical JSON of the bid version.
    pub sha256: String,
    /// Received after the deadline.
    pub late: bool,
}

impl BidReceipt {
    fn received_at_fr(&self) -> String {
        french_datetime(self.received_at)
    }

    fn total_fr(&self) -> String {
        french_euros(self.total)
    }
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
    /// Winner's total score.
    pub winner_score_value: Decimal,
    /// The bidder's own score (none when its bid was excluded).
    pub own_score_value: Option<Decimal>,
    /// First day the contract may be signed, if there is a standstill.
    pub signable_from: Option<NaiveDate>,
}

impl RejectionNotice {
    fn winner_score(&self) -> String {
        french_number(self.winner_score_value, 2)
    }

    fn own_score(&self) -> Option<String> {
        self.own_score_value.map(|s| french_number(s, 2))
    }

    fn signable_from_fr(&self) -> Option<String> {
        self.signable_from.map(french_date)
    }
}

/// Contract ready, sent to each member with its part.
#[derive(Debug, Clone)]
pub struct ContractReady {
    /// The tender and lot concerned.
    pub lot: TenderLot,
    /// Contractor's legal name.
    pub supplier_name: String,
    /// Addressed member's legal name.
    pub member_name: String,
    /// The member's part HT.
    pub total_ht: Amount,
    /// The member's part TTC.
    pub total_ttc: Amount,
}

impl ContractReady {
    fn total_ht_fr(&self) -> String {
        french_euros(self.total_ht)
    }

    fn total_ttc_fr(&self) -> String {
        french_euros(self.total_ttc)
    }
}

/// Declares the text and HTML templates of a notice; both see the notice as `n`.
macro_rules! notice_templates {
    ($data:ty, $text:ident => $text_path:literal, $html:ident => $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> {
            n: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            n: &'a $data,
        }
    };
}

notice_templates!(CampaignNotice, OpenedText => "mail/campaign_opened.txt", OpenedHtml => "mail/campaign_opened.html");
notice_templates!(CampaignNotice, ReminderText => "mail/campaign_reminder.txt", ReminderHtml => "mail/campaign_reminder.html");
notice_templates!(TenderInvitation, InvitationText => "mail/tender_invitation.txt", InvitationHtml => "mail/tender_invitation.html");
notice_templates!(BidReceipt, ReceiptText => "mail/bid_receipt.txt", ReceiptHtml => "mail/bid_receipt.html");
notice_templates!(AwardNotice, AwardText => "mail/award.txt", AwardHtml => "mail/award.html");
notice_templates!(RejectionNotice, RejectionText => "mail/rejection.txt", RejectionHtml => "mail/rejection.html");
notice_templates!(ContractReady, ContractText => "mail/contract_ready.txt", ContractHtml => "mail/contract_ready.html");

fn render(
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<Rendered, ApiError> {
    let err = |e: askama::Error| ApiError::internal(format!("mail template: {e}"));
    Ok(Rendered {
        subject,
        text: text.render().map_err(err)?,
        html: html.render().map_err(err)?,
    })
}

/// *Campagne ouverte*: to every member of the group when the lead opens a campaign.
pub fn campaign_opened(n: &CampaignNotice) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Recensement des besoins ouvert : {} (jusqu'au {})",
        n.group_name,
        n.campaign_title,
        n.deadline_fr()
    );
    render(subject, &OpenedText { n }, &OpenedHtml { n })
}

/// *Rappel*: before the deadline, to members that have submitted nothing.
pub fn campaign_reminder(n: &CampaignNotice) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Rappel : le recensement « {} » se termine le {}",
        n.group_name,
        n.campaign_title,
        n.deadline_fr()
    );
    render(subject, &ReminderText { n }, &ReminderHtml { n })
}

/// *Invitation à soumissionner*: to each invited supplier on publication.
pub fn tender_invitation(n: &TenderInvitation) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Invitation à soumissionner : {} (offres avant le {})",
        n.tender_reference,
        n.tender_title,
        n.bid_deadline_fr()
    );
    render(subject, &InvitationText { n }, &InvitationHtml { n })
}

/// *Accusé de réception*: to the bidder for every bid version, late or not.
pub fn bid_receipt(n: &BidReceipt) -> Result<Rendered, ApiError> {
    let subject = if n.late {
        format!(
            "[{}] Offre reçue hors délai (lot {}) : elle ne sera pas examinée",
            n.lot.tender_reference, n.lot.lot_number
        )
    } else {
        format!(
            "[{}] Accusé de réception de votre offre (lot {}, version {})",
            n.lot.tender_reference, n.lot.lot_number, n.version
        )
    };
    render(subject, &ReceiptText { n }, &ReceiptHtml { n })
}

/// *Attribution*: to the winner of a lot.
pub fn award(n: &AwardNotice) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Lot {} : votre offre est retenue",
        n.lot.tender_reference, n.lot.lot_number
    );
    render(subject, &AwardText { n }, &AwardHtml { n })
}

/// *Rejet*: to every other bidder of the lot, with reasons, winner, scores and the date from
/// which the contract may be signed (R2181-3).
pub fn rejection(n: &RejectionNotice) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Lot {} : votre offre n'est pas retenue",
        n.lot.tender_reference, n.lot.lot_number
    );
    render(subject, &RejectionText { n }, &RejectionHtml { n })
}

/// *Marché prêt à signer*: to each member with a part in the contract.
pub fn contract_ready(n: &ContractReady) -> Result<Rendered, ApiError> {
    let subject = format!(
        "[{}] Lot {} : marché prêt à signer (part de {})",
        n.lot.tender_reference, n.lot.lot_number, n.member_name
    );
    render(subject, &ContractText { n }, &ContractHtml { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const NBSP: char = '\u{a0}';

    fn campaign(group: &str, scope: &[&str]) -> CampaignNotice {
        CampaignNotice {
            group_name: group.into(),
            campaign_title: "Entretien 2027".into(),
            campaign_id: Uuid::nil(),
            deadline: Utc.with_ymd_and_hms(2026, 12, 14, 17, 0, 0).unwrap(),
            cpv_scope: scope.iter().map(|s| s.to_string()).collect(),
            member_name: "Brest Métropole Habitat".into(),
        }
    }

    fn lot(number: u32, title: &str) -> TenderLot {
        TenderLot {
            group_name: "Groupement Ouest".into(),
            tender_reference: "2027-GRP-004".into(),
            tender_title: "Peinture".into(),
            lot_number: number,
            lot_title: title.into(),
        }
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn french_numbers() {
        assert_eq!(french_number(dec("12345.6"), 2), format!("12{NBSP}345,60"));
        assert_eq!(
            french_number(dec("999999999999.99"), 2),
            format!("999{NBSP}999{NBSP}999{NBSP}999,99")
        );
        assert_eq!(french_number(dec("0.005"), 2), "0,01");
        assert_eq!(french_number(dec("100"), 0), "100");
        assert_eq!(
            french_euros(amount("1234.5")),
            format!("1{NBSP}234,50{NBSP}€")
        );
    }

    #[test]
    fn opened_notice_is_french_with_paris_deadline() {
        let r = campaign_opened(&campaign("Groupement Ouest", &["45"])).unwrap();
        assert_eq!(r.subject, "[Groupement Ouest] Recensement des besoins ouvert : Entretien 2027 (jusqu'au 14 décembre 2026 à 18 h 00)");
        assert!(r.text.starts_with("Bonjour,"));
        assert!(r
            .text
            .contains("Les agents de Brest Métropole Habitat peuvent saisir"));
        assert!(r.text.contains("jusqu'au 14 décembre 2026 à 18 h 00."));
        assert!(r.text.contains("Périmètre (codes CPV commençant par) : 45"));
        assert!(r.text.contains("Les dates sont à l'heure de Paris."));
        assert!(r
            .html
            .contains("<strong>14 décembre 2026 à 18 h 00</strong>"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = campaign_opened(&campaign("Achats <Ouest> & Co", &[])).unwrap();
        assert!(
            r.html.contains("Achats &#60;Ouest&#62; &#38; Co")
                || r.html.contains("Achats &lt;Ouest&gt; &amp; Co"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<Ouest>"));
        assert!(r.text.contains("Achats <Ouest> & Co"));
        assert!(!r.text.contains("Périmètre"));
    }

    #[test]
    fn reminder_says_nothing_was_submitted() {
        let r = campaign_reminder(&campaign("Groupement Ouest", &[])).unwrap();
        assert!(r.subject.starts_with("[Groupement Ouest] Rappel"));
        assert!(r
            .text
            .contains("Brest Métropole Habitat n'a soumis aucun besoin"));
    }

    #[test]
    fn invitation_names_reference_procedure_lots_and_deadline() {
        let n = TenderInvitation {
            group_name: "Groupement Ouest".into(),
            tender_reference: "2027-GRP-004".into(),
            tender_title: "Peinture des parties communes".into(),
            procedure: Procedure::OpenTender,
            bid_deadline: Utc.with_ymd_and_hms(2027, 2, 1, 11, 0, 0).unwrap(),
            lots: vec![(1, "Nantes".into()), (2, "Brest <nord>".into())],
            supplier_name: "BTP Ouest".into(),
        };
        let r = tender_invitation(&n).unwrap();
        assert_eq!(r.subject, "[2027-GRP-004] Invitation à soumissionner : Peinture des parties communes (offres avant le 1er février 2027 à 12 h 00)");
        assert!(r.text.contains("(appel d'offres ouvert)"));
        assert!(r
            .text
            .contains("  - lot 1 : Nantes\n  - lot 2 : Brest <nord>"));
        assert!(
            r.html.contains("lot 2&nbsp;: Brest &#60;nord&#62;")
                || r.html.contains("lot 2&nbsp;: Brest &lt;nord&gt;"),
            "{}",
            r.html
        );
    }

    #[test]
    fn receipt_gives_hash_total_and_flags_late_bids() {
        let mut n = BidReceipt {
            lot: lot(2, "Brest"),
            supplier_name: "BTP Ouest".into(),
            version: 3,
            received_at: Utc.with_ymd_and_hms(2027, 1, 20, 9, 30, 0).unwrap(),
            total: amount("48210.5"),
            sha256: "ab".repeat(32),
            late: false,
        };
        let r = bid_receipt(&n).unwrap();
        assert_eq!(
            r.subject,
            "[2027-GRP-004] Accusé de réception de votre offre (lot 2, version 3)"
        );
        assert!(r
            .text
            .contains(&format!("Montant total HT : 48{NBSP}210,50{NBSP}€")));
        assert!(r.text.contains("Reçue le : 20 janvier 2027 à 10 h 30"));
        assert!(r.text.contains(
            "au groupement de commandes « Groupement Ouest » pour la consultation 2027-GRP-004"
        ));
        assert!(r.text.contains(&"ab".repeat(32)));
        assert!(!r.text.contains("APRÈS"));
        n.late = true;
        let r = bid_receipt(&n).unwrap();
        assert!(r.subject.contains("hors délai"));
        assert!(r
            .text
            .starts_with("Bonjour,\n\nATTENTION : votre offre est arrivée APRÈS la date limite."));
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
        })
        .unwrap();
        assert!(a.text.contains("Note obtenue : 87,46 / 100"));
        assert!(a.text.contains("à compter du 12 mars 2027"));
        let mut n = RejectionNotice {
            lot: lot(1, "Nantes"),
            supplier_name: "Peintures du Léon".into(),
            reasons: "offre classée deuxième".into(),
            winner_name: "BTP Ouest".into(),
            winner_score_value: dec("87.456"),
            own_score_value: Some(dec("80")),
            signable_from: signable,
        };
        let r = rejection(&n).unwrap();
        assert_eq!(
            r.subject,
            "[2027-GRP-004] Lot 1 : votre offre n'est pas retenue"
        );
        assert!(r.text.contains("Motifs du rejet : offre classée deuxième"));
        assert!(r
            .text
            .contains("Attributaire : BTP Ouest, note 87,46 / 100."));
        assert!(r.text.contains("Votre note : 80,00 / 100."));
        assert!(r.text.contains("R2181-3"));
        assert!(r.text.contains("pas signé avant le 12 mars 2027"));
        n.own_score_value = None;
        n.signable_from = None;
        let r = rejection(&n).unwrap();
        assert!(r.text.contains("Votre note : offre non classée."));
        assert!(r.text.contains("sans délai de suspension"));
    }

    #[test]
    fn contract_ready_gives_the_members_part() {
        let r = contract_ready(&ContractReady {
            lot: lot(1, "Nantes"),
            supplier_name: "BTP Ouest".into(),
            member_name: "Archipel Habitat".into(),
            total_ht: amount("33333.33"),
            total_ttc: amount("36666.66"),
        })
        .unwrap();
        assert_eq!(
            r.subject,
            "[2027-GRP-004] Lot 1 : marché prêt à signer (part de Archipel Habitat)"
        );
        assert!(r
            .text
            .contains(&format!("Montant HT : 33{NBSP}333,33{NBSP}€")));
        assert!(r
            .text
            .contains(&format!("Montant TTC : 36{NBSP}666,66{NBSP}€")));
    }
}
