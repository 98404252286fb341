//! Outbox rules: statuses, retry delays, Message-IDs. Pure.

use std::time::Duration;

use uuid::Uuid;

crate::stored_enum! {
    /// Delivery status of an outbox message.
    pub enum OutboxStatus {
        /// Waiting for its next attempt.
        Pending,
        /// Claimed by a worker (until its lease ends).
        Sending,
        /// Accepted by the transport.
        Sent,
        /// Refused for good, or out of attempts. Kept, never deleted.
        Failed,
    }
}

crate::stored_enum! {
    /// What notice a message is. Each feature enqueues its own kinds.
    pub enum MailKind {
        /// *Campagne ouverte*, to every member of the group.
        CampaignOpened,
        /// Reminder before a campaign's deadline, to members that submitted nothing.
        CampaignReminder,
        /// Invitation to bid, to each invited supplier.
        TenderInvitation,
        /// A tender declared *sans suite*, to each invited supplier.
        TenderCancelled,
        /// Receipt of a bid version, to the bidder.
        BidReceipt,
        /// Award, to the winner of a lot.
        Award,
        /// Rejection (R2181-3), to every other bidder of a lot.
        Rejection,
        /// Contract ready, to each member with a part.
        ContractReady,
    }
}

/// Longest delay between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// Delay before the next attempt after `attempts` failed ones (≥ 1): `base × 2^(attempts−1)`,
/// at most one hour.
pub fn retry_delay(base: Duration, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(31);
    base.checked_mul(1u32 << exponent)
        .map_or(MAX_RETRY_DELAY, |d| d.min(MAX_RETRY_DELAY))
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this delay.
    RetryIn(Duration),
    /// Give up: the message becomes `failed`.
    GiveUp,
}

/// Decides after a failed attempt: permanent refusals and exhausted attempts give up.
pub fn after_failure(
    permanent: bool,
    attempts: u32,
    max_attempts: u32,
    base: Duration,
) -> AfterFailure {
    if permanent || attempts >= max_attempts {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryIn(retry_delay(base, attempts))
    }
}

/// The bare address of the sender (`"x <a@b.fr>"` → `a@b.fr`).
pub fn sender_address(from: &str) -> String {
    from.rsplit('<')
        .next()
        .unwrap_or(from)
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

/// The domain part of the sender address (`"x <a@b.fr>"` → `b.fr`), for Message-IDs.
pub fn sender_domain(from: &str) -> String {
    let addr = from
        .rsplit('<')
        .next()
        .unwrap_or(from)
        .trim_end_matches('>')
        .trim();
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim())
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or("tenderpool.localhost")
        .to_owned()
}

/// The stable Message-ID of an outbox row: the same on every attempt, so a redelivery after a
/// crash can be recognised by the receiver.
pub fn message_id(id: Uuid, domain: &str) -> String {
    format!("<{id}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_an_hour() {
        let base = Duration::from_millis(30_000);
        assert_eq!(retry_delay(base, 1), Duration::from_secs(30));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(60));
        assert_eq!(retry_delay(base, 3), Duration::from_secs(120));
        assert_eq!(retry_delay(base, 8), Duration::from_secs(3600));
        assert_eq!(retry_delay(base, 40), Duration::from_secs(3600));
        assert_eq!(
            retry_delay(Duration::from_millis(1), 1000),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn permanent_or_exhausted_gives_up() {
        let base = Duration::from_secs(1);
        assert_eq!(after_failure(true, 1, 12, base), AfterFailure::GiveUp);
        assert_eq!(after_failure(false, 12, 12, base), AfterFailure::GiveUp);
        assert_eq!(
            after_failure(false, 2, 12, base),
            AfterFailure::RetryIn(Duration::from_secs(2))
        );
    }

    #[test]
    fn message_ids_use_the_sender_domain() {
        assert_eq!(
            sender_domain("tenderpool <ne-pas-repondre@nmh.fr>"),
            "nmh.fr"
        );
        assert_eq!(sender_domain("achats@bmh.fr"), "bmh.fr");
        assert_eq!(sender_domain("nobody"), "tenderpool.localhost");
        assert_eq!(
            message_id(Uuid::nil(), "nmh.fr"),
            "<00000000-0000-0000-0000-000000000000@nmh.fr>"
        );
    }
}
