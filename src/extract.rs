//! Request extractors shared by every handler: the strict JSON body and pagination.
//!
//! [`ApiJson`] reads the body within the configured limit (413 above it), answers 400 for
//! malformed JSON and 422 with a JSON pointer for a body of the wrong shape (unknown field,
//! missing field, wrong type, JSON number where a decimal string is expected).
//!
//! The verdict on the body is kept until the handler asks for it with
//! [`ApiJson::into_inner`], after its role check: a caller without the right gets 403
//! whatever it sent, never a hint about the body's shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{ApiError, FieldError};

/// A JSON request body deserialized strictly into `T`, or the error to answer.
#[derive(Debug)]
pub struct ApiJson<T>(Result<T, ApiError>);

impl<T> ApiJson<T> {
    /// The body, or the 400/413/415/422 it deserves. Call it after the role check.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = match req.headers().get(actix_web::http::header::CONTENT_TYPE) {
            None => true,
            Some(v) => v.to_str().is_ok_and(|ct| {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            }),
        };
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Ok(ApiJson(Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the request body must be application/json",
                ))));
            }
            let bytes = body.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "payload_too_large",
                        "the request body is larger than the configured limit",
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
                }
            });
            Ok(ApiJson(bytes.and_then(|b| parse_json(&b))))
        })
    }
}

/// Parses a JSON document into `T`: syntax first (400 for anything that is not one JSON
/// document), then shape (422 with the pointer of the failing field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    serde_path_to_error::deserialize(document).map_err(|err| {
        let pointer = pointer_of(err.path());
        shape_error(pointer, err.into_inner())
    })
}

fn shape_error(pointer: String, err: serde_json::Error) -> ApiError {
    let text = err.to_string();
    let (pointer, message) = if let Some(name) = quoted_after(&text, "unknown field `") {
        (
            join(&pointer, &name),
            "is not an accepted field here (unknown or read-only)".to_owned(),
        )
    } else if let Some(name) = quoted_after(&text, "missing field `") {
        (join(&pointer, &name), "is required".to_owned())
    } else {
        (pointer, text)
    };
    let pointer = if pointer.is_empty() {
        "/".to_owned()
    } else {
        pointer
    };
    ApiError::validation(vec![FieldError::new(pointer, message)])
}

fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.split_once(prefix)?.1;
    Some(rest.split('`').next()?.to_owned())
}

fn join(pointer: &str, name: &str) -> String {
    let escaped = escape(name);
    if pointer.ends_with(&format!("/{escaped}")) {
        pointer.to_owned()
    } else {
        format!("{pointer}/{escaped}")
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", escape(key))),
            Segment::Enum { variant } => out.push_str(&format!("/{}", escape(variant))),
            Segment::Unknown => {}
        }
    }
    out
}

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// `?limit=&cursor=` of every list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Opaque cursor returned as `next_cursor` by the previous page.
    pub cursor: Option<String>,
}

/// A validated page request: items strictly after `after`, at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Page size.
    pub limit: u32,
    /// Last id of the previous page.
    pub after: Option<uuid::Uuid>,
}

impl PageQuery {
    /// Checks the limit and decodes the cursor.
    pub fn page(&self) -> Result<Page, ApiError> {
        let mut errors = Vec::new();
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "/query/limit",
                        "must be an integer from 1 to 500",
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match &self.cursor {
            None => None,
            Some(raw) => match decode_cursor(raw) {
                Some(id) => Some(id),
                None => {
                    errors.push(FieldError::new(
                        "/query/cursor",
                        "is not a cursor returned by this list",
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(Page { limit, after })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Encodes the last id of a page as an opaque cursor.
pub fn encode_cursor(id: uuid::Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(raw: &str) -> Option<uuid::Uuid> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    uuid::Uuid::from_slice(&bytes).ok()
}

/// One page of a list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Paginated<T> {
    /// The items of this page, oldest first.
    pub items: Vec<T>,
    /// Cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Paginated<T> {
    /// Builds a page from up to `limit + 1` rows fetched in id order: the extra row only
    /// tells that a next page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> uuid::Uuid) -> Self {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| encode_cursor(id_of(r)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        lines: Vec<Line>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        price: crate::decimal::UnitPrice,
    }

    fn err(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_400() {
        let e = err("{\"name\": ");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "malformed_json");
        assert_eq!(err(r#"{"name":"a","lines":[]} x"#).code, "malformed_json");
    }

    #[test]
    fn shape_errors_point_at_the_field() {
        let e = err(r#"{"name":"a","lines":[{"price":"1"},{"price":1.5}]}"#);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.errors[0].pointer, "/lines/1/price");
        assert!(e.errors[0].message.contains("not a number"));
        let e = err(r#"{"name":"a","lines":[],"status":"x"}"#);
        assert_eq!(e.errors[0].pointer, "/status");
        let e = err(r#"{"lines":[]}"#);
        assert_eq!(e.errors[0].pointer, "/name");
        assert_eq!(e.errors[0].message, "is required");
        let e = err(r#"{"name":5,"lines":[]}"#);
        assert_eq!(e.errors[0].pointer, "/name");
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_422() {
        let id = uuid::Uuid::now_v7();
        let q = PageQuery {
            limit: Some("3".into()),
            cursor: Some(encode_cursor(id)),
        };
        assert_eq!(
            q.page().unwrap(),
            Page {
                limit: 3,
                after: Some(id)
            }
        );
        for bad in ["0", "501", "-1", "x"] {
            let q = PageQuery {
                limit: Some(bad.into()),
                cursor: None,
            };
            assert_eq!(q.page().unwrap_err().errors[0].pointer, "/query/limit");
        }
        let q = PageQuery {
            limit: None,
            cursor: Some("%%%".into()),
        };
        assert_eq!(q.page().unwrap_err().errors[0].pointer, "/query/cursor");
    }

    #[test]
    fn pages_report_a_next_cursor_only_when_more_rows_exist() {
        let ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
        let p = Paginated::from_rows(ids.clone(), 2, |u| *u);
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.next_cursor, Some(encode_cursor(ids[1])));
        let p = Paginated::from_rows(ids[..2].to_vec(), 2, |u| *u);
        assert_eq!(p.next_cursor, None);
    }
}
