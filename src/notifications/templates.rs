//! French e-mail templates (askama, in `templates/mail/`): plain text plus HTML, the HTML
//! auto-escaped. Rendering is pure; the result is stored in the outbox as it was at the time
//! of the change.

use askama::Template;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::dates::french_datetime;
use crate::error::ApiError;

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// What the campaign notices say.
#[derive(Debug, Clone)]
pub struct CampaignNotice<'a> {
    /// Group name.
    pub group_name: &'a str,
    /// Campaign title.
    pub campaign_title: &'a str,
    /// Campaign id.
    pub campaign_id: Uuid,
    /// Needs deadline.
    pub deadline: DateTime<Utc>,
    /// CPV prefixes of the campaign.
    pub cpv_scope: &'a [String],
    /// Addressed member's legal name.
    pub member_name: &'a str,
}

macro_rules! mail_templates {
    ($text:ident, $html:ident, $text_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path, escape = "none")]
        struct $text<'a> {
            group_name: &'a str,
            campaign_title: &'a str,
            campaign_id: Uuid,
            deadline: String,
            cpv_scope: String,
            member_name: &'a str,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            group_name: &'a str,
            campaign_title: &'a str,
            campaign_id: Uuid,
            deadline: String,
            cpv_scope: String,
            member_name: &'a str,
        }
    };
}

mail_templates!(
    OpenedText,
    OpenedHtml,
    "mail/campaign_opened.txt",
    "mail/campaign_opened.html"
);
mail_templates!(
    ReminderText,
    ReminderHtml,
    "mail/campaign_reminder.txt",
    "mail/campaign_reminder.html"
);

fn render_err(e: askama::Error) -> ApiError {
    ApiError::internal(format!("mail template: {e}"))
}

macro_rules! render_pair {
    ($text:ident, $html:ident, $n:expr) => {{
        let n = $n;
        let deadline = french_datetime(n.deadline);
        let cpv_scope = n.cpv_scope.join(", ");
        let text = $text {
            group_name: n.group_name,
            campaign_title: n.campaign_title,
            campaign_id: n.campaign_id,
            deadline: deadline.clone(),
            cpv_scope: cpv_scope.clone(),
            member_name: n.member_name,
        }
        .render()
        .map_err(render_err)?;
        let html = $html {
            group_name: n.group_name,
            campaign_title: n.campaign_title,
            campaign_id: n.campaign_id,
            deadline,
            cpv_scope,
            member_name: n.member_name,
        }
        .render()
        .map_err(render_err)?;
        (text, html)
    }};
}

/// *Campagne ouverte*: sent to every member of the group when the lead opens a campaign.
pub fn campaign_opened(n: &CampaignNotice) -> Result<Rendered, ApiError> {
    let (text, html) = render_pair!(OpenedText, OpenedHtml, n);
    Ok(Rendered {
        subject: format!(
            "[{}] Recensement des besoins ouvert : {} (jusqu'au {})",
            n.group_name,
            n.campaign_title,
            french_datetime(n.deadline)
        ),
        text,
        html,
    })
}

/// *Rappel*: sent before the deadline to members that have submitted nothing.
pub fn campaign_reminder(n: &CampaignNotice) -> Result<Rendered, ApiError> {
    let (text, html) = render_pair!(ReminderText, ReminderHtml, n);
    Ok(Rendered {
        subject: format!(
            "[{}] Rappel : le recensement « {} » se termine le {}",
            n.group_name,
            n.campaign_title,
            french_datetime(n.deadline)
        ),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn notice<'a>(group: &'a str, scope: &'a [String]) -> CampaignNotice<'a> {
        CampaignNotice {
            group_name: group,
            campaign_title: "Entretien 2027",
            campaign_id: Uuid::nil(),
            deadline: Utc.with_ymd_and_hms(2026, 12, 14, 17, 0, 0).unwrap(),
            cpv_scope: scope,
            member_name: "Brest Métropole Habitat",
        }
    }

    #[test]
    fn opened_notice_is_french_with_paris_deadline() {
        let scope = vec!["45".to_owned()];
        let r = campaign_opened(&notice("Groupement Ouest", &scope)).unwrap();
        assert_eq!(r.subject, "[Groupement Ouest] Recensement des besoins ouvert : Entretien 2027 (jusqu'au 14 décembre 2026 à 18 h 00)");
        assert!(r
            .text
            .contains("Les agents de Brest Métropole Habitat peuvent saisir"));
        assert!(r
            .text
            .contains("14 décembre 2026 à 18 h 00 (heure de Paris)"));
        assert!(r.text.contains("Périmètre (codes CPV commençant par) : 45"));
        assert!(r
            .html
            .contains("<strong>14 décembre 2026 à 18 h 00</strong>"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = campaign_opened(&notice("Achats <Ouest> & Co", &[])).unwrap();
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
        let r = campaign_reminder(&notice("Groupement Ouest", &[])).unwrap();
        assert!(r.subject.starts_with("[Groupement Ouest] Rappel"));
        assert!(r
            .text
            .contains("Brest Métropole Habitat n'a soumis aucun besoin"));
    }
}
