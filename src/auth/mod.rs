//! Bearer-token authentication and the [`Caller`] every handler receives.
//!
//! A missing or unknown token is 401; a known token whose role may not call the route is
//! 403, answered by the role extractor in the handler's signature; what lies outside the
//! caller's scope is filtered in the store queries and therefore 404.

pub mod cache;
pub mod domain;
pub mod routes;
pub mod store;

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
pub use domain::{Principal, Role};

use crate::error::ApiError;
use crate::ids::{MemberId, SupplierId, TokenId};
use crate::state::AppState;

/// The authenticated caller of a request, whatever its role. Handlers open to every role take
/// this; the others take a role extractor ([`Admin`], [`Lead`], [`Officer`], [`SupplierUser`],
/// [`AdminOrLead`], [`OfficerOrLead`], [`Staff`]), which answers 403 for any other role before the body
/// is looked at, and hands the store what the role is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The token used.
    pub token_id: TokenId,
    /// Role and binding.
    pub principal: Principal,
}

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.principal.role()
    }
}

/// A caller with the `admin` role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin {
    /// The caller.
    pub caller: Caller,
}

/// A caller with the `lead` role, bound to the member whose coordinated groups it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lead {
    /// The caller.
    pub caller: Caller,
    /// The lead's member.
    pub member: MemberId,
}

/// A caller with the `officer` role, bound to its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Officer {
    /// The caller.
    pub caller: Caller,
    /// The officer's member.
    pub member: MemberId,
}

/// A caller with the `supplier` role, bound to its supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupplierUser {
    /// The caller.
    pub caller: Caller,
    /// The supplier.
    pub supplier: SupplierId,
}

/// A caller that is an admin or a lead (the scope of what it reaches differs; the store
/// builds it from [`Caller::principal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminOrLead(pub Caller);

/// A caller that is an officer or a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficerOrLead(pub Caller);

/// A caller of the buyers' side: admin, lead or officer (not a supplier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staff(pub Caller);

/// Turns an authenticated caller into a role extractor, or 403.
pub trait FromCaller: Sized {
    /// `Err(403)` when the caller's role is not one this extractor accepts.
    fn from_caller(caller: Caller) -> Result<Self, ApiError>;
}

impl FromCaller for Caller {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        Ok(caller)
    }
}

impl FromCaller for Admin {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Admin => Ok(Admin { caller }),
            _ => Err(ApiError::forbidden()),
        }
    }
}

impl FromCaller for Lead {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Lead { member_id } => Ok(Lead {
                caller,
                member: member_id,
            }),
            _ => Err(ApiError::forbidden()),
        }
    }
}

impl FromCaller for Officer {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Officer { member_id } => Ok(Officer {
                caller,
                member: member_id,
            }),
            _ => Err(ApiError::forbidden()),
        }
    }
}

impl FromCaller for SupplierUser {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Supplier { supplier_id } => Ok(SupplierUser {
                caller,
                supplier: supplier_id,
            }),
            _ => Err(ApiError::forbidden()),
        }
    }
}

impl FromCaller for AdminOrLead {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Admin | Principal::Lead { .. } => Ok(AdminOrLead(caller)),
            _ => Err(ApiError::forbidden()),
        }
    }
}

impl FromCaller for Staff {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Supplier { .. } => Err(ApiError::forbidden()),
            _ => Ok(Staff(caller)),
        }
    }
}

impl FromCaller for OfficerOrLead {
    fn from_caller(caller: Caller) -> Result<Self, ApiError> {
        match caller.principal {
            Principal::Officer { .. } | Principal::Lead { .. } => Ok(OfficerOrLead(caller)),
            _ => Err(ApiError::forbidden()),
        }
    }
}

/// Extracts the token of an `Authorization: Bearer …` header.
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header
        .ok_or_else(|| ApiError::unauthenticated("an Authorization: Bearer token is required"))?;
    let (scheme, token) = header.split_once(' ').ok_or_else(|| {
        ApiError::unauthenticated("the Authorization header must be 'Bearer <token>'")
    })?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthenticated(
            "the Authorization header must be 'Bearer <token>'",
        ));
    }
    Ok(token)
}

/// Authenticates the request: the bearer token is hashed and looked up in the token cache
/// ([`cache`]), or else in the database on a blocking thread, in one statement without a
/// transaction (unknown, revoked or expired → 401).
pub async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state is not configured"))?;
    let header = match req.headers().get(AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(h)) => Some(h.to_owned()),
        Some(Err(_)) => {
            return Err(ApiError::unauthenticated(
                "the Authorization header is not valid text",
            ))
        }
    };
    let hash = domain::hash_token(bearer_token(header.as_deref())?);
    let now = state.clock.now();
    if let Some(hit) = state.tokens.get(&hash, now) {
        if hit.record_use {
            record_use(&state, hit.caller.token_id, now);
        }
        return Ok(hit.caller);
    }
    let lookup = hash.clone();
    let generation = state.tokens.generation();
    let found = state
        .db
        .query(move |conn| store::find_caller(conn, &lookup, now))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("unknown, revoked or expired token"))?;
    if found.stale_last_use {
        record_use(&state, found.caller.token_id, now);
    }
    let recorded = if found.stale_last_use {
        Some(now)
    } else {
        found.last_used_at
    };
    state.tokens.put(
        generation,
        hash,
        found.caller,
        found.expires_at,
        recorded,
        now,
    );
    Ok(found.caller)
}

/// Records a use of token `id` at `now`: at most once a minute per token, off the request's
/// own path (a lost update only delays the next one).
fn record_use(state: &AppState, id: TokenId, now: chrono::DateTime<chrono::Utc>) {
    let db = state.db.clone();
    actix_web::rt::spawn(async move {
        let touched: Result<usize, ApiError> =
            db.write(move |conn| store::touch(conn, id, now)).await;
        if let Err(e) = touched {
            tracing::debug!(error = %e, "last_used_at not recorded");
        }
    });
}

/// True for the one route anyone may call without a token — `GET
/// /api/v1/tenders/{id}/ocds`, a contracted tender's open data — when no `Authorization`
/// header is sent (a token sent is always checked).
fn anonymous_allowed(req: &ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::GET
        && !req.headers().contains_key(AUTHORIZATION)
        && req
            .path()
            .strip_prefix("/api/v1/tenders/")
            .and_then(|rest| rest.strip_suffix("/ocds"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Middleware of `/api/v1`: every route there needs a token (but the open data of a
/// contracted tender, see [`anonymous_allowed`]), so the request is authenticated here,
/// before any body is read; the caller is left in the request's extensions for the role
/// extractors. Missing, unknown, revoked or expired → 401 at once.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if anonymous_allowed(&req) {
        // Open data: no token, no caller; the handler shows only what is public.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match authenticate(req.request()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(e) => Ok(req.into_response(e.error_response())),
    }
}

/// Implements `FromRequest` for role extractors: the caller authenticated by [`middleware`]
/// (401 if there is none), then the role check (403).
macro_rules! role_extractors {
    ($($ty:ty),*) => {$(
        impl FromRequest for $ty {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let caller = req.extensions().get::<Caller>().copied();
                ready(match caller {
                    Some(c) => <$ty as FromCaller>::from_caller(c),
                    None => Err(ApiError::unauthenticated("an Authorization: Bearer token is required")),
                })
            }
        }
    )*};
}

role_extractors!(
    Caller,
    Admin,
    Lead,
    Officer,
    SupplierUser,
    AdminOrLead,
    OfficerOrLead,
    Staff
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), "abc");
        for bad in [
            None,
            Some("abc"),
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer"),
        ] {
            assert_eq!(
                bearer_token(bad).unwrap_err().code,
                "unauthenticated",
                "{bad:?}"
            );
        }
    }
}
