//! Token queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{new_token, Principal, Role};
use super::Caller;
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, FieldError};
use crate::ids::{MemberId, SupplierId, TokenId};
use crate::schema::api_tokens;

/// What a new token is for (API body and CLI arguments).
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Role.
    pub role: Role,
    /// Member code, for `lead` and `officer`.
    pub member_code: Option<String>,
    /// Supplier id, for `supplier`.
    pub supplier_id: Option<SupplierId>,
    /// Label, e.g. the person or script holding the token.
    pub name: String,
}

/// A token just created: the only moment its plain text exists.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// Token id.
    pub id: TokenId,
    /// The secret, shown once.
    pub token: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A stored token as authentication reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(MultiBackend))]
struct TokenRow {
    id: TokenId,
    role: Role,
    member_id: Option<MemberId>,
    supplier_id: Option<SupplierId>,
}

impl TryFrom<TokenRow> for Caller {
    type Error = ApiError;

    fn try_from(r: TokenRow) -> Result<Self, ApiError> {
        let principal =
            Principal::from_parts(r.role, r.member_id, r.supplier_id).ok_or_else(|| {
                ApiError::internal(format!("token {} has an inconsistent binding", r.id))
            })?;
        Ok(Caller {
            token_id: r.id,
            principal,
        })
    }
}

/// A token to insert: only its hash is stored.
#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(MultiBackend))]
struct NewTokenRow<'a> {
    id: TokenId,
    name: &'a str,
    role: Role,
    member_id: Option<MemberId>,
    supplier_id: Option<SupplierId>,
    token_hash: &'a str,
    created_at: DbTime,
}

/// Looks a token up by its hash.
pub fn find_caller(conn: &mut DbConn, hash: &str) -> Result<Option<Caller>, ApiError> {
    api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .map(Caller::try_from)
        .transpose()
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
            member_id = crate::members::store::ids_by_code(conn, std::slice::from_ref(code))?
                .pop()
                .flatten();
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
            if crate::suppliers::store::exists(conn, id)? {
                supplier_id = Some(id);
            } else {
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
    let id = TokenId::new();
    let created_at = DbTime::new(now);
    diesel::insert_into(api_tokens::table)
        .values(NewTokenRow {
            id,
            name,
            role: spec.role,
            member_id,
            supplier_id,
            token_hash: &hash,
            created_at,
        })
        .execute(conn)?;
    Ok(CreatedToken {
        id,
        token,
        created_at: created_at.get(),
    })
}
