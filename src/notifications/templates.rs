//! The shared part of the French e-mail notices: the rendered form, the layout, French
//! numbers and amounts, and the [`notice_templates!`](crate::notice_templates) macro with which
//! each feature declares its own notices (in its `notices.rs`, templates under
//! `templates/mail/`): plain text plus HTML sharing a layout, the HTML auto-escaped. Rendering
//! is pure; the result is stored in the outbox as it was at the time of the change.

use askama::Template;
use rust_decimal::Decimal;

use crate::decimal::{round_half_up, Amount};

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// A decimal the French way, with `dp` decimals, a comma and no-break spaces between
/// thousands: `12345.6` → `12 345,60`.
pub fn french_number(value: Decimal, dp: u32) -> String {
    let text = crate::decimal::fixed(round_half_up(value, dp), dp);
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(ch);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// An amount in euros the French way: `12 345,67 €`.
pub fn french_euros(a: Amount) -> String {
    format!("{}\u{a0}€", french_number(a.value(), 2))
}

/// Declares the text and HTML templates of a notice; both see the notice as `n`.
#[macro_export]
macro_rules! notice_templates {
    ($data:ty, $text:ident => $text_path:literal, $html:ident => $html_path:literal) => {
        #[derive(askama::Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> {
            n: &'a $data,
        }

        #[derive(askama::Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            n: &'a $data,
        }
    };
}

/// Renders a notice's subject, text and HTML.
pub fn render(
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject,
        text: text.render()?,
        html: html.render()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NBSP: char = '\u{a0}';

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn french_numbers() {
        assert_eq!(french_number(dec("12345.6"), 2), format!("12{NBSP}345,60"));
        assert_eq!(
            french_number(dec("999999999999.99"), 2),
            format!("999{NBSP}999{NBSP}999{NBSP}999,99")
        );
        assert_eq!(french_number(dec("0.005"), 2), "0,01");
        assert_eq!(french_number(dec("100"), 0), "100");
        assert_eq!(
            french_euros(amount("1234.5")),
            format!("1{NBSP}234,50{NBSP}€")
        );
    }
}
