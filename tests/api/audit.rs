//! The audit journal: every write leaves exactly its event, refused requests none; sealing,
//! verification against tampering, append-only tables, scoped listing.

use actix_web::http::Method;
use serde_json::{json, Value};
use tenderpool::audit::domain::Broken;
use tenderpool::auth::Role;

use crate::both_backends;
use crate::common::scenario::{need_body, Scenario};
use crate::common::{Backend, TestApp};

/// Every event, as the admin lists them.
async fn events(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/audit?limit=500", &app.admin).await.ok(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Runs `act` and asserts it journaled exactly one event, `action` about `entity` (when
/// given); returns the event.
async fn journals<F, Fut>(app: &TestApp, action: &str, act: F) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let before = events(app).await.len();
    let entity = act().await;
    let after = events(app).await;
    assert_eq!(
        after.len(),
        before + 1,
        "{action}: exactly one event, got {:?}",
        &after[before..]
    );
    let e = after.last().unwrap().clone();
    assert_eq!(e["action"], action);
    if let Some(id) = entity {
        assert_eq!(e["entity_id"], id.as_str(), "{action}");
    }
    assert!(e["seq"].is_null() && e["hash"].is_null(), "not sealed yet");
    e
}

/// Runs `act` and asserts it journaled nothing.
async fn journals_nothing<F, Fut>(app: &TestApp, act: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = events(app).await.len();
    act().await;
    assert_eq!(
        events(app).await.len(),
        before,
        "a refused request left an event"
    );
}

/// Runs SQL on the app's database with the append-only triggers out of the way (an attacker
/// with database access), then puts them back.
fn tamper(app: &TestApp, sql: &str) {
    use diesel::connection::SimpleConnection;
    let mut conn = app.state.db.conn().unwrap();
    let script = match app.backend {
        Backend::Postgres => format!("SET session_replication_role = replica; {sql}; SET session_replication_role = DEFAULT;"),
        Backend::Sqlite => {
            let up = include_str!("../../migrations/sqlite/2026-11-29-000007_audit/up.sql");
            let triggers = &up[up.find("CREATE TRIGGER").unwrap()..];
            let drops: String = triggers
                .split("CREATE TRIGGER ")
                .skip(1)
                .filter_map(|t| t.split_whitespace().next())
                .map(|name| format!("DROP TRIGGER {name}; "))
                .collect();
            format!("{drops}{sql}; {triggers}")
        }
    };
    conn.batch_execute(&script).unwrap();
}

fn verify(app: &TestApp) -> Result<tenderpool::audit::store::Head, Broken> {
    let mut conn = app.state.db.conn().unwrap();
    tenderpool::audit::store::verify(&mut conn).unwrap()
}

async fn seal_all(app: &TestApp) -> usize {
    app.clock.advance(chrono::Duration::seconds(6));
    app.memory_worker().seal_audit().await.unwrap()
}

both_backends! {
    async fn every_write_leaves_exactly_its_event_and_refusals_none(app) {
        let admin = app.admin.clone();
        let m = journals(&app, "member.created", || async {
            let m = app.post("/api/v1/members", &admin, json!({"code": "NMH", "legal_name": "Nantes Métropole Habitat", "siret": "27440001600094", "dwellings": 25000, "contact_email": "achats@nmh.fr"})).await.ok(201);
            m["id"].as_str().map(str::to_owned)
        }).await;
        assert_eq!(m["data"]["code"], "NMH");
        assert_eq!(m["actor"]["kind"], "token");
        assert_eq!(m["actor"]["role"], "admin");
        journals_nothing(&app, || async {
            app.post("/api/v1/members", &admin, json!({"code": "NMH", "legal_name": "x", "siret": "27440001600094", "dwellings": 1, "contact_email": "a@b.fr"})).await.problem(409, "member_code_taken");
        }).await;
        for (code, siret) in [("BMH", "27290003200017"), ("ARCH", "27350004700017")] {
            app.post("/api/v1/members", &admin, json!({"code": code, "legal_name": code, "siret": siret, "dwellings": 1, "contact_email": "a@b.fr"})).await.ok(201);
        }
        journals(&app, "supplier.created", || async {
            app.post("/api/v1/suppliers", &admin, json!({"legal_name": "BTP Ouest", "siret": "51234567800019", "contact_emails": ["devis@btp-ouest.fr"], "cpv_divisions": ["45"]})).await.ok(201)["id"].as_str().map(str::to_owned)
        }).await;
        let g = journals(&app, "group.created", || async {
            app.post("/api/v1/groups", &admin, json!({"name": "G", "coordinator": "NMH", "members": ["NMH", "BMH", "ARCH"], "cost_sharing_key": "equal"})).await.ok(201)["id"].as_str().map(str::to_owned)
        }).await;
        let group = g["entity_id"].as_str().unwrap().to_owned();
        assert_eq!(g["group_id"], group.as_str());
        journals(&app, "convention.signed", || async {
            app.sign_convention(&group, "BMH").await;
            Some(group.clone())
        }).await;
        journals_nothing(&app, || async { app.sign_convention(&group, "BMH").await; }).await;
        let t = journals(&app, "token.created", || async {
            let t = app.post("/api/v1/tokens", &admin, json!({"role": "lead", "member_code": "NMH", "name": "Claire"})).await.ok(201);
            t["id"].as_str().map(str::to_owned)
        }).await;
        assert_eq!(t["data"], json!({"name": "Claire", "role": "lead", "member_id": t["data"]["member_id"], "supplier_id": null, "expires_at": null}));
        let lead = app.token(Role::Lead, Some("NMH"), None);
        let nmh = app.token(Role::Officer, Some("NMH"), None);
        let c = journals(&app, "campaign.opened", || async {
            Some(app.open_campaign(&group, &lead).await)
        }).await;
        let campaign = c["entity_id"].as_str().unwrap().to_owned();
        assert_eq!(c["group_id"], group.as_str());
        let need = journals(&app, "need.created", || async {
            Some(app.create_need(&campaign, &nmh, need_body("45442100-8", "10", "2")).await)
        }).await["entity_id"].as_str().unwrap().to_owned();
        journals_nothing(&app, || async {
            app.post(&format!("/api/v1/campaigns/{campaign}/needs"), &nmh, need_body("99999999-9", "1", "1")).await.invalid("/cpv");
        }).await;
        let u = journals(&app, "need.updated", || async {
            app.call(Method::PATCH, &format!("/api/v1/needs/{need}"), Some(&nmh), Some(json!({"quantity": "12"}).to_string().into_bytes())).await.ok(200);
            Some(need.clone())
        }).await;
        assert_eq!(u["data"]["quantity"], "12");
        assert_eq!(u["group_id"], group.as_str());
        journals(&app, "need.submitted", || async {
            app.post(&format!("/api/v1/needs/{need}/submit"), &nmh, json!({})).await.ok(200);
            Some(need.clone())
        }).await;
        journals_nothing(&app, || async {
            app.post(&format!("/api/v1/needs/{need}/submit"), &nmh, json!({})).await.problem(409, "invalid_state");
        }).await;
        let r = journals(&app, "need.rejected", || async {
            app.post(&format!("/api/v1/needs/{need}/reject"), &lead, json!({"reason": "doublon"})).await.ok(200);
            Some(need.clone())
        }).await;
        assert_eq!(r["data"]["rejection_reason"], "doublon");
        assert_eq!(r["actor"]["role"], "lead");
        let other = app.create_need(&campaign, &nmh, need_body("45442100-8", "1", "1")).await;
        journals(&app, "need.withdrawn", || async {
            app.post(&format!("/api/v1/needs/{other}/withdraw"), &nmh, json!({})).await.ok(200);
            Some(other.clone())
        }).await;
        let draft = app.create_need(&campaign, &nmh, need_body("45442100-8", "1", "1")).await;
        journals(&app, "need.deleted", || async {
            app.call(Method::DELETE, &format!("/api/v1/needs/{draft}"), Some(&nmh), None).await.ok(204);
            Some(draft.clone())
        }).await;
        journals(&app, "campaign.closed", || async {
            app.post(&format!("/api/v1/campaigns/{campaign}/close"), &lead, json!({})).await.ok(200);
            Some(campaign.clone())
        }).await;
        journals_nothing(&app, || async {
            app.post(&format!("/api/v1/campaigns/{campaign}/close"), &lead, json!({})).await.ok(200);
        }).await;
        let token = t["entity_id"].as_str().unwrap().to_owned();
        journals(&app, "token.revoked", || async {
            app.call(Method::DELETE, &format!("/api/v1/tokens/{token}"), Some(&admin), None).await.ok(204);
            Some(token.clone())
        }).await;
        journals_nothing(&app, || async {
            app.call(Method::DELETE, &format!("/api/v1/tokens/{token}"), Some(&admin), None).await.ok(204);
        }).await;
        // An idempotent replay journals nothing.
        let body = json!({"legal_name": "Peintures du Léon", "siret": "44306184100047", "contact_emails": ["a@b.fr"], "cpv_divisions": []});
        app.post_idempotent("/api/v1/suppliers", &admin, "k", &body).await.ok(201);
        journals_nothing(&app, || async { app.post_idempotent("/api/v1/suppliers", &admin, "k", &body).await.ok(201); }).await;
    }

    async fn sealing_chains_every_event_and_verify_names_each_kind_of_tampering(app) {
        let s = Scenario::new(&app).await;
        for _ in 0..3 {
            s.submitted_need(&app, &s.nmh, need_body("45442100-8", "1", "1")).await;
        }
        let total = events(&app).await.len();
        assert!(total >= 10);
        assert_eq!(app.memory_worker().seal_audit().await.unwrap(), 0, "nothing sealed before the watermark");
        assert_eq!(seal_all(&app).await, total);
        let head = verify(&app).unwrap();
        assert_eq!((head.seq, head.unsealed), (total as i64, 0));
        let listed = events(&app).await;
        let seqs: Vec<i64> = listed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>(), "gap-free, in recording order");
        let api_head = app.get("/api/v1/audit/head", &app.admin).await.ok(200);
        assert_eq!(api_head["seq"], total as i64);
        assert_eq!(api_head["hash"], listed.last().unwrap()["hash"]);

        let id = |seq: usize| listed[seq - 1]["id"].as_str().unwrap().to_owned();
        // Edited data.
        let original = listed[4]["data"].to_string();
        tamper(&app, &format!("UPDATE audit_events SET data = '{{\"status\":\"rejected\"}}' WHERE id = '{}'", id(5)));
        assert_eq!(verify(&app), Err(Broken::Edited(5)));
        tamper(&app, &format!("UPDATE audit_events SET data = '{}' WHERE id = '{}'", tenderpool::audit::domain::canonical_json(&serde_json::from_str(&original).unwrap()), id(5)));
        assert!(verify(&app).is_ok());
        // Changed hash.
        tamper(&app, &format!("UPDATE audit_events SET hash = '{}' WHERE id = '{}'", "a".repeat(64), id(3)));
        assert_eq!(verify(&app), Err(Broken::Edited(3)));
        tamper(&app, &format!("UPDATE audit_events SET hash = '{}' WHERE id = '{}'", listed[2]["hash"].as_str().unwrap(), id(3)));
        assert!(verify(&app).is_ok());
        // Two events swapped.
        tamper(&app, &format!("UPDATE audit_events SET seq = -1 WHERE id = '{}'; UPDATE audit_events SET seq = 6 WHERE id = '{}'; UPDATE audit_events SET seq = 7 WHERE id = '{}'", id(6), id(7), id(6)));
        assert_eq!(verify(&app), Err(Broken::Reordered(6)));
        tamper(&app, &format!("UPDATE audit_events SET seq = -1 WHERE id = '{}'; UPDATE audit_events SET seq = 7 WHERE id = '{}'; UPDATE audit_events SET seq = 6 WHERE id = '{}'", id(6), id(7), id(6)));
        assert!(verify(&app).is_ok());
        // A deleted event.
        tamper(&app, &format!("DELETE FROM audit_events WHERE id = '{}'", id(4)));
        assert_eq!(verify(&app), Err(Broken::Deleted(4)));
    }

    async fn the_journal_is_append_only_for_the_service(app) {
        Scenario::new(&app).await;
        seal_all(&app).await;
        use diesel::RunQueryDsl;
        let mut conn = app.state.db.conn().unwrap();
        let replace = match app.backend {
            Backend::Sqlite => "INSERT OR REPLACE INTO audit_events (id, recorded_at, actor, action, entity_type, entity_id, data) SELECT id, recorded_at, actor, action, entity_type, entity_id, data FROM audit_events WHERE seq = 1",
            Backend::Postgres => "TRUNCATE audit_events",
        };
        for sql in [
            "UPDATE audit_events SET data = '{}'",
            "UPDATE audit_events SET seq = seq + 100",
            "DELETE FROM audit_events",
            "INSERT INTO audit_events (id, seq, recorded_at, actor, action, entity_type, entity_id, data, hash) SELECT '00000000-0000-0000-0000-000000000001', 999, recorded_at, actor, action, entity_type, entity_id, data, hash FROM audit_events WHERE seq = 1",
            "UPDATE audit_chain SET last_seq = 0",
            "DELETE FROM audit_chain",
            replace,
        ] {
            let refused = diesel::sql_query(sql).execute(&mut **conn);
            assert!(refused.is_err(), "{sql} was allowed");
            let why = refused.unwrap_err().to_string();
            assert!(why.contains("append-only") || why.contains("only moves forward"), "{sql}: {why}");
        }
        drop(conn);
        assert!(verify(&app).is_ok());
    }

    async fn the_journal_is_listed_within_the_callers_scope(app) {
        let s = Scenario::new(&app).await;
        let need = s.submitted_need(&app, &s.bmh, need_body("45442100-8", "1", "1")).await;
        let all = events(&app).await;
        let lead = app.get("/api/v1/audit?limit=500", &s.lead).await.ok(200);
        let lead_items = lead["items"].as_array().unwrap();
        assert!(!lead_items.is_empty() && lead_items.len() < all.len(), "the lead sees its group's events only");
        assert!(lead_items.iter().all(|e| e["group_id"] == s.group.as_str()));
        assert!(lead_items.iter().all(|e| e["action"] != "need.created"), "no draft contents");
        let other_lead = app.token(Role::Lead, Some("BMH"), None);
        assert_eq!(app.get("/api/v1/audit", &other_lead).await.ok(200)["items"], json!([]));
        app.get("/api/v1/audit", &s.nmh).await.problem(403, "forbidden");
        let about = app.get(&format!("/api/v1/audit?entity={need}"), &app.admin).await.ok(200);
        let actions: Vec<&str> = about["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["need.created", "need.submitted"]);
        let submitted = app.get("/api/v1/audit?action=need.submitted", &app.admin).await.ok(200);
        assert_eq!(submitted["items"].as_array().unwrap().len(), 1);
        let actor = submitted["items"][0]["actor"]["token_id"].as_str().unwrap().to_owned();
        let by = app.get(&format!("/api/v1/audit?actor={actor}"), &app.admin).await.ok(200);
        assert_eq!(by["items"].as_array().unwrap().len(), 2, "the BMH officer created and submitted");
        let later = app.get("/api/v1/audit?from=2026-11-30T08:00:01Z", &app.admin).await.ok(200);
        assert_eq!(later["items"], json!([]));
        app.get("/api/v1/audit?action=need.eaten", &app.admin).await.invalid("/query/action");
        app.get("/api/v1/audit?from=yesterday", &app.admin).await.invalid("/query/from");
        // A bound outside the stored years is the edge of that range.
        assert_eq!(app.get("/api/v1/audit?from=9999-01-01T00:00:00Z", &app.admin).await.ok(200)["items"], json!([]));
        assert_eq!(app.get("/api/v1/audit?to=0001-01-01T00:00:00Z", &app.admin).await.ok(200)["items"], json!([]));
        assert!(!app.get("/api/v1/audit?from=0001-01-01T00:00:00Z", &app.admin).await.ok(200)["items"].as_array().unwrap().is_empty());
        // The lead never sees a draft through the journal: not BMH's draft, nor the created
        // and updated events of a need submitted since.
        let draft = s.need(&app, &s.bmh, need_body("45442100-8", "7", "1")).await;
        let seen = app.get(&format!("/api/v1/audit?entity={draft}"), &s.lead).await.ok(200);
        assert_eq!(seen["items"], json!([]));
        let seen = app.get(&format!("/api/v1/audit?entity={need}"), &s.lead).await.ok(200);
        let actions: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["need.submitted"]);
    }
}
