//! Campaign queries. Visibility follows the group's ([`visible_campaigns`]); only the lead of
//! the coordinating member opens and closes campaigns.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{Campaign, CampaignStatus, NewCampaign};
use crate::auth::{Caller, Principal};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiError;
use crate::extract::Page;
use crate::groups::store::visible_groups;
use crate::schema::{campaigns, group_members, groups};
use crate::spelled::Spelled;

/// A stored campaign.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
#[diesel(check_for_backend(MultiBackend))]
pub struct CampaignRow {
    id: DbUuid,
    group_id: DbUuid,
    title: String,
    /// CPV prefixes as a JSON array.
    cpv_scope: String,
    needs_deadline: DbTime,
    /// Stored status (`open` past the deadline is reported closed).
    status: String,
    closed_at: Option<DbTime>,
    created_at: DbTime,
}

/// The campaigns of the groups `caller` may see: admin all, lead those of the groups its
/// member coordinates, officer those of its member's groups, supplier none.
pub fn visible_campaigns(caller: &Caller) -> campaigns::BoxedQuery<'static, MultiBackend> {
    let q = campaigns::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { .. } => led_campaigns(caller),
        Principal::Officer { member_id } => q.filter(
            campaigns::group_id.eq_any(
                group_members::table
                    .filter(group_members::member_id.eq(DbUuid(member_id)))
                    .select(group_members::group_id),
            ),
        ),
        Principal::Supplier { .. } => q.filter(campaigns::id.is_null()),
    }
}

/// The campaigns `caller` leads (lead of the coordinating member); none for other roles.
pub fn led_campaigns(caller: &Caller) -> campaigns::BoxedQuery<'static, MultiBackend> {
    let q = campaigns::table.into_boxed();
    match caller.principal {
        Principal::Lead { member_id } => q.filter(
            campaigns::group_id.eq_any(
                groups::table
                    .filter(groups::coordinator_id.eq(DbUuid(member_id)))
                    .select(groups::id),
            ),
        ),
        _ => q.filter(campaigns::id.is_null()),
    }
}

/// A campaign row turned into the API view, with the status as of `now`.
pub fn to_campaign(row: CampaignRow, now: DateTime<Utc>) -> Result<Campaign, ApiError> {
    let stored = CampaignStatus::from_spelling(&row.status).ok_or_else(|| {
        ApiError::internal(format!("campaign {} has status {:?}", row.id.0, row.status))
    })?;
    let deadline = row.needs_deadline.get();
    Ok(Campaign {
        id: row.id.0,
        group_id: row.group_id.0,
        title: row.title,
        cpv_scope: serde_json::from_str(&row.cpv_scope).map_err(ApiError::internal)?,
        needs_deadline: deadline,
        needs_deadline_local: crate::dates::paris_local(deadline),
        status: stored.effective(deadline, now),
        closed_at: row.closed_at.map(DbTime::get),
        created_at: row.created_at.get(),
    })
}

/// The campaign `id` within `scope`, or 404.
fn find(
    conn: &mut DbConn,
    scope: campaigns::BoxedQuery<'static, MultiBackend>,
    id: Uuid,
) -> Result<CampaignRow, ApiError> {
    scope
        .filter(campaigns::id.eq(DbUuid(id)))
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("campaign"))
}

/// Opens a campaign for group `group_id`, which the caller must lead (else 404).
pub fn insert(
    conn: &mut DbConn,
    caller: &Caller,
    group_id: Uuid,
    c: &NewCampaign,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    let led = match caller.principal {
        Principal::Lead { .. } => visible_groups(caller)
            .filter(groups::id.eq(DbUuid(group_id)))
            .select(groups::id)
            .first::<DbUuid>(conn)
            .optional()?
            .is_some(),
        _ => false,
    };
    if !led {
        return Err(ApiError::not_found("group"));
    }
    let row = CampaignRow {
        id: DbUuid(Uuid::now_v7()),
        group_id: DbUuid(group_id),
        title: c.title.clone(),
        cpv_scope: serde_json::to_string(&c.cpv_scope).map_err(ApiError::internal)?,
        needs_deadline: DbTime::new(c.needs_deadline),
        status: "open".to_owned(),
        closed_at: None,
        created_at: DbTime::new(now),
    };
    diesel::insert_into(campaigns::table)
        .values(&row)
        .execute(conn)?;
    to_campaign(row, now)
}

/// A campaign the caller may see, or 404.
pub fn get(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    let row = find(conn, visible_campaigns(caller), id)?;
    to_campaign(row, now)
}

/// One page of the campaigns the caller may see, optionally of one group.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    group: Option<Uuid>,
    page: Page,
    now: DateTime<Utc>,
) -> Result<Vec<Campaign>, ApiError> {
    let mut q = visible_campaigns(caller)
        .select(CampaignRow::as_select())
        .order(campaigns::id.asc())
        .limit(i64::from(page.limit) + 1);
    if let Some(after) = page.after {
        q = q.filter(campaigns::id.gt(DbUuid(after)));
    }
    if let Some(g) = group {
        q = q.filter(campaigns::group_id.eq(DbUuid(g)));
    }
    q.load::<CampaignRow>(conn)?
        .into_iter()
        .map(|r| to_campaign(r, now))
        .collect()
}

/// Closes a campaign early (lead). Already closed or frozen: unchanged.
pub fn close(
    conn: &mut DbConn,
    caller: &Caller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    let mut row = find(conn, led_campaigns(caller), id)?;
    let campaign = to_campaign(row.clone(), now)?;
    if campaign.status != CampaignStatus::Open || row.status != "open" {
        return Ok(campaign);
    }
    diesel::update(campaigns::table.filter(campaigns::id.eq(DbUuid(id))))
        .set((
            campaigns::status.eq("closed"),
            campaigns::closed_at.eq(Some(DbTime::new(now))),
        ))
        .execute(conn)?;
    row.status = "closed".to_owned();
    row.closed_at = Some(DbTime::new(now));
    to_campaign(row, now)
}
