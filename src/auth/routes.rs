//! `POST /api/v1/tokens`, `GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` (admin).

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, TokenInfo, TokenSpec};
use super::{Admin, Role};
use crate::audit::Actor;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::idempotency::{Idempotency, Secret, WriteAs};
use crate::ids::{SupplierId, TokenId};
use crate::pagination::{ListQuery, NoFilter, PageQuery, Paginated};
use crate::state::AppState;

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `admin`, `lead`, `officer` or `supplier`.
    pub role: Role,
    /// Member code, required for `lead` and `officer`.
    pub member_code: Option<String>,
    /// Supplier id, required for `supplier`.
    pub supplier_id: Option<SupplierId>,
    /// Who holds the token (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Optional RFC 3339 instant after which the token stops working (in the future, at most
    /// `limits.max_years_ahead` years ahead).
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// A created token. `token` is shown this once and never stored in clear (nor printed by
/// `Debug`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    /// Token id.
    pub id: TokenId,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
    /// Role.
    pub role: Role,
    /// Label.
    pub name: String,
    /// Bound member, if any.
    pub member_code: Option<String>,
    /// Bound supplier, if any.
    pub supplier_id: Option<SupplierId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreated")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Creates an API token (admin). The secret is in this response only: a retry with the same
/// `Idempotency-Key` gets 409 `idempotent_replay_unavailable`, never the secret again.
#[utoipa::path(
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "token created; shown once", body = TokenCreated),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "idempotent_replay_unavailable", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    admin: Admin,
    idem: Idempotency,
    body: ApiJson<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let max_years = state.settings.limits.max_years_ahead;
    let token = admin.caller.token_id;
    let caller = admin.caller;
    let reply = crate::idempotency::once(
        &state.db,
        WriteAs::Transaction,
        token,
        idem,
        now,
        Secret::Yes,
        move |conn, _batch| {
            // A retry after expiry fails here, then gets its answer (see `once`).
            let spec = TokenSpec {
                role: body.role,
                member_code: body.member_code.clone(),
                supplier_id: body.supplier_id,
                name: body.name.trim().to_owned(),
                expires_at: expiry(body.expires_at.as_deref(), now, max_years)?,
            };
            let created =
                store::create(conn, &Actor::from(&caller), &spec, now).map_err(ApiError::from)?;
            Ok(TokenCreated {
                id: created.id,
                token: created.token,
                role: spec.role,
                name: spec.name.clone(),
                member_code: spec.member_code.clone(),
                supplier_id: spec.supplier_id,
                created_at: created.created_at,
                expires_at: spec
                    .expires_at
                    .map(|t| crate::db::types::DbTime::new(t).get()),
            })
        },
    )
    .await?;
    Ok(reply.created())
}

/// The optional `expires_at` of a new token: a future instant in the accepted range.
fn expiry(
    raw: Option<&str>,
    now: DateTime<Utc>,
    max_years: u32,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let t = crate::dates::parse_instant(raw).ok_or_else(|| {
        ApiError::invalid_field(
            "/expires_at",
            "must be an RFC 3339 date-time with offset in the years 2000 to 2199",
        )
    })?;
    crate::dates::check_future(t, now, max_years)
        .map_err(|m| ApiError::invalid_field("/expires_at", m))?;
    Ok(Some(t))
}

/// Lists API tokens (admin): names, roles, bindings, expiry, revocation, last use — never a
/// secret.
#[utoipa::path(
    tag = "tokens",
    params(PageQuery),
    responses((status = 200, body = Paginated<TokenInfo>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    _admin: Admin,
    query: ListQuery<NoFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page;
    let rows = state
        .db
        .read(move |conn| store::list(conn, page).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |t| t.id)))
}

/// Revokes an API token (admin): from the next request on, on every instance, it gets 401.
/// Revoking a revoked token changes nothing.
#[utoipa::path(
    tag = "tokens",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<TokenId>,
) -> Result<HttpResponse, ApiError> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let tokens = state.tokens.clone();
    state
        .db
        .write(move |conn| {
            let info = store::revoke(conn, &Actor::from(&admin.caller), id, now)
                .map_err(ApiError::from)?;
            // Evicted before the commit too, so no request of this instance is answered from
            // the cache once the revocation is visible (evict() again after: see below).
            tokens.evict(id);
            Ok::<_, ApiError>(info)
        })
        .await?;
    // Effective at once on this instance (also for a lookup that read the row just before
    // the commit: the eviction refuses it); elsewhere within `auth.token_cache_ms`.
    state.tokens.evict(id);
    Ok(HttpResponse::NoContent().finish())
}
