//! `POST /api/v1/tokens`.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, TokenSpec};
use super::{Admin, Role};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::ids::{SupplierId, TokenId};
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
    /// Who holds the token.
    pub name: String,
}

/// A created token. `token` is shown this once and never stored in clear.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
}

/// Creates an API token (admin).
#[utoipa::path(
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "token created; shown once", body = TokenCreated),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    _admin: Admin,
    body: ApiJson<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let spec = TokenSpec {
        role: body.role,
        member_code: body.member_code.clone(),
        supplier_id: body.supplier_id,
        name: body.name.trim().to_owned(),
    };
    let now = state.clock.now();
    let created = state
        .db
        .write(move |conn| store::create(conn, &spec, now))
        .await?;
    Ok(HttpResponse::Created().json(TokenCreated {
        id: created.id,
        token: created.token,
        role: body.role,
        name: body.name.trim().to_owned(),
        member_code: body.member_code,
        supplier_id: body.supplier_id,
        created_at: created.created_at,
    }))
}
