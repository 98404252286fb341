//! The usual data of a test, built through the API as users would: three offices (NMH, BMH,
//! ARCH), their group coordinated by NMH with every convention signed, the lead of NMH, the
//! standard campaign, one officer token per office — then needs. Later features extend it
//! (tender → bids → award → contract).

use serde_json::{json, Value};
use tenderpool::auth::Role;

use super::TestApp;

/// A group with an open campaign and a token for each role.
pub struct Scenario {
    /// Group id.
    pub group: String,
    /// Campaign id ("Entretien 2027", needs deadline 2026-12-14 18:00 Paris).
    pub campaign: String,
    /// Lead of NMH, the coordinator.
    pub lead: String,
    /// Officer of NMH.
    pub nmh: String,
    /// Officer of BMH.
    pub bmh: String,
    /// Officer of ARCH.
    pub arch: String,
}

impl Scenario {
    /// Members → group → conventions signed → lead → campaign → officers.
    pub async fn new(app: &TestApp) -> Scenario {
        let group = app.seed_group().await;
        for code in ["NMH", "BMH", "ARCH"] {
            app.sign_convention(&group, code).await;
        }
        let lead = app.token(Role::Lead, Some("NMH"), None);
        let campaign = app.open_campaign(&group, &lead).await;
        Scenario {
            group,
            campaign,
            lead,
            nmh: app.token(Role::Officer, Some("NMH"), None),
            bmh: app.token(Role::Officer, Some("BMH"), None),
            arch: app.token(Role::Officer, Some("ARCH"), None),
        }
    }

    /// Creates a draft need in the campaign as `officer`; returns its id.
    pub async fn need(&self, app: &TestApp, officer: &str, body: Value) -> String {
        app.create_need(&self.campaign, officer, body).await
    }

    /// Creates and submits a need as `officer`; returns its id.
    pub async fn submitted_need(&self, app: &TestApp, officer: &str, body: Value) -> String {
        let id = self.need(app, officer, body).await;
        app.post(&format!("/api/v1/needs/{id}/submit"), officer, json!({}))
            .await
            .ok(200);
        id
    }
}

/// A need body: painting, in m², VAT 10 %, with this CPV code, quantity and unit price.
pub fn need_body(cpv: &str, quantity: &str, price: &str) -> Value {
    json!({
        "title": "Peinture des halls", "description": "Deux couches, teinte RAL 9010",
        "cpv": cpv, "quantity": quantity, "unit": "m2", "estimated_unit_price": price,
        "vat_rate": "10", "delivery_site": "12 rue de Strasbourg, 44000 Nantes", "wanted_by": "2027-03-01"
    })
}

/// The ids of a list page's items.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
