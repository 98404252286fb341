//! The open campaigns officers write needs into, kept in process as far as they cannot
//! change, so that creating a need sends one statement instead of a read and a write.
//!
//! Once created, a campaign's group, title, CPV scope, needs deadline, creation time and
//! contract duration never change, nor does a member's code (the group, scope, deadline and
//! code are also refused by triggers of both schemas). Its status does (closed by the lead,
//! frozen by a tender), and so could the groups a member belongs to. So:
//!
//! - an entry is kept only for a campaign read **open** by an officer of `member` (its status
//!   as of a later request follows from the deadline, which cannot change);
//! - a write that uses an entry checks what can change in its own statement
//!   ([`super::store::get_open_for_member`] makes the write's
//!   [`Batch`](crate::db::batch::Batch) conditional on the campaign being still open, in a
//!   group of `member`);
//! - when that condition fails, or the request is refused on the kept campaign, nothing is
//!   written, the write is tried again reading the campaign (which then answers 404, 409 or
//!   422 as any read would) and the entry is dropped ([`CampaignCache::rechecks`] counts it).
//!
//! A stale entry therefore never lets a write through, on this instance or another; it costs
//! one failed statement. Bounds: at most [`MAX_ENTRIES`] (member, campaign) pairs, a few KB
//! each at most (a title and up to 50 CPV prefixes); when full, the cache is emptied (an
//! entry only saves one read).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::domain::{Campaign, CampaignStatus};
use crate::ids::{CampaignId, MemberId};

/// Most (member, campaign) pairs kept at once.
pub const MAX_ENTRIES: usize = 10_000;

/// An open campaign as an officer of a member read it, with the member's code.
#[derive(Debug, Clone)]
struct Entry {
    campaign: Campaign,
    member_code: Option<String>,
}

/// (member, campaign) → what cannot change of a campaign the member's officers could write
/// into when it was read (see the module documentation).
#[derive(Debug, Default)]
pub struct CampaignCache {
    entries: Mutex<HashMap<(MemberId, CampaignId), Entry>>,
    /// Entries dropped because a write had to read the campaign again ([`Self::forget`]).
    rechecks: AtomicU64,
}

impl CampaignCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The campaign `id` as an officer of `member` read it open, with its status as of `now`
    /// (open until its deadline, closed at and after it) **assuming it is still open**: the
    /// write that uses it must check that in its statement.
    pub fn get(
        &self,
        member: MemberId,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Option<(Campaign, Option<String>)> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&(member, id))?;
        let mut campaign = entry.campaign.clone();
        campaign.status = CampaignStatus::Open.effective(campaign.needs_deadline, now);
        Some((campaign, entry.member_code.clone()))
    }

    /// Keeps `campaign` as an officer of `member` just read it, if it is open.
    pub fn put(&self, member: MemberId, campaign: &Campaign, member_code: Option<String>) {
        if campaign.status != CampaignStatus::Open {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let key = (member, campaign.id);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                campaign: campaign.clone(),
                member_code,
            },
        );
    }

    /// Drops what is kept of campaign `id` for `member`: a write that used it had to read
    /// the campaign again (its condition failed, or it was refused on the kept campaign).
    /// Counted in [`Self::rechecks`].
    pub fn forget(&self, member: MemberId, id: CampaignId) {
        self.rechecks.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(member, id));
        }
    }

    /// How many writes had to read a kept campaign again since start-up (`/metrics`: one
    /// per campaign closed or frozen under a kept entry is expected, plus one per request
    /// refused on a kept campaign).
    pub fn rechecks(&self) -> u64 {
        self.rechecks.load(Ordering::Relaxed)
    }

    /// How many pairs are kept.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::ids::GroupId;

    fn campaign(status: CampaignStatus, deadline: DateTime<Utc>) -> Campaign {
        Campaign {
            id: CampaignId::new(),
            group_id: GroupId::new(),
            title: "Peinture 2027".into(),
            cpv_scope: vec!["4544".into()],
            needs_deadline: deadline,
            needs_deadline_local: crate::dates::paris_local(deadline),
            status,
            closed_at: None,
            created_at: deadline - Duration::days(30),
            contract_months: 12,
        }
    }

    #[test]
    fn an_open_campaign_is_kept_per_member_and_closes_at_its_deadline() {
        let deadline = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
        let (cache, member, other) = (CampaignCache::new(), MemberId::new(), MemberId::new());
        let open = campaign(CampaignStatus::Open, deadline);
        cache.put(member, &open, Some("NMH".into()));
        let before = deadline - Duration::seconds(1);
        let (got, code) = cache.get(member, open.id, before).expect("kept");
        assert_eq!(
            (got.id, got.status, code.as_deref()),
            (open.id, CampaignStatus::Open, Some("NMH"))
        );
        assert_eq!(got.cpv_scope, open.cpv_scope);
        let (at, _) = cache.get(member, open.id, deadline).expect("kept");
        assert_eq!(at.status, CampaignStatus::Closed);
        assert!(
            cache.get(other, open.id, before).is_none(),
            "kept for one member only"
        );
        assert_eq!(cache.rechecks(), 0);
        cache.forget(member, open.id);
        assert!(cache.get(member, open.id, before).is_none());
        assert_eq!(cache.rechecks(), 1);
    }

    #[test]
    fn a_campaign_read_closed_or_frozen_is_not_kept() {
        let deadline = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
        let cache = CampaignCache::new();
        for status in [CampaignStatus::Closed, CampaignStatus::Frozen] {
            cache.put(MemberId::new(), &campaign(status, deadline), None);
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_is_emptied_before_a_new_pair_is_kept() {
        let deadline = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
        let (cache, member) = (CampaignCache::new(), MemberId::new());
        let first = campaign(CampaignStatus::Open, deadline);
        cache.put(member, &first, None);
        for _ in 1..MAX_ENTRIES {
            cache.put(member, &campaign(CampaignStatus::Open, deadline), None);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        // A pair already kept is replaced in place.
        cache.put(member, &first, Some("NMH".into()));
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.put(member, &campaign(CampaignStatus::Open, deadline), None);
        assert_eq!(cache.len(), 1);
        assert!(cache
            .get(member, first.id, deadline - Duration::days(1))
            .is_none());
    }
}
