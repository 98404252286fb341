//! Bearer-token authentication and the [`Caller`] every handler receives.
//!
//! A missing or unknown token is 401; a known token whose role may not call the route is
//! 403 ([`Caller::require`]); what lies outside the caller's scope is filtered in the store
//! queries and therefore 404.

pub mod domain;
pub mod routes;
pub mod store;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

pub use domain::{Principal, Role};

use crate::app::AppState;
use crate::error::ApiError;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The token used.
    pub token_id: Uuid,
    /// Role and binding.
    pub principal: Principal,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.principal.role()) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        self.principal.role()
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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal("application state is not configured"))?;
            let header = match header {
                None => None,
                Some(Ok(h)) => Some(h),
                Some(Err(_)) => {
                    return Err(ApiError::unauthenticated(
                        "the Authorization header is not valid text",
                    ))
                }
            };
            let hash = domain::hash_token(bearer_token(header.as_deref())?);
            state
                .db
                .read(move |conn| store::find_caller(conn, &hash))
                .await?
                .ok_or_else(|| ApiError::unauthenticated("unknown or revoked token"))
        })
    }
}

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
