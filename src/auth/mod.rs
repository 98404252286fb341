//! Bearer-token authentication and the [`Caller`] every handler receives.
//!
//! A missing or unknown token is 401; a known token whose role may not call the route is
//! 403, answered by the role extractor in the handler's signature; what lies outside the
//! caller's scope is filtered in the store queries and therefore 404.

pub mod domain;
pub mod routes;
pub mod store;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
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

/// Authenticates the request: the bearer token is hashed and looked up on a blocking thread.
/// Missing or unknown → 401.
fn authenticate(req: &HttpRequest) -> impl Future<Output = Result<Caller, ApiError>> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    async move {
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
    }
}

/// Implements `FromRequest` for role extractors: authenticate (401), then check the role (403).
macro_rules! role_extractors {
    ($($ty:ty),*) => {$(
        impl FromRequest for $ty {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let caller = authenticate(req);
                Box::pin(async move { <$ty as FromCaller>::from_caller(caller.await?) })
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
