//! Open-data and office exports: an OCDS 1.1 release package per tender ([`ocds`]), DECP 2.0
//! per member contract part ([`decp`]), and the bid comparison as XLSX or CSV
//! ([`comparison`]). Builders are pure; [`store`] gathers their input through the other
//! features' public functions, within the caller's scope. See `docs/exports.md`.

pub mod comparison;
pub mod decp;
pub mod ocds;
pub mod routes;
pub mod store;

use rust_decimal::Decimal;
use serde_json::Value;

/// Marks an amount to be written as a JSON number with exactly the decimal's digits.
const NUMBER_MARK: char = '\u{1}';

/// A decimal that [`to_json_text`] writes as a JSON number with exactly its digits (`6608.50`
/// stays `6608.50`): never through a binary float. In a [`Value`] it is a marked string.
pub fn number(d: Decimal) -> Value {
    Value::String(format!("{NUMBER_MARK}{d}"))
}

/// Serializes `v`, writing every [`number`] as a bare JSON number with its digits. Only a
/// marked string made of digits, `.` and `-` is replaced, so no text can inject JSON (and the
/// service refuses control characters in every text it keeps anyway).
pub fn to_json_text(v: &Value) -> String {
    let text = v.to_string();
    // The mark serializes as the escape `\u0001`: `"\u0001123.45"` becomes `123.45`.
    let needle = "\"\\u0001";
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(needle) {
        let after = &rest[at + needle.len()..];
        let end = after.find('"').unwrap_or(after.len());
        let digits = &after[..end];
        let is_number = !digits.is_empty()
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if is_number {
            out.push_str(&rest[..at]);
            out.push_str(digits);
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            // Not one of ours: keep the text as it is.
            out.push_str(&rest[..at + needle.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits() {
        let v = serde_json::json!({
            "a": number("6608.50".parse().unwrap()),
            "b": [number("0.1".parse().unwrap()), "text"],
            "c": number("-12345678901234567890.123456".parse().unwrap()),
        });
        assert_eq!(
            to_json_text(&v),
            r#"{"a":6608.50,"b":[0.1,"text"],"c":-12345678901234567890.123456}"#
        );
        // A text that starts with the mark is not a number: left as it is.
        let v = serde_json::json!({"t": "\u{1}\",\"x\":1"});
        assert_eq!(to_json_text(&v), v.to_string());
        assert!(serde_json::from_str::<serde_json::Value>(&to_json_text(&v)).is_ok());
    }
}
