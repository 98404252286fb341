//! Makes the generated OpenAPI document tell the truth about errors: every operation lists
//! every status it can answer, each error as `application/problem+json` with the
//! [`Problem`](crate::error::Problem) schema, whatever its handler's `#[utoipa::path]` declared.
//!
//! Which statuses apply follows from what the service does to every request (see
//! `docs/api.md`): the 415 and 503 of any request; the 401 and 403 of `/api/v1`; the 404 of a
//! path with an id; the 400, 409 and 413 of a `POST`/`PATCH` (malformed JSON or
//! `Idempotency-Key`, key races, body limit); the 422 of anything with parameters or a body.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::error::PROBLEM_JSON;

/// What each error status means, with its `code` values.
const STATUSES: [(&str, &str); 10] = [
    ("400", "`malformed_json` (not one JSON document, or a repeated key), `bad_request` (an unreadable body), `invalid_idempotency_key`"),
    ("401", "`unauthenticated`: no, unknown, revoked or expired token"),
    ("403", "`forbidden`: the token's role may not do this"),
    ("404", "`not_found`: no such resource, a malformed id, or one outside the caller's scope"),
    ("409", "a state conflict: `invalid_state`, `campaign_closed`, `campaign_frozen`, `member_code_taken`, `supplier_siret_taken`, `supplier_identifier_taken`, `already_exists`, `tender_reference_taken`, `need_in_another_tender`, `campaign_open`, `convention_unsigned`, `bids_sealed`, `deadline_passed`, `idempotency_key_in_use`, `idempotent_replay_unavailable`, `write_condition_changed`"),
    ("413", "`payload_too_large`: body over the configured limit"),
    ("415", "`unsupported_media_type` (not JSON), `unsupported_content_encoding` (compressed body)"),
    ("422", "`validation_failed` with `errors[]` naming each field (at most 20), or `idempotency_key_reused`"),
    ("500", "`internal_error`: a bug, logged; nothing about it is sent"),
    ("503", "`database_unavailable`, `database_busy`, `not_ready`; retry after `Retry-After` seconds"),
];

fn description(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("an error (problem+json)", |(_, d)| d)
}

fn problem_response(status: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description(status))
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// The statuses `method path` can answer besides its successes.
fn error_statuses(method: &str, path: &str, op: &Operation) -> Vec<&'static str> {
    let api = path.starts_with("/api/");
    let writes = matches!(method, "post" | "put" | "patch");
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut statuses = vec!["415", "500", "503"];
    if api {
        statuses.extend(["401", "403"]);
    }
    if path.contains('{') {
        statuses.push("404");
    }
    if writes {
        statuses.extend(["400", "409", "413"]);
    }
    if writes || has_params || op.request_body.is_some() {
        statuses.push("422");
    }
    statuses
}

/// Completes the document: every error response of every operation is problem+json, and
/// every status the service can answer is listed.
pub fn complete(mut api: OpenApi) -> OpenApi {
    for (path, item) in api.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let statuses = error_statuses(method, path, op);
            let responses = &mut op.responses.responses;
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    *response = problem_response(status);
                }
            }
            for status in statuses {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(status));
            }
        }
    }
    api
}
