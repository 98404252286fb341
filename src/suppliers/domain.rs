//! A supplier and the rules of its fields. Pure.

use serde::{Deserialize, Serialize};

use super::identifier::{self, Identifier, IdentifierType};
use crate::error::ApiError;
use crate::validate::Checks;

/// Body of `POST /api/v1/suppliers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSupplier {
    /// Legal name (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub legal_name: String,
    /// SIRET of a French supplier: 14 digits, Luhn-valid. Give either this or `identifier`.
    #[schema(pattern = r"^[0-9]{14}$")]
    pub siret: Option<String>,
    /// For a supplier without a SIRET: a DECP identifier (`TVA` for an intra-EU VAT number,
    /// `HORS-UE` for another country's national identifier, …) with its country.
    pub identifier: Option<Identifier>,
    /// 1 to 10 addresses that receive invitations and notices.
    #[schema(min_items = 1, max_items = 10)]
    pub contact_emails: Vec<String>,
    /// Two-digit CPV divisions the supplier works in (used to invite it), e.g. `["45"]`.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub cpv_divisions: Vec<String>,
}

/// A validated new supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSupplier {
    /// Legal name.
    pub legal_name: String,
    /// Identifier (a SIRET is `{SIRET, siret, FR}`).
    pub identifier: Identifier,
    /// Contact e-mails.
    pub contact_emails: Vec<String>,
    /// CPV divisions, sorted and unique.
    pub cpv_divisions: Vec<String>,
}

impl CreateSupplier {
    /// Checks every field; 422 lists all that are wrong.
    pub fn parse(&self) -> Result<NewSupplier, ApiError> {
        let mut c = Checks::new();
        let legal_name = c.line("/legal_name", &self.legal_name, 1, 200);
        let identifier = match (&self.siret, &self.identifier) {
            (Some(siret), None) => Identifier {
                kind: IdentifierType::Siret,
                value: c.siret("/siret", siret),
                country: "FR".into(),
            },
            (None, Some(id)) => {
                identifier::check(&mut c, "/identifier", id);
                id.clone()
            }
            (Some(_), Some(_)) => {
                c.add("/identifier", "give either siret or identifier, not both");
                Identifier {
                    kind: IdentifierType::Siret,
                    value: String::new(),
                    country: String::new(),
                }
            }
            (None, None) => {
                c.add(
                    "/siret",
                    "is required (or identifier, for a supplier without a SIRET)",
                );
                Identifier {
                    kind: IdentifierType::Siret,
                    value: String::new(),
                    country: String::new(),
                }
            }
        };
        // Lengths first: no per-entry work on an oversized list.
        let emails_ok = (1..=10).contains(&self.contact_emails.len());
        c.check(
            emails_ok,
            "/contact_emails",
            "must list 1 to 10 e-mail addresses",
        );
        let divisions_ok = self.cpv_divisions.len() <= 100;
        c.check(
            divisions_ok,
            "/cpv_divisions",
            "must list at most 100 divisions",
        );
        if !(emails_ok && divisions_ok) {
            return Err(c.into_error());
        }
        let contact_emails: Vec<String> = self
            .contact_emails
            .iter()
            .enumerate()
            .map(|(i, e)| c.email(&format!("/contact_emails/{i}"), e))
            .collect();
        for (i, d) in self.cpv_divisions.iter().enumerate() {
            c.check(
                crate::cpv::is_division(d),
                &format!("/cpv_divisions/{i}"),
                "must be the two digits of a CPV division, e.g. \"45\"",
            );
        }
        c.finish()?;
        let mut cpv_divisions = self.cpv_divisions.clone();
        cpv_divisions.sort();
        cpv_divisions.dedup();
        Ok(NewSupplier {
            legal_name,
            identifier,
            contact_emails,
            cpv_divisions,
        })
    }
}

/// A supplier as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Supplier {
    /// Id.
    pub id: crate::ids::SupplierId,
    /// Legal name.
    pub legal_name: String,
    /// SIRET, for a supplier identified by one.
    pub siret: Option<String>,
    /// Identifier with its DECP type and country (for every supplier, SIRET included).
    pub identifier: Identifier,
    /// Contact e-mails.
    pub contact_emails: Vec<String>,
    /// CPV divisions.
    pub cpv_divisions: Vec<String>,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
}
