//! Audit journal queries: record an event in the change's transaction, seal events in order,
//! verify the chain, read the head, list events within the caller's scope.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::domain::{verify as verify_chain, Action, Actor, Broken, EntityType, Event, Sealed};
use crate::auth::{Caller, Principal};
use crate::db::batch::Batch;
use crate::db::types::{DbTime, DbUuid};
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiError;
use crate::groups::store::led_group_ids;
use crate::ids::{GroupId, TokenId};
use crate::pagination::{keyset, Page};
use crate::schema::{audit_chain, audit_events};

/// What a change journals: the object, its group if any, and the new values.
#[derive(Debug, Clone)]
pub struct Change<'a, T: Serialize> {
    /// What happened.
    pub action: Action,
    /// The object's kind.
    pub entity_type: EntityType,
    /// The object's id.
    pub entity_id: Uuid,
    /// The group concerned (leads see their groups' events).
    pub group_id: Option<GroupId>,
    /// The new values — never a secret.
    pub data: &'a T,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(MultiBackend))]
#[diesel(treat_none_as_default_value = false)]
struct NewEventRow {
    id: DbUuid,
    recorded_at: DbTime,
    actor: String,
    actor_token_id: Option<TokenId>,
    action: Action,
    entity_type: EntityType,
    entity_id: DbUuid,
    group_id: Option<GroupId>,
    data: String,
}

/// Journals `change` by `actor` at `now`, on `conn` inside the change's own transaction: the
/// event commits with the change or not at all. It is sealed into the chain later, in order,
/// by the worker ([`seal`]), so journaling never serialises unrelated writes.
pub fn record<T: Serialize>(
    conn: &mut DbConn,
    actor: &Actor,
    change: Change<'_, T>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(new_event(actor, change, now)?)
        .execute(conn)?;
    Ok(())
}

/// Journals `change` as [`record`] does, but queues the event's insert in `batch`: it is
/// written when the write sends its batch, in the same transaction ([`crate::db::batch`]).
pub fn queue<T: Serialize>(
    batch: &mut Batch,
    actor: &Actor,
    change: Change<'_, T>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    batch.push(diesel::insert_into(audit_events::table).values(new_event(actor, change, now)?));
    Ok(())
}

/// The row of a new, unsealed event.
fn new_event<T: Serialize>(
    actor: &Actor,
    change: Change<'_, T>,
    now: DateTime<Utc>,
) -> QueryResult<NewEventRow> {
    let json = |v: serde_json::Result<serde_json::Value>| {
        v.map(|v| super::domain::canonical_json(&v))
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
    };
    Ok(NewEventRow {
        id: DbUuid(Uuid::now_v7()),
        recorded_at: DbTime::new(now),
        actor: json(serde_json::to_value(actor))?,
        actor_token_id: actor.token_id(),
        action: change.action,
        entity_type: change.entity_type,
        entity_id: DbUuid(change.entity_id),
        group_id: change.group_id,
        data: json(serde_json::to_value(change.data))?,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(MultiBackend))]
struct EventRow {
    id: DbUuid,
    seq: Option<i64>,
    recorded_at: DbTime,
    actor: String,
    action: Action,
    entity_type: EntityType,
    entity_id: DbUuid,
    group_id: Option<GroupId>,
    data: String,
    hash: Option<String>,
}

impl EventRow {
    /// The hashed part, or `None` if the stored JSON cannot be read.
    fn event(&self, seq: i64) -> Option<Event> {
        Some(Event {
            seq,
            recorded_at: self.recorded_at.get(),
            actor: serde_json::from_str(&self.actor).ok()?,
            action: crate::spelled::Spelled::spelling(&self.action),
            entity_type: crate::spelled::Spelled::spelling(&self.entity_type),
            entity_id: self.entity_id.0,
            group_id: self.group_id.map(|g| g.0),
            data: serde_json::from_str(&self.data).ok()?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_chain)]
#[diesel(check_for_backend(MultiBackend))]
struct ChainRow {
    last_seq: i64,
    last_hash: String,
}

fn chain_head(conn: &mut DbConn) -> QueryResult<ChainRow> {
    audit_chain::table
        .filter(audit_chain::id.eq(1))
        .select(ChainRow::as_select())
        .first(conn)
}

/// Seals, in `(recorded_at, id)` order, up to `max` unsealed events recorded at least
/// `settle` before `now` (a watermark longer than any transaction of the service stays open,
/// so an event is not sealed before the events recorded before it have committed). Each gets
/// the next sequence number and its chain hash; the head moves on. Call inside a write
/// transaction: on PostgreSQL the head row is locked, so two instances never seal at once.
pub fn seal(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    settle: chrono::Duration,
    max: i64,
) -> QueryResult<usize> {
    crate::db::lock_on_postgres(conn, |pg| {
        let _: Vec<i32> = audit_chain::table
            .filter(audit_chain::id.eq(1))
            .select(audit_chain::id)
            .for_update()
            .load(pg)?;
        Ok(())
    })?;
    let head = chain_head(conn)?;
    let due: Vec<EventRow> = audit_events::table
        .filter(audit_events::hash.is_null())
        .filter(
            audit_events::recorded_at
                .le(DbTime::new(now.checked_sub_signed(settle).unwrap_or(now))),
        )
        .order((audit_events::recorded_at.asc(), audit_events::id.asc()))
        .limit(max)
        .select(EventRow::as_select())
        .load(conn)?;
    let (mut seq, mut previous) = (head.last_seq, head.last_hash);
    let mut sealed = Vec::with_capacity(due.len());
    for row in &due {
        seq += 1;
        let hash = row
            .event(seq)
            .map(|e| e.hash_after(&previous))
            .ok_or_else(|| {
                diesel::result::Error::DeserializationError(
                    format!("audit event {} holds unreadable JSON", row.id.0).into(),
                )
            })?;
        sealed.push(Seal {
            id: row.id,
            seq,
            hash: hash.clone(),
        });
        previous = hash;
    }
    write_seals(conn, sealed)?;
    if !due.is_empty() {
        diesel::update(audit_chain::table.filter(audit_chain::id.eq(1)))
            .set((
                audit_chain::last_seq.eq(seq),
                audit_chain::last_hash.eq(&previous),
            ))
            .execute(conn)?;
    }
    Ok(due.len())
}

/// What sealing gives one event.
struct Seal {
    id: DbUuid,
    seq: i64,
    hash: String,
}

/// Writes the sequence numbers and hashes of a chunk in one `UPDATE … SET seq = CASE id …`:
/// one statement to parse per chunk instead of one per event (diesel never caches an
/// `UPDATE`, and on SQLite each one also compiles the journal's triggers).
fn write_seals(conn: &mut DbConn, sealed: Vec<Seal>) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Text};
    let mark = crate::db::placeholder(conn);
    let mut rest = sealed.into_iter().peekable();
    while rest.peek().is_some() {
        // Three binds per event: well under SQLite's 32 766 and PostgreSQL's 65 535.
        let part: Vec<Seal> = rest.by_ref().take(SEALS_PER_STATEMENT).collect();
        let (mut seqs, mut hashes, mut ids) = (String::new(), String::new(), Vec::new());
        for i in 0..part.len() {
            let (id, seq, hash) = (mark(3 * i + 1), mark(3 * i + 2), mark(3 * i + 3));
            seqs.push_str(&format!(" WHEN {id} THEN {seq}"));
            hashes.push_str(&format!(" WHEN {id} THEN {hash}"));
            ids.push(id);
        }
        let sql = format!(
            "UPDATE audit_events SET seq = CASE id{seqs} END, hash = CASE id{hashes} END \
             WHERE id IN ({})",
            ids.join(", ")
        );
        let mut query = diesel::sql_query(sql).into_boxed::<MultiBackend>();
        for Seal { id, seq, hash } in part {
            query = query
                .bind::<crate::db::types::sql::Uid, _>(id)
                .bind::<BigInt, _>(seq)
                .bind::<Text, _>(hash);
        }
        query.execute(conn)?;
    }
    Ok(())
}

/// Most events one sealing `UPDATE` writes.
const SEALS_PER_STATEMENT: usize = 1000;

/// The latest sealed position of the chain, and how many events wait to be sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Head {
    /// Sequence number of the last sealed event (0: none yet).
    pub seq: i64,
    /// Its hash (64 zeros when none): keep it somewhere else to detect a rewrite later.
    pub hash: String,
    /// Events recorded but not sealed yet.
    pub unsealed: i64,
}

/// The head of the chain.
pub fn head(conn: &mut DbConn) -> QueryResult<Head> {
    let chain = chain_head(conn)?;
    let unsealed = audit_events::table
        .filter(audit_events::hash.is_null())
        .count()
        .get_result(conn)?;
    Ok(Head {
        seq: chain.last_seq,
        hash: chain.last_hash,
        unsealed,
    })
}

/// Checks the whole sealed chain against its rule and its head, read in one snapshot (a
/// repeatable-read transaction on PostgreSQL, a read transaction on SQLite) so that a worker
/// sealing meanwhile cannot make it report a gap.
pub fn verify(conn: &mut DbConn) -> QueryResult<Result<Head, Broken>> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    conn.transaction(|conn| {
        crate::db::lock_on_postgres(conn, |pg| {
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        })?;
        verify_in_snapshot(conn)
    })
}

fn verify_in_snapshot(conn: &mut DbConn) -> QueryResult<Result<Head, Broken>> {
    let rows: Vec<EventRow> = audit_events::table
        .filter(audit_events::seq.is_not_null())
        .order(audit_events::seq.asc())
        .select(EventRow::as_select())
        .load(conn)?;
    let sealed: Vec<Sealed> = rows
        .iter()
        .filter_map(|r| {
            let seq = r.seq?;
            Some(Sealed {
                seq,
                event: r.event(seq),
                hash: r.hash.clone().unwrap_or_default(),
            })
        })
        .collect();
    let h = head(conn)?;
    Ok(verify_chain(&sealed, (h.seq, &h.hash)).map(|()| h))
}

/// An event as `GET /api/v1/audit` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Id (creation order).
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Position in the chain; null until sealed.
    pub seq: Option<i64>,
    /// When the change was made, as the canonical form writes it
    /// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six decimals).
    pub recorded_at: String,
    /// Who acted.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    /// What happened.
    pub action: Action,
    /// The object's kind.
    pub entity_type: EntityType,
    /// The object's id.
    #[schema(value_type = String, format = Uuid)]
    pub entity_id: Uuid,
    /// The group concerned.
    pub group_id: Option<GroupId>,
    /// The new values.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Chain hash; null until sealed.
    pub hash: Option<String>,
}

impl TryFrom<EventRow> for AuditEvent {
    type Error = ApiError;

    fn try_from(r: EventRow) -> Result<Self, ApiError> {
        let parse = |text: &str| {
            serde_json::from_str(text)
                .map_err(|e| ApiError::internal(format!("audit event {}: {e}", r.id.0)))
        };
        Ok(AuditEvent {
            id: r.id.0,
            seq: r.seq,
            recorded_at: crate::db::types::sqlite_time_text(r.recorded_at.get()),
            actor: parse(&r.actor)?,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id.0,
            group_id: r.group_id,
            data: parse(&r.data)?,
            hash: r.hash.clone(),
        })
    }
}

/// Filters of the journal, already validated.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events about this object.
    pub entity: Option<Uuid>,
    /// Events by this token.
    pub actor: Option<TokenId>,
    /// Events of this action.
    pub action: Option<Action>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
}

/// One page of the journal: an admin sees every event; a lead the events of the groups its
/// member coordinates — but of needs only what it may see of them: needs once submitted,
/// and their events from the submission on (never a draft's contents); nobody else anything.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    filter: &AuditFilter,
    page: Page,
) -> Result<Vec<AuditEvent>, ApiError> {
    let mut q = audit_events::table
        .select(EventRow::as_select())
        .into_boxed();
    q = match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => q
            .filter(
                audit_events::group_id
                    .assume_not_null()
                    .eq_any(led_group_ids(member_id)),
            )
            .filter(
                audit_events::entity_type
                    .ne(EntityType::Need)
                    .or(audit_events::entity_id
                        .eq_any(crate::needs::store::lead_visible_need_ids(member_id))
                        .and(audit_events::action.eq_any([
                            Action::NeedSubmitted,
                            Action::NeedWithdrawn,
                            Action::NeedRejected,
                        ]))),
            ),
        Principal::Officer { .. } | Principal::Supplier { .. } => {
            q.filter(audit_events::id.is_null())
        }
    };
    if let Some(e) = filter.entity {
        q = q.filter(audit_events::entity_id.eq(DbUuid(e)));
    }
    if let Some(a) = filter.actor {
        q = q.filter(audit_events::actor_token_id.eq(a));
    }
    if let Some(a) = filter.action {
        q = q.filter(audit_events::action.eq(a));
    }
    if let Some(t) = filter.from {
        q = q.filter(audit_events::recorded_at.ge(DbTime::new(t)));
    }
    if let Some(t) = filter.to {
        q = q.filter(audit_events::recorded_at.lt(DbTime::new(t)));
    }
    let rows: Vec<EventRow> = keyset(q, audit_events::id, page).load(conn)?;
    rows.into_iter().map(AuditEvent::try_from).collect()
}
