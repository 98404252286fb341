//! Tenders: made from a closed campaign's submitted needs, published (conventions, minimum bid
//! period, invitations over SMTP), opened by time, cancelled; who sees what.

use std::collections::BTreeSet;

use actix_web::http::Method;
use serde_json::{json, Value};
use tenderpool::auth::Role;
use tenderpool::ids::SupplierId;

use crate::both_backends;
use crate::common::scenario::{need_body, Scenario};
use crate::common::smtp::SmtpServer;
use crate::common::TestApp;

/// A closed campaign with submitted needs; `needs` in creation order:
/// 0 NMH painting 100 m², 1 BMH painting 50.5 m², 2 ARCH doors 12 u (VAT 20), 3 NMH fuel 2000 l,
/// 4 BMH painting 10 m² (kept out of the first tender).
pub(crate) struct Fixture {
    pub(crate) s: Scenario,
    pub(crate) needs: Vec<String>,
    /// Supplier of division 45 (two addresses), one listed explicitly (division 33), one of
    /// division 33 that nobody invites.
    pub(crate) suppliers: [String; 3],
}

pub(crate) async fn supplier(
    app: &TestApp,
    name: &str,
    siret: &str,
    emails: &[&str],
    divisions: &[&str],
) -> String {
    app.post(
        "/api/v1/suppliers",
        &app.admin,
        json!({
            "legal_name": name, "siret": siret, "contact_emails": emails, "cpv_divisions": divisions
        }),
    )
    .await
    .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn fixture(app: &TestApp) -> Fixture {
    let s = Scenario::new(app).await;
    let mut needs = Vec::new();
    for (token, cpv, q, vat, unit) in [
        (&s.nmh, "45442100-8", "100", "10", "m2"),
        (&s.bmh, "45442100-8", "50.5", "10", "m2"),
        (&s.arch, "45421100-5", "12", "20", "unit"),
        (&s.nmh, "09134100-8", "2000", "20", "l"),
        (&s.bmh, "45442100-8", "10", "10", "m2"),
    ] {
        let mut body = need_body(cpv, q, "18");
        body["vat_rate"] = json!(vat);
        body["unit"] = json!(unit);
        needs.push(s.submitted_need(app, token, body).await);
    }
    let suppliers = [
        supplier(
            app,
            "BTP Ouest",
            "51234567800019",
            &["devis@btp-ouest.fr", "direction@btp-ouest.fr"],
            &["45"],
        )
        .await,
        supplier(
            app,
            "Portes Bretonnes",
            "73282932000074",
            &["offres@portes.bzh"],
            &["33"],
        )
        .await,
        supplier(
            app,
            "Matériel Médical",
            "44306184100047",
            &["contact@medical.fr"],
            &["33"],
        )
        .await,
    ];
    Fixture {
        s,
        needs,
        suppliers,
    }
}

pub(crate) fn tender_body(f: &Fixture, reference: &str, lots: Value) -> Value {
    json!({
        "campaign_id": f.s.campaign, "reference": reference, "title": "Entretien des logements 2027",
        "procedure": "open_tender", "bid_deadline": "2027-02-01T12:00:00+01:00",
        "criteria": [
            {"name": "Prix", "weight": "60", "kind": "price"},
            {"name": "Valeur technique", "weight": "30", "kind": "quality"},
            {"name": "Performance environnementale", "weight": "10", "kind": "environmental"}
        ],
        "lots": lots,
        "invited_suppliers": [f.suppliers[1]]
    })
}

pub(crate) async fn close(app: &TestApp, f: &Fixture) {
    app.post(
        &format!("/api/v1/campaigns/{}/close", f.s.campaign),
        &f.s.lead,
        json!({}),
    )
    .await
    .ok(200);
}

/// Creates the standard two-lot tender `2027-GRP-004` (needs 0–3); returns it.
async fn standard_tender(app: &TestApp, f: &Fixture) -> Value {
    let lots = json!([
        {"title": "Peinture et menuiserie", "need_ids": [f.needs[0], f.needs[1], f.needs[2]]},
        {"title": "Combustible", "need_ids": [f.needs[3]]}
    ]);
    app.post(
        "/api/v1/tenders",
        &f.s.lead,
        tender_body(f, "2027-GRP-004", lots),
    )
    .await
    .ok(201)
}

fn publish(id: &str) -> String {
    format!("/api/v1/tenders/{id}/publish")
}

both_backends! {
    async fn a_tender_is_made_from_a_closed_campaigns_submitted_needs_and_freezes_it(app) {
        let f = fixture(&app).await;
        let lots = json!([{"title": "Peinture", "need_ids": [f.needs[0]]}]);
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "2027-GRP-001", lots.clone())).await.problem(409, "campaign_open");
        close(&app, &f).await;
        // Refusals name the field and store nothing.
        let twice = json!([{"title": "A", "need_ids": [f.needs[0]]}, {"title": "B", "need_ids": [f.needs[1], f.needs[0]]}]);
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "X", twice)).await.invalid("/lots/1/need_ids/1");
        let unknown = json!([{"title": "A", "need_ids": [f.needs[0], uuid::Uuid::now_v7()]}]);
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "X", unknown)).await.invalid("/lots/0/need_ids/1");
        let mut off = tender_body(&f, "X", lots.clone());
        off["criteria"][0]["weight"] = json!("59");
        app.post("/api/v1/tenders", &f.s.lead, off).await.invalid("/criteria");
        let mut no_env = tender_body(&f, "X", lots.clone());
        no_env["criteria"] = json!([{"name": "Prix", "weight": "100", "kind": "price"}]);
        app.post("/api/v1/tenders", &f.s.lead, no_env).await.invalid("/criteria"); // after 2026-08-22
        let mut bad = tender_body(&f, "2027 grp", lots.clone());
        bad["invited_suppliers"] = json!([uuid::Uuid::now_v7()]);
        let res = app.post("/api/v1/tenders", &f.s.lead, bad).await;
        res.invalid("/reference");
        let mut ghost = tender_body(&f, "X", lots.clone());
        ghost["invited_suppliers"] = json!([uuid::Uuid::now_v7()]);
        app.post("/api/v1/tenders", &f.s.lead, ghost).await.invalid("/invited_suppliers/0");
        let too_many: Vec<Value> = (0..51).map(|i| json!({"title": format!("L{i}"), "need_ids": [f.needs[0]]})).collect();
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "X", json!(too_many))).await.invalid("/lots");
        let other_lead = app.token(Role::Lead, Some("BMH"), None);
        app.post("/api/v1/tenders", &other_lead, tender_body(&f, "X", lots.clone())).await.problem(404, "not_found");
        app.post("/api/v1/tenders", &f.s.nmh, tender_body(&f, "X", lots.clone())).await.problem(403, "forbidden");
        assert_eq!(app.count("tenders"), 0);
        let campaign = app.get(&format!("/api/v1/campaigns/{}", f.s.campaign), &f.s.lead).await.ok(200);
        assert_eq!(campaign["status"], "closed");

        let t = standard_tender(&app, &f).await;
        assert_eq!((t["status"].as_str(), t["reference"].as_str(), t["contract_months"].as_i64()), (Some("draft"), Some("2027-GRP-004"), Some(12)));
        assert_eq!(t["bid_deadline"], "2027-02-01T11:00:00Z");
        assert_eq!(t["price_scoring"], "proportional");
        let lot1 = &t["lots"][0];
        assert_eq!((lot1["number"].as_i64(), lot1["status"].as_str()), (Some(1), Some("active")));
        let items = lot1["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{lot1}");
        assert_eq!((items[0]["cpv"].as_str(), items[0]["quantity"].as_str(), items[0]["vat_rate"].as_str()), (Some("45421100-5"), Some("12"), Some("20")));
        assert_eq!(items[1]["quantity"], "150.5");
        assert_eq!(items[1]["members"], json!([
            {"member_code": "BMH", "quantity": "50.5", "need_ids": [f.needs[1]]},
            {"member_code": "NMH", "quantity": "100", "need_ids": [f.needs[0]]}
        ]));
        assert_eq!(t["lots"][1]["items"][0]["unit"], "l");
        assert_eq!(t["invited_suppliers"], json!([f.suppliers[1]]));
        let campaign = app.get(&format!("/api/v1/campaigns/{}", f.s.campaign), &f.s.lead).await.ok(200);
        assert_eq!(campaign["status"], "frozen");
        // A need goes in one tender only; a reference is used once.
        let again = json!([{"title": "Encore", "need_ids": [f.needs[4], f.needs[0]]}]);
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "2027-GRP-005", again)).await.invalid("/lots/0/need_ids/1");
        let rest = json!([{"title": "Reste", "need_ids": [f.needs[4]]}]);
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "2027-GRP-004", rest.clone())).await.problem(409, "tender_reference_taken");
        app.post("/api/v1/tenders", &f.s.lead, tender_body(&f, "2027-GRP-005", rest)).await.ok(201);
        assert_eq!(app.count("tenders"), 2);
        let listed = app.get("/api/v1/tenders", &f.s.lead).await.ok(200);
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    }

    async fn publication_checks_the_bid_period_invites_suppliers_by_smtp_and_opens_on_time(app) {
        let f = fixture(&app).await;
        close(&app, &f).await;
        let t = standard_tender(&app, &f).await;
        let id = t["id"].as_str().unwrap().to_owned();
        // Too short for an open tender (30 days): 20 days.
        let mut short = tender_body(&f, "2027-GRP-009", json!([{"title": "Reste", "need_ids": [f.needs[4]]}]));
        short["bid_deadline"] = json!("2026-12-20T12:00:00+01:00");
        let short = app.post("/api/v1/tenders", &f.s.lead, short).await.ok(201);
        app.post(&publish(short["id"].as_str().unwrap()), &f.s.lead, json!({})).await.invalid("/bid_deadline");
        // Before publication: invisible to suppliers; officers read; only the lead publishes.
        let invited = app.token(Role::Supplier, None, Some(f.suppliers[0].parse::<SupplierId>().unwrap()));
        let stranger = app.token(Role::Supplier, None, Some(f.suppliers[2].parse::<SupplierId>().unwrap()));
        app.get(&format!("/api/v1/tenders/{id}"), &invited).await.problem(404, "not_found");
        app.get(&format!("/api/v1/tenders/{id}"), &f.s.bmh).await.ok(200);
        app.post(&publish(&id), &f.s.bmh, json!({})).await.problem(403, "forbidden");
        let before = app.count("outbox");

        let published = app.post(&publish(&id), &f.s.lead, json!({})).await.ok(200);
        assert_eq!(published["status"], "published");
        assert_eq!(published["published_at"], "2026-11-30T08:00:00Z");
        app.post(&publish(&id), &f.s.lead, json!({})).await.problem(409, "invalid_state");
        for n in &f.needs[..4] {
            assert_eq!(app.get(&format!("/api/v1/needs/{n}"), &f.s.lead).await.ok(200)["status"], "consolidated");
        }
        assert_eq!(app.get(&format!("/api/v1/needs/{}", f.needs[4]), &f.s.lead).await.ok(200)["status"], "submitted");
        // One invitation per address: BTP Ouest (division 45, two addresses) and the listed
        // supplier; not the other supplier of division 33.
        assert_eq!(app.count("outbox"), before + 3);
        let smtp = SmtpServer::start();
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let mails: Vec<_> = smtp.messages().into_iter().filter(|m| m.subject.contains("Invitation")).collect();
        let to: BTreeSet<String> = mails.iter().flat_map(|m| m.rcpt.clone()).collect();
        assert_eq!(to, ["devis@btp-ouest.fr", "direction@btp-ouest.fr", "offres@portes.bzh"].into_iter().map(String::from).collect());
        let mail = mails.iter().find(|m| m.rcpt.contains(&"devis@btp-ouest.fr".to_owned())).unwrap();
        assert_eq!(mail.subject, "[2027-GRP-004] Invitation à soumissionner : Entretien des logements 2027 (offres avant le 1er février 2027 à 12 h 00)");
        assert!(mail.text.contains("45442100-8 : 150,5 m2"), "{}", mail.text);
        assert!(mail.text.contains("Prix : 60 points"), "{}", mail.text);
        assert!(mail.text.contains(&format!("PUT /api/v1/tenders/{id}/lots/{}/bid", t["lots"][0]["id"].as_str().unwrap())), "{}", mail.text);

        // Suppliers see the tenders they were invited to, without the members' shares.
        let seen = app.get(&format!("/api/v1/tenders/{id}"), &invited).await.ok(200);
        assert_eq!(seen["lots"][0]["items"][1]["quantity"], "150.5");
        assert!(seen["lots"][0]["items"][1].get("members").is_none() && seen.get("invited_suppliers").is_none(), "{seen}");
        app.get(&format!("/api/v1/tenders/{id}"), &stranger).await.problem(404, "not_found");
        assert_eq!(app.get("/api/v1/tenders", &invited).await.ok(200)["items"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/api/v1/tenders", &stranger).await.ok(200)["items"], json!([]));

        // Opened by time, to the microsecond.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2027-02-01T10:59:59.999999Z").unwrap().into());
        assert_eq!(app.get(&format!("/api/v1/tenders/{id}"), &f.s.lead).await.ok(200)["status"], "published");
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2027-02-01T11:00:00Z").unwrap().into());
        assert_eq!(app.get(&format!("/api/v1/tenders/{id}"), &invited).await.ok(200)["status"], "opened");
        assert_eq!(app.get("/api/v1/tenders", &f.s.lead).await.ok(200)["items"][0]["status"].as_str().map(|s| s == "opened" || s == "draft"), Some(true));

        // Declared sans suite: every invited supplier is told.
        app.post(&format!("/api/v1/tenders/{id}/cancel"), &f.s.lead, json!({"reason": ""})).await.invalid("/reason");
        let cancelled = app.post(&format!("/api/v1/tenders/{id}/cancel"), &f.s.lead, json!({"reason": "Besoin redéfini"})).await.ok(200);
        assert_eq!((cancelled["status"].as_str(), cancelled["cancel_reason"].as_str()), (Some("cancelled"), Some("Besoin redéfini")));
        // Its lots and their needs follow (the reason is the tender's).
        assert!(cancelled["lots"].as_array().unwrap().iter().all(|l| l["status"] == "cancelled"), "{cancelled}");
        assert_eq!(app.get(&format!("/api/v1/needs/{}", f.needs[0]), &f.s.nmh).await.ok(200)["status"], "cancelled");
        assert_eq!(app.get(&format!("/api/v1/needs/{}", f.needs[4]), &f.s.bmh).await.ok(200)["status"], "submitted", "a need left out of the tender is untouched");
        app.post(&format!("/api/v1/tenders/{id}/cancel"), &f.s.lead, json!({"reason": "encore"})).await.problem(409, "invalid_state");
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let told: BTreeSet<String> = smtp.messages().into_iter().filter(|m| m.subject.contains("sans suite")).flat_map(|m| m.rcpt).collect();
        assert_eq!(told.len(), 3);
        assert_eq!(app.get(&format!("/api/v1/tenders/{id}"), &invited).await.ok(200)["status"], "cancelled");
    }

    async fn an_unsigned_convention_blocks_publication_naming_the_members(app) {
        app.seed_members().await;
        let group = app.post("/api/v1/groups", &app.admin, json!({
            "name": "Groupement Est", "coordinator": "NMH", "members": ["NMH", "BMH", "ARCH"], "cost_sharing_key": "equal"
        })).await.ok(201)["id"].as_str().unwrap().to_owned();
        app.sign_convention(&group, "NMH").await;
        let lead = app.token(Role::Lead, Some("NMH"), None);
        let campaign = app.open_campaign(&group, &lead).await;
        let nmh = app.token(Role::Officer, Some("NMH"), None);
        let need = app.create_need(&campaign, &nmh, need_body("45442100-8", "10", "5")).await;
        app.post(&format!("/api/v1/needs/{need}/submit"), &nmh, json!({})).await.ok(200);
        app.post(&format!("/api/v1/campaigns/{campaign}/close"), &lead, json!({})).await.ok(200);
        let t = app.post("/api/v1/tenders", &lead, json!({
            "campaign_id": campaign, "reference": "EST-1", "title": "Peinture", "procedure": "mapa",
            "bid_deadline": "2027-01-15T12:00:00+01:00",
            "criteria": [{"name": "Prix", "weight": "70", "kind": "price"}, {"name": "Environnement", "weight": "30", "kind": "environmental"}],
            "lots": [{"title": "Lot unique", "need_ids": [need]}]
        })).await.ok(201);
        let id = t["id"].as_str().unwrap();
        let p = app.post(&publish(id), &lead, json!({})).await.problem(409, "convention_unsigned");
        assert!(p["detail"].as_str().unwrap().ends_with("ARCH, BMH"), "{p}");
        assert_eq!(app.get(&format!("/api/v1/tenders/{id}"), &lead).await.ok(200)["status"], "draft");
        assert_eq!(app.get(&format!("/api/v1/needs/{need}"), &lead).await.ok(200)["status"], "submitted");
        app.sign_convention(&group, "ARCH").await;
        app.sign_convention(&group, "BMH").await;
        app.post(&publish(id), &lead, json!({})).await.ok(200);
    }

    async fn who_may_call_each_tender_route(app) {
        let f = fixture(&app).await;
        close(&app, &f).await;
        let t = standard_tender(&app, &f).await;
        let id = t["id"].as_str().unwrap().to_owned();
        let other_group_lead = {
            let g = app.post("/api/v1/groups", &app.admin, json!({
                "name": "Autre", "coordinator": "BMH", "members": ["BMH", "ARCH"], "cost_sharing_key": "equal"
            })).await.ok(201);
            let _ = g;
            app.token(Role::Lead, Some("BMH"), None)
        };
        let invited = app.token(Role::Supplier, None, Some(f.suppliers[0].parse::<SupplierId>().unwrap()));
        let uninvited = app.token(Role::Supplier, None, Some(f.suppliers[2].parse::<SupplierId>().unwrap()));
        let get = format!("/api/v1/tenders/{id}");
        let cancel = format!("/api/v1/tenders/{id}/cancel");
        let create = |reference: &str| tender_body(&f, reference, json!([{"title": "R", "need_ids": [f.needs[4]]}]));
        // (who, POST /tenders, GET /tenders, GET /tenders/{id} draft, publish, cancel)
        // Expected statuses per route, in the order of the header above.
        type Expected = [u16; 5];
        let rows: Vec<(&str, Option<&str>, Expected)> = vec![
            ("officer", Some(f.s.nmh.as_str()), [403, 200, 200, 403, 403]),
            ("other group's lead", Some(other_group_lead.as_str()), [404, 200, 404, 404, 404]),
            ("invited supplier", Some(invited.as_str()), [403, 200, 404, 403, 403]),
            ("uninvited supplier", Some(uninvited.as_str()), [403, 200, 404, 403, 403]),
            ("admin", Some(app.admin.as_str()), [403, 200, 200, 403, 403]),
            ("no token", None, [401, 401, 401, 401, 401]),
        ];
        let app = &app;
        for (who, token, [post_s, list_s, get_s, publish_s, cancel_s]) in rows {
            let call = |m: Method, p: String, body: Option<Value>| async move {
                app.call(m, &p, token, body.map(|b| b.to_string().into_bytes())).await.status.as_u16()
            };
            assert_eq!(call(Method::POST, "/api/v1/tenders".into(), Some(create("M-1"))).await, post_s, "{who} POST /tenders");
            assert_eq!(call(Method::GET, "/api/v1/tenders".into(), None).await, list_s, "{who} GET /tenders");
            assert_eq!(call(Method::GET, get.clone(), None).await, get_s, "{who} GET /tenders/{{id}}");
            assert_eq!(call(Method::POST, publish(&id), Some(json!({}))).await, publish_s, "{who} publish");
            assert_eq!(call(Method::POST, cancel.clone(), Some(json!({"reason": "x"}))).await, cancel_s, "{who} cancel");
        }
        assert_eq!(app.get(&get, &f.s.lead).await.ok(200)["status"], "draft", "nothing changed it");
        app.post(&publish(&id), &f.s.lead, json!({})).await.ok(200);
        assert_eq!(app.get(&get, &invited).await.status.as_u16(), 200);
        assert_eq!(app.get(&get, &uninvited).await.status.as_u16(), 404);
        assert_eq!(app.get(&get, &other_group_lead).await.status.as_u16(), 404);

        // The bid routes, published and before the deadline:
        // (who, PUT bid, GET bid, DELETE bid, GET bids)
        let lot = t["lots"][1]["id"].as_str().unwrap();
        let item = t["lots"][1]["items"][0]["id"].as_str().unwrap();
        let bid = format!("/api/v1/tenders/{id}/lots/{lot}/bid");
        let bids = format!("{bid}s");
        let body = json!({"lines": [{"item_id": item, "unit_price": "1.2"}]});
        type BidExpected = [u16; 4];
        let rows: Vec<(&str, Option<&str>, BidExpected)> = vec![
            ("lead", Some(f.s.lead.as_str()), [403, 403, 403, 409]),
            ("officer", Some(f.s.nmh.as_str()), [403, 403, 403, 403]),
            ("other group's lead", Some(other_group_lead.as_str()), [403, 403, 403, 404]),
            ("uninvited supplier", Some(uninvited.as_str()), [404, 404, 404, 403]),
            ("admin", Some(app.admin.as_str()), [403, 403, 403, 409]),
            ("no token", None, [401, 401, 401, 401]),
            ("invited supplier", Some(invited.as_str()), [201, 200, 204, 403]),
        ];
        for (who, token, [put_s, get_s, delete_s, list_s]) in rows {
            let call = |m: Method, p: String, body: Option<Value>| async move {
                app.call(m, &p, token, body.map(|b| b.to_string().into_bytes())).await.status.as_u16()
            };
            assert_eq!(call(Method::PUT, bid.clone(), Some(body.clone())).await, put_s, "{who} PUT bid");
            assert_eq!(call(Method::GET, bid.clone(), None).await, get_s, "{who} GET bid");
            assert_eq!(call(Method::DELETE, bid.clone(), None).await, delete_s, "{who} DELETE bid");
            assert_eq!(call(Method::GET, bids.clone(), None).await, list_s, "{who} GET bids");
        }
    }
}

#[actix_rt::test]
async fn concurrent_publications_of_one_tender_on_postgres_publish_it_once() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let f = fixture(&app).await;
    close(&app, &f).await;
    let t = standard_tender(&app, &f).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let path = publish(&id);
    let results =
        futures_util::future::join_all((0..6).map(|_| app.post(&path, &f.s.lead, json!({})))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    assert_eq!(app.count("tender_invitations"), 2, "invited once");
}

/// The published standard tender: (tender, lot 1 id, lot 1 item ids in order, lot 1 quantities).
pub(crate) async fn published(app: &TestApp, f: &Fixture) -> (Value, String, Vec<String>) {
    close(app, f).await;
    let t = standard_tender(app, f).await;
    let id = t["id"].as_str().unwrap().to_owned();
    app.post(&publish(&id), &f.s.lead, json!({})).await.ok(200);
    let lot = t["lots"][0]["id"].as_str().unwrap().to_owned();
    let items = t["lots"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    (t, lot, items)
}

pub(crate) fn bid_path(t: &Value, lot: &str) -> String {
    format!(
        "/api/v1/tenders/{}/lots/{lot}/bid",
        t["id"].as_str().unwrap()
    )
}

pub(crate) async fn put_bid(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> crate::common::Resp {
    app.call(
        Method::PUT,
        path,
        Some(token),
        Some(body.to_string().into_bytes()),
    )
    .await
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

both_backends! {
    async fn bids_are_sealed_until_the_deadline_then_read_by_the_lead(app) {
        let f = fixture(&app).await;
        let (t, lot, items) = published(&app, &f).await;
        let path = bid_path(&t, &lot);
        let bids_path = format!("{}s", path);
        let s0 = app.token(Role::Supplier, None, Some(f.suppliers[0].parse::<SupplierId>().unwrap()));
        let s1 = app.token(Role::Supplier, None, Some(f.suppliers[1].parse::<SupplierId>().unwrap()));
        let s2 = app.token(Role::Supplier, None, Some(f.suppliers[2].parse::<SupplierId>().unwrap()));
        let body = |doors: &str, paint: &str| json!({"lines": [
            {"item_id": items[0], "unit_price": doors}, {"item_id": items[1], "unit_price": paint}
        ], "technical_offer": "Deux couches, teinte RAL 9010"});

        // Refusals name the item and store nothing.
        put_bid(&app, &s0, &path, json!({"lines": [{"item_id": items[0], "unit_price": "1"}]})).await.invalid("/lines");
        put_bid(&app, &s0, &path, json!({"lines": [{"item_id": items[0], "unit_price": "1"}, {"item_id": items[1], "unit_price": "1"}, {"item_id": items[0], "unit_price": "2"}]})).await.invalid("/lines/2/item_id");
        put_bid(&app, &s0, &path, json!({"lines": [{"item_id": items[0], "unit_price": "1"}, {"item_id": items[1], "unit_price": "1"}, {"item_id": uuid::Uuid::now_v7(), "unit_price": "2"}]})).await.invalid("/lines/2/item_id");
        put_bid(&app, &s0, &path, json!({"lines": [{"item_id": items[0], "unit_price": 1}, {"item_id": items[1], "unit_price": "1"}]})).await.invalid("/lines/0/unit_price");
        put_bid(&app, &s2, &path, body("1", "1")).await.problem(404, "not_found");
        put_bid(&app, &f.s.lead, &path, body("1", "1")).await.problem(403, "forbidden");
        assert_eq!(app.count("bids"), 0);

        let r = put_bid(&app, &s0, &path, body("350", "18.50")).await.ok(201);
        assert_eq!((r["version"].as_i64(), r["status"].as_str()), (Some(1), Some("submitted")));
        assert_eq!(r["received_at"], "2026-11-30T08:00:00Z");
        assert_eq!(r["total"], "6984.25", "12 × 350 + 150.5 × 18.50, exact");
        // The receipt's hash, recomputed from the canonical form of docs/bids.md.
        let canonical = format!(
            r#"{{"lines":[{{"item_id":"{a}","unit_price":"{pa}"}},{{"item_id":"{b}","unit_price":"{pb}"}}],"lot_id":"{lot}","received_at":"2026-11-30T08:00:00.000000Z","supplier_id":"{s}","technical_offer":"Deux couches, teinte RAL 9010","tender_id":"{t}","total":"6984.25","version":1}}"#,
            a = items.iter().min().unwrap(), b = items.iter().max().unwrap(),
            pa = if items[0] < items[1] { "350" } else { "18.5" }, pb = if items[0] < items[1] { "18.5" } else { "350" },
            s = f.suppliers[0], t = t["id"].as_str().unwrap(),
        );
        assert_eq!(r["sha256"].as_str().unwrap(), sha256_hex(&canonical));

        // Sealed: nobody but the bidder reads it before the deadline.
        app.get(&bids_path, &f.s.lead).await.problem(409, "bids_sealed");
        app.get(&bids_path, &app.admin).await.problem(409, "bids_sealed");
        app.get(&bids_path, &s0).await.problem(403, "forbidden");
        app.get(&path, &s1).await.problem(404, "not_found");
        let mine = app.get(&path, &s0).await.ok(200);
        assert_eq!((mine["version"].as_i64(), mine["total"].as_str()), (Some(1), Some("6984.25")));
        // The journal keeps a hash and no bidder, and shows the lead nothing of it.
        let lead_journal = app.get("/api/v1/audit?limit=200", &f.s.lead).await.ok(200);
        assert!(!lead_journal.to_string().contains("bid."), "{lead_journal}");
        let all = app.get("/api/v1/audit?action=bid.received", &app.admin).await.ok(200);
        let event = &all["items"][0];
        assert_eq!(event["data"], json!({"sha256": r["sha256"]}));
        assert_eq!(event["actor"], json!({"kind": "bidder"}));
        assert!(!all.to_string().contains(&f.suppliers[0]), "{all}");
        // No metric series for a supplier's bid routes (the registry is the process's: this
        // holds whatever other tests ran), while the lead's read is counted as usual.
        let metrics = app.get("/metrics", &app.admin).await.body;
        assert!(!metrics.contains("/bid\""), "a bid route in the metrics");
        assert!(metrics.contains("/bids\""), "the lead's sealed read is counted: {metrics}");
        // The outbox listing hides the receipts (their recipients say who bid) until the deadline.
        let outbox = app.get("/api/v1/outbox?limit=500", &app.admin).await.ok(200);
        assert!(!outbox.to_string().contains("bid_receipt") && !outbox.to_string().contains("Accusé"), "{outbox}");

        put_bid(&app, &s1, &path, body("300", "20")).await.ok(201);
        app.clock.advance(chrono::Duration::hours(1));
        let v2 = put_bid(&app, &s0, &path, body("340", "18")).await.ok(201);
        assert_eq!(v2["version"], 2);
        app.call(Method::DELETE, &path, Some(&s1), None).await.ok(204);
        assert_eq!(app.get(&path, &s1).await.ok(200)["status"], "withdrawn");
        app.call(Method::DELETE, &path, Some(&s1), None).await.problem(404, "not_found");

        // At the deadline exactly: late, kept, the current version untouched; no withdrawal.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2027-02-01T11:00:00Z").unwrap().into());
        let late = put_bid(&app, &s0, &path, body("1", "1")).await.ok(201);
        assert_eq!((late["version"].as_i64(), late["status"].as_str()), (Some(3), Some("late")));
        app.call(Method::DELETE, &path, Some(&s0), None).await.problem(409, "deadline_passed");
        let opened = app.get(&bids_path, &f.s.lead).await.ok(200);
        let seen: Vec<(i64, &str, &str)> = opened.as_array().unwrap().iter()
            .map(|b| (b["version"].as_i64().unwrap(), b["status"].as_str().unwrap(), b["supplier_name"].as_str().unwrap()))
            .collect();
        assert_eq!(seen, [(2, "submitted", "BTP Ouest"), (3, "late", "BTP Ouest")], "v1 superseded, the withdrawn bid absent");
        assert_eq!(opened[0]["lines"].as_array().unwrap().len(), 2);
        app.get(&bids_path, &s0).await.problem(403, "forbidden");
        assert_eq!(app.get(&path, &s0).await.ok(200)["version"], 3, "suppliers still see only their own");
        assert_eq!(app.get(&bids_path, &app.admin).await.ok(200).as_array().unwrap().len(), 2, "the admin reads from the deadline too");
        let outbox = app.get("/api/v1/outbox?limit=500", &app.admin).await.ok(200);
        assert_eq!(outbox["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "bid_receipt").count(), 7, "shown from the deadline");
        // After the deadline, still late.
        app.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(put_bid(&app, &s0, &path, body("2", "2")).await.ok(201)["status"], "late");

        // Receipts over SMTP: one per version and address.
        let smtp = SmtpServer::start();
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let receipts: Vec<_> = smtp.messages().into_iter().filter(|m| m.subject.contains("Accusé") || m.subject.contains("hors délai")).collect();
        assert_eq!(receipts.len(), 2 + 1 + 2 + 2 + 2, "s0 v1, s1 v1, s0 v2, s0 v3 and v4 late");
        let first = receipts.iter().find(|m| m.subject.contains("version 1") && m.rcpt.contains(&"devis@btp-ouest.fr".to_owned())).unwrap();
        assert!(first.text.contains(r["sha256"].as_str().unwrap()), "{}", first.text);
        assert!(receipts.iter().any(|m| m.subject.contains("hors délai")));
    }
}

#[actix_rt::test]
async fn bids_racing_the_deadline_on_postgres_are_never_on_time_after_it() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let f = fixture(&app).await;
    let mut tokens = Vec::new();
    for i in 0..10u64 {
        let siret = {
            // Luhn-valid SIRETs 9999999990000x…
            let base = format!("9999999990{:03}", i);
            (0..10)
                .map(|c| format!("{base}{c}"))
                .find(|s| tenderpool::validate::check_siret(s).is_ok())
                .unwrap()
        };
        let id = supplier(
            &app,
            &format!("Entreprise {i}"),
            &siret,
            &[&format!("offres{i}@ent.fr")],
            &["45"],
        )
        .await;
        tokens.push(app.token(
            Role::Supplier,
            None,
            Some(id.parse::<SupplierId>().unwrap()),
        ));
    }
    let (t, lot, items) = published(&app, &f).await;
    let path = bid_path(&t, &lot);
    let deadline: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::parse_from_rfc3339("2027-02-01T11:00:00Z")
            .unwrap()
            .into();
    app.clock.set(deadline - chrono::Duration::microseconds(5));
    let body = json!({"lines": [{"item_id": items[0], "unit_price": "300"}, {"item_id": items[1], "unit_price": "20"}]});
    let bids = futures_util::future::join_all(
        tokens
            .iter()
            .map(|tk| put_bid(&app, tk, &path, body.clone())),
    );
    let tick = async {
        for _ in 0..10 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            app.clock.advance(chrono::Duration::microseconds(1));
        }
    };
    let (results, ()) = tokio::join!(bids, tick);
    for r in &results {
        let receipt = r.ok(201);
        let at: chrono::DateTime<chrono::Utc> =
            receipt["received_at"].as_str().unwrap().parse().unwrap();
        let late = receipt["status"] == "late";
        assert_eq!(late, at >= deadline, "{receipt}");
    }
    app.clock.set(deadline);
    let seen = app.get(&format!("{path}s"), &f.s.lead).await.ok(200);
    assert_eq!(seen.as_array().unwrap().len(), 10);
    for b in seen.as_array().unwrap() {
        let at: chrono::DateTime<chrono::Utc> = b["received_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(b["status"] == "submitted", at < deadline, "{b}");
    }
}

both_backends! {
    async fn an_environmental_criterion_is_checked_again_at_publication(app) {
        let f = fixture(&app).await;
        close(&app, &f).await;
        // Created on 21 August 2026 without one (allowed then)…
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-08-21T10:00:00Z").unwrap().into());
        let mut body = tender_body(&f, "2026-AOUT", json!([{"title": "Peinture", "need_ids": [f.needs[0]]}]));
        body["criteria"] = json!([{"name": "Prix", "weight": "70", "kind": "price"}, {"name": "Technique", "weight": "30", "kind": "quality"}]);
        let t = app.post("/api/v1/tenders", &f.s.lead, body).await.ok(201);
        // …and published on the 22nd: refused.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-08-22T10:00:00Z").unwrap().into());
        app.post(&publish(t["id"].as_str().unwrap()), &f.s.lead, json!({})).await.invalid("/criteria");
    }
}

#[actix_rt::test]
async fn revisions_sent_at_once_by_one_supplier_get_distinct_versions_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let f = fixture(&app).await;
    let (t, lot, items) = published(&app, &f).await;
    let path = bid_path(&t, &lot);
    let s0 = app.token(
        Role::Supplier,
        None,
        Some(f.suppliers[0].parse::<SupplierId>().unwrap()),
    );
    let body = json!({"lines": [{"item_id": items[0], "unit_price": "300"}, {"item_id": items[1], "unit_price": "20"}]});
    let results =
        futures_util::future::join_all((0..6).map(|_| put_bid(&app, &s0, &path, body.clone())))
            .await;
    let mut versions: Vec<i64> = results
        .iter()
        .map(|r| r.ok(201)["version"].as_i64().unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2027-02-01T11:00:00Z")
            .unwrap()
            .into(),
    );
    let current = app.get(&format!("{path}s"), &f.s.lead).await.ok(200);
    assert_eq!(
        current.as_array().unwrap().len(),
        1,
        "one current version: {current}"
    );
    assert_eq!(current[0]["version"], 6);
}
