//! The strict JSON body extractor shared by every handler (lists: [`crate::pagination`]).
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
    let document: serde_json::Value = serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| {
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

/// A JSON document read like `serde_json::Value`, except that an object with the same key twice
/// is refused (serde_json would silently keep the last one, so two readers of the same body
/// could disagree on what it says).
struct Strict(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // Kept only so the shape check can name the field: decimals must be strings.
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

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
        let dup = err(r#"{"name":"a","lines":[{"price":"1","price":"2"}]}"#);
        assert_eq!(dup.code, "malformed_json");
        assert!(
            dup.detail.contains("duplicate key \"price\""),
            "{}",
            dup.detail
        );
        assert_eq!(
            err(r#"{"name":"a","name":"b","lines":[]}"#).code,
            "malformed_json"
        );
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
}
