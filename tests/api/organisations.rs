//! Members, suppliers, groups, conventions and tokens.

use serde_json::{json, Value};
use tenderpool::auth::Role;

use crate::both_backends;

both_backends! {
    async fn members_are_created_listed_and_paginated(app) {
        app.seed_members().await;
        let page = app.get("/api/v1/members?limit=2", &app.admin).await.ok(200);
        let codes: Vec<&str> = page["items"].as_array().unwrap().iter().map(|m| m["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["NMH", "BMH"]);
        assert_eq!(page["items"][0]["dwellings"], 25000);
        assert_eq!(page["items"][0]["siret"], "27440001600094");
        let cursor = page["next_cursor"].as_str().unwrap();
        let page = app.get(&format!("/api/v1/members?limit=2&cursor={cursor}"), &app.admin).await.ok(200);
        let codes: Vec<&str> = page["items"].as_array().unwrap().iter().map(|m| m["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["ARCH"]);
        assert!(page.get("next_cursor").is_none());
        app.get("/api/v1/members?cursor=garbage", &app.admin).await.invalid("/query/cursor");
        app.get("/api/v1/members?colour=red", &app.admin).await.problem(422, "validation_failed");
    }

    async fn duplicate_member_code_is_409(app) {
        app.seed_members().await;
        let res = app.post("/api/v1/members", &app.admin, json!({
            "code": "NMH", "legal_name": "Autre", "siret": "21440109300015", "dwellings": 0, "contact_email": "a@b.fr"
        })).await;
        res.problem(409, "member_code_taken");
        assert_eq!(app.count("members"), 3);
    }

    async fn concurrent_creations_of_one_code_or_siret_give_one_201_and_field_409s(app) {
        // Four creations of the same member at once: the unique index decides, so exactly one
        // is created and the others get the field's own code (not a generic conflict or a 500).
        let member = json!({
            "code": "NMH", "legal_name": "Nantes Métropole Habitat", "siret": "27440001600094",
            "dwellings": 25000, "contact_email": "achats@nmh.fr"
        });
        let post = || app.post("/api/v1/members", &app.admin, member.clone());
        let (a, b, c, d) = tokio::join!(post(), post(), post(), post());
        let mut statuses: Vec<u16> = [&a, &b, &c, &d].iter().map(|r| r.status.as_u16()).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409, 409, 409], "{a:?} {b:?} {c:?} {d:?}");
        for r in [&a, &b, &c, &d].into_iter().filter(|r| r.status.as_u16() == 409) {
            r.problem(409, "member_code_taken");
        }
        assert_eq!(app.count("members"), 1);

        let supplier = json!({
            "legal_name": "BTP Ouest", "siret": "51234567800019",
            "contact_emails": ["devis@btp-ouest.fr"], "cpv_divisions": ["45"]
        });
        let post = || app.post("/api/v1/suppliers", &app.admin, supplier.clone());
        let (a, b) = tokio::join!(post(), post());
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409]);
        [a, b].iter().find(|r| r.status.as_u16() == 409).unwrap().problem(409, "supplier_siret_taken");
        assert_eq!(app.count("suppliers"), 1);
    }

    async fn suppliers_are_created_and_listed(app) {
        let s = app.post("/api/v1/suppliers", &app.admin, json!({
            "legal_name": "BTP Ouest", "siret": "51234567800019",
            "contact_emails": ["devis@btp-ouest.fr"], "cpv_divisions": ["45", "09", "45"]
        })).await.ok(201);
        assert_eq!(s["cpv_divisions"], json!(["09", "45"]));
        let list = app.get("/api/v1/suppliers", &app.admin).await.ok(200);
        assert_eq!(list["items"], json!([s]));
        let res = app.post("/api/v1/suppliers", &app.admin, json!({
            "legal_name": "Doublon", "siret": "51234567800019", "contact_emails": ["a@b.fr"]
        })).await;
        res.problem(409, "supplier_siret_taken");
        assert_eq!(s["siret"], "51234567800019");
        assert_eq!(s["identifier"], json!({"type": "SIRET", "value": "51234567800019", "country": "FR"}));
    }

    async fn suppliers_from_other_countries_are_identified_by_decp_types(app) {
        let create = |body: Value| app.post("/api/v1/suppliers", &app.admin, body);
        let german = create(json!({
            "legal_name": "Bau Nord GmbH", "contact_emails": ["angebote@bau-nord.de"], "cpv_divisions": ["45"],
            "identifier": {"type": "TVA", "value": "DE123456789", "country": "DE"}
        })).await.ok(201);
        assert_eq!(german["siret"], Value::Null);
        assert_eq!(german["identifier"], json!({"type": "TVA", "value": "DE123456789", "country": "DE"}));
        let swiss = create(json!({
            "legal_name": "Alpen Bau AG", "contact_emails": ["offerte@alpenbau.ch"],
            "identifier": {"type": "HORS-UE", "value": "CHE-123.456.789", "country": "CH"}
        })).await.ok(201);
        assert_eq!(swiss["identifier"]["type"], "HORS-UE");
        let listed = app.get("/api/v1/suppliers", &app.admin).await.ok(200);
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);
        assert!(listed["items"].as_array().unwrap().contains(&german));
        // The same identifier twice: 409 with its own code.
        create(json!({
            "legal_name": "Copie", "contact_emails": ["a@b.de"],
            "identifier": {"type": "TVA", "value": "DE123456789", "country": "DE"}
        })).await.problem(409, "supplier_identifier_taken");
        // Refusals name the field and store nothing.
        let base = |id: Value| json!({"legal_name": "X", "contact_emails": ["a@b.fr"], "identifier": id});
        create(base(json!({"type": "TVA", "value": "FR41303265045", "country": "FR"}))).await.invalid("/identifier/value");
        create(base(json!({"type": "TVA", "value": "CHE123456789", "country": "CH"}))).await.invalid("/identifier/country");
        create(base(json!({"type": "HORS-UE", "value": "DE123456789", "country": "DE"}))).await.invalid("/identifier/country");
        create(base(json!({"type": "TVA", "value": "DE 123 456 789", "country": "DE"}))).await.invalid("/identifier/value");
        create(base(json!({"type": "VAT", "value": "DE123456789", "country": "DE"}))).await.problem(422, "validation_failed");
        create(json!({"legal_name": "X", "contact_emails": ["a@b.fr"]})).await.invalid("/siret");
        let mut both = base(json!({"type": "TVA", "value": "DE999999999", "country": "DE"}));
        both["siret"] = json!("51234567800019");
        create(both).await.invalid("/identifier");
        assert_eq!(app.count("suppliers"), 2);
    }

    async fn groups_validate_members_and_coordinator(app) {
        app.seed_members().await;
        let res = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "NMH", "members": ["NMH", "XYZ"], "cost_sharing_key": "equal"
        })).await;
        res.invalid("/members/1");
        let res = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "ARCH", "members": ["NMH", "BMH"], "cost_sharing_key": "equal"
        })).await;
        res.invalid("/coordinator");
        let res = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "NMH", "members": ["NMH", "BMH"], "cost_sharing_key": "by_size"
        })).await;
        res.invalid("/cost_sharing_key");
        assert_eq!(app.count("groups"), 0);
        assert_eq!(app.count("group_members"), 0);
    }

    async fn group_visibility_is_scoped_in_the_query(app) {
        let group = app.seed_group().await;
        // A second group coordinated by BMH, without ARCH.
        let other = app.post("/api/v1/groups", &app.admin, json!({
            "name": "Nord", "coordinator": "BMH", "members": ["BMH", "NMH"], "cost_sharing_key": "equal"
        })).await.ok(201);
        let other = other["id"].as_str().unwrap();
        let nmh_lead = app.token(Role::Lead, Some("NMH"), None);
        let arch_officer = app.token(Role::Officer, Some("ARCH"), None);
        let supplier_id = app.post("/api/v1/suppliers", &app.admin, json!({
            "legal_name": "S", "siret": "51234567800019", "contact_emails": ["s@s.fr"]
        })).await.ok(201)["id"].as_str().unwrap().to_owned();
        let supplier = app.token(Role::Supplier, None, Some(supplier_id.parse().unwrap()));

        let g = app.get(&format!("/api/v1/groups/{group}"), &nmh_lead).await.ok(200);
        assert_eq!(g["coordinator"], "NMH");
        assert_eq!(g["convention_signed_by_all"], false);
        app.get(&format!("/api/v1/groups/{other}"), &nmh_lead).await.problem(404, "not_found");
        app.get(&format!("/api/v1/groups/{group}"), &arch_officer).await.ok(200);
        app.get(&format!("/api/v1/groups/{other}"), &arch_officer).await.problem(404, "not_found");
        app.get(&format!("/api/v1/groups/{group}"), &supplier).await.problem(404, "not_found");
        app.get(&format!("/api/v1/groups/{}", uuid::Uuid::now_v7()), &app.admin).await.problem(404, "not_found");

        let ids = |v: serde_json::Value| -> Vec<String> {
            v["items"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(ids(app.get("/api/v1/groups", &nmh_lead).await.ok(200)), vec![group.clone()]);
        assert_eq!(ids(app.get("/api/v1/groups", &arch_officer).await.ok(200)), vec![group.clone()]);
        assert_eq!(ids(app.get("/api/v1/groups", &app.admin).await.ok(200)).len(), 2);
        app.get("/api/v1/groups", &supplier).await.problem(403, "forbidden");
    }

    async fn convention_signatures_are_recorded_by_admin_or_the_groups_lead(app) {
        let group = app.seed_group().await;
        let nmh_lead = app.token(Role::Lead, Some("NMH"), None);
        let bmh_lead = app.token(Role::Lead, Some("BMH"), None);
        let officer = app.token(Role::Officer, Some("NMH"), None);
        let path = |code: &str| format!("/api/v1/groups/{group}/members/{code}/convention");

        app.post(&path("BMH"), &officer, json!({})).await.problem(403, "forbidden");
        app.post(&path("BMH"), &bmh_lead, json!({})).await.problem(404, "not_found");
        app.post(&path("ZZZ"), &nmh_lead, json!({})).await.problem(404, "not_found");

        let g = app.post(&path("BMH"), &nmh_lead, json!({})).await.ok(200);
        let signed = |g: &serde_json::Value, code: &str| g["members"].as_array().unwrap().iter().find(|m| m["member_code"] == code).unwrap()["convention_signed_at"].clone();
        assert_eq!(signed(&g, "BMH"), "2026-11-30T08:00:00Z");
        assert!(signed(&g, "NMH").is_null());

        app.clock.advance(chrono::Duration::days(1));
        let g = app.post(&path("BMH"), &app.admin, json!({})).await.ok(200);
        assert_eq!(signed(&g, "BMH"), "2026-11-30T08:00:00Z", "a second signature keeps the first date");
        app.post(&path("NMH"), &app.admin, json!({})).await.ok(200);
        let g = app.post(&path("ARCH"), &nmh_lead, json!({})).await.ok(200);
        assert_eq!(g["convention_signed_by_all"], true);
        assert_eq!(signed(&g, "ARCH"), "2026-12-01T08:00:00Z");
    }

    async fn tokens_are_created_by_admin_shown_once_and_work(app) {
        app.seed_members().await;
        let created = app.post("/api/v1/tokens", &app.admin, json!({"role": "officer", "member_code": "BMH", "name": "Anne"})).await.ok(201);
        let token = created["token"].as_str().unwrap();
        assert!(token.starts_with("tp_") && token.len() >= 40);
        assert_eq!(created["member_code"], "BMH");
        // The token authenticates as an officer (403 on admin routes, not 401).
        app.get("/api/v1/members", token).await.problem(403, "forbidden");
        app.get("/api/v1/groups", token).await.ok(200);
        // Only the hash is stored.
        let mut conn = app.state.db.conn().unwrap();
        use diesel::prelude::*;
        let hashes: Vec<String> = tenderpool::schema::api_tokens::table.select(tenderpool::schema::api_tokens::token_hash).load(&mut **conn).unwrap();
        assert!(!hashes.iter().any(|h| h.contains(token)));
        assert!(hashes.contains(&tenderpool::auth::domain::hash_token(token)));

        let before = app.count("api_tokens");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "lead", "name": "x"})).await.invalid("/member_code");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "officer", "member_code": "NOPE", "name": "x"})).await.invalid("/member_code");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "admin", "member_code": "NMH", "name": "x"})).await.invalid("/member_code");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "supplier", "name": "x"})).await.invalid("/supplier_id");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "root", "name": "x"})).await.invalid("/role");
        app.post("/api/v1/tokens", &app.admin, json!({"role": "admin", "name": ""})).await.invalid("/name");
        assert_eq!(app.count("api_tokens"), before);
    }
}
