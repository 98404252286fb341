//! A need (*besoin*), its fields, its value and its status machine. Pure.
//!
//! ```text
//!   draft ──submit──▶ submitted ──(tender)──▶ consolidated
//!     │                  │  └──reject (lead)──▶ rejected
//!     └──withdraw──▶ withdrawn ◀──withdraw──┘
//! ```

use crate::ids::{CampaignId, NeedId};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::decimal::{Amount, Quantity, UnitPrice, VatRate};
use crate::error::ApiError;
use crate::spelled::Spelled;
use crate::validate::Checks;

crate::stored_enum! {
    /// Unit of a quantity.
    pub enum Unit {
        /// Pieces.
        Unit,
        /// Square metres.
        M2,
        /// Cubic metres.
        M3,
        /// Metres.
        M,
        /// Kilograms.
        Kg,
        /// Tonnes.
        T,
        /// Litres.
        L,
        /// Hours.
        Hour,
        /// Days.
        Day,
        /// Months.
        Month,
        /// Years.
        Year,
        /// Lump sum (*forfait*).
        LumpSum,
    }
}

crate::stored_enum! {
    /// Status of a need.
    pub enum NeedStatus {
        /// Being written by its member; invisible to the lead.
        Draft,
        /// Submitted to the lead for pooling.
        Submitted,
        /// Put in a tender lot.
        Consolidated,
        /// Withdrawn by its member.
        Withdrawn,
        /// Rejected by the lead, with a reason.
        Rejected,
        /// Its lot is awarded (standstill, then contract).
        Awarded,
        /// Its lot's contract is made.
        Contracted,
        /// Its lot got no acceptable bid (*infructueux*).
        Unsuccessful,
        /// Its tender was declared *sans suite* (the reason is the tender's).
        Cancelled,
    }
}

/// What an officer or the lead does to a need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Change fields (PATCH).
    Edit,
    /// Delete (DELETE).
    Delete,
    /// Submit to the lead.
    Submit,
    /// Withdraw.
    Withdraw,
    /// Reject (lead).
    Reject,
}

/// The status after `action`, or why it is not allowed.
pub fn transition(from: NeedStatus, action: Action) -> Result<NeedStatus, String> {
    use NeedStatus::*;
    let to = match (from, action) {
        (Draft, Action::Edit) => Draft,
        (Draft, Action::Delete) => Draft,
        (Draft, Action::Submit) => Submitted,
        (Draft | Submitted, Action::Withdraw) => Withdrawn,
        (Submitted, Action::Reject) => Rejected,
        _ => {
            let allowed = match action {
                Action::Edit | Action::Delete | Action::Submit => "draft",
                Action::Withdraw => "draft or submitted",
                Action::Reject => "submitted",
            };
            return Err(format!(
                "the need is {}; only {allowed} needs allow this",
                from.spelling()
            ));
        }
    };
    Ok(to)
}

/// Body of `POST /api/v1/campaigns/{id}/needs`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNeed {
    /// Short title (1–200 characters).
    pub title: String,
    /// Free description (up to 10 000 characters).
    #[serde(default)]
    pub description: String,
    /// Official CPV code, form `NNNNNNNN-N`.
    #[schema(pattern = r"^[0-9]{8}-[0-9]$")]
    pub cpv: String,
    /// Quantity (> 0, ≤ 3 decimals).
    pub quantity: Quantity,
    /// Unit of the quantity.
    pub unit: Unit,
    /// Estimated unit price HT (≥ 0, ≤ 4 decimals).
    pub estimated_unit_price: UnitPrice,
    /// VAT rate: 0, 5.5, 10 or 20.
    pub vat_rate: VatRate,
    /// Where to deliver (1–500 characters).
    pub delivery_site: String,
    /// Wanted by this date, `YYYY-MM-DD`, not in the past.
    #[schema(format = Date)]
    pub wanted_by: String,
}

/// Body of `PATCH /api/v1/needs/{id}`: only the fields to change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchNeed {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// CPV code.
    pub cpv: Option<String>,
    /// Quantity.
    pub quantity: Option<Quantity>,
    /// Unit.
    pub unit: Option<Unit>,
    /// Estimated unit price HT.
    pub estimated_unit_price: Option<UnitPrice>,
    /// VAT rate.
    pub vat_rate: Option<VatRate>,
    /// Delivery site.
    pub delivery_site: Option<String>,
    /// Wanted-by date.
    pub wanted_by: Option<String>,
}

/// The validated fields of a need (what an officer writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NeedFields {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// CPV code.
    pub cpv: String,
    /// Quantity.
    pub quantity: Quantity,
    /// Unit.
    pub unit: Unit,
    /// Estimated unit price HT.
    pub estimated_unit_price: UnitPrice,
    /// VAT rate.
    pub vat_rate: VatRate,
    /// Delivery site.
    pub delivery_site: String,
    /// Wanted-by date.
    pub wanted_by: NaiveDate,
}

/// `round_half_up(quantity × unit price, 2)`, or `None` when it exceeds the amount limit.
pub fn estimated_value(quantity: Quantity, price: UnitPrice) -> Option<Amount> {
    Amount::from_rounded(quantity.value().checked_mul(price.value())?)
}

/// What a need's fields are checked against besides their own rules.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The campaign's CPV scope (prefixes); empty means any code.
    pub cpv_scope: &'a [String],
    /// Today in Europe/Paris.
    pub today: NaiveDate,
}

fn check_cpv(c: &mut Checks, cpv: &str, ctx: &Context) {
    if !crate::cpv::is_code(cpv) {
        c.add(
            "/cpv",
            "must be an official CPV code of the form NNNNNNNN-N, e.g. \"45210000-2\"",
        );
    } else if !ctx.cpv_scope.is_empty()
        && !ctx.cpv_scope.iter().any(|p| cpv.starts_with(p.as_str()))
    {
        c.add(
            "/cpv",
            format!(
                "is outside the campaign's CPV scope ({})",
                ctx.cpv_scope.join(", ")
            ),
        );
    }
}

fn check_date(c: &mut Checks, raw: &str, ctx: &Context) -> NaiveDate {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) if raw.len() == 10 => {
            if d < ctx.today {
                c.add(
                    "/wanted_by",
                    format!("must not be in the past (today is {})", ctx.today),
                );
            } else if !crate::dates::date_in_range(d) {
                c.add("/wanted_by", "must be a date in the years 2000 to 2199");
            }
            d
        }
        _ => {
            c.add("/wanted_by", "must be an existing date written YYYY-MM-DD");
            ctx.today
        }
    }
}

fn check_value(c: &mut Checks, q: Quantity, p: UnitPrice) {
    if estimated_value(q, p).is_none() {
        c.add(
            "/quantity",
            "quantity × estimated_unit_price must not exceed 999999999999.99",
        );
    }
}

impl CreateNeed {
    /// Checks every field; 422 lists all that are wrong.
    pub fn parse(&self, ctx: &Context) -> Result<NeedFields, ApiError> {
        let mut c = Checks::new();
        let title = c.line("/title", &self.title, 1, 200);
        let description = c.paragraph("/description", &self.description, 0, 10_000);
        check_cpv(&mut c, &self.cpv, ctx);
        let delivery_site = c.paragraph("/delivery_site", &self.delivery_site, 1, 500);
        let wanted_by = check_date(&mut c, &self.wanted_by, ctx);
        check_value(&mut c, self.quantity, self.estimated_unit_price);
        c.finish()?;
        Ok(NeedFields {
            title,
            description,
            cpv: self.cpv.clone(),
            quantity: self.quantity,
            unit: self.unit,
            estimated_unit_price: self.estimated_unit_price,
            vat_rate: self.vat_rate,
            delivery_site,
            wanted_by,
        })
    }
}

impl PatchNeed {
    /// Applies the changes to `current` and checks the result; 422 lists all that is wrong.
    pub fn apply(&self, current: &NeedFields, ctx: &Context) -> Result<NeedFields, ApiError> {
        let mut c = Checks::new();
        let mut next = current.clone();
        if let Some(t) = &self.title {
            next.title = c.line("/title", t, 1, 200);
        }
        if let Some(d) = &self.description {
            next.description = c.paragraph("/description", d, 0, 10_000);
        }
        if let Some(cpv) = &self.cpv {
            check_cpv(&mut c, cpv, ctx);
            next.cpv = cpv.clone();
        }
        if let Some(s) = &self.delivery_site {
            next.delivery_site = c.paragraph("/delivery_site", s, 1, 500);
        }
        if let Some(w) = &self.wanted_by {
            next.wanted_by = check_date(&mut c, w, ctx);
        }
        next.quantity = self.quantity.unwrap_or(next.quantity);
        next.unit = self.unit.unwrap_or(next.unit);
        next.estimated_unit_price = self
            .estimated_unit_price
            .unwrap_or(next.estimated_unit_price);
        next.vat_rate = self.vat_rate.unwrap_or(next.vat_rate);
        check_value(&mut c, next.quantity, next.estimated_unit_price);
        c.finish()?;
        Ok(next)
    }
}

/// A need as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Need {
    /// Id.
    pub id: NeedId,
    /// Campaign.
    pub campaign_id: CampaignId,
    /// Member that expressed the need.
    pub member_code: String,
    /// Title, description, CPV code, quantity, unit, prices, VAT rate, site and date.
    #[serde(flatten)]
    pub fields: NeedFields,
    /// Status.
    pub status: NeedStatus,
    /// round_half_up(quantity × estimated_unit_price, 2).
    pub estimated_value: Amount,
    /// Why the lead rejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// When it was (last) submitted.
    pub submitted_at: Option<chrono::DateTime<Utc>>,
    /// Creation time.
    pub created_at: chrono::DateTime<Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(scope: &[String]) -> Context<'_> {
        Context {
            cpv_scope: scope,
            today: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        }
    }

    fn input() -> CreateNeed {
        CreateNeed {
            title: "Peinture des halls".into(),
            description: String::new(),
            cpv: "45442100-8".into(),
            quantity: Quantity::parse("120.5").unwrap(),
            unit: Unit::M2,
            estimated_unit_price: UnitPrice::parse("18.335").unwrap(),
            vat_rate: VatRate::parse("10").unwrap(),
            delivery_site: "12 rue de Strasbourg, Nantes".into(),
            wanted_by: "2027-03-01".into(),
        }
    }

    #[test]
    fn estimated_value_rounds_half_up_once() {
        // 120.5 × 18.335 = 2209.3675 → 2209.37
        assert_eq!(
            estimated_value(input().quantity, input().estimated_unit_price)
                .unwrap()
                .to_string(),
            "2209.37"
        );
        let q = Quantity::parse("1").unwrap();
        assert_eq!(
            estimated_value(q, UnitPrice::parse("0.005").unwrap())
                .unwrap()
                .to_string(),
            "0.01"
        );
        let big = Quantity::parse("999999999999.99").unwrap();
        assert_eq!(estimated_value(big, UnitPrice::parse("2").unwrap()), None);
    }

    #[test]
    fn cpv_must_be_official_and_in_scope() {
        assert!(input().parse(&ctx(&[])).is_ok());
        let scope = vec!["45".to_owned()];
        assert!(input().parse(&ctx(&scope)).is_ok());
        let scope = vec!["09".to_owned()];
        assert_eq!(
            input().parse(&ctx(&scope)).unwrap_err().errors[0].pointer,
            "/cpv"
        );
        let mut bad = input();
        bad.cpv = "45442100-9".into();
        assert_eq!(bad.parse(&ctx(&[])).unwrap_err().errors[0].pointer, "/cpv");
    }

    #[test]
    fn dates_must_exist_and_not_be_past() {
        for bad in ["2027-02-30", "2027-2-1", "01/03/2027", "2026-11-29", ""] {
            let mut n = input();
            n.wanted_by = bad.into();
            assert_eq!(
                n.parse(&ctx(&[])).unwrap_err().errors[0].pointer,
                "/wanted_by",
                "{bad}"
            );
        }
    }

    #[test]
    fn status_machine() {
        use NeedStatus::*;
        assert_eq!(transition(Draft, Action::Submit), Ok(Submitted));
        assert_eq!(transition(Draft, Action::Withdraw), Ok(Withdrawn));
        assert_eq!(transition(Submitted, Action::Withdraw), Ok(Withdrawn));
        assert_eq!(transition(Submitted, Action::Reject), Ok(Rejected));
        assert!(transition(Submitted, Action::Edit).is_err());
        assert!(transition(Submitted, Action::Delete).is_err());
        assert!(transition(Draft, Action::Reject).is_err());
        assert!(transition(Consolidated, Action::Withdraw).is_err());
        assert!(transition(Withdrawn, Action::Submit).is_err());
        assert!(transition(Rejected, Action::Submit)
            .unwrap_err()
            .contains("rejected"));
    }

    #[test]
    fn patch_applies_only_given_fields() {
        let current = input().parse(&ctx(&[])).unwrap();
        let patch = PatchNeed {
            title: Some("Nouveau".into()),
            quantity: Some(Quantity::parse("2").unwrap()),
            ..Default::default()
        };
        let next = patch.apply(&current, &ctx(&[])).unwrap();
        assert_eq!(next.title, "Nouveau");
        assert_eq!(next.quantity.to_string(), "2");
        assert_eq!(next.cpv, current.cpv);
        let bad = PatchNeed {
            title: Some(String::new()),
            cpv: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(bad.apply(&current, &ctx(&[])).unwrap_err().errors.len(), 2);
    }
}
