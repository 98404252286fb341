//! `GET /api/v1/audit`, `GET /api/v1/audit/head` (admin: everything; lead: its groups).

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::domain::Action;
use super::store::{self, AuditEvent, AuditFilter, Head};
use crate::auth::AdminOrLead;
use crate::error::{ApiError, Problem};
use crate::pagination::{ListQuery, PageQuery, Paginated};
use crate::spelled::Spelled;
use crate::state::AppState;
use crate::validate::Checks;

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events about this object (its id).
    #[param(value_type = Option<String>, format = Uuid)]
    pub entity: Option<String>,
    /// Events made with this token (its id).
    #[param(value_type = Option<String>, format = Uuid)]
    pub actor: Option<String>,
    /// Events of this action, e.g. `need.submitted`.
    #[param(value_type = Option<Action>)]
    pub action: Option<String>,
    /// Recorded at or after this instant (RFC 3339; outside 2000–2199: the edge of that range).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Recorded before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let mut c = Checks::new();
        let mut uuid = |raw: &Option<String>, pointer: &str| {
            raw.as_deref().and_then(|s| {
                let id = uuid::Uuid::parse_str(s).ok();
                c.check(id.is_some(), pointer, "must be a UUID");
                id
            })
        };
        let entity = uuid(&self.entity, "/query/entity");
        let actor = uuid(&self.actor, "/query/actor").map(crate::ids::TokenId);
        let mut instant = |raw: &Option<String>, pointer: &str| {
            raw.as_deref().and_then(|s| {
                let t = crate::dates::parse_bound(s);
                c.check(
                    t.is_some(),
                    pointer,
                    "must be an RFC 3339 date-time with offset",
                );
                t
            })
        };
        let from = instant(&self.from, "/query/from");
        let to = instant(&self.to, "/query/to");
        let action = self.action.as_deref().and_then(|s| {
            let a = Action::from_spelling(s);
            c.check(
                a.is_some(),
                "/query/action",
                "must be one of the documented actions",
            );
            a
        });
        c.finish()?;
        Ok(AuditFilter {
            entity,
            actor,
            action,
            from,
            to,
        })
    }
}

/// The journal, oldest first: every event to an admin, the events of its groups to a lead.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery, PageQuery),
    responses((status = 200, body = Paginated<AuditEvent>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: AdminOrLead,
    query: ListQuery<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let AdminOrLead(caller) = caller;
    let ListQuery { page, filter } = query;
    let filter = filter.filter()?;
    let rows = state
        .db
        .read(move |conn| store::list(conn, &caller, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(Paginated::from_rows(rows, page, |e| e.id)))
}

/// The latest sealed sequence number and hash of the chain (keep it elsewhere: a later
/// `tenderpool audit verify` against it detects any rewrite), and how many events wait to be
/// sealed.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = Head), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/audit/head")]
pub async fn audit_head(
    state: web::Data<AppState>,
    _caller: AdminOrLead,
) -> Result<HttpResponse, ApiError> {
    let head = state
        .db
        .read(|conn| store::head(conn).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(head))
}
