//! A campaign, its status machine and its rules. Pure.
//!
//! ```text
//!   open ──(deadline passes, or the lead closes it)──▶ closed ──(tender created)──▶ frozen
//! ```
//! The deadline is applied on read: a request after it sees `closed` even if nothing ran.

use crate::ids::{CampaignId, GroupId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::validate::Checks;

crate::stored_enum! {
    /// Status of a campaign.
    pub enum CampaignStatus {
        /// Needs can be created, changed and submitted.
        Open,
        /// Deadline reached or closed early: needs are fixed.
        Closed,
        /// A tender was created from it.
        Frozen,
    }
}

impl CampaignStatus {
    /// The status as of `now`: an open campaign past its deadline is closed.
    pub fn effective(self, deadline: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Open && now >= deadline {
            Self::Closed
        } else {
            self
        }
    }
}

/// Body of `POST /api/v1/groups/{id}/campaigns`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    /// Title (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Optional CPV prefixes (2 to 8 digits) the needs must fall under, e.g. `["45", "0913"]`.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub cpv_scope: Vec<String>,
    /// RFC 3339 instant with offset, in the future (at most `limits.max_years_ahead` years),
    /// e.g. `2027-01-15T18:00:00+01:00`.
    #[schema(format = DateTime)]
    pub needs_deadline: String,
    /// Duration of the future contracts in months, renewals included: 1 to 48, default 12.
    /// Need quantities are per year; the procedure advice compares the value over this
    /// duration.
    #[schema(minimum = 1, maximum = 48, default = 12)]
    pub contract_months: Option<i64>,
}

/// A validated new campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// Title.
    pub title: String,
    /// CPV prefixes.
    pub cpv_scope: Vec<String>,
    /// Deadline.
    pub needs_deadline: DateTime<Utc>,
    /// Contract duration in months (1–48).
    pub contract_months: u32,
}

/// Contract duration when the campaign does not say.
pub const DEFAULT_CONTRACT_MONTHS: u32 = 12;
/// Longest contract duration (four years, the limit for framework agreements, L2125-1).
pub const MAX_CONTRACT_MONTHS: u32 = 48;

/// True when `prefix` is 2–8 digits starting at least one official CPV code.
pub fn is_cpv_prefix(prefix: &str) -> bool {
    (2..=8).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && crate::cpv::has_prefix(prefix)
}

impl CreateCampaign {
    /// Checks every field against `now`; 422 lists all that are wrong.
    pub fn parse(&self, now: DateTime<Utc>, max_years_ahead: u32) -> Result<NewCampaign, ApiError> {
        let mut c = Checks::new();
        let title = c.line("/title", &self.title, 1, 200);
        // Length first: no per-entry work on an oversized list.
        if self.cpv_scope.len() > 50 {
            c.add("/cpv_scope", "must list at most 50 prefixes");
            return Err(c.into_error());
        }
        for (i, p) in self.cpv_scope.iter().enumerate() {
            c.check(
                is_cpv_prefix(p),
                &format!("/cpv_scope/{i}"),
                "must be 2 to 8 leading digits of an official CPV code",
            );
        }
        let deadline = crate::dates::parse_instant(&self.needs_deadline);
        match deadline {
            None => c.add(
                "/needs_deadline",
                "must be an RFC 3339 date-time with offset in the years 2000 to 2199, e.g. 2027-01-15T18:00:00+01:00",
            ),
            Some(d) => {
                if let Err(msg) = crate::dates::check_future(d, now, max_years_ahead) {
                    c.add("/needs_deadline", msg);
                }
            }
        }
        let months = self
            .contract_months
            .map_or(Some(DEFAULT_CONTRACT_MONTHS), |m| {
                u32::try_from(m)
                    .ok()
                    .filter(|m| (1..=MAX_CONTRACT_MONTHS).contains(m))
            });
        c.check(
            months.is_some(),
            "/contract_months",
            "must be a whole number of months from 1 to 48",
        );
        c.finish()?;
        let mut cpv_scope = self.cpv_scope.clone();
        cpv_scope.sort();
        cpv_scope.dedup();
        Ok(NewCampaign {
            title,
            cpv_scope,
            needs_deadline: deadline.unwrap_or(now),
            contract_months: months.unwrap_or(DEFAULT_CONTRACT_MONTHS),
        })
    }
}

/// A campaign as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    /// Id.
    pub id: CampaignId,
    /// Group.
    pub group_id: GroupId,
    /// Title.
    pub title: String,
    /// CPV prefixes (empty: any code).
    pub cpv_scope: Vec<String>,
    /// Deadline for needs (UTC).
    pub needs_deadline: DateTime<Utc>,
    /// The same deadline in Europe/Paris local time.
    pub needs_deadline_local: String,
    /// Status as of the request.
    pub status: CampaignStatus,
    /// When the lead closed it early.
    pub closed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Duration of the future contracts in months, renewals included.
    pub contract_months: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
    }

    #[test]
    fn deadline_closes_on_read() {
        let deadline = now() + chrono::Duration::days(1);
        assert_eq!(
            CampaignStatus::Open.effective(deadline, now()),
            CampaignStatus::Open
        );
        assert_eq!(
            CampaignStatus::Open.effective(deadline, deadline),
            CampaignStatus::Closed,
            "at the deadline it is closed"
        );
        assert_eq!(
            CampaignStatus::Frozen.effective(deadline, deadline),
            CampaignStatus::Frozen
        );
    }

    #[test]
    fn campaign_rules() {
        let ok = CreateCampaign {
            title: "Entretien 2027".into(),
            cpv_scope: vec!["45".into(), "0913".into()],
            needs_deadline: "2027-01-15T18:00:00+01:00".into(),
            contract_months: None,
        };
        let c = ok.parse(now(), 10).unwrap();
        assert_eq!(
            c.needs_deadline,
            Utc.with_ymd_and_hms(2027, 1, 15, 17, 0, 0).unwrap()
        );
        assert_eq!(c.contract_months, 12, "a year unless said otherwise");
        for (months, accepted) in [
            (1, true),
            (48, true),
            (36, true),
            (0, false),
            (49, false),
            (-12, false),
            (i64::MAX, false),
        ] {
            let c = CreateCampaign {
                contract_months: Some(months),
                ..ok.clone()
            };
            match c.parse(now(), 10) {
                Ok(c) => assert!(
                    accepted && i64::from(c.contract_months) == months,
                    "{months}"
                ),
                Err(e) => assert!(
                    !accepted && e.errors.iter().any(|f| f.pointer == "/contract_months"),
                    "{months}"
                ),
            }
        }
        let bad = CreateCampaign {
            title: "".into(),
            cpv_scope: vec!["4".into(), "99".into()],
            needs_deadline: "2026-11-30T08:00:00Z".into(),
            contract_months: Some(0),
        };
        let e = bad.parse(now(), 10).unwrap_err();
        let pointers: Vec<_> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/title",
                "/cpv_scope/0",
                "/cpv_scope/1",
                "/needs_deadline",
                "/contract_months"
            ]
        );
    }
}
