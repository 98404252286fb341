//! Exact decimal values: money, quantities, unit prices, VAT rates and percentages.
//!
//! Pure module, no I/O. Every decimal that crosses the API is a JSON **string** parsed here
//! with explicit limits; a JSON number is refused because it may already have lost precision
//! in the client. Nothing on this path ever goes through `f64`.
//!
//! Output is canonical so that both database backends print the same thing: amounts always
//! carry exactly two decimals, quantities, unit prices, rates and percentages carry no
//! trailing zeros.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Largest value any amount, quantity or unit price may take: 999 999 999 999.99.
pub const MAX_VALUE: Decimal = Decimal::from_parts(276_447_231, 23_283, 0, false, 2);

/// Longest decimal string accepted before any parsing happens.
const MAX_INPUT_LEN: usize = 40;

/// Why a decimal string was refused. The `Display` text is the message shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The JSON value was a number, a boolean, null… instead of a string.
    #[error("must be a JSON string such as \"12.50\", not a number (a JSON number may already have lost precision)")]
    NotAString,
    /// The string is not plain digits with an optional dot.
    #[error("must be written as digits with an optional '.' and decimals, e.g. \"1234.50\" (no exponent, comma, sign or spaces)")]
    Malformed,
    /// More decimal places than the kind of value allows.
    #[error("must have at most {0} decimal places")]
    TooManyDecimals(u32),
    /// Zero where a strictly positive value is required.
    #[error("must be greater than 0")]
    NotPositive,
    /// Above [`MAX_VALUE`] (or above 100 for a percentage).
    #[error("must be at most {0}")]
    TooLarge(&'static str),
    /// A VAT rate outside the French rates.
    #[error("must be one of \"0\", \"5.5\", \"10\", \"20\"")]
    UnknownVatRate,
}

/// Parses a plain decimal string (`^[0-9]+(\.[0-9]+)?$`) with at most `max_scale` decimals.
///
/// Refuses signs, exponents (`1e3`), commas (`1,5`), `NaN`, blanks, leading or trailing dots,
/// and strings longer than 40 characters. The result keeps the scale that was written.
pub fn parse_plain(input: &str, max_scale: u32) -> Result<Decimal, DecimalError> {
    if input.is_empty() || input.len() > MAX_INPUT_LEN {
        return Err(
            if input.len() > MAX_INPUT_LEN && input.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            {
                if input
                    .split('.')
                    .nth(1)
                    .is_some_and(|f| f.len() > max_scale as usize)
                {
                    DecimalError::TooManyDecimals(max_scale)
                } else {
                    DecimalError::TooLarge("999999999999.99")
                }
            } else {
                DecimalError::Malformed
            },
        );
    }
    let (int_part, frac_part) = match input.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (input, None),
    };
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(int_part) || frac_part.is_some_and(|f| !digits_only(f)) {
        return Err(DecimalError::Malformed);
    }
    if frac_part.map_or(0, str::len) > max_scale as usize {
        return Err(DecimalError::TooManyDecimals(max_scale));
    }
    let value =
        Decimal::from_str_exact(input).map_err(|_| DecimalError::TooLarge("999999999999.99"))?;
    if value > MAX_VALUE {
        return Err(DecimalError::TooLarge("999999999999.99"));
    }
    Ok(value)
}

/// Rounds half away from zero (*arrondi commercial*) to `dp` decimal places.
pub fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// Writes a decimal with exactly `dp` decimal places (value must already have at most `dp`).
pub fn fixed(value: Decimal, dp: u32) -> String {
    let mut v = round_half_up(value, dp);
    v.rescale(dp);
    v.to_string()
}

/// Writes a decimal without trailing zeros (`"12.50"` → `"12.5"`, `"3.000"` → `"3"`).
pub fn trimmed(value: Decimal) -> String {
    value.normalize().to_string()
}

struct StrVisitor;

impl de::Visitor<'_> for StrVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number written as a JSON string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<String, E> {
        Err(E::custom(DecimalError::NotAString))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<String, E> {
        Err(E::custom(DecimalError::NotAString))
    }

    // A JSON float is refused unread: it may already have lost precision in the client.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(E::custom(DecimalError::NotAString))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(E::custom(DecimalError::NotAString))
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Err(E::custom(DecimalError::NotAString))
    }
}

/// Declares a decimal newtype with its parse rule, JSON form and OpenAPI schema.
macro_rules! decimal_type {
    ($(#[$doc:meta])* $name:ident, example = $example:literal, pattern = $pattern:literal, parse = $parse:expr, print = $print:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
        #[schema(value_type = String, example = $example, pattern = $pattern)]
        pub struct $name(Decimal);

        impl $name {
            /// Parses the API's string form, applying this type's limits.
            pub fn parse(input: &str) -> Result<Self, DecimalError> {
                let parse: fn(&str) -> Result<Decimal, DecimalError> = $parse;
                parse(input).map(Self)
            }

            /// The exact value.
            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                let print: fn(Decimal) -> String = $print;
                f.write_str(&print(self.0))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = d.deserialize_any(StrVisitor)?;
                Self::parse(&raw).map_err(de::Error::custom)
            }
        }
    };
}

decimal_type!(
    /// A money amount in EUR (HT unless named `_ttc`): 0 ≤ amount ≤ 999 999 999 999.99,
    /// at most 2 decimals, always printed with exactly 2.
    Amount,
    example = "1234.50",
    pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$",
    parse = |s| parse_plain(s, 2),
    print = |d| fixed(d, 2)
);

decimal_type!(
    /// A quantity: 0 < quantity ≤ 999 999 999 999.99, at most 3 decimals, printed without
    /// trailing zeros.
    Quantity,
    example = "12.5",
    pattern = r"^[0-9]{1,12}(\.[0-9]{1,3})?$",
    parse = |s| {
        let v = parse_plain(s, 3)?;
        if v.is_zero() {
            return Err(DecimalError::NotPositive);
        }
        Ok(v)
    },
    print = trimmed
);

decimal_type!(
    /// A unit price HT: 0 ≤ price ≤ 999 999 999 999.99, at most 4 decimals, printed without
    /// trailing zeros.
    UnitPrice,
    example = "19.99",
    pattern = r"^[0-9]{1,12}(\.[0-9]{1,4})?$",
    parse = |s| parse_plain(s, 4),
    print = trimmed
);

decimal_type!(
    /// A percentage between 0 and 100 with at most 2 decimals (fee rates, criteria weights).
    Percent,
    example = "2.5",
    pattern = r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$",
    parse = |s| {
        let v = parse_plain(s, 2)?;
        if v > Decimal::ONE_HUNDRED {
            return Err(DecimalError::TooLarge("100"));
        }
        Ok(v)
    },
    print = trimmed
);

decimal_type!(
    /// A French VAT rate in percent: `0`, `5.5`, `10` or `20`.
    VatRate,
    example = "20",
    pattern = r"^(0(\.0{1,2})?|5\.50?|10(\.0{1,2})?|20(\.0{1,2})?)$",
    parse = |s| {
        let v = parse_plain(s, 2).map_err(|_| DecimalError::UnknownVatRate)?;
        let allowed = [Decimal::ZERO, Decimal::new(55, 1), Decimal::TEN, Decimal::from(20)];
        if allowed.contains(&v) {
            Ok(v.normalize())
        } else {
            Err(DecimalError::UnknownVatRate)
        }
    },
    print = trimmed
);

impl Amount {
    /// Zero euros.
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    /// Builds an amount from an exact value by rounding half-up to the cent.
    /// Returns `None` when the value is negative or above [`MAX_VALUE`].
    pub fn from_rounded(value: Decimal) -> Option<Self> {
        let v = round_half_up(value, 2);
        (v >= Decimal::ZERO && v <= MAX_VALUE).then_some(Amount(v))
    }
}

/// Restores a stored value without re-checking the API limits (the database only holds
/// values that passed them; sums of them may legitimately exceed a single value's limit).
macro_rules! from_stored {
    ($($name:ident),*) => {$(
        impl $name {
            /// Wraps a value read back from the database.
            pub fn from_stored(value: Decimal) -> Self {
                Self(value)
            }
        }
    )*};
}
from_stored!(Amount, Quantity, UnitPrice, Percent, VatRate);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn max_value_constant_is_the_documented_limit() {
        assert_eq!(MAX_VALUE, dec("999999999999.99"));
    }

    #[test]
    fn amounts_print_with_two_decimals() {
        assert_eq!(Amount::parse("1234.5").unwrap().to_string(), "1234.50");
        assert_eq!(Amount::parse("7").unwrap().to_string(), "7.00");
        assert_eq!(
            Amount::parse("999999999999.99").unwrap().to_string(),
            "999999999999.99"
        );
        assert_eq!(Amount::parse("0.00").unwrap().to_string(), "0.00");
    }

    #[test]
    fn quantities_and_prices_print_without_trailing_zeros() {
        assert_eq!(Quantity::parse("3.000").unwrap().to_string(), "3");
        assert_eq!(Quantity::parse("12.50").unwrap().to_string(), "12.5");
        assert_eq!(UnitPrice::parse("0.0001").unwrap().to_string(), "0.0001");
        assert_eq!(UnitPrice::parse("19.9900").unwrap().to_string(), "19.99");
    }

    #[test]
    fn malformed_strings_are_refused() {
        for bad in [
            "1e3", "1E3", "1,5", "NaN", "nan", "inf", "", " 1", "1 ", "+1", "-1", ".5", "5.",
            "1.2.3", "0x10", "１", "1_000", "--1",
        ] {
            assert_eq!(
                UnitPrice::parse(bad),
                Err(DecimalError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scale_limits_are_per_kind() {
        assert_eq!(
            Amount::parse("1.234"),
            Err(DecimalError::TooManyDecimals(2))
        );
        assert_eq!(
            Quantity::parse("1.2345"),
            Err(DecimalError::TooManyDecimals(3))
        );
        assert_eq!(
            UnitPrice::parse("1.23456"),
            Err(DecimalError::TooManyDecimals(4))
        );
        let thirty = format!("0.{}", "1".repeat(30));
        assert_eq!(
            UnitPrice::parse(&thirty),
            Err(DecimalError::TooManyDecimals(4))
        );
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(
            Amount::parse("1000000000000.00"),
            Err(DecimalError::TooLarge("999999999999.99"))
        );
        assert_eq!(
            Amount::parse("12345678901234567.89"),
            Err(DecimalError::TooLarge("999999999999.99"))
        );
        assert_eq!(
            Amount::parse(&"9".repeat(60)),
            Err(DecimalError::TooLarge("999999999999.99"))
        );
        assert_eq!(Quantity::parse("0"), Err(DecimalError::NotPositive));
        assert_eq!(Quantity::parse("0.000"), Err(DecimalError::NotPositive));
        assert!(Quantity::parse("0.001").is_ok());
        assert!(UnitPrice::parse("0").is_ok());
        assert_eq!(Percent::parse("100.01"), Err(DecimalError::TooLarge("100")));
        assert!(Percent::parse("100").is_ok());
    }

    #[test]
    fn vat_rates_are_the_french_ones() {
        for ok in ["0", "5.5", "10", "20", "20.0", "5.50"] {
            assert!(VatRate::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(VatRate::parse("5.50").unwrap().to_string(), "5.5");
        for bad in ["7", "19.6", "2.1", "abc", "-20"] {
            assert_eq!(
                VatRate::parse(bad),
                Err(DecimalError::UnknownVatRate),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_numbers_are_refused_and_strings_accepted() {
        let err = serde_json::from_str::<Amount>("12.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a number"), "{err}");
        assert!(serde_json::from_str::<Amount>("12").is_err());
        assert!(serde_json::from_str::<Amount>("null").is_err());
        let a: Amount = serde_json::from_str("\"12.5\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"12.50\"");
    }

    #[test]
    fn round_half_up_goes_away_from_zero_at_midpoint() {
        assert_eq!(round_half_up(dec("0.005"), 2), dec("0.01"));
        assert_eq!(round_half_up(dec("0.0049"), 2), dec("0.00"));
        assert_eq!(round_half_up(dec("2.675"), 2), dec("2.68"));
        assert_eq!(
            Amount::from_rounded(dec("10.125")).unwrap().to_string(),
            "10.13"
        );
        assert_eq!(Amount::from_rounded(dec("-1")), None);
    }

    proptest! {
        #[test]
        fn parse_print_round_trip_is_exact(int in 0u64..=999_999_999_999u64, frac in 0u32..100u32) {
            let text = format!("{int}.{frac:02}");
            let amount = Amount::parse(&text).unwrap();
            prop_assert_eq!(amount.to_string(), text.clone());
            prop_assert_eq!(amount.value(), Decimal::from_str_exact(&text).unwrap());
            let json = serde_json::to_string(&amount).unwrap();
            let back: Amount = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, amount);
        }

        #[test]
        fn unit_prices_keep_every_written_digit(int in 0u64..=999_999_999_999u64, frac in 0u32..10_000u32) {
            let text = format!("{int}.{frac:04}");
            let price = UnitPrice::parse(&text).unwrap();
            prop_assert_eq!(price.value(), Decimal::from_str_exact(&text).unwrap());
            prop_assert_eq!(UnitPrice::parse(&price.to_string()).unwrap(), price);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,50}") {
            let _ = Amount::parse(&s);
            let _ = Quantity::parse(&s);
            let _ = VatRate::parse(&s);
        }

        #[test]
        fn too_many_decimals_always_refused(int in 0u64..1_000_000u64, frac in 1u64..1_000_000u64) {
            let text = format!("{int}.{frac:06}1");
            prop_assert_eq!(UnitPrice::parse(&text), Err(DecimalError::TooManyDecimals(4)));
        }
    }
}
