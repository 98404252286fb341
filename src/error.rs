//! RFC 9457 problem details: the one error type of the API.
//!
//! Every failure leaves the service as `application/problem+json` with a stable snake_case
//! `code`; a 422 lists every invalid field in `errors[]` as a JSON pointer and a message.
//! Internal failures are logged with their cause and answered with a generic 500 that
//! reveals nothing.

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Content type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) to the field in the request body, or `/query/NAME` for a query
    /// parameter.
    pub pointer: String,
    /// What is wrong, in words the client can show.
    pub message: String,
}

impl FieldError {
    /// A field error at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// The body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI naming the problem type: `urn:tenderpool:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human title of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Stable snake_case code for programs.
    pub code: String,
    /// Invalid fields (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request's id (also in the `X-Request-Id` header and every log line of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Most invalid fields listed in one 422 (the detail gives the full count).
pub const MAX_FIELD_ERRORS: usize = 20;

/// An error answered to an HTTP client. Only handlers, extractors and the stores they call
/// produce it; the outbox worker and the CLI have their own error types
/// ([`crate::notifications::worker::WorkerError`], [`crate::cli::CliError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Explanation.
    pub detail: String,
    /// Invalid fields.
    pub errors: Vec<FieldError>,
    /// For 5xx: the cause, logged when the error becomes a response and never sent.
    pub cause: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            cause: None,
        }
    }

    /// 401: no token, or a token that is not known.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    /// 403: a valid token whose role may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this action",
        )
    }

    /// 404: the resource does not exist, or the caller may not know it exists.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409 with a specific code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 409 [`CONDITION_CHANGED`]: what the write relied on (from a cache, or checked by its
    /// statement) changed or must be confirmed; nothing was written. `idempotency::once`
    /// runs such a write once more, reading afresh.
    pub fn condition_changed() -> Self {
        Self::conflict(
            CONDITION_CHANGED,
            "what this write depended on changed while it ran; nothing was written: retry",
        )
    }

    /// 422 listing the invalid fields: at most [`MAX_FIELD_ERRORS`] of them, the detail
    /// giving the full count.
    pub fn validation(mut errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{} {}", one.pointer, one.message),
            _ if errors.len() > MAX_FIELD_ERRORS => format!(
                "{} fields are invalid; the first {MAX_FIELD_ERRORS} are listed",
                errors.len()
            ),
            _ => format!("{} fields are invalid", errors.len()),
        };
        errors.truncate(MAX_FIELD_ERRORS);
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            detail,
            errors,
            cause: None,
        }
    }

    /// 422 for a single field.
    pub fn invalid_field(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(pointer, message)])
    }

    /// An internal error (500): the cause is kept for the log line written when the error is
    /// answered, and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the server failed to handle this request; it has been logged",
            )
        }
    }

    /// 503: the database cannot be reached right now (cause logged when answered).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not reachable right now; retry later",
            )
        }
    }

    /// The problem body of this error.
    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:tenderpool:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
            request_id: crate::request_id::current(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if self.status.is_server_error() {
            let cause = self.cause.as_deref().unwrap_or("none recorded");
            tracing::error!(status = self.status.as_u16(), code = self.code, %cause, "request failed");
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        let body = serde_json::to_string(&self.problem())
            .unwrap_or_else(|_| String::from("{\"code\":\"internal_error\"}"));
        res.body(body)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::Error;
        match e {
            Error::NotFound => ApiError::not_found("resource"),
            // SQLite's busy timeout ran out (another process holds the write lock): retry.
            Error::DatabaseError(_, ref info)
                if info.message().contains("database is locked")
                    || info.message().contains("database is busy") =>
            {
                ApiError {
                    cause: Some(e.to_string()),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "database_busy",
                        "the database is busy; retry in a moment",
                    )
                }
            }
            // The connection died (a database restart while it was in use): retry.
            Error::DatabaseError(diesel::result::DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::unavailable(e)
            }
            // A write's condition no longer held: nothing was written. `idempotency::once`
            // tries such a write again after reading afresh; elsewhere the client may retry.
            ref failed if crate::db::batch::condition_failed(failed) => {
                ApiError::condition_changed()
            }
            other => match crate::db::unique_constraint(&other) {
                // A unique rule no store mapped to its own code: still a conflict, and the
                // database's wording stays in the log.
                Some(constraint) => ApiError {
                    cause: Some(format!("{constraint}: {other}")),
                    ..ApiError::conflict(
                        "already_exists",
                        "a resource with the same unique value already exists",
                    )
                },
                None => ApiError::internal(other),
            },
        }
    }
}

/// The code of a write refused by its own condition ([`crate::db::batch::Batch::only_if`]).
pub const CONDITION_CHANGED: &str = "write_condition_changed";

/// Maps the violation of one unique constraint to the field's own error; any other database
/// error converts as usual. Uniqueness is decided by the insert itself (no SELECT before it),
/// so two concurrent creations end in one success and one field error on both backends.
pub trait OnUnique<T> {
    /// `constraint` is named as PostgreSQL names it by default: `{table}_{columns}_key`
    /// (e.g. `members_code_key`); [`crate::db::unique_constraint`] gives SQLite's the same name.
    fn on_unique(self, constraint: &str, err: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> OnUnique<T> for Result<T, diesel::result::Error> {
    fn on_unique(self, constraint: &str, err: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|e| {
            if crate::db::unique_constraint(&e).as_deref() == Some(constraint) {
                err()
            } else {
                ApiError::from(e)
            }
        })
    }
}

/// The code used for a bare HTTP status produced outside the handlers (routing, actix).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "too_many_requests",
        503 => "service_unavailable",
        s if s >= 500 => "internal_error",
        _ => "error",
    }
}

/// Short user-facing text for a bare status.
fn detail_for_status(status: StatusCode) -> String {
    match status.as_u16() {
        404 => "no such resource or route".to_owned(),
        405 => "this method is not allowed on this route".to_owned(),
        413 => "the request body is larger than the configured limit".to_owned(),
        s if s >= 500 => "the server failed to handle this request; it has been logged".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// Middleware hook: turns any error response that is not already problem+json (unknown route,
/// wrong method, actix extractor errors) into one, so every error has the same shape.
pub fn problem_for_bare_errors<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let err = ApiError::new(status, code_for_status(status), detail_for_status(status));
    let (req, _) = res.into_parts();
    let new = actix_web::dev::ServiceResponse::new(req, err.error_response());
    Ok(ErrorHandlerResponse::Response(new.map_into_right_body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_has_rfc9457_members_and_code() {
        let e = ApiError::invalid_field("/siret", "must be 14 digits");
        let v = serde_json::to_value(e.problem()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "urn:tenderpool:problem:validation_failed",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "/siret must be 14 digits",
                "code": "validation_failed",
                "errors": [{"pointer": "/siret", "message": "must be 14 digits"}]
            })
        );
    }

    #[test]
    fn database_constraint_details_never_reach_the_client() {
        // A unique rule no store maps to a field code: the generic conflict names nothing.
        let e = ApiError::from(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            Box::new("UNIQUE constraint failed: outbox.message_id".to_owned()),
        ));
        assert_eq!(e.code, "already_exists");
        assert!(
            !e.detail.contains("outbox") && !e.detail.contains("UNIQUE"),
            "{}",
            e.detail
        );
        assert!(e.cause.unwrap().contains("outbox_message_id_key"));
        let busy = ApiError::from(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new("database is locked".to_owned()),
        ));
        assert_eq!((busy.status.as_u16(), busy.code), (503, "database_busy"));
        assert!(!busy.detail.contains("locked"));
        let res = busy.error_response();
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }

    #[test]
    fn at_most_twenty_field_errors_are_listed() {
        let many: Vec<FieldError> = (0..80_000)
            .map(|i| FieldError::new(format!("/x/{i}"), "bad"))
            .collect();
        let e = ApiError::validation(many);
        assert_eq!(e.errors.len(), MAX_FIELD_ERRORS);
        assert_eq!(
            e.detail,
            "80000 fields are invalid; the first 20 are listed"
        );
    }

    #[test]
    fn errors_member_is_omitted_when_empty() {
        let v = serde_json::to_value(ApiError::forbidden().problem()).unwrap();
        assert!(v.get("errors").is_none());
        assert_eq!(v["code"], "forbidden");
        assert_eq!(v["status"], 403);
    }
}
