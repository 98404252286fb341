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
    fn instants_need_an_offset() {
        assert!(parse_instant("2026-12-15T18:00:00+01:00").is_some());
        assert!(parse_instant("2026-12-15T17:00:00Z").is_some());
        assert!(parse_instant("2026-12-15T18:00:00").is_none());
        assert!(parse_instant("2026-12-15").is_none());
        assert!(parse_instant("2026-02-30T10:00:00Z").is_none());
    }
}
