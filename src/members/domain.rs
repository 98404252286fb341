//! A member office and the rules of its fields. Pure.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::validate::Checks;

/// Body of `POST /api/v1/members`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    /// Short code, 2 to 16 of `A-Z 0-9 - _`, e.g. `NMH`.
    #[schema(pattern = r"^[A-Z0-9_-]{2,16}$")]
    pub code: String,
    /// Legal name (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub legal_name: String,
    /// SIRET: 14 digits, Luhn-valid.
    #[schema(pattern = r"^[0-9]{14}$")]
    pub siret: String,
    /// Number of dwellings (*logements*), a cost-sharing key (0 to 10 000 000).
    #[schema(maximum = 10_000_000)]
    pub dwellings: u64,
    /// Contact address for notices.
    #[schema(format = Email, max_length = 254)]
    pub contact_email: String,
}

/// A validated new member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Code.
    pub code: String,
    /// Legal name.
    pub legal_name: String,
    /// SIRET.
    pub siret: String,
    /// Dwellings.
    pub dwellings: i64,
    /// Contact e-mail.
    pub contact_email: String,
}

/// Largest number of dwellings accepted (far above any French landlord).
pub const MAX_DWELLINGS: u64 = 10_000_000;

/// True for a valid member code.
pub fn is_member_code(code: &str) -> bool {
    (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl CreateMember {
    /// Checks every field; 422 lists all that are wrong.
    pub fn parse(&self) -> Result<NewMember, ApiError> {
        let mut c = Checks::new();
        let code = self.code.trim().to_owned();
        c.check(
            is_member_code(&code),
            "/code",
            "must be 2 to 16 characters among A-Z, 0-9, '-' and '_'",
        );
        let legal_name = c.line("/legal_name", &self.legal_name, 1, 200);
        let siret = c.siret("/siret", &self.siret);
        c.check(
            self.dwellings <= MAX_DWELLINGS,
            "/dwellings",
            "must be an integer from 0 to 10000000",
        );
        let contact_email = c.email("/contact_email", &self.contact_email);
        c.finish()?;
        Ok(NewMember {
            code,
            legal_name,
            siret,
            dwellings: i64::try_from(self.dwellings).unwrap_or(i64::MAX),
            contact_email,
        })
    }
}

/// A member as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// Id.
    pub id: crate::ids::MemberId,
    /// Code.
    pub code: String,
    /// Legal name.
    pub legal_name: String,
    /// SIRET.
    pub siret: String,
    /// Dwellings.
    pub dwellings: i64,
    /// Contact e-mail.
    pub contact_email: String,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CreateMember {
        CreateMember {
            code: "NMH".into(),
            legal_name: "Nantes Métropole Habitat".into(),
            siret: "27440001600094".into(),
            dwellings: 25_000,
            contact_email: "achats@nmh.fr".into(),
        }
    }

    #[test]
    fn valid_member_parses() {
        let m = input().parse().unwrap();
        assert_eq!(m.code, "NMH");
        assert_eq!(m.dwellings, 25_000);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let bad = CreateMember {
            code: "n".into(),
            legal_name: "".into(),
            siret: "12345678901234".into(),
            dwellings: MAX_DWELLINGS + 1,
            contact_email: "nope".into(),
        };
        let e = bad.parse().unwrap_err();
        let pointers: Vec<_> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/code",
                "/legal_name",
                "/siret",
                "/dwellings",
                "/contact_email"
            ]
        );
    }
}
