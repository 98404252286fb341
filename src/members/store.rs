//! Member queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{Member, NewMember};
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::extract::Page;
use crate::schema::members;

#[derive(Queryable, Selectable)]
#[diesel(table_name = members)]
#[diesel(check_for_backend(crate::db::MultiBackend))]
struct Row {
    id: DbUuid,
    code: String,
    legal_name: String,
    siret: String,
    dwellings: i64,
    contact_email: String,
    created_at: DbTime,
}

impl From<Row> for Member {
    fn from(r: Row) -> Self {
        Member {
            id: r.id.0,
            code: r.code,
            legal_name: r.legal_name,
            siret: r.siret,
            dwellings: r.dwellings,
            contact_email: r.contact_email,
            created_at: r.created_at.get(),
        }
    }
}

/// Inserts a member; 409 `member_code_taken` if the code exists.
pub fn insert(conn: &mut DbConn, m: &NewMember, now: DateTime<Utc>) -> Result<Member, ApiError> {
    let taken = members::table
        .filter(members::code.eq(&m.code))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if taken {
        return Err(ApiError::conflict(
            "member_code_taken",
            format!("a member with code {} already exists", m.code),
        ));
    }
    let id = Uuid::now_v7();
    diesel::insert_into(members::table)
        .values((
            members::id.eq(DbUuid(id)),
            members::code.eq(&m.code),
            members::legal_name.eq(&m.legal_name),
            members::siret.eq(&m.siret),
            members::dwellings.eq(m.dwellings),
            members::contact_email.eq(&m.contact_email),
            members::created_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    Ok(Member {
        id,
        code: m.code.clone(),
        legal_name: m.legal_name.clone(),
        siret: m.siret.clone(),
        dwellings: m.dwellings,
        contact_email: m.contact_email.clone(),
        created_at: DbTime::new(now).get(),
    })
}

/// One page of members in creation order (admin only: checked by the handler).
pub fn list(conn: &mut DbConn, page: Page) -> Result<Vec<Member>, ApiError> {
    let mut q = members::table
        .select(Row::as_select())
        .order(members::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(members::id.gt(DbUuid(after)));
    }
    Ok(q.load::<Row>(conn)?.into_iter().map(Member::from).collect())
}

/// Ids of the members with these codes, in the same order; `None` for unknown codes.
pub fn ids_by_code(conn: &mut DbConn, codes: &[String]) -> Result<Vec<Option<Uuid>>, ApiError> {
    let found: Vec<(DbUuid, String)> = members::table
        .filter(members::code.eq_any(codes))
        .select((members::id, members::code))
        .load(conn)?;
    Ok(codes
        .iter()
        .map(|c| found.iter().find(|(_, code)| code == c).map(|(id, _)| id.0))
        .collect())
}
