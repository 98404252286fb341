//! The bid's notices: the receipt of every bid version, rendered and enqueued here for the
//! bidder.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::domain::{BidStatus, Receipt};
use crate::db::DbConn;
use crate::ids::SupplierId;
use crate::notifications::domain::MailKind;
use crate::notifications::store::{enqueue_each, ToEach};
use crate::notifications::MailError;
use crate::tenders::store::BidLot;

use crate::dates::french_datetime;
use crate::decimal::Amount;
use crate::notice_templates;
use crate::notifications::templates::french_euros;
use crate::notifications::templates::Rendered;
use crate::tenders::notices::TenderLot;

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

notice_templates!(BidReceipt, ReceiptText => "mail/bid_receipt.txt", ReceiptHtml => "mail/bid_receipt.html");

/// *Accusé de réception*: to the bidder for every bid version, late or not.
pub fn bid_receipt(n: &BidReceipt) -> Result<Rendered, askama::Error> {
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
    crate::notifications::templates::render(subject, &ReceiptText { n }, &ReceiptHtml { n })
}

/// Enqueues the receipt of a version to every address of `supplier`, in the bid's
/// transaction. The mails stay out of the admin's outbox listing until the deadline: they
/// say who bid. `total` is the version's exact total (shown to the cent).
pub fn enqueue_receipt(
    conn: &mut DbConn,
    lot: &BidLot,
    supplier: SupplierId,
    receipt: &Receipt,
    total: Decimal,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<(), MailError> {
    let group_name = crate::groups::store::name_of(conn, lot.group_id)?;
    for s in crate::suppliers::store::by_ids(conn, &[supplier])? {
        let rendered = bid_receipt(&BidReceipt {
            lot: TenderLot {
                group_name: group_name.clone(),
                tender_reference: lot.reference.clone(),
                tender_title: lot.title.clone(),
                lot_number: lot.lot_number,
                lot_title: lot.lot_title.clone(),
            },
            supplier_name: s.legal_name.clone(),
            version: receipt.version,
            received_at: receipt.received_at,
            total: Amount::from_rounded(total).unwrap_or(Amount::ZERO),
            sha256: receipt.sha256.clone(),
            late: receipt.status == BidStatus::Late,
        })?;
        let mails = ToEach {
            kind: MailKind::BidReceipt,
            rendered: &rendered,
            to: &s.contact_emails,
            dedup: format!("bid_receipt:{}", receipt.bid_id),
            sealed_until: Some(lot.deadline),
        };
        enqueue_each(conn, &mails, domain, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
}
