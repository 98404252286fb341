//! Campaign queries. Visibility follows the group's ([`visible_campaigns`]); only the lead of
//! the coordinating member opens and closes campaigns. Other features scope by campaign
//! through [`led_campaign_ids`] and [`get`].

use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;

use super::cache::CampaignCache;
use super::domain::{Campaign, CampaignStatus, NewCampaign};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, Lead, Principal};
use crate::db::batch::Batch;
use crate::db::types::{DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiError;
use crate::groups::store::{group_ids_of_member, is_led_by, led_group_ids, LedGroupIds};
use crate::ids::{CampaignId, GroupId, MemberId};
use crate::members::store::member_code_of;
use crate::pagination::{keyset, Page};
use crate::schema::campaigns;

/// A stored campaign (every column is written at creation, so it is also the insert value).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
#[diesel(check_for_backend(MultiBackend))]
struct CampaignRow {
    id: CampaignId,
    group_id: GroupId,
    title: String,
    cpv_scope: DbJson<Vec<String>>,
    needs_deadline: DbTime,
    /// Stored status (`open` past the deadline is reported closed).
    status: CampaignStatus,
    closed_at: Option<DbTime>,
    created_at: DbTime,
    /// 1–48 (a CHECK constraint on both backends).
    contract_months: i32,
}

impl CampaignRow {
    /// The API view, with the status as of `now` (the deadline is applied on read).
    fn into_view(self, now: DateTime<Utc>) -> Campaign {
        let deadline = self.needs_deadline.get();
        Campaign {
            id: self.id,
            group_id: self.group_id,
            title: self.title,
            cpv_scope: self.cpv_scope.0,
            needs_deadline: deadline,
            needs_deadline_local: crate::dates::paris_local(deadline),
            status: self.status.effective(deadline, now),
            closed_at: self.closed_at.map(DbTime::get),
            created_at: self.created_at.get(),
            contract_months: u32::try_from(self.contract_months).unwrap_or(12),
        }
    }
}

/// The campaigns of the groups `caller` may see: admin all, lead those of the groups its
/// member coordinates, officer those of its member's groups, supplier none.
pub fn visible_campaigns(caller: &Caller) -> campaigns::BoxedQuery<'static, MultiBackend> {
    let q = campaigns::table.into_boxed();
    match caller.principal {
        Principal::Admin => q,
        Principal::Lead { member_id } => {
            q.filter(campaigns::group_id.eq_any(led_group_ids(member_id)))
        }
        Principal::Officer { member_id } => {
            q.filter(campaigns::group_id.eq_any(group_ids_of_member(member_id)))
        }
        Principal::Supplier { .. } => q.filter(campaigns::id.is_null()),
    }
}

/// Ids of the campaigns of the groups a member coordinates: a subquery for other features'
/// scopes (not boxed, so it can be nested).
pub type LedCampaignIds = dsl::Select<
    dsl::Filter<campaigns::table, dsl::EqAny<campaigns::group_id, LedGroupIds>>,
    campaigns::id,
>;

/// Ids of the campaigns of the groups `lead_member` coordinates.
pub fn led_campaign_ids(lead_member: MemberId) -> LedCampaignIds {
    campaigns::table
        .filter(campaigns::group_id.eq_any(led_group_ids(lead_member)))
        .select(campaigns::id)
}

/// The campaign `id` within `scope`, or 404.
fn find(
    conn: &mut DbConn,
    scope: campaigns::BoxedQuery<'static, MultiBackend>,
    id: CampaignId,
) -> Result<CampaignRow, ApiError> {
    scope
        .filter(campaigns::id.eq(id))
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("campaign"))
}

/// Opens a campaign for group `group_id`, which `lead_member` must coordinate (else 404).
pub fn insert(
    conn: &mut DbConn,
    lead: &Lead,
    group_id: GroupId,
    c: &NewCampaign,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    if !is_led_by(conn, group_id, lead.member)? {
        return Err(ApiError::not_found("group"));
    }
    let row = CampaignRow {
        id: CampaignId::new(),
        group_id,
        title: c.title.clone(),
        cpv_scope: DbJson(c.cpv_scope.clone()),
        needs_deadline: DbTime::new(c.needs_deadline),
        status: CampaignStatus::Open,
        closed_at: None,
        created_at: DbTime::new(now),
        contract_months: i32::try_from(c.contract_months).unwrap_or(12),
    };
    diesel::insert_into(campaigns::table)
        .values(&row)
        .execute(conn)?;
    let campaign = row.into_view(now);
    audit::record(
        conn,
        &Actor::from(&lead.caller),
        Change {
            action: Action::CampaignOpened,
            entity_type: EntityType::Campaign,
            entity_id: campaign.id.0,
            group_id: Some(group_id),
            data: &campaign,
        },
        now,
    )?;
    Ok(campaign)
}

/// A campaign the caller may see, or 404.
pub fn get(
    conn: &mut DbConn,
    caller: &Caller,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    Ok(find(conn, visible_campaigns(caller), id)?.into_view(now))
}

/// A campaign of a group `member` belongs to (what its officers may reach), or 404, with the
/// member's code. The same scope as [`get`] for an officer, as one statement of fixed shape,
/// prepared once per connection (a boxed query's SQL is rebuilt on every call): the hot path
/// of creating a need reads its campaign in one round trip. It holds nothing: a draft need
/// created while its campaign closes is ordered before the close (see `needs::store::create`).
pub fn get_for_member(
    conn: &mut DbConn,
    member: MemberId,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<(Campaign, Option<String>), ApiError> {
    let (row, code): (CampaignRow, Option<String>) = campaigns::table
        .filter(campaigns::id.eq(id))
        .filter(campaigns::group_id.eq_any(group_ids_of_member(member)))
        .select((CampaignRow::as_select(), member_code_of!(member)))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    Ok((row.into_view(now), code))
}

/// A campaign as [`get_open_for_member`] found it.
#[derive(Debug, Clone)]
pub struct ForWrite {
    /// The campaign, with its status as of the request (a kept one is assumed still open
    /// until its deadline: the write's condition checks it).
    pub campaign: Campaign,
    /// The member's code.
    pub member_code: Option<String>,
    /// True when it came from the cache: a refusal based on it should be confirmed by
    /// reading the campaign (see `needs::store::create`).
    pub kept: bool,
}

/// [`get_for_member`] for a write into the campaign that sends its rows as one `batch`,
/// through `cache` (see [`super::cache`]). A campaign an officer of `member` read open before
/// is taken from the cache (no statement); otherwise, or when the batch
/// [`rechecks`](Batch::rechecks) after a failed condition, it is read and kept if open.
/// Either way the batch is made conditional on the campaign being still open, in a group of
/// `member`, when its statement runs ([`Batch::only_if`]); on PostgreSQL the condition takes
/// the campaign's row with `FOR KEY SHARE`, so a write racing a close or freeze waits for it
/// and then finds the campaign closed (the rows' foreign-key check takes the same lock).
pub fn get_open_for_member(
    conn: &mut DbConn,
    batch: &mut Batch,
    cache: &CampaignCache,
    member: MemberId,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<ForWrite, ApiError> {
    let open_to_member = || {
        campaigns::table
            .filter(campaigns::id.eq(id))
            .filter(campaigns::status.eq(CampaignStatus::Open))
            .filter(campaigns::group_id.eq_any(group_ids_of_member(member)))
            .select(campaigns::id)
    };
    batch.only_if(
        diesel::select(dsl::exists(open_to_member().for_key_share())),
        diesel::select(dsl::exists(open_to_member())),
    );
    if batch.rechecks() {
        cache.forget(member, id);
    } else if let Some((campaign, member_code)) = cache.get(member, id, now) {
        return Ok(ForWrite {
            campaign,
            member_code,
            kept: true,
        });
    }
    let (campaign, member_code) = get_for_member(conn, member, id, now)?;
    cache.put(member, &campaign, member_code.clone());
    Ok(ForWrite {
        campaign,
        member_code,
        kept: false,
    })
}

/// A campaign the lead of `lead_member` runs, or 404.
pub fn get_led(
    conn: &mut DbConn,
    lead_member: MemberId,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    let scope = campaigns::table
        .filter(campaigns::group_id.eq_any(led_group_ids(lead_member)))
        .into_boxed();
    Ok(find(conn, scope, id)?.into_view(now))
}

/// One page of the campaigns the caller may see, optionally of one group.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    group: Option<GroupId>,
    page: Page,
    now: DateTime<Utc>,
) -> Result<Vec<Campaign>, ApiError> {
    let mut q = visible_campaigns(caller).select(CampaignRow::as_select());
    if let Some(g) = group {
        q = q.filter(campaigns::group_id.eq(g));
    }
    let rows: Vec<CampaignRow> = keyset(q, campaigns::id, page).load(conn)?;
    Ok(rows.into_iter().map(|r| r.into_view(now)).collect())
}

pub use crate::db::Hold;

/// Locks campaign `id` for the rest of the caller's transaction, so that a need submitted
/// while the campaign is being closed either commits before the close or sees it closed:
/// changing one of its needs holds it shared (many at once, not while it closes); closing it
/// holds it exclusively (waits for the need changes under way).
pub fn hold(conn: &mut DbConn, id: CampaignId, mode: Hold) -> QueryResult<()> {
    crate::db::lock_on_postgres(conn, |pg| {
        let row = campaigns::table
            .filter(campaigns::id.eq(id))
            .select(campaigns::id);
        let _: Vec<CampaignId> = match mode {
            Hold::Shared => row.for_share().load(pg)?,
            Hold::Exclusive => row.for_update().load(pg)?,
        };
        Ok(())
    })
}

/// Freezes campaign `id` (a tender was created from it): its needs can no longer change.
/// Call after [`get_led`] and [`hold`]`(Exclusive)` in the same transaction.
pub fn freeze(conn: &mut DbConn, id: CampaignId) -> QueryResult<usize> {
    diesel::update(
        campaigns::table
            .filter(campaigns::id.eq(id))
            .filter(campaigns::status.ne(CampaignStatus::Frozen)),
    )
    .set(campaigns::status.eq(CampaignStatus::Frozen))
    .execute(conn)
}

/// Closes a campaign early (lead). Already closed or frozen: unchanged. The update is
/// conditional on the stored status, so concurrent closes change the row once.
pub fn close(
    conn: &mut DbConn,
    lead: &Lead,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    hold(conn, id, Hold::Exclusive)?;
    let campaign = get_led(conn, lead.member, id, now)?;
    if campaign.status != CampaignStatus::Open {
        return Ok(campaign);
    }
    let closed = diesel::update(
        campaigns::table
            .filter(campaigns::id.eq(id))
            .filter(campaigns::status.eq(CampaignStatus::Open)),
    )
    .set((
        campaigns::status.eq(CampaignStatus::Closed),
        campaigns::closed_at.eq(Some(DbTime::new(now))),
    ))
    .execute(conn)?;
    let campaign = get_led(conn, lead.member, id, now)?;
    if closed == 1 {
        audit::record(
            conn,
            &Actor::from(&lead.caller),
            Change {
                action: Action::CampaignClosed,
                entity_type: EntityType::Campaign,
                entity_id: id.0,
                group_id: Some(campaign.group_id),
                data: &serde_json::json!({"status": campaign.status, "closed_at": campaign.closed_at}),
            },
            now,
        )?;
    }
    Ok(campaign)
}

/// Campaigns still open whose deadline falls in `(now, horizon]` (for reminders).
pub fn open_with_deadline_within(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> QueryResult<Vec<Campaign>> {
    let rows: Vec<CampaignRow> = campaigns::table
        .filter(campaigns::status.eq(CampaignStatus::Open))
        .filter(campaigns::needs_deadline.gt(DbTime::new(now)))
        .filter(campaigns::needs_deadline.le(DbTime::new(horizon)))
        .select(CampaignRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| r.into_view(now)).collect())
}
