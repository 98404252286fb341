//! Legal time: instants are stored in UTC, French legal dates are computed in Europe/Paris.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Paris;

/// The instant as Paris local time, RFC 3339 with its offset (`2026-12-15T18:00:00+01:00`).
pub fn paris_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).to_rfc3339()
}

/// The calendar date in Paris at instant `t`.
pub fn paris_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Paris).date_naive()
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The instant in words, Paris time, as French letters write it: `14 décembre 2026 à 18 h 00`.
pub fn french_datetime(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let local = t.with_timezone(&Paris);
    let month = MONTHS.get(local.month0() as usize).copied().unwrap_or("");
    let day = if local.day() == 1 {
        "1er".to_owned()
    } else {
        local.day().to_string()
    };
    format!(
        "{day} {month} {} à {} h {:02}",
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// A calendar date as French letters write it: `27 décembre 2026`, `1er mars 2027`.
pub fn french_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or("");
    let day = if d.day() == 1 {
        "1er".to_owned()
    } else {
        d.day().to_string()
    };
    format!("{day} {month} {}", d.year())
}

/// Parses an RFC 3339 instant with an explicit offset (`Z` or `±hh:mm`).
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn paris_offsets_follow_daylight_saving() {
        let winter = Utc.with_ymd_and_hms(2026, 12, 15, 17, 0, 0).unwrap();
        assert_eq!(paris_local(winter), "2026-12-15T18:00:00+01:00");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap();
        assert_eq!(paris_local(summer), "2026-07-01T12:00:00+02:00");
    }

    #[test]
    fn paris_date_changes_at_local_midnight() {
        let before = Utc.with_ymd_and_hms(2026, 12, 31, 22, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(
            paris_date(before),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(
            paris_date(after),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
    }

    #[test]
    fn french_datetimes_are_in_paris_time() {
        let t = Utc.with_ymd_and_hms(2026, 12, 14, 17, 0, 0).unwrap();
        assert_eq!(french_datetime(t), "14 décembre 2026 à 18 h 00");
        let t = Utc.with_ymd_and_hms(2027, 7, 31, 22, 5, 0).unwrap();
        assert_eq!(french_datetime(t), "1er août 2027 à 0 h 05");
        assert_eq!(
            french_date(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()),
            "1er mars 2027"
        );
        assert_eq!(
            french_date(NaiveDate::from_ymd_opt(2026, 12, 27).unwrap()),
            "27 décembre 2026"
        );
    }

    #[test]
    fn instants_need_an_offset() {
        assert!(parse_instant("2026-12-15T18:00:00+01:00").is_some());
        assert!(parse_instant("2026-12-15T17:00:00Z").is_some());
        assert!(parse_instant("2026-12-15T18:00:00").is_none());
        assert!(parse_instant("2026-12-15").is_none());
        assert!(parse_instant("2026-02-30T10:00:00Z").is_none());
    }
}
