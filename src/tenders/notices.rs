//! The tender's notices: the invitation to bid (sent to each invited supplier on
//! publication) and the *déclaration sans suite*, rendered and enqueued here.
//! [`TenderLot`] names a tender and lot in the notices of bids, awards and contracts.

use chrono::{DateTime, Utc};

use super::domain::Tender;
use crate::db::DbConn;
use crate::notifications::domain::MailKind;
use crate::notifications::store::{enqueue_each, ToEach};
use crate::notifications::MailError;
use crate::suppliers::store::Invitee;

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
    /// Lots, in order.
    pub lots: Vec<InvitationLot>,
    /// Criteria as (name, weight in points).
    pub criteria: Vec<(String, String)>,
    /// Invited supplier's legal name.
    pub supplier_name: String,
    /// The tender's id (bids are put to `/api/v1/tenders/{id}/lots/{lot_id}/bid`).
    pub tender_id: String,
}

/// A lot as the invitation lists it.
#[derive(Debug, Clone)]
pub struct InvitationLot {
    /// Number, from 1.
    pub number: u32,
    /// Title.
    pub title: String,
    /// Its id, for the bid's path.
    pub id: String,
    /// Items as (CPV code, yearly quantity written the French way, unit).
    pub items: Vec<(String, String, String)>,
}

/// Notice that a tender is declared *sans suite*, to each invited supplier.
#[derive(Debug, Clone)]
pub struct TenderCancelled {
    /// Group name.
    pub group_name: String,
    /// Tender reference.
    pub tender_reference: String,
    /// Tender title.
    pub tender_title: String,
    /// The lead's reason.
    pub reason: String,
    /// Supplier's legal name.
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
notice_templates!(TenderCancelled, CancelledText => "mail/tender_cancelled.txt", CancelledHtml => "mail/tender_cancelled.html");

/// *Déclaration sans suite*: to each invited supplier when the lead cancels the tender.
pub fn tender_cancelled(n: &TenderCancelled) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Consultation déclarée sans suite : {}",
        n.tender_reference, n.tender_title
    );
    crate::notifications::templates::render(subject, &CancelledText { n }, &CancelledHtml { n })
}

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

/// Enqueues the invitation to `supplier` (one mail per address), in the publication's
/// transaction.
pub fn enqueue_invitation(
    conn: &mut DbConn,
    tender: &Tender,
    group_name: &str,
    supplier: &Invitee,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let rendered = tender_invitation(&TenderInvitation {
        group_name: group_name.to_owned(),
        tender_reference: tender.reference.clone(),
        tender_title: tender.title.clone(),
        procedure: tender.procedure,
        bid_deadline: tender.bid_deadline,
        lots: tender
            .lots
            .iter()
            .map(|l| InvitationLot {
                number: l.number,
                title: l.title.clone(),
                id: l.id.to_string(),
                items: l
                    .items
                    .iter()
                    .map(|i| {
                        (
                            i.cpv.clone(),
                            crate::notifications::templates::french_number(
                                i.quantity.value(),
                                i.quantity.value().normalize().scale(),
                            ),
                            crate::spelled::Spelled::spelling(&i.unit),
                        )
                    })
                    .collect(),
            })
            .collect(),
        criteria: tender
            .criteria
            .iter()
            .map(|c| (c.name.clone(), c.weight.to_string()))
            .collect(),
        supplier_name: supplier.legal_name.clone(),
        tender_id: tender.id.to_string(),
    })?;
    let mails = ToEach {
        kind: MailKind::TenderInvitation,
        rendered: &rendered,
        to: &supplier.contact_emails,
        dedup: format!("tender_invitation:{}:{}", tender.id, supplier.id),
        sealed_until: None,
    };
    Ok(enqueue_each(conn, &mails, domain, now)?)
}

/// Enqueues the notice that `tender` (cancelled, with its reason) is *sans suite* to an
/// invited `supplier` (one mail per address), in the cancellation's transaction.
pub fn enqueue_cancellation(
    conn: &mut DbConn,
    tender: &Tender,
    group_name: &str,
    supplier: &Invitee,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let rendered = tender_cancelled(&TenderCancelled {
        group_name: group_name.to_owned(),
        tender_reference: tender.reference.clone(),
        tender_title: tender.title.clone(),
        reason: tender.cancel_reason.clone().unwrap_or_default(),
        supplier_name: supplier.legal_name.clone(),
    })?;
    let mails = ToEach {
        kind: MailKind::TenderCancelled,
        rendered: &rendered,
        to: &supplier.contact_emails,
        dedup: format!("tender_cancelled:{}:{}", tender.id, supplier.id),
        sealed_until: None,
    };
    Ok(enqueue_each(conn, &mails, domain, now)?)
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
            lots: vec![
                InvitationLot {
                    number: 1,
                    title: "Nantes".into(),
                    id: "l1".into(),
                    items: vec![("45442100-8".into(), "150,5".into(), "m2".into())],
                },
                InvitationLot {
                    number: 2,
                    title: "Brest <nord>".into(),
                    id: "l2".into(),
                    items: vec![],
                },
            ],
            criteria: vec![
                ("Prix".into(), "60".into()),
                ("Valeur technique".into(), "40".into()),
            ],
            supplier_name: "BTP Ouest".into(),
            tender_id: "t1".into(),
        };
        let r = tender_invitation(&n).unwrap();
        assert_eq!(r.subject, "[2027-GRP-004] Invitation à soumissionner : Peinture des parties communes (offres avant le 1er février 2027 à 12 h 00)");
        assert!(r.text.contains("(appel d'offres ouvert)"));
        assert!(
            r.text.contains(
                "  - lot 1 : Nantes\n      45442100-8 : 150,5 m2\n  - lot 2 : Brest <nord>"
            ),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains("  - Prix : 60 points\n  - Valeur technique : 40 points"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("PUT /api/v1/tenders/t1/lots/l1/bid"),
            "{}",
            r.text
        );
        assert!(
            r.html.contains("lot 2&nbsp;: Brest &#60;nord&#62;")
                || r.html.contains("lot 2&nbsp;: Brest &lt;nord&gt;"),
            "{}",
            r.html
        );
    }
}

#[cfg(test)]
mod cancelled_tests {
    use super::*;

    #[test]
    fn cancellation_gives_the_reason() {
        let r = tender_cancelled(&TenderCancelled {
            group_name: "Groupement Ouest".into(),
            tender_reference: "2027-GRP-004".into(),
            tender_title: "Peinture".into(),
            reason: "Besoin redéfini <après> audit".into(),
            supplier_name: "BTP Ouest".into(),
        })
        .unwrap();
        assert_eq!(
            r.subject,
            "[2027-GRP-004] Consultation déclarée sans suite : Peinture"
        );
        assert!(r.text.contains("Besoin redéfini <après> audit"));
        assert!(!r.html.contains("<après>"), "escaped in HTML");
    }
}
