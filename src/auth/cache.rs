//! The in-process token cache: a request whose token was looked up less than
//! `auth.token_cache_ms` ago is authenticated without touching the database.
//!
//! What it holds per token: the SHA-256 hash the database also stores (never the secret), the
//! caller it resolves to, the token's expiry, when it was looked up and when its use was last
//! recorded. Bounds:
//! - **expiry is exact**: an entry is not used at or after the token's `expires_at`;
//! - **revocation** through this instance's API evicts the token at once; a revocation
//!   elsewhere (the CLI, another instance) takes effect here within `auth.token_cache_ms`;
//! - **size**: at most [`MAX_ENTRIES`] tokens; when full, expired entries go first, then the
//!   whole cache is emptied (it only costs one lookup per token).
//!
//! `auth.token_cache_ms = 0` turns it off: every request looks its token up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::store::LAST_USE_PRECISION;
use super::Caller;
use crate::ids::TokenId;

/// Most tokens kept at once.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    caller: Caller,
    expires_at: Option<DateTime<Utc>>,
    fetched_at: DateTime<Utc>,
    last_use_recorded: Option<DateTime<Utc>>,
}

/// A cache hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Who calls.
    pub caller: Caller,
    /// True when the token's use should be recorded now (at most once a minute); the cache
    /// then counts it as recorded.
    pub record_use: bool,
}

/// Token hash → caller, for a bounded time.
#[derive(Debug)]
pub struct TokenCache {
    ttl: chrono::Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped by every eviction: a lookup that started before one is not kept, so a token
    /// read just before its revocation committed cannot be cached after it.
    generation: AtomicU64,
}

impl TokenCache {
    /// A cache keeping lookups for `ttl_ms` milliseconds (0: off).
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            ttl: chrono::Duration::milliseconds(i64::try_from(ttl_ms).unwrap_or(i64::MAX)),
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The current generation: read it before looking a token up, hand it to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn usable(&self, e: &Entry, now: DateTime<Utc>) -> bool {
        now >= e.fetched_at && now - e.fetched_at < self.ttl && e.expires_at.is_none_or(|t| now < t)
    }

    /// The caller of the token whose hash is `hash`, if it was looked up less than the TTL
    /// ago and has not expired at `now`.
    pub fn get(&self, hash: &str, now: DateTime<Utc>) -> Option<Hit> {
        if self.ttl <= chrono::Duration::zero() {
            return None;
        }
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get_mut(hash)?;
        if !self.usable(entry, now) {
            entries.remove(hash);
            return None;
        }
        let record_use = entry
            .last_use_recorded
            .is_none_or(|t| now - t >= LAST_USE_PRECISION);
        if record_use {
            entry.last_use_recorded = Some(now);
        }
        Some(Hit {
            caller: entry.caller,
            record_use,
        })
    }

    /// Keeps a lookup made at `now`, begun at generation `seen`; nothing is kept if a token
    /// was evicted since. `last_use_recorded` is the token's `last_used_at` (or `now` when
    /// the caller is about to record it).
    pub fn put(
        &self,
        seen: u64,
        hash: String,
        caller: Caller,
        expires_at: Option<DateTime<Utc>>,
        last_use_recorded: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        if self.ttl <= chrono::Duration::zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Under the lock: an eviction either happened before (seen) or waits for this insert
        // and removes it.
        if self.generation.load(Ordering::SeqCst) != seen {
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&hash) {
            entries.retain(|_, e| self.usable(e, now));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                caller,
                expires_at,
                fetched_at: now,
                last_use_recorded,
            },
        );
    }

    /// Forgets token `id` (revoked through this instance), and refuses the lookups in flight.
    pub fn evict(&self, id: TokenId) {
        if let Ok(mut entries) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            entries.retain(|_, e| e.caller.token_id != id);
        }
    }

    /// Tokens held.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// True when no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    fn caller() -> Caller {
        Caller {
            token_id: TokenId::new(),
            principal: Principal::Admin,
        }
    }

    #[test]
    fn a_lookup_is_kept_for_the_ttl_only() {
        let cache = TokenCache::new(5_000);
        let c = caller();
        cache.put(cache.generation(), "h".into(), c, None, Some(t(0)), t(0));
        assert_eq!(cache.get("h", t(4)).map(|h| h.caller), Some(c));
        assert_eq!(cache.get("h", t(5)), None);
        assert!(cache.is_empty(), "a stale entry is dropped");
        assert_eq!(cache.get("other", t(0)), None);
    }

    #[test]
    fn expiry_is_exact_whatever_the_ttl() {
        let cache = TokenCache::new(60_000);
        cache.put(
            cache.generation(),
            "h".into(),
            caller(),
            Some(t(3)),
            Some(t(0)),
            t(0),
        );
        assert!(cache.get("h", t(2)).is_some());
        assert_eq!(cache.get("h", t(3)), None);
    }

    #[test]
    fn a_clock_going_back_is_not_trusted() {
        let cache = TokenCache::new(5_000);
        cache.put(
            cache.generation(),
            "h".into(),
            caller(),
            None,
            Some(t(0)),
            t(10),
        );
        assert_eq!(cache.get("h", t(9)), None);
    }

    #[test]
    fn eviction_and_off_switch() {
        let cache = TokenCache::new(5_000);
        let (a, b) = (caller(), caller());
        cache.put(cache.generation(), "a".into(), a, None, None, t(0));
        cache.put(cache.generation(), "b".into(), b, None, None, t(0));
        cache.evict(a.token_id);
        assert_eq!(cache.get("a", t(1)), None);
        assert!(cache.get("b", t(1)).is_some());
        let off = TokenCache::new(0);
        off.put(0, "a".into(), a, None, None, t(0));
        assert_eq!(off.get("a", t(0)), None);
        assert!(off.is_empty());
    }

    #[test]
    fn a_lookup_begun_before_an_eviction_is_not_kept() {
        let cache = TokenCache::new(5_000);
        let c = caller();
        let seen = cache.generation(); // the lookup starts, reads the token row...
        cache.evict(c.token_id); // ...the revocation commits and evicts...
        cache.put(seen, "h".into(), c, None, None, t(0)); // ...the stale lookup ends
        assert_eq!(cache.get("h", t(0)), None);
        cache.put(cache.generation(), "h".into(), c, None, None, t(0));
        assert!(
            cache.get("h", t(0)).is_some(),
            "a lookup after the eviction is kept"
        );
    }

    #[test]
    fn use_is_recorded_at_most_once_a_minute() {
        let cache = TokenCache::new(600_000);
        cache.put(
            cache.generation(),
            "h".into(),
            caller(),
            None,
            Some(t(0)),
            t(0),
        );
        assert!(!cache.get("h", t(30)).is_some_and(|h| h.record_use));
        assert!(cache.get("h", t(60)).is_some_and(|h| h.record_use));
        assert!(!cache.get("h", t(61)).is_some_and(|h| h.record_use));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TokenCache::new(5_000);
        for i in 0..MAX_ENTRIES + 10 {
            cache.put(
                cache.generation(),
                format!("h{i}"),
                caller(),
                None,
                None,
                t(0),
            );
        }
        assert!(cache.len() <= MAX_ENTRIES);
        assert!(cache.get(&format!("h{}", MAX_ENTRIES + 9), t(0)).is_some());
    }
}
