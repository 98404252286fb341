//! The official CPV code list (Common Procurement Vocabulary), embedded at build time from
//! `standards/cpv/cpv-codes.txt`.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("../standards/cpv/cpv-codes.txt");

fn codes() -> &'static HashSet<&'static str> {
    static CODES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    CODES.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

fn divisions() -> &'static HashSet<&'static str> {
    static DIVISIONS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    DIVISIONS.get_or_init(|| codes().iter().filter_map(|c| c.get(..2)).collect())
}

/// True when `code` (form `NNNNNNNN-N`) is in the official list.
pub fn is_code(code: &str) -> bool {
    code.len() == 10 && codes().contains(code)
}

/// True when `division` is the two-digit division of at least one official code.
pub fn is_division(division: &str) -> bool {
    division.len() == 2 && divisions().contains(division)
}

/// Every prefix (2 to 8 digits) of an official code, so a prefix check is one lookup.
fn prefixes() -> &'static HashSet<&'static str> {
    static PREFIXES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    PREFIXES.get_or_init(|| {
        codes()
            .iter()
            .flat_map(|c| (2..=8).filter_map(move |n| c.get(..n)))
            .collect()
    })
}

/// True when at least one official code starts with `prefix` (2 to 8 digits).
pub fn has_prefix(prefix: &str) -> bool {
    prefixes().contains(prefix)
}

/// Number of codes in the list.
pub fn len() -> usize {
    codes().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_official_list_is_loaded() {
        assert_eq!(len(), 9454);
        assert!(is_code("45000000-7"));
        assert!(is_code("03000000-1"));
        assert!(!is_code("45000000-8"), "wrong check digit");
        assert!(!is_code("45000000"));
        assert!(is_division("45"));
        assert!(is_division("09"));
        assert!(!is_division("04"));
        assert!(!is_division("4"));
        assert!(has_prefix("4544"));
        assert!(!has_prefix("99"));
    }
}
