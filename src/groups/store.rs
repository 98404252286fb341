//! Group queries. Visibility is part of every query ([`visible_groups`]): an admin sees every
//! group, a lead the groups its member coordinates, an officer the groups its member belongs
//! to, a supplier none.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{CostSharingKey, Group, GroupMember, NewGroup};
use crate::auth::{Caller, Principal};
use crate::db::types::{DbDecimal, DbTime, DbUuid};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::{Amount, Percent};
use crate::error::{ApiError, FieldError};
use crate::extract::Page;
use crate::members::store::ids_by_code;
use crate::schema::{group_members, groups, members};
use crate::spelled::Spelled;

#[derive(Queryable, Selectable)]
#[diesel(table_name = groups)]
#[diesel(check_for_backend(MultiBackend))]
struct GroupRow {
    id: DbUuid,
    name: String,
    coordinator_id: DbUuid,
    cost_sharing_key: String,
    coordinator_fee_percent: DbDecimal,
    created_at: DbTime,
}
/// id, code, legal name, dwellings, convention signed at, budget ceiling.
type MemberRow = (
    DbUuid,
    String,
    String,
    i64,
    Option<DbTime>,
    Option<DbDecimal>,
);

/// The groups `caller` may see, as a boxed query to refine.
pub fn visible_groups(caller: &Caller) -> groups::BoxedQuery<'static, MultiBackend> {
    let q = groups::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => q.filter(groups::coordinator_id.eq(DbUuid(member_id))),
        Principal::Officer { member_id } => q.filter(diesel::dsl::exists(
            group_members::table
                .filter(group_members::group_id.eq(groups::id))
                .filter(group_members::member_id.eq(DbUuid(member_id))),
        )),
        Principal::Supplier { .. } => q.filter(groups::id.is_null()),
    }
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
pub fn insert(conn: &mut DbConn, g: &NewGroup, now: DateTime<Utc>) -> Result<Group, ApiError> {
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
    let ids: Vec<Uuid> = ids.into_iter().flatten().collect();
    let coordinator = g
        .members
        .iter()
        .position(|c| c == &g.coordinator)
        .and_then(|i| ids.get(i).copied())
        .ok_or_else(|| {
            ApiError::invalid_field("/coordinator", "must be one of the group's members")
        })?;
    let id = Uuid::now_v7();
    diesel::insert_into(groups::table)
        .values((
            groups::id.eq(DbUuid(id)),
            groups::name.eq(&g.name),
            groups::coordinator_id.eq(DbUuid(coordinator)),
            groups::cost_sharing_key.eq(g.cost_sharing_key.spelling()),
            groups::coordinator_fee_percent.eq(DbDecimal(g.coordinator_fee_percent.value())),
            groups::created_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    for (code, member_id) in g.members.iter().zip(&ids) {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(DbUuid(id)),
                group_members::member_id.eq(DbUuid(*member_id)),
                group_members::convention_signed_at.eq(None::<DbTime>),
                group_members::budget_ceiling
                    .eq(g.budget_ceilings.get(code).map(|a| DbDecimal(a.value()))),
            ))
            .execute(conn)?;
    }
    load(
        conn,
        GroupRowRef {
            id,
            name: g.name.clone(),
            coordinator_id: coordinator,
            key: g.cost_sharing_key,
            fee: g.coordinator_fee_percent,
            created_at: DbTime::new(now).get(),
        },
    )
}

struct GroupRowRef {
    id: Uuid,
    name: String,
    coordinator_id: Uuid,
    key: CostSharingKey,
    fee: Percent,
    created_at: DateTime<Utc>,
}

fn from_row(row: GroupRow) -> Result<GroupRowRef, ApiError> {
    let GroupRow {
        id,
        name,
        coordinator_id,
        cost_sharing_key: key,
        coordinator_fee_percent: fee,
        created_at,
    } = row;
    let key = CostSharingKey::from_spelling(&key).ok_or_else(|| {
        ApiError::internal(format!("bad cost_sharing_key {key:?} in group {}", id.0))
    })?;
    Ok(GroupRowRef {
        id: id.0,
        name,
        coordinator_id: coordinator_id.0,
        key,
        fee: Percent::from_stored(fee.0),
        created_at: created_at.get(),
    })
}

fn load(conn: &mut DbConn, g: GroupRowRef) -> Result<Group, ApiError> {
    let rows: Vec<MemberRow> = group_members::table
        .inner_join(members::table)
        .filter(group_members::group_id.eq(DbUuid(g.id)))
        .select((
            members::id,
            members::code,
            members::legal_name,
            members::dwellings,
            group_members::convention_signed_at,
            group_members::budget_ceiling,
        ))
        .order(members::code.asc())
        .load(conn)?;
    let coordinator = rows
        .iter()
        .find(|r| r.0 .0 == g.coordinator_id)
        .map(|r| r.1.clone())
        .ok_or_else(|| {
            ApiError::internal(format!("group {} has no coordinator membership", g.id))
        })?;
    let members: Vec<GroupMember> = rows
        .into_iter()
        .map(
            |(_, member_code, legal_name, dwellings, signed, ceiling)| GroupMember {
                member_code,
                legal_name,
                dwellings,
                convention_signed_at: signed.map(DbTime::get),
                budget_ceiling: ceiling.map(|d| Amount::from_stored(d.0)),
            },
        )
        .collect();
    Ok(Group {
        id: g.id,
        name: g.name,
        coordinator,
        convention_signed_by_all: members.iter().all(|m| m.convention_signed_at.is_some()),
        members,
        cost_sharing_key: g.key,
        coordinator_fee_percent: g.fee,
        created_at: g.created_at,
    })
}

/// A group the caller may see; `None` (→ 404) otherwise.
pub fn get(conn: &mut DbConn, caller: &Caller, id: Uuid) -> Result<Option<Group>, ApiError> {
    let row: Option<GroupRow> = visible_groups(caller)
        .filter(groups::id.eq(DbUuid(id)))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| from_row(r).and_then(|g| load(conn, g)))
        .transpose()
}

/// One page of the groups the caller may see.
pub fn list(conn: &mut DbConn, caller: &Caller, page: Page) -> Result<Vec<Group>, ApiError> {
    let mut q = visible_groups(caller)
        .select(GroupRow::as_select())
        .order(groups::id.asc())
        .limit(i64::from(page.limit) + 1);
    if let Some(after) = page.after {
        q = q.filter(groups::id.gt(DbUuid(after)));
    }
    let rows: Vec<GroupRow> = q.load(conn)?;
    rows.into_iter()
        .map(|r| from_row(r).and_then(|g| load(conn, g)))
        .collect()
}

/// Records that member `code` signed the convention of group `id` (idempotent: a second call
/// keeps the first date). 404 if the caller may not manage the group or the member is not in it.
pub fn sign_convention(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Group, ApiError> {
    let row: GroupRow = managed_groups(caller)
        .filter(groups::id.eq(DbUuid(id)))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("group"))?;
    let member_id: DbUuid = group_members::table
        .inner_join(members::table)
        .filter(group_members::group_id.eq(DbUuid(id)))
        .filter(members::code.eq(code))
        .select(members::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("member of this group"))?;
    diesel::update(group_members::table)
        .filter(group_members::group_id.eq(DbUuid(id)))
        .filter(group_members::member_id.eq(member_id))
        .filter(group_members::convention_signed_at.is_null())
        .set(group_members::convention_signed_at.eq(Some(DbTime::new(now))))
        .execute(conn)?;
    load(conn, from_row(row)?)
}
