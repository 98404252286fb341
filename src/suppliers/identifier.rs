//! How a supplier is identified: a SIRET for a French company, otherwise one of the
//! identifier types of DECP 2.0 (`titulaire.typeIdentifiant`) with its country. Refusing
//! foreign suppliers would be discriminatory above the EU thresholds. Pure.

use serde::{Deserialize, Serialize};

use crate::validate::{check_siret, Checks};

crate::stored_enum! {
    @screaming_kebab
    /// DECP 2.0's identifier types.
    pub enum IdentifierType {
        /// French establishment number (14 digits, Luhn).
        Siret,
        /// Intra-EU VAT number, with its country prefix (`DE123456789`, `FR40303265045`).
        Tva,
        /// French Polynesia's company number.
        Tahiti,
        /// New Caledonia's company number.
        Ridet,
        /// Wallis and Futuna's company number.
        Frwf,
        /// Another French overseas register's number.
        Irep,
        /// A national identifier of a country outside the EU.
        HorsUe,
    }
}

/// A supplier's identifier as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// DECP identifier type.
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The identifier, without spaces (1–40 characters; its format depends on the type).
    #[schema(min_length = 1, max_length = 40)]
    pub value: String,
    /// ISO 3166-1 alpha-2 country code, upper case (`FR`, `DE`, `CH`).
    #[schema(pattern = r"^[A-Z]{2}$")]
    pub country: String,
}

/// ISO codes of the EU member states, with the prefix their VAT numbers use when it differs
/// (Greece: `EL`). Northern Ireland's traders use `XI` (country `GB`).
const EU_VAT_PREFIXES: &[(&str, &str)] = &[
    ("AT", "AT"),
    ("BE", "BE"),
    ("BG", "BG"),
    ("CY", "CY"),
    ("CZ", "CZ"),
    ("DE", "DE"),
    ("DK", "DK"),
    ("EE", "EE"),
    ("GR", "EL"),
    ("ES", "ES"),
    ("FI", "FI"),
    ("FR", "FR"),
    ("HR", "HR"),
    ("HU", "HU"),
    ("IE", "IE"),
    ("IT", "IT"),
    ("LT", "LT"),
    ("LU", "LU"),
    ("LV", "LV"),
    ("MT", "MT"),
    ("NL", "NL"),
    ("PL", "PL"),
    ("PT", "PT"),
    ("RO", "RO"),
    ("SE", "SE"),
    ("SI", "SI"),
    ("SK", "SK"),
    ("GB", "XI"),
];

/// True for an EU member state's ISO code.
pub fn is_eu_country(country: &str) -> bool {
    EU_VAT_PREFIXES
        .iter()
        .any(|(iso, _)| *iso == country && *iso != "GB")
}

/// The VAT prefix a company of `country` uses, if it has an intra-EU VAT number.
fn vat_prefix(country: &str) -> Option<&'static str> {
    EU_VAT_PREFIXES
        .iter()
        .find(|(iso, _)| *iso == country)
        .map(|(_, prefix)| *prefix)
}

/// Checks a French VAT number: `FR`, a two-character key and the 9-digit SIREN. A numeric
/// key must equal (12 + 3 × (SIREN mod 97)) mod 97; a key with letters (any but O and I, the
/// newer scheme) cannot be checked offline.
fn check_french_vat(rest: &str) -> Result<(), &'static str> {
    let (key, siren) = rest.split_at(rest.len().min(2));
    let key_ok = key.len() == 2
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && b != b'O' && b != b'I'));
    if !key_ok || siren.len() != 9 || !siren.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a French VAT number is FR, a two-character key and the 9-digit SIREN");
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let key: u64 = key.parse().map_err(|_| "invalid key")?;
    let siren: u64 = siren.parse().map_err(|_| "invalid SIREN")?;
    if (12 + 3 * (siren % 97)) % 97 == key {
        Ok(())
    } else {
        Err("fails the French VAT key check")
    }
}

/// Checks `id` for its type; the problems are recorded under `pointer` (`/identifier/...`).
pub fn check(c: &mut Checks, pointer: &str, id: &Identifier) {
    let value = &id.value;
    let country = id.country.as_str();
    let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    c.check(
        country_ok,
        &format!("{pointer}/country"),
        "must be an ISO 3166-1 alpha-2 code in upper case, e.g. \"DE\"",
    );
    let shape_ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-./".contains(&b));
    if !shape_ok {
        c.add(
            format!("{pointer}/value"),
            "must be 1 to 40 upper-case letters, digits, '-', '.' or '/', without spaces",
        );
        return;
    }
    let value_pointer = format!("{pointer}/value");
    let country_pointer = format!("{pointer}/country");
    match id.kind {
        IdentifierType::Siret => {
            if let Err(msg) = check_siret(value) {
                c.add(&value_pointer, msg);
            }
            c.check(
                country == "FR",
                &country_pointer,
                "a SIRET belongs to a French company: FR",
            );
        }
        IdentifierType::Tva => match vat_prefix(country) {
            None => c.add(
                &country_pointer,
                "an intra-EU VAT number belongs to a company of an EU member state",
            ),
            Some(prefix) => {
                let rest = value.strip_prefix(prefix);
                match rest {
                    None => c.add(
                        &value_pointer,
                        format!("a VAT number of {country} starts with {prefix}"),
                    ),
                    Some(rest) if prefix == "FR" => {
                        if let Err(msg) = check_french_vat(rest) {
                            c.add(&value_pointer, msg);
                        }
                    }
                    Some(rest) => c.check(
                        (2..=12).contains(&rest.len())
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
                        &value_pointer,
                        "must be the country prefix then 2 to 12 letters or digits",
                    ),
                }
            }
        },
        IdentifierType::Tahiti | IdentifierType::Ridet | IdentifierType::Frwf => {
            let expected = match id.kind {
                IdentifierType::Tahiti => "PF",
                IdentifierType::Ridet => "NC",
                _ => "WF",
            };
            c.check(
                country == expected,
                &country_pointer,
                &format!("this register is the one of {expected}"),
            );
        }
        IdentifierType::Irep => {}
        IdentifierType::HorsUe => c.check(
            !country_ok || !is_eu_country(country),
            &country_pointer,
            "HORS-UE is for a country outside the EU (use TVA for a company of a member state)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spelled::Spelled;

    fn errors(kind: IdentifierType, value: &str, country: &str) -> Vec<String> {
        let mut c = Checks::new();
        let id = Identifier {
            kind,
            value: value.into(),
            country: country.into(),
        };
        check(&mut c, "/identifier", &id);
        c.into_fields().into_iter().map(|f| f.pointer).collect()
    }

    #[test]
    fn spellings_are_decps() {
        let all = [
            IdentifierType::Siret,
            IdentifierType::Tva,
            IdentifierType::Tahiti,
            IdentifierType::Ridet,
            IdentifierType::Frwf,
            IdentifierType::Irep,
            IdentifierType::HorsUe,
        ];
        let spelled: Vec<String> = all.iter().map(Spelled::spelling).collect();
        assert_eq!(
            spelled,
            ["SIRET", "TVA", "TAHITI", "RIDET", "FRWF", "IREP", "HORS-UE"]
        );
        // The same list as the shipped DECP 2.0 schema's titulaire.typeIdentifiant.
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "../../standards/decp-2.0/schema_decp_v2.0.3.json"
        ))
        .unwrap_or_default();
        let decp = &schema["definitions"]["marche"]["definitions"]["Titulaire"]["properties"]
            ["typeIdentifiant"]["enum"];
        assert_eq!(decp, &serde_json::json!(spelled));
    }

    #[test]
    fn vat_numbers_of_member_states() {
        use IdentifierType::Tva;
        assert!(errors(Tva, "DE123456789", "DE").is_empty());
        assert!(
            errors(Tva, "EL094259216", "GR").is_empty(),
            "Greece uses EL"
        );
        assert!(errors(Tva, "FR40303265045", "FR").is_empty());
        assert_eq!(
            errors(Tva, "FR41303265045", "FR"),
            ["/identifier/value"],
            "bad key"
        );
        assert_eq!(errors(Tva, "DE123456789", "AT"), ["/identifier/value"]);
        assert_eq!(errors(Tva, "CHE123456789", "CH"), ["/identifier/country"]);
        assert_eq!(errors(Tva, "DE1", "DE"), ["/identifier/value"]);
        assert_eq!(errors(Tva, "de123456789", "DE"), ["/identifier/value"]);
    }

    #[test]
    fn other_types_and_countries() {
        use IdentifierType::*;
        assert!(errors(HorsUe, "CHE-123.456.789", "CH").is_empty());
        assert_eq!(errors(HorsUe, "123", "DE"), ["/identifier/country"]);
        assert_eq!(errors(HorsUe, "123", "ch"), ["/identifier/country"]);
        assert!(errors(Siret, "51234567800019", "FR").is_empty());
        assert_eq!(errors(Siret, "51234567800018", "FR"), ["/identifier/value"]);
        assert_eq!(
            errors(Siret, "51234567800019", "BE"),
            ["/identifier/country"]
        );
        assert!(errors(Tahiti, "A12345", "PF").is_empty());
        assert_eq!(errors(Ridet, "1234567", "PF"), ["/identifier/country"]);
        assert_eq!(errors(Irep, "", "FR"), ["/identifier/value"]);
        assert_eq!(errors(Irep, &"9".repeat(41), "FR"), ["/identifier/value"]);
        assert_eq!(errors(Irep, "12 34", "FR"), ["/identifier/value"]);
    }
}
