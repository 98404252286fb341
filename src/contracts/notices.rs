//! The contract's notices: *marché prêt à signer*, to each member with a part.

use crate::decimal::Amount;
use crate::notice_templates;
use crate::notifications::templates::french_euros;
use crate::notifications::templates::Rendered;
use crate::tenders::notices::TenderLot;

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

notice_templates!(ContractReady, ContractText => "mail/contract_ready.txt", ContractHtml => "mail/contract_ready.html");

/// *Marché prêt à signer*: to each member with a part in the contract.
pub fn contract_ready(n: &ContractReady) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Lot {} : marché prêt à signer (part de {})",
        n.lot.tender_reference, n.lot.lot_number, n.member_name
    );
    crate::notifications::templates::render(subject, &ContractText { n }, &ContractHtml { n })
}

/// Queues the notice to one member's contact, in the caller's transaction.
pub fn enqueue_ready(
    conn: &mut crate::db::DbConn,
    n: &ContractReady,
    to: &str,
    dedup: &str,
    domain: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::notifications::MailError> {
    let r = contract_ready(n)?;
    crate::notifications::store::enqueue(
        conn,
        &crate::notifications::store::NewMail {
            kind: crate::notifications::domain::MailKind::ContractReady,
            to: to.to_owned(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            dedup_key: Some(dedup.to_owned()),
        },
        domain,
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NBSP: char = '\u{a0}';

    fn lot(number: u32, title: &str) -> crate::tenders::notices::TenderLot {
        crate::tenders::notices::TenderLot {
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
