//! Legal time: instants are stored in UTC, French legal dates are computed in Europe/Paris.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Paris;

/// The instant as Paris local time, RFC 3339 with its offset (`2026-12-15T18:00:00+01:00`).
pub fn paris_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).to_rfc3339()
}

/// The first instant of Paris calendar day `d` (midnight; never skipped by a clock change in
/// France, which moves at 02:00/03:00).
pub fn paris_midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    Paris
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
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

/// First year accepted in any instant or date (UTC).
pub const MIN_YEAR: i32 = 2000;
/// Last year accepted in any instant or date (UTC).
pub const MAX_YEAR: i32 = 2199;

/// True when `d` lies in the accepted range of years.
pub fn date_in_range(d: NaiveDate) -> bool {
    use chrono::Datelike;
    (MIN_YEAR..=MAX_YEAR).contains(&d.year())
}

/// Parses an RFC 3339 instant with an explicit offset (`Z` or `±hh:mm`), accepted only when it
/// falls in the years [`MIN_YEAR`]..=[`MAX_YEAR`] once converted to UTC.
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if raw.len() > 40 {
        return None;
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| date_in_range(t.date_naive()))
}

/// Parses an RFC 3339 instant used as a search bound: any valid instant is accepted, and one
/// outside the years [`MIN_YEAR`]..=[`MAX_YEAR`] is taken as the edge of that range (nothing
/// is stored outside it, so the answer is the same).
pub fn parse_bound(raw: &str) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    if raw.len() > 64 {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(raw).ok()?.with_timezone(&Utc);
    let first = Utc.with_ymd_and_hms(MIN_YEAR, 1, 1, 0, 0, 0).single()?;
    let last = Utc
        .with_ymd_and_hms(MAX_YEAR, 12, 31, 23, 59, 59)
        .single()?;
    Some(t.clamp(first, last))
}

/// Checks a future instant (a deadline, an expiry): after `now` and at most `max_years` years
/// after it. Returns the message for the field otherwise.
pub fn check_future(t: DateTime<Utc>, now: DateTime<Utc>, max_years: u32) -> Result<(), String> {
    let horizon = now
        .checked_add_months(chrono::Months::new(max_years.saturating_mul(12)))
        .unwrap_or(now);
    if t <= now {
        Err("must be in the future".to_owned())
    } else if !date_in_range(t.date_naive()) {
        Err(format!(
            "must fall in the years {MIN_YEAR} to {MAX_YEAR} (UTC)"
        ))
    } else if t > horizon {
        Err(format!("must be at most {max_years} years from now"))
    } else {
        Ok(())
    }
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

    #[test]
    fn instants_outside_2000_2199_in_utc_are_refused() {
        assert!(parse_instant("9999-12-31T23:59:59-23:59").is_none());
        assert!(parse_instant("2199-12-31T23:59:59Z").is_some());
        assert!(parse_instant("2199-12-31T23:59:59-01:00").is_none());
        assert!(parse_instant("2000-01-01T00:30:00+01:00").is_none());
        assert!(parse_instant("2000-01-01T00:00:00Z").is_some());
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        assert!(check_future(now, now, 10).is_err());
        assert!(check_future(now + chrono::Duration::seconds(1), now, 10).is_ok());
        let ten = Utc.with_ymd_and_hms(2036, 11, 30, 8, 0, 0).unwrap();
        assert!(check_future(ten, now, 10).is_ok());
        assert!(check_future(ten + chrono::Duration::seconds(1), now, 10).is_err());
        let far = Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap();
        assert!(
            check_future(far, now, 500).is_err(),
            "the years bound whatever the setting"
        );
    }
}
