//! The campaign's notices: *campagne ouverte* to every member when a campaign opens, and a
//! reminder before the deadline to members that have submitted nothing (once each).
//!
//! The campaign feature owns these mails: it renders them and enqueues them through the
//! outbox API, reaching groups and needs only through their stores' public functions.

use chrono::{DateTime, Utc};

use super::domain::Campaign;
use super::store;
use crate::dates::french_datetime;
use crate::db::DbConn;
use crate::ids::CampaignId;
use crate::notice_templates;
use crate::notifications::domain::MailKind;
use crate::notifications::store::{enqueue, exists_dedup, NewMail};
use crate::notifications::templates::Rendered;
use crate::notifications::MailError;

/// Campaign opened / reminder.
#[derive(Debug, Clone)]
pub struct CampaignNotice {
    /// Group name.
    pub group_name: String,
    /// Campaign title.
    pub campaign_title: String,
    /// Campaign id.
    pub campaign_id: CampaignId,
    /// Needs deadline.
    pub deadline: DateTime<Utc>,
    /// CPV prefixes of the campaign.
    pub cpv_scope: Vec<String>,
    /// Addressed member's legal name.
    pub member_name: String,
}

impl CampaignNotice {
    fn deadline_fr(&self) -> String {
        french_datetime(self.deadline)
    }
}

notice_templates!(CampaignNotice, OpenedText => "mail/campaign_opened.txt", OpenedHtml => "mail/campaign_opened.html");
notice_templates!(CampaignNotice, ReminderText => "mail/campaign_reminder.txt", ReminderHtml => "mail/campaign_reminder.html");

/// *Campagne ouverte*: to every member of the group when the lead opens a campaign.
pub fn campaign_opened(n: &CampaignNotice) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Recensement des besoins ouvert : {} (jusqu'au {})",
        n.group_name,
        n.campaign_title,
        n.deadline_fr()
    );
    crate::notifications::templates::render(subject, &OpenedText { n }, &OpenedHtml { n })
}

/// *Rappel*: before the deadline, to members that have submitted nothing.
pub fn campaign_reminder(n: &CampaignNotice) -> Result<Rendered, askama::Error> {
    let subject = format!(
        "[{}] Rappel : le recensement « {} » se termine le {}",
        n.group_name,
        n.campaign_title,
        n.deadline_fr()
    );
    crate::notifications::templates::render(subject, &ReminderText { n }, &ReminderHtml { n })
}

/// Enqueues the opening notice for every member of the campaign's group, in the caller's
/// transaction. Returns the number of messages.
pub fn enqueue_opened(
    conn: &mut DbConn,
    c: &Campaign,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<usize, MailError> {
    let group = crate::groups::store::notice_recipients(conn, c.group_id)?;
    for member in &group.members {
        let r = campaign_opened(&CampaignNotice {
            group_name: group.name.clone(),
            campaign_title: c.title.clone(),
            campaign_id: c.id,
            deadline: c.needs_deadline,
            cpv_scope: c.cpv_scope.clone(),
            member_name: member.legal_name.clone(),
        })?;
        let mail = NewMail {
            kind: MailKind::CampaignOpened,
            to: member.contact_email.clone(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            dedup_key: None,
        };
        enqueue(conn, &mail, domain, now)?;
    }
    Ok(group.members.len())
}

/// Enqueues the reminders that are due at `now`: for every open campaign whose deadline is
/// within `days_before` days, each member of its group with no submitted need gets one
/// reminder, never two (the dedup key is unique in the table). Returns the number enqueued.
pub fn enqueue_due_reminders(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    days_before: u32,
    domain: &str,
) -> Result<usize, MailError> {
    if days_before == 0 {
        return Ok(0);
    }
    let Some(horizon) = now.checked_add_signed(chrono::Duration::days(i64::from(days_before)))
    else {
        return Ok(0);
    };
    let mut count = 0;
    for campaign in store::open_with_deadline_within(conn, now, horizon)? {
        let group = crate::groups::store::notice_recipients(conn, campaign.group_id)?;
        for member in group.members {
            let key = format!("campaign_reminder:{}:{}", campaign.id, member.member_id);
            if exists_dedup(conn, &key)?
                || crate::needs::store::has_submitted(conn, campaign.id, member.member_id)?
            {
                continue;
            }
            let r = campaign_reminder(&CampaignNotice {
                group_name: group.name.clone(),
                campaign_title: campaign.title.clone(),
                campaign_id: campaign.id,
                deadline: campaign.needs_deadline,
                cpv_scope: campaign.cpv_scope.clone(),
                member_name: member.legal_name,
            })?;
            let mail = NewMail {
                kind: MailKind::CampaignReminder,
                to: member.contact_email,
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn campaign(group: &str, scope: &[&str]) -> CampaignNotice {
        CampaignNotice {
            group_name: group.into(),
            campaign_title: "Entretien 2027".into(),
            campaign_id: CampaignId(uuid::Uuid::nil()),
            deadline: Utc.with_ymd_and_hms(2026, 12, 14, 17, 0, 0).unwrap(),
            cpv_scope: scope.iter().map(|s| s.to_string()).collect(),
            member_name: "Brest Métropole Habitat".into(),
        }
    }

    #[test]
    fn opened_notice_is_french_with_paris_deadline() {
        let r = campaign_opened(&campaign("Groupement Ouest", &["45"])).unwrap();
        assert_eq!(r.subject, "[Groupement Ouest] Recensement des besoins ouvert : Entretien 2027 (jusqu'au 14 décembre 2026 à 18 h 00)");
        assert!(r.text.starts_with("Bonjour,"));
        assert!(r
            .text
            .contains("Les agents de Brest Métropole Habitat peuvent saisir"));
        assert!(r.text.contains("jusqu'au 14 décembre 2026 à 18 h 00."));
        assert!(r.text.contains("Périmètre (codes CPV commençant par) : 45"));
        assert!(r.text.contains("Les dates sont à l'heure de Paris."));
        assert!(r
            .html
            .contains("<strong>14 décembre 2026 à 18 h 00</strong>"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = campaign_opened(&campaign("Achats <Ouest> & Co", &[])).unwrap();
        assert!(
            r.html.contains("Achats &#60;Ouest&#62; &#38; Co")
                || r.html.contains("Achats &lt;Ouest&gt; &amp; Co"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<Ouest>"));
        assert!(r.text.contains("Achats <Ouest> & Co"));
        assert!(!r.text.contains("Périmètre"));
    }

    #[test]
    fn reminder_says_nothing_was_submitted() {
        let r = campaign_reminder(&campaign("Groupement Ouest", &[])).unwrap();
        assert!(r.subject.starts_with("[Groupement Ouest] Rappel"));
        assert!(r
            .text
            .contains("Brest Métropole Habitat n'a soumis aucun besoin"));
    }
}
