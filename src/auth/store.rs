//! Token queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{new_token, Principal, Role};
use super::Caller;
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::db::types::DbTime;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, FieldError};
use crate::ids::{MemberId, SupplierId, TokenId};
use crate::pagination::{keyset, Page};
use crate::schema::api_tokens;
use crate::validate::Checks;

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
    /// When the token stops working (already checked against the accepted range).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a token could not be created, listed or revoked — for the API and the CLI alike (each
/// maps it to its own errors).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The request names something that does not fit (each field and why).
    #[error("invalid token request")]
    Invalid(Vec<FieldError>),
    /// No token has this id.
    #[error("no token has this id")]
    NotFound,
    /// A query failed.
    #[error("token query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(fields) => ApiError::validation(fields),
            TokenError::NotFound => ApiError::not_found("token"),
            TokenError::Query(q) => ApiError::from(q),
        }
    }
}

/// A token just created: the only moment its plain text exists.
#[derive(Clone)]
pub struct CreatedToken {
    /// Token id.
    pub id: TokenId,
    /// The secret, shown once.
    pub token: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for CreatedToken {
    /// Never prints the secret, so no log line can hold it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A stored token as authentication reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(MultiBackend))]
struct CallerRow {
    id: TokenId,
    role: Role,
    member_id: Option<MemberId>,
    supplier_id: Option<SupplierId>,
    expires_at: Option<DbTime>,
    last_used_at: Option<DbTime>,
}

impl TryFrom<CallerRow> for Caller {
    type Error = ApiError;

    fn try_from(r: CallerRow) -> Result<Self, ApiError> {
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
    expires_at: Option<DbTime>,
}

/// How often `last_used_at` is written at most, per token.
pub const LAST_USE_PRECISION: chrono::Duration = chrono::Duration::minutes(1);

/// A token found by authentication.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    /// Who calls.
    pub caller: Caller,
    /// True when `last_used_at` is older than [`LAST_USE_PRECISION`] (or unset).
    pub stale_last_use: bool,
    /// When the token stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its last recorded use.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Looks a live token up by its hash: not revoked, not expired at `now`.
pub fn find_caller(
    conn: &mut DbConn,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Found>, ApiError> {
    let row: Option<CallerRow> = api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(DbTime::new(now))),
        )
        .select(CallerRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| {
        let stale_last_use = r
            .last_used_at
            .is_none_or(|t| now - t.get() >= LAST_USE_PRECISION);
        let (expires_at, last_used_at) = (
            r.expires_at.map(DbTime::get),
            r.last_used_at.map(DbTime::get),
        );
        Caller::try_from(r).map(|caller| Found {
            caller,
            stale_last_use,
            expires_at,
            last_used_at,
        })
    })
    .transpose()
}

/// Records a use of token `id` at `now`, unless one was recorded less than a minute before
/// (a conditional update, so concurrent requests write it once).
pub fn touch(conn: &mut DbConn, id: TokenId, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let before = DbTime::new(now - LAST_USE_PRECISION);
    Ok(diesel::update(
        api_tokens::table.filter(api_tokens::id.eq(id)).filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.le(before)),
        ),
    )
    .set(api_tokens::last_used_at.eq(Some(DbTime::new(now))))
    .execute(conn)?)
}

/// A token as `GET /api/v1/tokens` and `tenderpool token list` show it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Id.
    pub id: TokenId,
    /// Label.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Bound member, if any.
    pub member_id: Option<MemberId>,
    /// Bound supplier, if any.
    pub supplier_id: Option<SupplierId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(MultiBackend))]
struct TokenRow {
    id: TokenId,
    name: String,
    role: Role,
    member_id: Option<MemberId>,
    supplier_id: Option<SupplierId>,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    last_used_at: Option<DbTime>,
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> Self {
        TokenInfo {
            id: r.id,
            name: r.name,
            role: r.role,
            member_id: r.member_id,
            supplier_id: r.supplier_id,
            created_at: r.created_at.get(),
            expires_at: r.expires_at.map(DbTime::get),
            revoked_at: r.revoked_at.map(DbTime::get),
            last_used_at: r.last_used_at.map(DbTime::get),
        }
    }
}

/// One page of tokens in creation order (admin: the handler's extractor; the CLI).
pub fn list(conn: &mut DbConn, page: Page) -> Result<Vec<TokenInfo>, TokenError> {
    let q = api_tokens::table.select(TokenRow::as_select()).into_boxed();
    let rows: Vec<TokenRow> = keyset(q, api_tokens::id, page).load(conn)?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

/// Revokes token `id` at `now` (a second revocation keeps the first date); 404 if unknown.
/// Takes effect on the next request on every instance: authentication reads the table.
pub fn revoke(
    conn: &mut DbConn,
    actor: &Actor,
    id: TokenId,
    now: DateTime<Utc>,
) -> Result<TokenInfo, TokenError> {
    let revoked = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(DbTime::new(now))))
    .execute(conn)?;
    let info = api_tokens::table
        .filter(api_tokens::id.eq(id))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .map(TokenInfo::from)
        .ok_or(TokenError::NotFound)?;
    if revoked == 1 {
        audit::record(
            conn,
            actor,
            Change {
                action: Action::TokenRevoked,
                entity_type: EntityType::Token,
                entity_id: id.0,
                group_id: None,
                data: &serde_json::json!({"revoked_at": info.revoked_at}),
            },
            now,
        )?;
    }
    Ok(info)
}

/// Checks the binding of `spec`, stores the token's hash and returns the token once.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    spec: &TokenSpec,
    now: DateTime<Utc>,
) -> Result<CreatedToken, TokenError> {
    let mut checks = Checks::new();
    let name = checks.line("/name", &spec.name, 1, 200);
    let mut errors = checks.into_fields();
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
        return Err(TokenError::Invalid(errors));
    }
    let (token, hash) = new_token();
    let id = TokenId::new();
    let created_at = DbTime::new(now);
    diesel::insert_into(api_tokens::table)
        .values(NewTokenRow {
            id,
            name: &name,
            role: spec.role,
            member_id,
            supplier_id,
            token_hash: &hash,
            created_at,
            expires_at: spec.expires_at.map(DbTime::new),
        })
        .execute(conn)?;
    // What the token is for, never its secret nor its hash.
    audit::record(
        conn,
        actor,
        Change {
            action: Action::TokenCreated,
            entity_type: EntityType::Token,
            entity_id: id.0,
            group_id: None,
            data: &serde_json::json!({
                "name": name,
                "role": spec.role,
                "member_id": member_id,
                "supplier_id": supplier_id,
                "expires_at": spec.expires_at.map(|t| DbTime::new(t).get()),
            }),
        },
        now,
    )?;
    Ok(CreatedToken {
        id,
        token,
        created_at: created_at.get(),
    })
}
