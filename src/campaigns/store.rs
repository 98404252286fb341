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

/// id, group, title, scope (JSON), deadline, stored status, closed at, created at.
pub type CampaignRow = (
    DbUuid,
    DbUuid,
    String,
    String,
    DbTime,
    String,
    Option<DbTime>,
    DbTime,
);

/// The selected columns of a campaign.
pub const COLUMNS: (
    campaigns::id,
    campaigns::group_id,
    campaigns::title,
    campaigns::cpv_scope,
    campaigns::needs_deadline,
    campaigns::status,
    campaigns::closed_at,
    campaigns::created_at,
) = (
    campaigns::id,
    campaigns::group_id,
    campaigns::title,
    campaigns::cpv_scope,
    campaigns::needs_deadline,
    campaigns::status,
    campaigns::closed_at,
    campaigns::created_at,
);

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
    let (id, group_id, title, scope, deadline, status, closed_at, created_at) = row;
    let stored = CampaignStatus::parse(&status)
        .ok_or_else(|| ApiError::internal(format!("campaign {} has status {status:?}", id.0)))?;
    Ok(Campaign {
        id: id.0,
        group_id: group_id.0,
        title,
        cpv_scope: serde_json::from_str(&scope).map_err(ApiError::internal)?,
        needs_deadline: deadline.get(),
        needs_deadline_local: crate::dates::paris_local(deadline.get()),
        status: stored.effective(deadline.get(), now),
        closed_at: closed_at.map(DbTime::get),
        created_at: created_at.get(),
    })
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
    let id = Uuid::now_v7();
    let scope = serde_json::to_string(&c.cpv_scope).map_err(ApiError::internal)?;
    let row: CampaignRow = (
        DbUuid(id),
        DbUuid(group_id),
        c.title.clone(),
        scope,
        DbTime::new(c.needs_deadline),
        "open".to_owned(),
        None,
        DbTime::new(now),
    );
    diesel::insert_into(campaigns::table)
        .values((
            campaigns::id.eq(row.0),
            campaigns::group_id.eq(row.1),
            campaigns::title.eq(&row.2),
            campaigns::cpv_scope.eq(&row.3),
            campaigns::needs_deadline.eq(row.4),
            campaigns::status.eq(&row.5),
            campaigns::closed_at.eq(row.6),
            campaigns::created_at.eq(row.7),
        ))
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
    let row: CampaignRow = visible_campaigns(caller)
        .filter(campaigns::id.eq(DbUuid(id)))
        .select(COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
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
        .select(COLUMNS)
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
    let row: CampaignRow = led_campaigns(caller)
        .filter(campaigns::id.eq(DbUuid(id)))
        .select(COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    let campaign = to_campaign(row.clone(), now)?;
    if campaign.status != CampaignStatus::Open || row.5 != "open" {
        return Ok(campaign);
    }
    diesel::update(campaigns::table.filter(campaigns::id.eq(DbUuid(id))))
        .set((
            campaigns::status.eq("closed"),
            campaigns::closed_at.eq(Some(DbTime::new(now))),
        ))
        .execute(conn)?;
    let (a, b, c, d, e, _, _, h) = row;
    to_campaign(
        (
            a,
            b,
            c,
            d,
            e,
            "closed".to_owned(),
            Some(DbTime::new(now)),
            h,
        ),
        now,
    )
}
