//! Award rules: the standstill period (R2182-1) and the award's statuses. Pure.
//!
//! The standstill counts Europe/Paris calendar days from the day the rejection letters were
//! actually sent: 11 days when they went electronically, 16 otherwise; none for `mapa` and
//! `no_publicity`, nor when the lot had a single bid. The contract may be signed from
//! `notification date + days`.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::procedures::advice::Procedure;

/// Standstill after an electronic notification, in days.
pub const STANDSTILL_ELECTRONIC_DAYS: u32 = 11;
/// Standstill after a notification by other means, in days.
pub const STANDSTILL_POSTAL_DAYS: u32 = 16;

crate::stored_enum! {
    /// How the award decision was notified to the bidders.
    pub enum Notification {
        /// By e-mail (the outbox's letters): 11 days.
        Electronic,
        /// By post (the e-mails are a copy): 16 days.
        Postal,
    }
}

crate::stored_enum! {
    /// Status of an award.
    pub enum AwardStatus {
        /// The lot's current award, until its contract.
        Active,
        /// Withdrawn by the lead with a reason (R2144-7).
        Withdrawn,
        /// Its contract is made.
        Contracted,
    }
}

/// Days of standstill for an award under `procedure`, notified by `notification`, in a lot
/// where `bids` bids were received in time (0: none — the winner was the only participant).
pub fn standstill_days(procedure: Procedure, notification: Notification, bids: usize) -> u32 {
    if procedure != Procedure::OpenTender || bids <= 1 {
        return 0;
    }
    match notification {
        Notification::Electronic => STANDSTILL_ELECTRONIC_DAYS,
        Notification::Postal => STANDSTILL_POSTAL_DAYS,
    }
}

/// First Paris calendar day the contract may be signed when the last rejection letter was
/// sent at `sent`: its Paris date + `days` (far-future dates saturate).
pub fn signable_from(sent: DateTime<Utc>, days: u32) -> NaiveDate {
    let d = crate::dates::paris_date(sent);
    d.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// `from` + `days` calendar days (the certificates' due date).
pub fn days_after(from: NaiveDate, days: u32) -> NaiveDate {
    from.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn only_open_tenders_with_several_bids_have_a_standstill() {
        use Notification::*;
        assert_eq!(standstill_days(Procedure::OpenTender, Electronic, 2), 11);
        assert_eq!(standstill_days(Procedure::OpenTender, Postal, 3), 16);
        assert_eq!(standstill_days(Procedure::OpenTender, Electronic, 1), 0);
        assert_eq!(standstill_days(Procedure::Mapa, Electronic, 5), 0);
        assert_eq!(standstill_days(Procedure::NoPublicity, Postal, 5), 0);
    }

    #[test]
    fn standstill_counts_paris_calendar_days_across_daylight_saving() {
        // Sent 2027-03-27 23:30 UTC = 28 March 00:30 CET→CEST night in Paris (summer time
        // starts 28 March 2027 at 02:00): the notification day is 28 March, not 27.
        assert_eq!(
            signable_from(utc(2027, 3, 27, 23, 30), 11),
            date(2027, 4, 8)
        );
        // Sent 2027-03-27 22:59 UTC = 23:59 CET on 27 March.
        assert_eq!(
            signable_from(utc(2027, 3, 27, 22, 59), 11),
            date(2027, 4, 7)
        );
        // Autumn change (31 October 2027 03:00 CEST → 02:00 CET): 22:30 UTC on the 30th is
        // 00:30 on the 31st in Paris (CEST, UTC+2).
        assert_eq!(
            signable_from(utc(2027, 10, 30, 22, 30), 16),
            date(2027, 11, 16)
        );
        assert_eq!(
            signable_from(utc(2027, 10, 30, 21, 59), 16),
            date(2027, 11, 15)
        );
    }

    #[test]
    fn standstill_crosses_month_and_year_ends() {
        assert_eq!(signable_from(utc(2027, 1, 25, 10, 0), 11), date(2027, 2, 5));
        assert_eq!(
            signable_from(utc(2028, 2, 20, 10, 0), 11),
            date(2028, 3, 2),
            "leap year"
        );
        assert_eq!(signable_from(utc(2027, 2, 20, 10, 0), 11), date(2027, 3, 3));
        assert_eq!(
            signable_from(utc(2027, 12, 25, 10, 0), 16),
            date(2028, 1, 10)
        );
        // 31 December 23:30 UTC is already 1 January in Paris.
        assert_eq!(
            signable_from(utc(2026, 12, 31, 23, 30), 11),
            date(2027, 1, 12)
        );
        assert_eq!(days_after(date(2027, 1, 31), 10), date(2027, 2, 10));
    }
}
