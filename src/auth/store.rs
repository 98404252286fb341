//! Token queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{new_token, Principal, Role};
use super::Caller;
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::{ApiError, FieldError};
use crate::schema::{api_tokens, members, suppliers};
use crate::spelled::Spelled;

/// What a new token is for (API body and CLI arguments).
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Role.
    pub role: Role,
    /// Member code, for `lead` and `officer`.
    pub member_code: Option<String>,
    /// Supplier id, for `supplier`.
    pub supplier_id: Option<Uuid>,
    /// Label, e.g. the person or script holding the token.
    pub name: String,
}

/// A token just created: the only moment its plain text exists.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// Token id.
    pub id: Uuid,
    /// The secret, shown once.
    pub token: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Looks a token up by its hash.
pub fn find_caller(conn: &mut DbConn, hash: &str) -> Result<Option<Caller>, ApiError> {
    let row: Option<(DbUuid, String, Option<DbUuid>, Option<DbUuid>)> = api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select((
            api_tokens::id,
            api_tokens::role,
            api_tokens::member_id,
            api_tokens::supplier_id,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, role, member, supplier)| {
        Principal::from_parts(&role, member.map(|m| m.0), supplier.map(|s| s.0)).map(|principal| {
            Caller {
                token_id: id.0,
                principal,
            }
        })
    }))
}

/// Checks the binding of `spec`, stores the token's hash and returns the token once.
pub fn create(
    conn: &mut DbConn,
    spec: &TokenSpec,
    now: DateTime<Utc>,
) -> Result<CreatedToken, ApiError> {
    let mut errors = Vec::new();
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "/name",
            "must be 1 to 200 characters without control characters",
        ));
    }
    let needs_member = matches!(spec.role, Role::Lead | Role::Officer);
    let needs_supplier = spec.role == Role::Supplier;
    let mut member_id = None;
    match (&spec.member_code, needs_member) {
        (Some(code), true) => {
            member_id = members::table
                .filter(members::code.eq(code))
                .select(members::id)
                .first::<DbUuid>(conn)
                .optional()?;
            if member_id.is_none() {
                errors.push(FieldError::new(
                    "/member_code",
                    format!("no member has the code {code:?}"),
                ));
            }
        }
        (None, true) => errors.push(FieldError::new(
            "/member_code",
            "is required for the lead and officer roles",
        )),
        (Some(_), false) => errors.push(FieldError::new(
            "/member_code",
            "is only allowed for the lead and officer roles",
        )),
        (None, false) => {}
    }
    let mut supplier_id = None;
    match (spec.supplier_id, needs_supplier) {
        (Some(id), true) => {
            supplier_id = suppliers::table
                .filter(suppliers::id.eq(DbUuid(id)))
                .select(suppliers::id)
                .first::<DbUuid>(conn)
                .optional()?;
            if supplier_id.is_none() {
                errors.push(FieldError::new("/supplier_id", "no supplier has this id"));
            }
        }
        (None, true) => errors.push(FieldError::new(
            "/supplier_id",
            "is required for the supplier role",
        )),
        (Some(_), false) => errors.push(FieldError::new(
            "/supplier_id",
            "is only allowed for the supplier role",
        )),
        (None, false) => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (token, hash) = new_token();
    let id = Uuid::now_v7();
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(DbUuid(id)),
            api_tokens::name.eq(name),
            api_tokens::role.eq(spec.role.spelling()),
            api_tokens::member_id.eq(member_id),
            api_tokens::supplier_id.eq(supplier_id),
            api_tokens::token_hash.eq(&hash),
            api_tokens::created_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    Ok(CreatedToken {
        id,
        token,
        created_at: DbTime::new(now).get(),
    })
}
