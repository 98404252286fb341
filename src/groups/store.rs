//! Group queries. Visibility is part of every query ([`visible_groups`]): an admin sees every
//! group, a lead the groups its member coordinates, an officer the groups its member belongs
//! to, a supplier none. Other features scope by group through [`led_group_ids`] and
//! [`group_ids_of_member`] (subqueries), never through these tables.

use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;

use super::domain::{CostSharingKey, Group, GroupMember, NewGroup};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Principal};
use crate::db::types::{DbDecimal, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{Amount, Percent};
use crate::error::{ApiError, FieldError};
use crate::ids::{GroupId, MemberId};
use crate::members::domain::Member;
use crate::members::store::{by_ids, ids_by_code};
use crate::pagination::{keyset, Page};
use crate::schema::{group_members, groups};

/// A stored group (every column is written at creation, so it is also the insert value).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
#[diesel(check_for_backend(MultiBackend))]
struct GroupRow {
    id: GroupId,
    name: String,
    coordinator_id: MemberId,
    cost_sharing_key: CostSharingKey,
    coordinator_fee_percent: DbDecimal,
    created_at: DbTime,
}

/// A membership of a group (also the insert value).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
#[diesel(check_for_backend(MultiBackend))]
struct MembershipRow {
    group_id: GroupId,
    member_id: MemberId,
    convention_signed_at: Option<DbTime>,
    budget_ceiling: Option<DbDecimal>,
}

/// Ids of the groups coordinated by a member: a subquery for other features' scopes
/// (`x.group_id.eq_any(led_group_ids(member))`). Not boxed: a boxed query cannot be nested in
/// another on the multi-backend connection.
pub type LedGroupIds =
    dsl::Select<dsl::Filter<groups::table, dsl::Eq<groups::coordinator_id, MemberId>>, groups::id>;

/// Ids of the groups a member belongs to (a subquery, like [`LedGroupIds`]).
pub type MemberGroupIds = dsl::Select<
    dsl::Filter<group_members::table, dsl::Eq<group_members::member_id, MemberId>>,
    group_members::group_id,
>;

/// The groups `caller` may see, as a boxed query to refine.
pub fn visible_groups(caller: &Caller) -> groups::BoxedQuery<'static, MultiBackend> {
    let q = groups::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => q.filter(groups::coordinator_id.eq(member_id)),
        Principal::Officer { member_id } => q.filter(diesel::dsl::exists(
            group_members::table
                .filter(group_members::group_id.eq(groups::id))
                .filter(group_members::member_id.eq(member_id)),
        )),
        Principal::Supplier { .. } => q.filter(groups::id.is_null()),
    }
}

/// Ids of the groups coordinated by `member` (the groups its lead runs).
pub fn led_group_ids(member: MemberId) -> LedGroupIds {
    groups::table
        .filter(groups::coordinator_id.eq(member))
        .select(groups::id)
}

/// Ids of the groups `member` belongs to.
pub fn group_ids_of_member(member: MemberId) -> MemberGroupIds {
    group_members::table
        .filter(group_members::member_id.eq(member))
        .select(group_members::group_id)
}

/// The groups `caller` may manage (record signatures): admin, or the lead of the coordinator.
fn managed_groups(caller: &Caller) -> groups::BoxedQuery<'static, MultiBackend> {
    match caller.principal {
        Principal::Admin | Principal::Lead { .. } => visible_groups(caller),
        Principal::Officer { .. } | Principal::Supplier { .. } => {
            groups::table.filter(groups::id.is_null()).into_boxed()
        }
    }
}

/// Inserts a group with its members; unknown member codes are 422.
pub fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    g: &NewGroup,
    now: DateTime<Utc>,
) -> Result<Group, ApiError> {
    let ids = ids_by_code(conn, &g.members)?;
    let unknown: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| id.is_none())
        .map(|(i, _)| {
            FieldError::new(
                format!("/members/{i}"),
                format!("no member has the code {:?}", g.members[i]),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::validation(unknown));
    }
    let ids: Vec<MemberId> = ids.into_iter().flatten().collect();
    let coordinator_id = g
        .members
        .iter()
        .position(|c| c == &g.coordinator)
        .and_then(|i| ids.get(i).copied())
        .ok_or_else(|| {
            ApiError::invalid_field("/coordinator", "must be one of the group's members")
        })?;
    let row = GroupRow {
        id: GroupId::new(),
        name: g.name.clone(),
        coordinator_id,
        cost_sharing_key: g.cost_sharing_key,
        coordinator_fee_percent: DbDecimal(g.coordinator_fee_percent.value()),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(groups::table)
        .values(&row)
        .execute(conn)?;
    for (code, member_id) in g.members.iter().zip(&ids) {
        diesel::insert_into(group_members::table)
            .values(MembershipRow {
                group_id: row.id,
                member_id: *member_id,
                convention_signed_at: None,
                budget_ceiling: g.budget_ceilings.get(code).map(|a| DbDecimal(a.value())),
            })
            .execute(conn)?;
    }
    let group = load(conn, row)?;
    audit::record(
        conn,
        actor,
        Change {
            action: Action::GroupCreated,
            entity_type: EntityType::Group,
            entity_id: group.id.0,
            group_id: Some(group.id),
            data: &group,
        },
        now,
    )?;
    Ok(group)
}

/// The group of `row` with its members, sorted by code.
fn load(conn: &mut DbConn, row: GroupRow) -> Result<Group, ApiError> {
    let memberships: Vec<MembershipRow> = group_members::table
        .filter(group_members::group_id.eq(row.id))
        .select(MembershipRow::as_select())
        .load(conn)?;
    let ids: Vec<MemberId> = memberships.iter().map(|m| m.member_id).collect();
    let members = by_ids(conn, &ids)?;
    let known = |id: MemberId| -> Result<&Member, ApiError> {
        members
            .get(&id)
            .ok_or_else(|| ApiError::internal(format!("group {} has unknown member {id}", row.id)))
    };
    let coordinator = known(row.coordinator_id)?.code.clone();
    let mut list = memberships
        .iter()
        .map(|m| {
            let member = known(m.member_id)?;
            Ok(GroupMember {
                member_code: member.code.clone(),
                legal_name: member.legal_name.clone(),
                dwellings: member.dwellings,
                convention_signed_at: m.convention_signed_at.map(DbTime::get),
                budget_ceiling: m.budget_ceiling.map(|d| Amount::from_stored(d.0)),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    list.sort_by(|a, b| a.member_code.cmp(&b.member_code));
    Ok(Group {
        id: row.id,
        name: row.name,
        coordinator,
        convention_signed_by_all: list.iter().all(|m| m.convention_signed_at.is_some()),
        members: list,
        cost_sharing_key: row.cost_sharing_key,
        coordinator_fee_percent: Percent::from_stored(row.coordinator_fee_percent.0),
        created_at: row.created_at.get(),
    })
}

/// A group the caller may see; 404 otherwise.
pub fn get(conn: &mut DbConn, caller: &Caller, id: GroupId) -> Result<Group, ApiError> {
    let row: GroupRow = visible_groups(caller)
        .filter(groups::id.eq(id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("group"))?;
    load(conn, row)
}

/// One page of the groups the caller may see.
pub fn list(conn: &mut DbConn, caller: &Caller, page: Page) -> Result<Vec<Group>, ApiError> {
    let q = visible_groups(caller).select(GroupRow::as_select());
    let rows: Vec<GroupRow> = keyset(q, groups::id, page).load(conn)?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// Records that member `code` signed the convention of group `id` (idempotent: a second call
/// keeps the first date, the update being conditional on no date yet). 404 if the caller may
/// not manage the group or the member is not in it.
pub fn sign_convention(
    conn: &mut DbConn,
    caller: &Caller,
    id: GroupId,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Group, ApiError> {
    let row: GroupRow = managed_groups(caller)
        .filter(groups::id.eq(id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("group"))?;
    let member_id = ids_by_code(conn, &[code.to_owned()])?
        .pop()
        .flatten()
        .ok_or_else(|| ApiError::not_found("member of this group"))?;
    let in_group: bool = diesel::select(diesel::dsl::exists(
        group_members::table
            .filter(group_members::group_id.eq(id))
            .filter(group_members::member_id.eq(member_id)),
    ))
    .get_result(conn)?;
    if !in_group {
        return Err(ApiError::not_found("member of this group"));
    }
    let signed = diesel::update(group_members::table)
        .filter(group_members::group_id.eq(id))
        .filter(group_members::member_id.eq(member_id))
        .filter(group_members::convention_signed_at.is_null())
        .set(group_members::convention_signed_at.eq(Some(DbTime::new(now))))
        .execute(conn)?;
    if signed == 1 {
        audit::record(
            conn,
            &Actor::from(caller),
            Change {
                action: Action::ConventionSigned,
                entity_type: EntityType::Group,
                entity_id: id.0,
                group_id: Some(id),
                data: &serde_json::json!({
                    "member_code": code,
                    "convention_signed_at": DbTime::new(now).get(),
                }),
            },
            now,
        )?;
    }
    load(conn, row)
}

/// Who a group's notices go to.
#[derive(Debug, Clone)]
pub struct Recipients {
    /// The group's name.
    pub name: String,
    /// Its members, by code.
    pub members: Vec<Recipient>,
}

/// One member a notice goes to.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The member.
    pub member_id: MemberId,
    /// Its legal name.
    pub legal_name: String,
    /// Its contact address.
    pub contact_email: String,
}

/// The name and members of group `id` (for notices; no caller scope: the calling feature
/// already scoped the object the notice is about).
pub fn notice_recipients(conn: &mut DbConn, id: GroupId) -> QueryResult<Recipients> {
    let name = name_of(conn, id)?;
    let ids: Vec<MemberId> = group_members::table
        .filter(group_members::group_id.eq(id))
        .select(group_members::member_id)
        .load(conn)?;
    let mut members: Vec<Member> = by_ids(conn, &ids)?.into_values().collect();
    members.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Recipients {
        name,
        members: members
            .into_iter()
            .map(|m| Recipient {
                member_id: m.id,
                legal_name: m.legal_name,
                contact_email: m.contact_email,
            })
            .collect(),
    })
}

/// The name of group `id`, for notices that name the group and go to others than its members.
pub fn name_of(conn: &mut DbConn, id: GroupId) -> QueryResult<String> {
    groups::table
        .filter(groups::id.eq(id))
        .select(groups::name)
        .first(conn)
}

/// Codes of the members of group `id` that have not signed its convention, sorted.
pub fn unsigned_members(conn: &mut DbConn, id: GroupId) -> QueryResult<Vec<String>> {
    let ids: Vec<MemberId> = group_members::table
        .filter(group_members::group_id.eq(id))
        .filter(group_members::convention_signed_at.is_null())
        .select(group_members::member_id)
        .load(conn)?;
    let mut codes: Vec<String> = by_ids(conn, &ids)?.into_values().map(|m| m.code).collect();
    codes.sort();
    Ok(codes)
}

/// True when group `id` is coordinated by `member` (so its lead runs it).
pub fn is_led_by(conn: &mut DbConn, id: GroupId, member: MemberId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        groups::table
            .filter(groups::id.eq(id))
            .filter(groups::coordinator_id.eq(member)),
    ))
    .get_result(conn)
}

/// The coordinating member of group `id` (the buyer of its tenders, for exports; no caller
/// scope: the calling feature scoped the tender).
pub fn coordinator_of(conn: &mut DbConn, id: GroupId) -> QueryResult<MemberId> {
    groups::table
        .filter(groups::id.eq(id))
        .select(groups::coordinator_id)
        .first(conn)
}
