//! Lists: one extractor for `?limit=&cursor=` plus a feature's own filters ([`ListQuery`]), one
//! helper that applies keyset pagination to any boxed query ([`keyset`]), and the page shape
//! ([`Paginated`]).
//!
//! Ids are UUID v7, so id order is creation order: a page is `WHERE id > cursor ORDER BY id
//! LIMIT limit + 1`; the extra row only tells that a next page exists.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use diesel::dsl;
use diesel::query_dsl::methods::{FilterDsl, LimitDsl, OrderDsl};
use diesel::ExpressionMethods;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use crate::db::types::{sql::Uid, DbUuid};
use crate::error::{ApiError, FieldError};

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// `?limit=&cursor=` of every list, as documented in the OpenAPI document (`params(PageQuery)`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Opaque cursor returned as `next_cursor` by the previous page (22 URL-safe base64
    /// characters); an empty `cursor` is the same as none: the first page.
    #[param(pattern = r"^([A-Za-z0-9_-]{22})?$")]
    pub cursor: Option<String>,
}

/// A validated page request: items strictly after `after`, at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Page size.
    pub limit: u32,
    /// Last id of the previous page.
    pub after: Option<Uuid>,
}

impl Page {
    /// Cuts `rows` (fetched by [`keyset`]: up to `limit + 1`) to this page and returns the
    /// next page when there is one.
    pub fn split<T, I: Into<Uuid>>(
        self,
        rows: &mut Vec<T>,
        id_of: impl Fn(&T) -> I,
    ) -> Option<Page> {
        if rows.len() <= self.limit as usize {
            return None;
        }
        rows.truncate(self.limit as usize);
        rows.last().map(|r| Page {
            limit: self.limit,
            after: Some(id_of(r).into()),
        })
    }
}

impl PageQuery {
    /// Checks the limit and decodes the cursor.
    pub fn page(&self) -> Result<Page, ApiError> {
        let mut errors = Vec::new();
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n)
                    if (1..=MAX_LIMIT).contains(&n) && raw.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    n
                }
                _ => {
                    errors.push(FieldError::new(
                        "/query/limit",
                        "must be an integer from 1 to 500",
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
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

/// A list request: the page and the feature's own filters `F` (a `Deserialize` struct with
/// `deny_unknown_fields`, every field optional; use `NoFilter` for none). Any query parameter
/// that is neither `limit`, `cursor` nor a field of `F` is a 422 naming it.
#[derive(Debug, Clone)]
pub struct ListQuery<F> {
    /// The page asked for.
    pub page: Page,
    /// The feature's filters, as sent (the feature validates their values).
    pub filter: F,
}

/// No filter beyond the page.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilter {}

impl<F: DeserializeOwned> ListQuery<F> {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::invalid_field("/query", format!("invalid query string: {e}")))?;
        let mut page = PageQuery::default();
        let mut rest = Vec::new();
        let mut errors = Vec::new();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "limit" => &mut page.limit,
                "cursor" => &mut page.cursor,
                _ => {
                    rest.push((name, value));
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                errors.push(FieldError::new(
                    format!("/query/{name}"),
                    "is given more than once",
                ));
            }
        }
        let filter = serde_urlencoded::to_string(&rest)
            .ok()
            .and_then(|encoded| serde_urlencoded::from_str::<F>(&encoded).ok());
        let filter = match filter {
            Some(f) => Some(f),
            None => {
                errors.push(filter_error::<F>(&rest));
                None
            }
        };
        let page = match page.page() {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e.errors);
                None
            }
        };
        match (page, filter) {
            (Some(page), Some(filter)) if errors.is_empty() => Ok(Self { page, filter }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// Names the first parameter that `F` refuses: unknown, repeated or of the wrong form.
fn filter_error<F: DeserializeOwned>(rest: &[(String, String)]) -> FieldError {
    for (i, (name, _)) in rest.iter().enumerate() {
        let alone = serde_urlencoded::to_string(&rest[i..=i]).unwrap_or_default();
        if serde_urlencoded::from_str::<F>(&alone).is_err() {
            return FieldError::new(
                format!("/query/{name}"),
                "is not a filter of this list (or its value has the wrong form)",
            );
        }
        if rest[..i].iter().any(|(n, _)| n == name) {
            return FieldError::new(format!("/query/{name}"), "is given more than once");
        }
    }
    FieldError::new("/query", "invalid query parameters")
}

impl<F: DeserializeOwned> FromRequest for ListQuery<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

/// Applies keyset pagination on the id column `col` to a boxed query: rows after the cursor,
/// in id order, at most `limit + 1` of them (feed the result to [`Paginated::from_rows`]).
pub fn keyset<Q, C>(query: Q, col: C, page: Page) -> Q
where
    C: ExpressionMethods + diesel::Expression<SqlType = Uid> + Copy,
    Q: FilterDsl<dsl::Gt<C, DbUuid>, Output = Q>
        + OrderDsl<dsl::Asc<C>, Output = Q>
        + LimitDsl<Output = Q>,
{
    let query = match page.after {
        Some(after) => FilterDsl::filter(query, col.gt(DbUuid(after))),
        None => query,
    };
    let query = OrderDsl::order(query, col.asc());
    LimitDsl::limit(query, i64::from(page.limit) + 1)
}

/// Encodes the last id of a page as an opaque cursor.
pub fn encode_cursor(id: Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// Decodes a cursor: any 22 URL-safe base64 characters are 16 bytes, i.e. some id to start
/// after (the unused low bits of the last character are ignored), so every cursor the
/// documented pattern allows is accepted.
fn decode_cursor(raw: &str) -> Option<Uuid> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    if raw.len() != 22 {
        return None;
    }
    let bytes = LENIENT.decode(raw).ok()?;
    Uuid::from_slice(&bytes).ok()
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
    /// Builds a page from up to `limit + 1` rows fetched by [`keyset`]: the extra row only
    /// tells that a next page exists.
    pub fn from_rows<I: Into<Uuid>>(mut rows: Vec<T>, page: Page, id_of: impl Fn(&T) -> I) -> Self {
        let next_cursor = page
            .split(&mut rows, id_of)
            .and_then(|next| next.after)
            .map(encode_cursor);
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Filter {
        status: Option<String>,
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_422() {
        let id = Uuid::now_v7();
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
        // Every cursor of the documented form is accepted; empty means the first page.
        for ok in [
            "AAAAAAAAAAAAAAAAAAAAAA",
            "zzzzzzzzzzzzzzzzzzzzz_",
            "-_-_-_-_-_-_-_-_-_-_-A",
        ] {
            let q = PageQuery {
                limit: None,
                cursor: Some(ok.into()),
            };
            assert!(q.page().unwrap().after.is_some(), "{ok}");
        }
        let q = PageQuery {
            limit: Some("+5".into()),
            cursor: Some(String::new()),
        };
        assert_eq!(
            q.page().unwrap_err().errors.len(),
            1,
            "only the signed limit is refused"
        );
    }

    #[test]
    fn list_query_reads_page_and_filters_and_names_unknown_parameters() {
        let q = ListQuery::<Filter>::parse("status=open&limit=2").unwrap();
        assert_eq!(q.page.limit, 2);
        assert_eq!(q.filter.status.as_deref(), Some("open"));
        let q = ListQuery::<Filter>::parse("").unwrap();
        assert_eq!(
            q.page,
            Page {
                limit: 50,
                after: None
            }
        );
        assert_eq!(q.filter, Filter { status: None });
        let e = ListQuery::<Filter>::parse("status=open&colour=red").unwrap_err();
        assert_eq!(e.errors[0].pointer, "/query/colour");
        let e = ListQuery::<NoFilter>::parse("limit=0&x=1").unwrap_err();
        let pointers: Vec<&str> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(pointers, ["/query/x", "/query/limit"]);
        let e = ListQuery::<NoFilter>::parse("limit=1&limit=2").unwrap_err();
        assert_eq!(e.errors[0].pointer, "/query/limit");
    }

    #[test]
    fn pages_report_a_next_cursor_only_when_more_rows_exist() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page {
            limit: 2,
            after: None,
        };
        let p = Paginated::from_rows(ids.clone(), page, |u| *u);
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.next_cursor, Some(encode_cursor(ids[1])));
        let p = Paginated::from_rows(ids[..2].to_vec(), page, |u| *u);
        assert_eq!(p.next_cursor, None);
    }
}
