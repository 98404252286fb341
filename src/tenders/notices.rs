//! The tender's notices: the invitation to bid (sent to each invited supplier on
//! publication). [`TenderLot`] names a tender and lot in the notices of bids, awards and
//! contracts.

use chrono::{DateTime, Utc};

use crate::dates::french_datetime;
use crate::notice_templates;
use crate::notifications::templates::Rendered;
use crate::procedures::advice::Procedure;

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

notice_templates!(TenderInvitation, InvitationText => "mail/tender_invitation.txt", InvitationHtml => "mail/tender_invitation.html");

/// *Invitation à soumissionner*: to each invited supplier on publication.
pub fn tender_invitation(n: &TenderInvitation) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Invitation à soumissionner : {} (offres avant le {})",
        n.tender_reference,
        n.tender_title,
        n.bid_deadline_fr()
    );
    crate::notifications::templates::render(subject, &InvitationText { n }, &InvitationHtml { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
}
