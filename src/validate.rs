//! Pure field checks that collect every problem of a request before answering 422.

use crate::error::{ApiError, FieldError};

/// Collects field errors; [`Checks::finish`] turns them into one 422.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// No error yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error at `pointer`.
    pub fn add(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(pointer, message));
    }

    /// Records `message` at `pointer` unless `ok`.
    pub fn check(&mut self, ok: bool, pointer: &str, message: &str) {
        if !ok {
            self.add(pointer, message);
        }
    }

    /// A single-line text of `min..=max` characters without control characters, trimmed.
    /// Returns the trimmed text.
    pub fn line(&mut self, pointer: &str, value: &str, min: usize, max: usize) -> String {
        self.text(pointer, value, min, max, false)
    }

    /// Like [`Checks::line`] but allows line breaks and tabs (descriptions).
    pub fn paragraph(&mut self, pointer: &str, value: &str, min: usize, max: usize) -> String {
        self.text(pointer, value, min, max, true)
    }

    fn text(
        &mut self,
        pointer: &str,
        value: &str,
        min: usize,
        max: usize,
        multiline: bool,
    ) -> String {
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        if trimmed.contains('\0') {
            self.add(pointer, "must not contain NUL characters");
        } else if trimmed
            .chars()
            .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
        {
            self.add(pointer, "must not contain control characters");
        } else if trimmed.chars().any(is_format_or_separator) {
            self.add(
                pointer,
                "must not contain invisible format characters or line/paragraph separators (Unicode Cf, Zl, Zp)",
            );
        } else if len < min {
            self.add(
                pointer,
                if min == 1 {
                    "must not be empty".to_owned()
                } else {
                    format!("must have at least {min} characters")
                },
            );
        } else if len > max {
            self.add(pointer, format!("must have at most {max} characters"));
        }
        trimmed.to_owned()
    }

    /// An e-mail address (pragmatic check: one `@`, a dotted domain, no spaces, ≤ 254 chars).
    /// Returns it trimmed.
    pub fn email(&mut self, pointer: &str, value: &str) -> String {
        let v = value.trim();
        if !is_email(v) {
            self.add(
                pointer,
                "must be an e-mail address such as achats@example.fr",
            );
        }
        v.to_owned()
    }

    /// A SIRET: 14 digits passing the Luhn check (La Poste's SIRETs use their own rule).
    pub fn siret(&mut self, pointer: &str, value: &str) -> String {
        if let Err(msg) = check_siret(value) {
            self.add(pointer, msg);
        }
        value.to_owned()
    }

    /// The errors recorded so far, for a caller that collects more before answering.
    pub fn into_fields(self) -> Vec<FieldError> {
        self.errors
    }

    /// The 422 of what was recorded so far, to stop before per-entry work (e.g. when a list
    /// is over its length limit).
    pub fn into_error(self) -> ApiError {
        ApiError::validation(self.errors)
    }

    /// Ends the checks: `Ok` when nothing was recorded, else a 422 listing every error.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// Pragmatic e-mail syntax check.
pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    v.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && v.chars().all(|c| {
            c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control() && !is_format_or_separator(c))
        })
        && !v.contains(['<', '>', ',', ';', '"', '\\', '(', ')', '[', ']'])
}

/// Unicode general categories Cf (format: bidi overrides, zero-width characters, soft hyphen,
/// BOM…), Zl (U+2028) and Zp (U+2029), per Unicode 15.1. They are invisible or reorder text,
/// so they are refused in names, texts and addresses.
pub fn is_format_or_separator(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// SIREN of La Poste, whose establishments' SIRETs use a digit-sum rule instead of Luhn.
const LA_POSTE_SIREN: &str = "356000000";

/// Checks a SIRET: 14 ASCII digits and a valid Luhn checksum.
pub fn check_siret(v: &str) -> Result<(), &'static str> {
    if v.len() != 14 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be exactly 14 digits");
    }
    let digits = v.bytes().map(|b| u32::from(b - b'0'));
    if v.starts_with(LA_POSTE_SIREN) {
        return if digits.sum::<u32>() % 5 == 0 {
            Ok(())
        } else {
            Err("fails the SIRET checksum")
        };
    }
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    if sum % 10 == 0 {
        Ok(())
    } else {
        Err("fails the SIRET (Luhn) checksum")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_sirets_pass() {
        // Check digits computed independently; the last one is under La Poste's digit-sum rule.
        for ok in ["21440109300015", "73282932000074", "35600000000047"] {
            assert_eq!(check_siret(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_sirets_fail_with_a_reason() {
        assert_eq!(
            check_siret("21440109300016"),
            Err("fails the SIRET (Luhn) checksum")
        );
        assert_eq!(
            check_siret("2144010930001"),
            Err("must be exactly 14 digits")
        );
        assert_eq!(
            check_siret("2144010930001a"),
            Err("must be exactly 14 digits")
        );
        assert_eq!(
            check_siret("35600000000049"),
            Err("fails the SIRET checksum")
        );
    }

    #[test]
    fn emails() {
        assert!(is_email("achats@nmh.fr"));
        assert!(is_email("marchés@bmh.fr"));
        for bad in [
            "", "a", "a@b", "@b.fr", "a@.fr", "a@b.", "a b@c.fr", "a@b@c.fr", "<a@b.fr>",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn text_rules() {
        let mut c = Checks::new();
        assert_eq!(c.line("/a", "  x  ", 1, 5), "x");
        c.line("/b", "", 1, 5);
        c.line("/c", "abcdef", 1, 5);
        c.line("/d", "a\0b", 1, 5);
        c.line("/e", "a\nb", 1, 5);
        c.paragraph("/f", "a\nb", 1, 5);
        c.line("/g", "ab\u{202E}cd", 1, 9);
        c.paragraph("/h", "a\u{2028}b", 1, 9);
        c.line("/i", "zero\u{200B}width", 1, 20);
        c.line("/j", "Société Générale", 1, 20);
        let e = c.finish().unwrap_err();
        let pointers: Vec<_> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(pointers, ["/b", "/c", "/d", "/e", "/g", "/h", "/i"]);
        assert!(!is_email("achats\u{202E}@nmh.fr"));
        assert!(!is_email("achats@nmh\u{2029}.fr"));
        assert!(is_email("achats@nmh.fr"));
    }

    proptest! {
        #[test]
        fn exactly_one_check_digit_of_ten_is_valid(prefix in "[0-9]{13}") {
            prop_assume!(!prefix.starts_with(LA_POSTE_SIREN));
            let valid = (0..10).filter(|d| check_siret(&format!("{prefix}{d}")).is_ok()).count();
            prop_assert_eq!(valid, 1);
        }
    }
}
