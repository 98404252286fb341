//! Campaigns, needs, their status machine, tenancy, deadlines and the aggregation proposal.

use actix_web::http::Method;
use serde_json::{json, Value};
use tenderpool::auth::Role;

use crate::both_backends;
use crate::common::scenario::{ids, need_body, Scenario};
use crate::common::TestApp;

async fn create_need(app: &TestApp, f: &Scenario, token: &str, body: Value) -> String {
    f.need(app, token, body).await
}

both_backends! {
    async fn campaign_is_opened_read_and_closed_by_its_lead(app) {
        let f = Scenario::new(&app).await;
        let c = app.get(&format!("/api/v1/campaigns/{}", f.campaign), &f.bmh).await.ok(200);
        assert_eq!(c["status"], "open");
        assert_eq!(c["group_id"], f.group.as_str());
        assert_eq!(c["needs_deadline"], "2026-12-14T17:00:00Z");
        assert_eq!(c["needs_deadline_local"], "2026-12-14T18:00:00+01:00");
        // Only the coordinator's lead opens campaigns; others do not even see the group.
        let bmh_lead = app.token(Role::Lead, Some("BMH"), None);
        let body = json!({"title": "X", "needs_deadline": "2026-12-20T12:00:00Z"});
        app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &bmh_lead, body.clone()).await.problem(404, "not_found");
        app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &f.nmh, body.clone()).await.problem(403, "forbidden");
        let past = json!({"title": "X", "needs_deadline": "2026-11-30T07:59:59Z", "cpv_scope": ["99"]});
        let res = app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &f.lead, past).await;
        res.invalid("/needs_deadline");
        res.invalid("/cpv_scope/0");
        app.get(&format!("/api/v1/campaigns/{}", f.campaign), &bmh_lead).await.problem(404, "not_found");
        let listed = app.get("/api/v1/campaigns", &f.arch).await.ok(200);
        assert_eq!(ids(&listed), vec![f.campaign.clone()]);
        assert_eq!(ids(&app.get("/api/v1/campaigns", &bmh_lead).await.ok(200)).len(), 0);
        // Closing early.
        app.post(&format!("/api/v1/campaigns/{}/close", f.campaign), &f.bmh, json!({})).await.problem(403, "forbidden");
        app.clock.advance(chrono::Duration::hours(1));
        let closed = app.post(&format!("/api/v1/campaigns/{}/close", f.campaign), &f.lead, json!({})).await.ok(200);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["closed_at"], "2026-11-30T09:00:00Z");
        let again = app.post(&format!("/api/v1/campaigns/{}/close", f.campaign), &f.lead, json!({})).await.ok(200);
        assert_eq!(again, closed, "closing twice changes nothing");
    }

    async fn need_lifecycle_create_list_change_submit_withdraw_reject(app) {
        let f = Scenario::new(&app).await;
        let mut body = need_body("45442100-8", "120.5", "18.335");
        body["vat_rate"] = json!("5.50");
        let n = app.post(&format!("/api/v1/campaigns/{}/needs", f.campaign), &f.nmh, body).await.ok(201);
        assert_eq!(n["status"], "draft");
        assert_eq!(n["member_code"], "NMH");
        assert_eq!(n["estimated_value"], "2209.37");
        assert_eq!(n["quantity"], "120.5");
        assert_eq!(n["estimated_unit_price"], "18.335");
        assert_eq!(n["vat_rate"], "5.5");
        assert_eq!(n["wanted_by"], "2027-03-01");
        let id = n["id"].as_str().unwrap().to_owned();

        let read = app.get(&format!("/api/v1/needs/{id}"), &f.nmh).await.ok(200);
        assert_eq!(read, n, "both backends print the same values back");

        app.clock.advance(chrono::Duration::minutes(5));
        let changed = app.call(Method::PATCH, &format!("/api/v1/needs/{id}"), Some(&f.nmh),
            Some(json!({"quantity": "200", "estimated_unit_price": "18"}).to_string().into_bytes())).await.ok(200);
        assert_eq!(changed["estimated_value"], "3600.00");
        assert_eq!(changed["title"], n["title"]);
        assert_eq!(changed["updated_at"], "2026-11-30T08:05:00Z");

        let submitted = app.post(&format!("/api/v1/needs/{id}/submit"), &f.nmh, json!({})).await.ok(200);
        assert_eq!(submitted["status"], "submitted");
        assert_eq!(submitted["submitted_at"], "2026-11-30T08:05:00Z");
        // A submitted need can no longer be changed or deleted.
        app.call(Method::PATCH, &format!("/api/v1/needs/{id}"), Some(&f.nmh), Some(b"{\"title\":\"x\"}".to_vec())).await.problem(409, "invalid_state");
        app.call(Method::DELETE, &format!("/api/v1/needs/{id}"), Some(&f.nmh), None).await.problem(409, "invalid_state");
        app.post(&format!("/api/v1/needs/{id}/submit"), &f.nmh, json!({})).await.problem(409, "invalid_state");

        // The lead rejects it with a reason.
        app.post(&format!("/api/v1/needs/{id}/reject"), &f.lead, json!({"reason": ""})).await.invalid("/reason");
        let rejected = app.post(&format!("/api/v1/needs/{id}/reject"), &f.lead, json!({"reason": "Déjà couvert par le marché 2026-004"})).await.ok(200);
        assert_eq!(rejected["status"], "rejected");
        assert_eq!(rejected["rejection_reason"], "Déjà couvert par le marché 2026-004");
        app.post(&format!("/api/v1/needs/{id}/withdraw"), &f.nmh, json!({})).await.problem(409, "invalid_state");

        // Withdraw a draft and a submitted need; delete a draft.
        let a = create_need(&app, &f, &f.nmh, need_body("45442100-8", "1", "1")).await;
        let w = app.post(&format!("/api/v1/needs/{a}/withdraw"), &f.nmh, json!({})).await.ok(200);
        assert_eq!(w["status"], "withdrawn");
        let b = create_need(&app, &f, &f.nmh, need_body("45442100-8", "1", "1")).await;
        app.post(&format!("/api/v1/needs/{b}/submit"), &f.nmh, json!({})).await.ok(200);
        assert_eq!(app.post(&format!("/api/v1/needs/{b}/withdraw"), &f.nmh, json!({})).await.ok(200)["status"], "withdrawn");
        let c = create_need(&app, &f, &f.nmh, need_body("45442100-8", "1", "1")).await;
        let res = app.call(Method::DELETE, &format!("/api/v1/needs/{c}"), Some(&f.nmh), None).await;
        assert_eq!(res.status.as_u16(), 204);
        app.get(&format!("/api/v1/needs/{c}"), &f.nmh).await.problem(404, "not_found");

        // Listing with filters.
        let all = app.get("/api/v1/needs", &f.nmh).await.ok(200);
        assert_eq!(ids(&all), [id.clone(), a.clone(), b.clone()]);
        assert_eq!(ids(&app.get("/api/v1/needs?status=withdrawn", &f.nmh).await.ok(200)), [a.clone(), b.clone()]);
        assert_eq!(ids(&app.get(&format!("/api/v1/needs?campaign={}&cpv=4544", f.campaign), &f.nmh).await.ok(200)).len(), 3);
        assert_eq!(ids(&app.get("/api/v1/needs?cpv=09", &f.nmh).await.ok(200)).len(), 0);
        let page = app.get("/api/v1/needs?limit=2", &f.nmh).await.ok(200);
        assert_eq!(ids(&page), [id.clone(), a.clone()]);
        let next = app.get(&format!("/api/v1/needs?limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), &f.nmh).await.ok(200);
        assert_eq!(ids(&next), vec![b.clone()]);
        app.get("/api/v1/needs?status=lost", &f.nmh).await.invalid("/query/status");
        app.get("/api/v1/needs?campaign=x", &f.nmh).await.invalid("/query/campaign");
        app.get("/api/v1/needs?colour=red", &f.nmh).await.problem(422, "validation_failed");
    }

    async fn another_members_need_is_404_for_every_verb(app) {
        let f = Scenario::new(&app).await;
        let draft = create_need(&app, &f, &f.nmh, need_body("45442100-8", "10", "5")).await;
        let submitted = create_need(&app, &f, &f.nmh, need_body("45442100-8", "10", "5")).await;
        app.post(&format!("/api/v1/needs/{submitted}/submit"), &f.nmh, json!({})).await.ok(200);
        for id in [&draft, &submitted] {
            for other in [&f.bmh, &f.arch] {
                app.get(&format!("/api/v1/needs/{id}"), other).await.problem(404, "not_found");
                app.call(Method::PATCH, &format!("/api/v1/needs/{id}"), Some(other), Some(b"{\"title\":\"x\"}".to_vec())).await.problem(404, "not_found");
                app.call(Method::DELETE, &format!("/api/v1/needs/{id}"), Some(other), None).await.problem(404, "not_found");
                app.post(&format!("/api/v1/needs/{id}/submit"), other, json!({})).await.problem(404, "not_found");
                app.post(&format!("/api/v1/needs/{id}/withdraw"), other, json!({})).await.problem(404, "not_found");
            }
        }
        assert_eq!(ids(&app.get("/api/v1/needs", &f.bmh).await.ok(200)).len(), 0);
        assert_eq!(ids(&app.get("/api/v1/needs?member=NMH", &f.bmh).await.ok(200)).len(), 0);
        // The lead of another group's coordinator sees nothing, not even submitted needs.
        let bmh_lead = app.token(Role::Lead, Some("BMH"), None);
        app.get(&format!("/api/v1/needs/{submitted}"), &bmh_lead).await.problem(404, "not_found");
        app.post(&format!("/api/v1/needs/{submitted}/reject"), &bmh_lead, json!({"reason": "x"})).await.problem(404, "not_found");
        // Officers cannot reject; admins and suppliers have no business with needs.
        app.post(&format!("/api/v1/needs/{submitted}/reject"), &f.nmh, json!({"reason": "x"})).await.problem(403, "forbidden");
        app.get("/api/v1/needs", &app.admin).await.problem(403, "forbidden");
        // An officer of a member outside the group cannot create needs in the campaign.
        app.post("/api/v1/members", &app.admin, json!({"code": "OTHER", "legal_name": "Autre office", "siret": "21440109300015", "dwellings": 10, "contact_email": "a@autre.fr"})).await.ok(201);
        let outsider = app.token(Role::Officer, Some("OTHER"), None);
        app.post(&format!("/api/v1/campaigns/{}/needs", f.campaign), &outsider, need_body("45442100-8", "1", "1")).await.problem(404, "not_found");
        app.get(&format!("/api/v1/campaigns/{}", f.campaign), &outsider).await.problem(404, "not_found");
        assert_eq!(app.count("needs"), 2);
    }

    async fn the_lead_never_sees_drafts(app) {
        let f = Scenario::new(&app).await;
        let draft = create_need(&app, &f, &f.bmh, need_body("45442100-8", "10", "5")).await;
        let submitted = create_need(&app, &f, &f.arch, need_body("45442100-8", "10", "5")).await;
        app.post(&format!("/api/v1/needs/{submitted}/submit"), &f.arch, json!({})).await.ok(200);
        let withdrawn_draft = create_need(&app, &f, &f.arch, need_body("45442100-8", "1", "5")).await;
        app.post(&format!("/api/v1/needs/{withdrawn_draft}/withdraw"), &f.arch, json!({})).await.ok(200);

        assert_eq!(ids(&app.get("/api/v1/needs", &f.lead).await.ok(200)), vec![submitted.clone()]);
        assert_eq!(ids(&app.get("/api/v1/needs?status=draft", &f.lead).await.ok(200)).len(), 0);
        assert_eq!(ids(&app.get("/api/v1/needs?member=ARCH", &f.lead).await.ok(200)), vec![submitted.clone()]);
        app.get(&format!("/api/v1/needs/{draft}"), &f.lead).await.problem(404, "not_found");
        app.get(&format!("/api/v1/needs/{withdrawn_draft}"), &f.lead).await.problem(404, "not_found");
        app.post(&format!("/api/v1/needs/{draft}/reject"), &f.lead, json!({"reason": "x"})).await.problem(404, "not_found");
        let seen = app.get(&format!("/api/v1/needs/{submitted}"), &f.lead).await.ok(200);
        assert_eq!(seen["member_code"], "ARCH");
        // The aggregation only counts submitted needs.
        let agg = app.get(&format!("/api/v1/campaigns/{}/aggregation", f.campaign), &f.lead).await.ok(200);
        assert_eq!(agg["total_estimated_value"], "50.00");
    }

    async fn after_the_deadline_or_early_close_needs_are_frozen_with_campaign_closed(app) {
        let f = Scenario::new(&app).await;
        let draft = create_need(&app, &f, &f.nmh, need_body("45442100-8", "10", "5")).await;
        let submitted = create_need(&app, &f, &f.nmh, need_body("45442100-8", "10", "5")).await;
        app.post(&format!("/api/v1/needs/{submitted}/submit"), &f.nmh, json!({})).await.ok(200);
        let before = app.count("needs");
        // One microsecond before the deadline it is still open; at the deadline it is closed.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-14T16:59:59.999999Z").unwrap().into());
        assert_eq!(app.get(&format!("/api/v1/campaigns/{}", f.campaign), &f.nmh).await.ok(200)["status"], "open");
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-14T17:00:00Z").unwrap().into());
        assert_eq!(app.get(&format!("/api/v1/campaigns/{}", f.campaign), &f.nmh).await.ok(200)["status"], "closed");
        app.post(&format!("/api/v1/campaigns/{}/needs", f.campaign), &f.nmh, need_body("45442100-8", "1", "1")).await.problem(409, "campaign_closed");
        app.call(Method::PATCH, &format!("/api/v1/needs/{draft}"), Some(&f.nmh), Some(b"{\"title\":\"x\"}".to_vec())).await.problem(409, "campaign_closed");
        app.post(&format!("/api/v1/needs/{draft}/submit"), &f.nmh, json!({})).await.problem(409, "campaign_closed");
        app.post(&format!("/api/v1/needs/{submitted}/withdraw"), &f.nmh, json!({})).await.problem(409, "campaign_closed");
        app.call(Method::DELETE, &format!("/api/v1/needs/{draft}"), Some(&f.nmh), None).await.problem(409, "campaign_closed");
        assert_eq!(app.count("needs"), before);
        assert_eq!(app.get(&format!("/api/v1/needs/{draft}"), &f.nmh).await.ok(200)["status"], "draft");
        // The lead still reviews after the deadline.
        app.post(&format!("/api/v1/needs/{submitted}/reject"), &f.lead, json!({"reason": "hors budget"})).await.ok(200);

        // A campaign closed early by the lead refuses the same way.
        let second = app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &f.lead,
            json!({"title": "Complément", "needs_deadline": "2027-01-31T18:00:00+01:00"})).await.ok(201);
        let second = second["id"].as_str().unwrap();
        app.post(&format!("/api/v1/campaigns/{second}/needs"), &f.bmh, need_body("45442100-8", "1", "1")).await.ok(201);
        app.post(&format!("/api/v1/campaigns/{second}/close"), &f.lead, json!({})).await.ok(200);
        app.post(&format!("/api/v1/campaigns/{second}/needs"), &f.bmh, need_body("45442100-8", "1", "1")).await.problem(409, "campaign_closed");
    }

    async fn a_campaign_kept_from_an_earlier_need_is_checked_again_by_the_write_itself(app) {
        // After one need, the instance keeps what cannot change of the campaign (per member);
        // the next creation sends no read, and its one statement checks that the campaign is
        // still open to the member.
        let f = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", f.campaign);
        let body = need_body("45442100-8", "10", "5");
        let campaigns = &app.state.campaigns;
        assert!(campaigns.is_empty());
        create_need(&app, &f, &f.nmh, body.clone()).await;
        assert_eq!(campaigns.len(), 1);
        // Through the kept campaign, with and without a key: answered at the first attempt.
        create_need(&app, &f, &f.nmh, body.clone()).await;
        let first = app.post_idempotent(&path, &f.nmh, "kept-1", &body).await;
        let need = first.ok(201);
        let again = app.post_idempotent(&path, &f.nmh, "kept-1", &body).await;
        assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
        assert_eq!(again.ok(201)["id"], need["id"]);
        create_need(&app, &f, &f.bmh, body.clone()).await;
        assert_eq!((campaigns.len(), campaigns.rechecks()), (2, 0));
        // A refusal on a kept campaign is confirmed on the stored one: still open, so the
        // usual 422 (and the campaign is kept again).
        let mut bad = body.clone();
        bad["wanted_by"] = json!("2026-11-29");
        app.post(&path, &f.nmh, bad.clone()).await.invalid("/wanted_by");
        assert_eq!((campaigns.len(), campaigns.rechecks()), (2, 1));

        // Closed behind the entries' back (closing does not touch them, as on another
        // instance): the write's condition fails, nothing is written, the campaign is read
        // again and the usual 409 answers, before any 422 as without the cache; the member's
        // entry is dropped.
        app.post(&format!("/api/v1/campaigns/{}/close", f.campaign), &f.lead, json!({})).await.ok(200);
        let (needs, events, records) = (app.count("needs"), app.count("audit_events"), app.count("idempotency_records"));
        app.post(&path, &f.nmh, body.clone()).await.problem(409, "campaign_closed");
        assert_eq!((campaigns.len(), campaigns.rechecks()), (1, 2));
        app.post_idempotent(&path, &f.bmh, "after-close", &bad).await.problem(409, "campaign_closed");
        assert_eq!((campaigns.len(), campaigns.rechecks()), (0, 3));
        assert_eq!((app.count("needs"), app.count("audit_events"), app.count("idempotency_records")), (needs, events, records));
        // Closed campaigns are not kept; the key's first response is still replayed.
        app.post(&path, &f.nmh, body.clone()).await.problem(409, "campaign_closed");
        assert!(campaigns.is_empty());
        let replay = app.post_idempotent(&path, &f.nmh, "kept-1", &body).await;
        assert_eq!(replay.ok(201)["id"], need["id"]);
    }

    async fn what_the_campaign_cache_keeps_never_changes_in_the_schema(app) {
        // The cache relies on a campaign's group, CPV scope and deadline, and a member's code,
        // never changing: both schemas refuse such an update; the status still changes.
        use diesel::RunQueryDsl;
        let f = Scenario::new(&app).await;
        let mut conn = app.state.db.conn().expect("connection");
        let mut run = |sql: String| diesel::sql_query(sql).execute(&mut **conn);
        let campaign = &f.campaign;
        for set in ["needs_deadline = created_at", "cpv_scope = '[\"45\"]'", "group_id = id"] {
            let refused = run(format!("UPDATE campaigns SET {set} WHERE id = '{campaign}'"));
            let message = refused.expect_err(set).to_string();
            assert!(message.contains("group_id, cpv_scope and needs_deadline never change"), "{set}: {message}");
        }
        let refused = run("UPDATE members SET code = 'NMH2' WHERE code = 'NMH'".to_owned());
        assert!(refused.expect_err("code").to_string().contains("code never changes"));
        // The same values, or other columns, may be written.
        assert_eq!(run(format!("UPDATE campaigns SET needs_deadline = needs_deadline, status = 'closed' WHERE id = '{campaign}'")).expect("status"), 1);
        assert_eq!(run("UPDATE members SET code = code WHERE code = 'NMH'".to_owned()).expect("same code"), 1);
    }

    async fn twenty_bad_inputs_are_422_and_store_nothing(app) {
        let f = Scenario::new(&app).await;
        let scoped = app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &f.lead,
            json!({"title": "Travaux", "cpv_scope": ["45"], "needs_deadline": "2027-01-31T18:00:00+01:00"})).await.ok(201);
        let scoped = scoped["id"].as_str().unwrap().to_owned();
        let with = |field: &str, value: Value| { let mut b = need_body("45442100-8", "10", "5"); b[field] = value; b };
        let without = |field: &str| { let mut b = need_body("45442100-8", "10", "5"); b.as_object_mut().unwrap().remove(field); b };
        let cases: Vec<(Value, &str)> = vec![
            (with("quantity", json!(10)), "/quantity"),
            (with("quantity", json!("1e3")), "/quantity"),
            (with("quantity", json!("1,5")), "/quantity"),
            (with("quantity", json!("0")), "/quantity"),
            (with("quantity", json!("-2")), "/quantity"),
            (with("quantity", json!("1.2345")), "/quantity"),
            (with("quantity", json!("NaN")), "/quantity"),
            (with("estimated_unit_price", json!(format!("1.{}", "5".repeat(30)))), "/estimated_unit_price"),
            (with("estimated_unit_price", json!(19.99)), "/estimated_unit_price"),
            (with("estimated_unit_price", json!("1000000000000")), "/estimated_unit_price"),
            (with("vat_rate", json!("19.6")), "/vat_rate"),
            (with("cpv", json!("45442100-9")), "/cpv"),
            (with("cpv", json!("45442100")), "/cpv"),
            (with("unit", json!("furlong")), "/unit"),
            (with("title", json!("a\u{0}b")), "/title"),
            (with("title", json!("x".repeat(100_000))), "/title"),
            (with("title", json!("")), "/title"),
            (with("delivery_site", json!("   ")), "/delivery_site"),
            (with("wanted_by", json!("2027-02-30")), "/wanted_by"),
            (with("wanted_by", json!("2026-11-29")), "/wanted_by"),
            (with("wanted_by", json!("01/03/2027")), "/wanted_by"),
            (with("member_code", json!("BMH")), "/member_code"),
            (with("status", json!("submitted")), "/status"),
            (with("id", json!("0190a0a0-0000-7000-8000-000000000000")), "/id"),
            (with("estimated_value", json!("1.00")), "/estimated_value"),
            (without("cpv"), "/cpv"),
            (with("quantity", json!("999999999999.99")), "/quantity"),
        ];
        assert!(cases.len() >= 20);
        for (body, pointer) in &cases {
            let res = app.post(&format!("/api/v1/campaigns/{}/needs", f.campaign), &f.nmh, body.clone()).await;
            res.invalid(pointer);
        }
        // Outside the campaign's CPV scope.
        app.post(&format!("/api/v1/campaigns/{scoped}/needs"), &f.nmh, need_body("09134100-8", "1", "1")).await.invalid("/cpv");
        // Several errors at once are all reported.
        let mut body = need_body("x", "1", "1");
        body["title"] = json!("");
        let res = app.post(&format!("/api/v1/campaigns/{}/needs", f.campaign), &f.nmh, body).await;
        res.invalid("/title");
        res.invalid("/cpv");
        assert_eq!(app.count("needs"), 0, "no refused request stored anything");
        // A refused change leaves the need as it was.
        let id = create_need(&app, &f, &f.nmh, need_body("45442100-8", "10", "5")).await;
        let before = app.get(&format!("/api/v1/needs/{id}"), &f.nmh).await.ok(200);
        for (patch, pointer) in [
            (json!({"status": "submitted"}), "/status"),
            (json!({"quantity": "0"}), "/quantity"),
            (json!({"title": "ok", "cpv": "nope"}), "/cpv"),
            (json!({"member_code": "BMH"}), "/member_code"),
        ] {
            app.call(Method::PATCH, &format!("/api/v1/needs/{id}"), Some(&f.nmh), Some(patch.to_string().into_bytes())).await.invalid(pointer);
        }
        assert_eq!(app.get(&format!("/api/v1/needs/{id}"), &f.nmh).await.ok(200), before);
    }

    async fn the_advice_compares_the_value_over_the_contract_duration_on_the_launch_date(app) {
        let f = Scenario::new(&app).await;
        let open = |months: Value| json!({"title": "Fournitures 2027-2029", "needs_deadline": "2026-12-14T18:00:00+01:00", "contract_months": months});
        let path = format!("/api/v1/groups/{}/campaigns", f.group);
        for bad in [json!(0), json!(49), json!(-1)] {
            app.post(&path, &f.lead, open(bad)).await.invalid("/contract_months");
        }
        app.post(&path, &f.lead, open(json!("36"))).await.problem(422, "validation_failed");
        let campaign = app.post(&path, &f.lead, open(json!(36))).await.ok(201);
        assert_eq!(campaign["contract_months"], 36);
        let id = campaign["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/api/v1/campaigns/{id}"), &f.lead).await.ok(200)["contract_months"], 36);
        // Supplies worth 75 000.05 € a year (quantities are per year) for three years.
        for (token, q) in [(&f.nmh, "25000.01"), (&f.bmh, "25000.02"), (&f.arch, "25000.02")] {
            let mut body = need_body("09134100-8", q, "1");
            body["unit"] = json!("l");
            let need = app.create_need(&id, token, body).await;
            app.post(&format!("/api/v1/needs/{need}/submit"), token, json!({})).await.ok(200);
        }
        let agg = app.get(&format!("/api/v1/campaigns/{id}/aggregation"), &f.lead).await.ok(200);
        assert_eq!(agg["total_estimated_value"], "75000.05");
        assert_eq!(agg["total_contract_value"], "225000.15", "75 000.05 × 36 / 12");
        assert_eq!(agg["lots"][0]["contract_value"], "225000.15");
        let advice = &agg["procedure_advice"][0];
        assert_eq!((advice["estimated_value"].as_str(), advice["contract_value"].as_str()), (Some("75000.05"), Some("225000.15")));
        // One year's value is below the EU threshold (216 000 € in 2026); the contract's is not.
        assert_eq!((advice["procedure"].as_str(), advice["threshold"].as_str()), (Some("open_tender"), Some("216000.00")));
        // Launched in 2025, the thresholds then in force apply (221 000 €): still above.
        let earlier = app.get(&format!("/api/v1/campaigns/{id}/aggregation?launch_date=2025-12-31"), &f.lead).await.ok(200);
        assert_eq!(earlier["launch_date"], "2025-12-31");
        assert_eq!(earlier["procedure_advice"][0]["threshold"], "221000.00");
        assert_eq!(earlier["procedure_advice"][0]["rule_valid_from"], "2024-01-01");
        for bad in ["2026-02-30", "31/12/2026", "1999-12-31", "2200-01-01"] {
            app.get(&format!("/api/v1/campaigns/{id}/aggregation?launch_date={bad}"), &f.lead).await.invalid("/query/launch_date");
        }
    }

    async fn aggregation_rounds_each_need_to_the_cent_before_adding_it_up(app) {
        // PostgreSQL adds the needs up in SQL, SQLite in process: both round each need's value
        // half away from zero to the cent first, as the need itself reports it, and count
        // only the submitted needs of this campaign.
        let f = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/aggregation", f.campaign);
        let mut ids = Vec::new();
        let mut total = rust_decimal::Decimal::ZERO;
        // 0.1665 → 0.17 (twice), ties 0.125 → 0.13 and 0.005 → 0.01, 0.0075 → 0.01.
        for (q, p) in [("0.333", "0.5"), ("0.333", "0.5"), ("1", "0.125"), ("0.5", "0.01"), ("2.5", "0.003")] {
            let id = f.submitted_need(&app, &f.nmh, need_body("45442100-8", q, p)).await;
            let need = app.get(&format!("/api/v1/needs/{id}"), &f.nmh).await.ok(200);
            total += need["estimated_value"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
            ids.push(id);
        }
        ids.sort();
        // Not counted: a need withdrawn after its submission, a draft, another campaign's.
        let withdrawn = f.submitted_need(&app, &f.nmh, need_body("45442100-8", "7", "7")).await;
        app.post(&format!("/api/v1/needs/{withdrawn}/withdraw"), &f.nmh, json!({})).await.ok(200);
        f.need(&app, &f.nmh, need_body("45442100-8", "7", "7")).await;
        let other = app.post(&format!("/api/v1/groups/{}/campaigns", f.group), &f.lead,
            json!({"title": "Autre", "needs_deadline": "2027-01-31T18:00:00+01:00"})).await.ok(201);
        let other = other["id"].as_str().unwrap().to_owned();
        let elsewhere = app.create_need(&other, &f.nmh, need_body("45442100-8", "7", "7")).await;
        app.post(&format!("/api/v1/needs/{elsewhere}/submit"), &f.nmh, json!({})).await.ok(200);

        let agg = app.get(&path, &f.lead).await.ok(200);
        assert_eq!(total.to_string(), "0.49");
        assert_eq!(agg["total_estimated_value"], "0.49");
        assert_eq!(agg["lots"][0]["items"], json!([{
            "cpv": "45442100-8", "unit": "m2", "vat_rate": "10", "quantity": "4.666", "estimated_value": "0.49",
            "members": [{"member_code": "NMH", "quantity": "4.666", "need_ids": ids}],
        }]));

        // A value outside the API's limits: PostgreSQL's schema refuses to store it (its sums
        // rely on that); on SQLite the aggregation finds it and answers 500.
        use diesel::RunQueryDsl;
        let mut conn = app.state.db.conn().expect("connection");
        for (column, value) in [("estimated_unit_price", "-1"), ("quantity", "99999999999999")] {
            let set = format!("UPDATE needs SET {column} = '{value}' WHERE id = '{}'", ids[0]);
            let stored = diesel::sql_query(set).execute(&mut **conn);
            match app.backend {
                crate::common::Backend::Postgres => {
                    let refused = stored.expect_err("the CHECK refuses it").to_string();
                    assert!(refused.contains("needs_value_in_range"), "{refused}");
                }
                crate::common::Backend::Sqlite => {
                    stored.expect("stored as text");
                    app.get(&path, &f.lead).await.problem(500, "internal_error");
                }
            }
            diesel::sql_query(format!("UPDATE needs SET quantity = '0.333', estimated_unit_price = '0.5' WHERE id = '{}'", ids[0]))
                .execute(&mut **conn).expect("restored");
        }
        assert_eq!(app.get(&path, &f.lead).await.ok(200)["total_estimated_value"], "0.49");
    }

    async fn aggregation_groups_lots_merges_items_and_advises_on_the_groups_value(app) {
        let f = Scenario::new(&app).await;
        let mut needs = Vec::new();
        for (token, cpv, q, p, vat) in [
            (&f.nmh, "45442100-8", "100", "18", "10"),
            (&f.bmh, "45442100-8", "50.5", "20", "10"),
            (&f.bmh, "45442100-8", "10", "18", "20"),
            (&f.arch, "45421100-5", "12", "350", "20"),
            // Supplies: each member 30 000, together 90 000 → MAPA with advert, not exemption.
            (&f.nmh, "09134100-8", "20000", "1.5", "20"),
            (&f.bmh, "09134100-8", "20000", "1.5", "20"),
            (&f.arch, "09134100-8", "20000", "1.5", "20"),
        ] {
            let mut body = need_body(cpv, q, p);
            body["vat_rate"] = json!(vat);
            if cpv.starts_with("09") { body["unit"] = json!("l"); }
            needs.push(f.submitted_need(&app, token, body).await);
        }
        let agg = app.get(&format!("/api/v1/campaigns/{}/aggregation", f.campaign), &f.lead).await.ok(200);
        assert_eq!(agg["level"], "group");
        assert_eq!(agg["campaign_id"], f.campaign.as_str());
        assert_eq!(agg["total_estimated_value"], "97190.00");
        assert_eq!(agg["members"], json!([
            {"member_code": "ARCH", "estimated_value": "34200.00"},
            {"member_code": "BMH", "estimated_value": "31190.00"},
            {"member_code": "NMH", "estimated_value": "31800.00"},
        ]));
        let keys: Vec<&str> = agg["lots"].as_array().unwrap().iter().map(|l| l["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["091", "454"]);
        let works = &agg["lots"][1];
        assert_eq!(works["nature"], "works");
        assert_eq!(works["estimated_value"], "7190.00");
        let painting = &works["items"][1];
        assert_eq!(painting["cpv"], "45442100-8");
        assert_eq!(painting["vat_rate"], "10");
        assert_eq!(painting["quantity"], "150.5");
        assert_eq!(painting["estimated_value"], "2810.00");
        assert_eq!(painting["members"], json!([
            {"member_code": "BMH", "quantity": "50.5", "need_ids": [needs[1]]},
            {"member_code": "NMH", "quantity": "100", "need_ids": [needs[0]]},
        ]));
        assert_eq!(works["items"][2]["vat_rate"], "20", "another VAT rate is another item");
        let advice = agg["procedure_advice"].as_array().unwrap();
        assert_eq!(advice.len(), 2);
        assert_eq!(advice[0]["nature"], "works");
        assert_eq!(advice[0]["procedure"], "no_publicity");
        assert_eq!(advice[1], json!({
            "nature": "supplies_services", "estimated_value": "90000.00", "contract_value": "90000.00",
            "procedure": "mapa", "threshold": "60000.00", "advert_required": true, "rule_valid_from": "2026-04-01",
            "note": advice[1]["note"].clone()
        }));
        // A one-year campaign (the default): contract values equal the yearly ones.
        assert_eq!((agg["contract_months"].clone(), agg["total_contract_value"].clone()), (json!(12), json!("97190.00")));
        assert_eq!(works["contract_value"], "7190.00");
        assert_eq!(agg["launch_date"], "2026-11-30", "today in Paris by default");
        let by_division = app.get(&format!("/api/v1/campaigns/{}/aggregation?level=division", f.campaign), &f.lead).await.ok(200);
        assert_eq!(by_division["lots"].as_array().unwrap().iter().map(|l| l["key"].as_str().unwrap()).collect::<Vec<_>>(), ["09", "45"]);
        let by_class = app.get(&format!("/api/v1/campaigns/{}/aggregation?level=class", f.campaign), &f.lead).await.ok(200);
        assert_eq!(by_class["lots"].as_array().unwrap().len(), 3);
        assert_eq!(by_class["total_estimated_value"], agg["total_estimated_value"]);
        app.get(&format!("/api/v1/campaigns/{}/aggregation?level=subclass", f.campaign), &f.lead).await.problem(422, "validation_failed");
        app.get(&format!("/api/v1/campaigns/{}/aggregation", f.campaign), &f.nmh).await.problem(403, "forbidden");
        let bmh_lead = app.token(Role::Lead, Some("BMH"), None);
        app.get(&format!("/api/v1/campaigns/{}/aggregation", f.campaign), &bmh_lead).await.problem(404, "not_found");
    }
}
