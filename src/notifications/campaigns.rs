//! The campaign notices: *campagne ouverte* to every member when a campaign opens, and a
//! reminder before the deadline to members that have submitted nothing (once each).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::store::{enqueue, exists_dedup, NewMail};
use super::templates::{campaign_opened, campaign_reminder, CampaignNotice};
use crate::campaigns::domain::Campaign;
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::schema::{campaigns, group_members, groups, members, needs};

/// (member id, legal name, contact e-mail) of a group's members.
fn group_members_of(
    conn: &mut DbConn,
    group_id: Uuid,
) -> Result<Vec<(DbUuid, String, String)>, ApiError> {
    Ok(group_members::table
        .inner_join(members::table)
        .filter(group_members::group_id.eq(DbUuid(group_id)))
        .select((members::id, members::legal_name, members::contact_email))
        .order(members::code.asc())
        .load(conn)?)
}

fn group_name(conn: &mut DbConn, group_id: Uuid) -> Result<String, ApiError> {
    Ok(groups::table
        .filter(groups::id.eq(DbUuid(group_id)))
        .select(groups::name)
        .first(conn)?)
}

/// Enqueues the opening notice for every member of the campaign's group, in the caller's
/// transaction. Returns the number of messages.
pub fn enqueue_opened(
    conn: &mut DbConn,
    c: &Campaign,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let group = group_name(conn, c.group_id)?;
    let recipients = group_members_of(conn, c.group_id)?;
    for (_, legal_name, email) in &recipients {
        let r = campaign_opened(&CampaignNotice {
            group_name: group.clone(),
            campaign_title: c.title.clone(),
            campaign_id: c.id,
            deadline: c.needs_deadline,
            cpv_scope: c.cpv_scope.clone(),
            member_name: legal_name.clone(),
        })?;
        let mail = NewMail {
            kind: "campaign_opened",
            to: email.clone(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            dedup_key: None,
        };
        enqueue(conn, &mail, domain, now)?;
    }
    Ok(recipients.len())
}

/// Enqueues the reminders that are due at `now`: for every open campaign whose deadline is
/// within `days_before` days, each member of its group with no submitted need gets one
/// reminder, never two (the dedup key is unique in the table). Returns the number enqueued.
pub fn enqueue_due_reminders(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    days_before: u32,
    domain: &str,
) -> Result<usize, ApiError> {
    if days_before == 0 {
        return Ok(0);
    }
    let horizon = now + chrono::Duration::days(i64::from(days_before));
    let due: Vec<(DbUuid, DbUuid, String, String, DbTime)> = campaigns::table
        .filter(campaigns::status.eq("open"))
        .filter(campaigns::needs_deadline.gt(DbTime::new(now)))
        .filter(campaigns::needs_deadline.le(DbTime::new(horizon)))
        .select((
            campaigns::id,
            campaigns::group_id,
            campaigns::title,
            campaigns::cpv_scope,
            campaigns::needs_deadline,
        ))
        .load(conn)?;
    let mut count = 0;
    for (campaign_id, group_id, title, scope, deadline) in due {
        let scope: Vec<String> = serde_json::from_str(&scope).map_err(ApiError::internal)?;
        let group = group_name(conn, group_id.0)?;
        for (member_id, legal_name, email) in group_members_of(conn, group_id.0)? {
            let key = format!("campaign_reminder:{}:{}", campaign_id.0, member_id.0);
            if exists_dedup(conn, &key)? {
                continue;
            }
            let submitted: i64 = needs::table
                .filter(needs::campaign_id.eq(campaign_id))
                .filter(needs::member_id.eq(member_id))
                .filter(needs::status.eq_any(["submitted", "consolidated"]))
                .count()
                .get_result(conn)?;
            if submitted > 0 {
                continue;
            }
            let r = campaign_reminder(&CampaignNotice {
                group_name: group.clone(),
                campaign_title: title.clone(),
                campaign_id: campaign_id.0,
                deadline: deadline.get(),
                cpv_scope: scope.clone(),
                member_name: legal_name,
            })?;
            let mail = NewMail {
                kind: "campaign_reminder",
                to: email,
                subject: r.subject,
                text: r.text,
                html: r.html,
                dedup_key: Some(key),
            };
            enqueue(conn, &mail, domain, now)?;
            count += 1;
        }
    }
    Ok(count)
}
