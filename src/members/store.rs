//! Member queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{Member, NewMember};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, OnUnique};
use crate::ids::MemberId;
use crate::pagination::{keyset, Page};
use crate::schema::members;

/// A stored member (every column is written at creation, so it is also the insert value).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = members)]
#[diesel(check_for_backend(MultiBackend))]
struct MemberRow {
    id: MemberId,
    code: String,
    legal_name: String,
    siret: String,
    dwellings: i64,
    contact_email: String,
    created_at: DbTime,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            id: r.id,
            code: r.code,
            legal_name: r.legal_name,
            siret: r.siret,
            dwellings: r.dwellings,
            contact_email: r.contact_email,
            created_at: r.created_at.get(),
        }
    }
}

/// Inserts a member; 409 `member_code_taken` if the code exists (decided by the unique
/// index, so two concurrent creations get one 201 and one 409).
pub fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    m: &NewMember,
    now: DateTime<Utc>,
) -> Result<Member, ApiError> {
    let row = MemberRow {
        id: MemberId::new(),
        code: m.code.clone(),
        legal_name: m.legal_name.clone(),
        siret: m.siret.clone(),
        dwellings: m.dwellings,
        contact_email: m.contact_email.clone(),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(members::table)
        .values(&row)
        .execute(conn)
        .on_unique("members_code_key", || {
            ApiError::conflict(
                "member_code_taken",
                format!("a member with code {} already exists", m.code),
            )
        })?;
    let member = Member::from(row);
    audit::record(
        conn,
        actor,
        Change {
            action: Action::MemberCreated,
            entity_type: EntityType::Member,
            entity_id: member.id.0,
            group_id: None,
            data: &member,
        },
        now,
    )?;
    Ok(member)
}

/// One page of members in creation order (admin: the handler's extractor).
pub fn list(conn: &mut DbConn, page: Page) -> Result<Vec<Member>, ApiError> {
    let q = members::table.select(MemberRow::as_select()).into_boxed();
    let rows: Vec<MemberRow> = keyset(q, members::id, page).load(conn)?;
    Ok(rows.into_iter().map(Member::from).collect())
}

/// Ids of the members with these codes, in the same order; `None` for unknown codes.
pub fn ids_by_code(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<Option<MemberId>>> {
    let rows: Vec<MemberRow> = members::table
        .filter(members::code.eq_any(codes))
        .select(MemberRow::as_select())
        .load(conn)?;
    let found: std::collections::HashMap<String, MemberId> =
        rows.into_iter().map(|r| (r.code, r.id)).collect();
    Ok(codes.iter().map(|c| found.get(c).copied()).collect())
}

/// The code of the member whose id is in `$member_id` — a column of the calling feature's
/// table — as a correlated subquery (`Nullable<Text>`): a row and its member's code come in one
/// statement. A macro because the type of such a subquery over any column cannot be written
/// generically with diesel; the query stays here, with the table it reads.
macro_rules! member_code_of {
    ($member_id:expr) => {
        diesel::QueryDsl::single_value(diesel::QueryDsl::select(
            diesel::QueryDsl::filter(
                $crate::schema::members::table,
                diesel::ExpressionMethods::eq($crate::schema::members::id, $member_id),
            ),
            $crate::schema::members::code,
        ))
    };
}
pub(crate) use member_code_of;

/// The code of member `id` (one statement the connection keeps prepared).
pub fn code(conn: &mut DbConn, id: MemberId) -> QueryResult<String> {
    members::table
        .filter(members::id.eq(id))
        .select(members::code)
        .first(conn)
}

/// The members with these ids, by id (for features that show member codes and names).
pub fn by_ids(
    conn: &mut DbConn,
    ids: &[MemberId],
) -> QueryResult<std::collections::HashMap<MemberId, Member>> {
    let rows: Vec<MemberRow> = members::table
        .filter(members::id.eq_any(ids))
        .select(MemberRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.id, Member::from(r))).collect())
}
