//! The audit journal's rules: actions, actors, the canonical form of an event and the hash
//! chain. Pure: no I/O. `docs/audit.md` states the same rules for auditors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{Caller, Principal, Role};
use crate::ids::{MemberId, SupplierId, TokenId};

crate::stored_enum! {
    /// What changed. The closed list of journaled actions.
    pub enum Action {
        /// An API token was created (its secret is never journaled).
        #[serde(rename = "token.created")]
        TokenCreated,
        /// An API token was revoked.
        #[serde(rename = "token.revoked")]
        TokenRevoked,
        /// A member office was registered.
        #[serde(rename = "member.created")]
        MemberCreated,
        /// A supplier was registered.
        #[serde(rename = "supplier.created")]
        SupplierCreated,
        /// A group was created with its members.
        #[serde(rename = "group.created")]
        GroupCreated,
        /// A member's signature of the group's convention was recorded.
        #[serde(rename = "convention.signed")]
        ConventionSigned,
        /// A needs campaign was opened.
        #[serde(rename = "campaign.opened")]
        CampaignOpened,
        /// A needs campaign was closed early.
        #[serde(rename = "campaign.closed")]
        CampaignClosed,
        /// A need was created (draft).
        #[serde(rename = "need.created")]
        NeedCreated,
        /// A draft need was changed.
        #[serde(rename = "need.updated")]
        NeedUpdated,
        /// A draft need was deleted.
        #[serde(rename = "need.deleted")]
        NeedDeleted,
        /// A need was submitted to the lead.
        #[serde(rename = "need.submitted")]
        NeedSubmitted,
        /// A need was withdrawn by its member.
        #[serde(rename = "need.withdrawn")]
        NeedWithdrawn,
        /// A need was rejected by the lead, with a reason.
        #[serde(rename = "need.rejected")]
        NeedRejected,
        /// A tender was created from a campaign's needs (the campaign is frozen).
        #[serde(rename = "tender.created")]
        TenderCreated,
        /// A tender was published and its suppliers invited.
        #[serde(rename = "tender.published")]
        TenderPublished,
        /// A tender was declared *sans suite*, with a reason.
        #[serde(rename = "tender.cancelled")]
        TenderCancelled,
        /// A bid version was received (its data: the receipt's hash only, nothing sealed).
        #[serde(rename = "bid.received")]
        BidReceived,
        /// A bid was withdrawn before the deadline (its data: nothing sealed).
        #[serde(rename = "bid.withdrawn")]
        BidWithdrawn,
        /// The lead scored a bid or ruled on its admissibility (after the deadline).
        #[serde(rename = "bid.evaluated")]
        BidEvaluated,
        /// The lead recorded an abnormally-low justification request or its outcome.
        #[serde(rename = "bid.justification")]
        BidJustification,
        /// A lot was awarded to a bid (award and rejection mails queued).
        #[serde(rename = "lot.awarded")]
        LotAwarded,
        /// An award was withdrawn with a reason (R2144-7); the next bid may be awarded.
        #[serde(rename = "award.withdrawn")]
        AwardWithdrawn,
        /// A lot was declared unsuccessful (*infructueux*), with a reason.
        #[serde(rename = "lot.unsuccessful")]
        LotUnsuccessful,
        /// A lot's contract was made with its member parts.
        #[serde(rename = "contract.created")]
        ContractCreated,
        /// A shared cost was split among a group's members.
        #[serde(rename = "shared_cost.created")]
        SharedCostCreated,
    }
}

crate::stored_enum! {
    /// The kind of object an event is about.
    pub enum EntityType {
        /// An API token.
        Token,
        /// A member office.
        Member,
        /// A supplier.
        Supplier,
        /// A group.
        Group,
        /// A needs campaign.
        Campaign,
        /// A need.
        Need,
        /// A tender.
        Tender,
        /// A bid version.
        Bid,
        /// A lot of a tender.
        Lot,
        /// An award of a lot.
        Award,
        /// A contract.
        Contract,
        /// A shared cost.
        SharedCost,
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A request authenticated by a token.
    Token {
        /// The token.
        token_id: TokenId,
        /// Its role.
        role: Role,
        /// The member it is bound to (lead, officer).
        #[serde(skip_serializing_if = "Option::is_none")]
        member_id: Option<MemberId>,
        /// The supplier it is bound to.
        #[serde(skip_serializing_if = "Option::is_none")]
        supplier_id: Option<SupplierId>,
    },
    /// The service itself: the command line (`cli`) or the background worker (`worker`).
    System {
        /// Which part.
        name: String,
    },
    /// A supplier acting on its sealed bid. Who it is stays out of the journal: the event
    /// holds the receipt's hash, and the bid row (readable from the deadline) its bidder.
    Bidder,
}

impl Actor {
    /// The command line, acting for the operator who runs it.
    pub fn cli() -> Self {
        Actor::System { name: "cli".into() }
    }

    /// The token id, if a token acted.
    pub fn token_id(&self) -> Option<TokenId> {
        match self {
            Actor::Token { token_id, .. } => Some(*token_id),
            Actor::System { .. } | Actor::Bidder => None,
        }
    }
}

impl From<&Caller> for Actor {
    fn from(c: &Caller) -> Self {
        let (member_id, supplier_id) = match c.principal {
            Principal::Lead { member_id } | Principal::Officer { member_id } => {
                (Some(member_id), None)
            }
            Principal::Supplier { supplier_id } => (None, Some(supplier_id)),
            Principal::Admin => (None, None),
        };
        Actor::Token {
            token_id: c.token_id,
            role: c.role(),
            member_id,
            supplier_id,
        }
    }
}

/// The hash before the first event: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The part of an event the hash covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When the change was made (UTC, microseconds).
    pub recorded_at: DateTime<Utc>,
    /// Who acted (JSON of [`Actor`]).
    pub actor: Value,
    /// What changed (its spelling, e.g. `need.submitted`).
    pub action: String,
    /// The object's kind.
    pub entity_type: String,
    /// The object's id.
    pub entity_id: Uuid,
    /// The group concerned, if any.
    pub group_id: Option<Uuid>,
    /// The new values.
    pub data: Value,
}

/// JSON text with object keys sorted (by their UTF-8 bytes), no insignificant whitespace,
/// strings escaped as serde_json does — the canonical text of `docs/audit.md`.
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(v, &mut out);
    // Only serde_json's escaped strings and ASCII punctuation were written: valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends the canonical text of `v` to `out` (one buffer for the whole value).
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // serde_json's map is already sorted unless its `preserve_order` feature is on.
            if !keys.is_sorted() {
                keys.sort();
            }
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&k.as_str(), out);
                out.push(b':');
                if let Some(item) = map.get(k.as_str()) {
                    write_canonical(item, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => write_scalar(other, out),
    }
}

/// Appends a string, number, boolean or null as serde_json writes it.
fn write_scalar<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Cannot fail: a JSON scalar always serializes, and writing into a Vec never errors.
    let _ = serde_json::to_writer(&mut *out, v);
}

impl Event {
    /// The canonical bytes of the event: the canonical JSON of
    /// `{seq, recorded_at, actor, action, entity_type, entity_id, group_id, data}`, with
    /// `recorded_at` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` and `group_id` null when absent.
    pub fn canonical(&self) -> String {
        let v = serde_json::json!({
            "seq": self.seq,
            "recorded_at": self.recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id.hyphenated().to_string(),
            "group_id": self.group_id.map(|g| g.hyphenated().to_string()),
            "data": self.data,
        });
        canonical_json(&v)
    }

    /// This event's hash after `previous` (hex): SHA-256 of the previous hash's 32 bytes
    /// followed by the canonical bytes, in hex.
    pub fn hash_after(&self, previous: &str) -> String {
        chain_hash(previous, self.canonical().as_bytes())
    }
}

/// SHA-256(previous hash's bytes ‖ canonical bytes), hex. A previous hash that is not 64 hex
/// digits is hashed as its text (it can only come from a tampered row, and fails anyway).
pub fn chain_hash(previous: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    match hex::decode(previous) {
        Ok(bytes) if bytes.len() == 32 => h.update(&bytes),
        _ => h.update(previous.as_bytes()),
    }
    h.update(canonical);
    hex::encode(h.finalize())
}

/// A sealed event as stored: the hashed part (`None` when its stored JSON is unreadable) and
/// the stored hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    /// Stored sequence number.
    pub seq: i64,
    /// The event, or `None` if its stored actor/data are not JSON any more.
    pub event: Option<Event>,
    /// Stored hash.
    pub hash: String,
}

/// Why the chain is broken, at which sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// An event's content (or its hash) no longer matches its hash.
    #[error("event {0} was edited: its content no longer matches its hash")]
    Edited(i64),
    /// Events `seq` and `seq + 1` were swapped.
    #[error("events {0} and {next} were reordered", next = .0 + 1)]
    Reordered(i64),
    /// The event with this sequence number is missing.
    #[error("event {0} was deleted: the sequence jumps over it")]
    Deleted(i64),
    /// An event with an already used sequence number, or after the recorded head.
    #[error("an event was inserted at {0}")]
    Inserted(i64),
}

/// Checks sealed events (in stored `seq` order) against the chain rule and the recorded head
/// `(last_seq, last_hash)`. The first problem found is returned.
pub fn verify(events: &[Sealed], head: (i64, &str)) -> Result<(), Broken> {
    let mut previous = GENESIS.to_owned();
    let mut expected = 1;
    for (i, e) in events.iter().enumerate() {
        if e.seq < expected {
            return Err(Broken::Inserted(e.seq));
        }
        if e.seq > expected {
            return Err(Broken::Deleted(expected));
        }
        // Does `candidate`, put at this position, match its own stored hash?
        let fits = |candidate: &Sealed| {
            candidate.event.as_ref().is_some_and(|ev| {
                Event {
                    seq: e.seq,
                    ..ev.clone()
                }
                .hash_after(&previous)
                    == candidate.hash
            })
        };
        if !fits(e) {
            // Swapped with the next one: the next fits here and this one fits right after it.
            let swapped = events.get(i + 1).is_some_and(|next| {
                fits(next)
                    && e.event.as_ref().is_some_and(|ev| {
                        Event {
                            seq: e.seq + 1,
                            ..ev.clone()
                        }
                        .hash_after(&next.hash)
                            == e.hash
                    })
            });
            let inserted = !swapped && events.get(i + 1).is_some_and(fits);
            return Err(if swapped {
                Broken::Reordered(e.seq)
            } else if inserted {
                Broken::Inserted(e.seq)
            } else {
                Broken::Edited(e.seq)
            });
        }
        previous = e.hash.clone();
        expected += 1;
    }
    let last = expected - 1;
    match head {
        (seq, _) if seq > last => Err(Broken::Deleted(last + 1)),
        (seq, _) if seq < last => Err(Broken::Inserted(seq + 1)),
        (_, hash) if hash != previous => Err(Broken::Edited(last)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn event(seq: i64, n: u32) -> Event {
        Event {
            seq,
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
                + chrono::Duration::microseconds(i64::from(n)),
            actor: serde_json::json!({"kind": "system", "name": "cli"}),
            action: "need.submitted".into(),
            entity_type: "need".into(),
            entity_id: Uuid::from_u128(u128::from(n)),
            group_id: None,
            data: serde_json::json!({"status": "submitted", "n": n}),
        }
    }

    fn seal(events: Vec<Event>) -> (Vec<Sealed>, (i64, String)) {
        let mut previous = GENESIS.to_owned();
        let sealed: Vec<Sealed> = events
            .into_iter()
            .map(|e| {
                let hash = e.hash_after(&previous);
                previous = hash.clone();
                Sealed {
                    seq: e.seq,
                    event: Some(e),
                    hash,
                }
            })
            .collect();
        let last = sealed.last().map_or(0, |s| s.seq);
        (sealed, (last, previous))
    }

    #[test]
    fn canonical_form_sorts_keys_and_formats_the_instant() {
        let e = event(7, 1);
        assert_eq!(
            e.canonical(),
            r#"{"action":"need.submitted","actor":{"kind":"system","name":"cli"},"data":{"n":1,"status":"submitted"},"entity_id":"00000000-0000-0000-0000-000000000001","entity_type":"need","group_id":null,"recorded_at":"2026-11-30T08:00:00.000001Z","seq":7}"#
        );
        assert_eq!(
            canonical_json(&serde_json::json!({"b": [{"z": 1, "a": "é\n"}], "a": null})),
            "{\"a\":null,\"b\":[{\"a\":\"é\\n\",\"z\":1}]}"
        );
    }

    #[test]
    fn every_kind_of_tampering_is_named_at_its_sequence() {
        let (good, head) = seal((1..=5).map(|i| event(i, i as u32)).collect());
        let head = (head.0, head.1.as_str());
        assert_eq!(verify(&good, head), Ok(()));
        assert_eq!(verify(&[], (0, GENESIS)), Ok(()));

        let mut edited = good.clone();
        edited[2].event.as_mut().unwrap().data = serde_json::json!({"status": "rejected"});
        assert_eq!(verify(&edited, head), Err(Broken::Edited(3)));

        let mut rehashed = good.clone();
        rehashed[1].hash = "f".repeat(64);
        assert_eq!(verify(&rehashed, head), Err(Broken::Edited(2)));

        let mut deleted = good.clone();
        deleted.remove(3);
        assert_eq!(verify(&deleted, head), Err(Broken::Deleted(4)));
        let truncated = &good[..4];
        assert_eq!(verify(truncated, head), Err(Broken::Deleted(5)));

        // Two events exchanged their sequence numbers (each keeps its content and hash).
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(verify(&swapped, head), Err(Broken::Reordered(2)));

        // An event slipped in at 3, the later ones renumbered.
        let mut inserted = good.clone();
        let mut intruder = good[2].clone();
        intruder.hash = "b".repeat(64);
        inserted.insert(2, intruder);
        for (i, s) in inserted.iter_mut().enumerate() {
            s.seq = i as i64 + 1;
        }
        assert_eq!(verify(&inserted, head), Err(Broken::Inserted(3)));

        let mut unreadable = good.clone();
        unreadable[0].event = None;
        assert_eq!(verify(&unreadable, head), Err(Broken::Edited(1)));
    }

    /// The rule of docs/audit.md, written again from the text, independently of `Event`.
    fn documented_rule(events: &[Event]) -> Vec<String> {
        let mut previous = [0u8; 32].to_vec();
        let mut out = Vec::new();
        for e in events {
            let mut obj = serde_json::Map::new();
            obj.insert("action".into(), e.action.clone().into());
            obj.insert("actor".into(), e.actor.clone());
            obj.insert("data".into(), e.data.clone());
            obj.insert("entity_id".into(), e.entity_id.to_string().into());
            obj.insert("entity_type".into(), e.entity_type.clone().into());
            obj.insert("group_id".into(), e.group_id.map(|g| g.to_string()).into());
            obj.insert(
                "recorded_at".into(),
                e.recorded_at
                    .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string()
                    .into(),
            );
            obj.insert("seq".into(), e.seq.into());
            let text = canonical_json(&Value::Object(obj));
            let mut h = Sha256::new();
            h.update(&previous);
            h.update(text.as_bytes());
            previous = h.finalize().to_vec();
            out.push(hex::encode(&previous));
        }
        out
    }

    proptest! {
        #[test]
        fn the_stored_chain_is_the_documented_one(
            items in proptest::collection::vec((any::<u32>(), "[a-z.]{1,12}", proptest::option::of(any::<u128>()), "\\PC{0,20}"), 0..30)
        ) {
            let events: Vec<Event> = items.iter().enumerate().map(|(i, (n, action, group, text))| Event {
                seq: i as i64 + 1,
                recorded_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::microseconds(i64::from(*n)),
                actor: serde_json::json!({"kind": "token", "token_id": Uuid::from_u128(u128::from(*n)).to_string(), "role": "lead"}),
                action: action.clone(),
                entity_type: "need".into(),
                entity_id: Uuid::from_u128(u128::from(*n) << 64),
                group_id: group.map(Uuid::from_u128),
                data: serde_json::json!({"text": text, "n": n, "nested": {"z": [1, 2], "a": text}}),
            }).collect();
            let (sealed, head) = seal(events.clone());
            let stored: Vec<String> = sealed.iter().map(|s| s.hash.clone()).collect();
            prop_assert_eq!(&stored, &documented_rule(&events));
            prop_assert_eq!(verify(&sealed, (head.0, head.1.as_str())), Ok(()));
        }
    }
}
