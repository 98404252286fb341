//! `Idempotency-Key`: the same caller, key and request within 24 h returns the first response;
//! the record is written in the change's own transaction, after authentication.

use serde_json::json;
use tenderpool::auth::Role;

use crate::both_backends;
use crate::common::scenario::{need_body, Scenario};

fn member(siret: &str) -> serde_json::Value {
    json!({"code": "NMH", "legal_name": "Nantes Métropole Habitat", "siret": siret, "dwellings": 25000, "contact_email": "achats@nmh.fr"})
}

fn group() -> serde_json::Value {
    json!({"name": "Groupement Ouest", "coordinator": "NMH", "members": ["NMH", "BMH", "ARCH"], "cost_sharing_key": "dwellings"})
}

both_backends! {
    async fn the_same_key_and_body_returns_the_first_response_without_acting_twice(app) {
        let first = app.post_idempotent("/api/v1/members", &app.admin, "k-1", &member("27440001600094")).await;
        let body = first.ok(201);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let again = app.post_idempotent("/api/v1/members", &app.admin, "k-1", &member("27440001600094")).await;
        assert_eq!(again.ok(201), body, "the first response, byte for byte");
        assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
        assert!(again.content_type.starts_with("application/json"));
        assert_eq!(app.count("members"), 1);
        assert_eq!(app.count("idempotency_records"), 1);
        // Without the header the second request acts (and here conflicts).
        app.post("/api/v1/members", &app.admin, member("27440001600094")).await.problem(409, "member_code_taken");
    }

    async fn the_same_key_with_another_request_is_refused(app) {
        app.post_idempotent("/api/v1/members", &app.admin, "k-2", &member("27440001600094")).await.ok(201);
        let res = app.post_idempotent("/api/v1/members", &app.admin, "k-2", &json!({"code": "BMH", "legal_name": "Brest Métropole Habitat", "siret": "27290003200017", "dwellings": 1, "contact_email": "a@b.fr"})).await;
        res.problem(422, "idempotency_key_reused");
        let supplier = json!({"legal_name": "BTP Ouest", "siret": "51234567800019", "contact_emails": ["devis@btp-ouest.fr"], "cpv_divisions": ["45"]});
        let res = app.post_idempotent("/api/v1/suppliers", &app.admin, "k-2", &supplier).await;
        res.problem(422, "idempotency_key_reused");
        assert_eq!(app.count("members"), 1);
        assert_eq!(app.count("suppliers"), 0);
    }

    async fn keys_belong_to_the_callers_token_and_expire_after_24_hours(app) {
        app.seed_members().await;
        let other_admin = app.token(Role::Admin, None, None);
        let a = app.post_idempotent("/api/v1/groups", &app.admin, "k-3", &group()).await.ok(201);
        let b = app.post_idempotent("/api/v1/groups", &other_admin, "k-3", &group()).await.ok(201);
        assert_ne!(a["id"], b["id"], "another caller's key is another key");
        // The scope is the token, not the header's spelling.
        let respelled = app.call_with(
            actix_web::http::Method::POST, "/api/v1/groups", None,
            Some(group().to_string().into_bytes()),
            &[("Authorization", &format!("bearer   {}", app.admin)), ("Idempotency-Key", "k-3"), ("Content-Type", "application/json")],
        ).await;
        assert_eq!(respelled.ok(201)["id"], a["id"]);
        assert_eq!(app.count("groups"), 2);
        app.clock.advance(chrono::Duration::hours(24));
        let later = app.post_idempotent("/api/v1/groups", &app.admin, "k-3", &group()).await.ok(201);
        assert_ne!(later["id"], a["id"], "after 24 h the key acts again");
        assert_eq!(app.count("groups"), 3);
    }

    async fn two_retries_after_24_hours_act_once_more_and_agree(app) {
        // The first record is expired but not purged yet: each retry finds it, one removes it
        // and acts, the other then finds the new record and gets its response.
        app.seed_members().await;
        let first = app.post_idempotent("/api/v1/groups", &app.admin, "k-old", &group()).await.ok(201);
        app.clock.advance(chrono::Duration::hours(24));
        let body = group();
        let post = || app.post_idempotent("/api/v1/groups", &app.admin, "k-old", &body);
        let (a, b) = tokio::join!(post(), post());
        for r in [&a, &b] {
            assert_eq!(r.status.as_u16(), 201, "{r:?}");
        }
        let fresh = [&a, &b].iter().filter(|r| !r.headers.contains_key("idempotent-replayed")).count();
        assert_eq!(fresh, 1, "{a:?} {b:?}");
        assert_eq!(a.json()["id"], b.json()["id"]);
        assert_ne!(a.json()["id"], first["id"]);
        assert_eq!(app.count("groups"), 2);
        assert_eq!(app.count("idempotency_records"), 1);
    }

    async fn errors_are_not_kept_so_a_fixed_request_can_reuse_the_key(app) {
        app.post_idempotent("/api/v1/members", &app.admin, "k-4", &member("27440001600095")).await.invalid("/siret");
        assert_eq!(app.count("idempotency_records"), 0);
        app.post_idempotent("/api/v1/members", &app.admin, "k-4", &member("27440001600094")).await.ok(201);
        // 401 and 403 are not kept either; a need refused by the store (closed campaign)
        // rolls its record back with the change.
        let officer = app.token(Role::Officer, Some("NMH"), None);
        app.post_idempotent("/api/v1/members", &officer, "k-5", &member("21440109300015")).await.problem(403, "forbidden");
        app.post_idempotent("/api/v1/members", "tp_unknown", "k-5", &member("21440109300015")).await.problem(401, "unauthenticated");
        assert_eq!(app.count("idempotency_records"), 1);
    }

    async fn a_keyed_need_is_created_once_and_a_revoked_token_gets_no_replay(app) {
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
        let body = need_body("45442100-8", "100", "18");
        let first = app.post_idempotent(&path, &s.nmh, "n-1", &body).await.ok(201);
        let again = app.post_idempotent(&path, &s.nmh, "n-1", &body).await.ok(201);
        assert_eq!(first, again);
        assert_eq!(app.count("needs"), 1);
        // Revoke the officer's token: the key is checked after authentication.
        let tokens = app.get("/api/v1/tokens?limit=500", &app.admin).await.ok(200);
        let nmh_officer = tokens["items"].as_array().unwrap().iter()
            .filter(|t| t["role"] == "officer").map(|t| t["id"].as_str().unwrap().to_owned()).next().unwrap();
        app.call(actix_web::http::Method::DELETE, &format!("/api/v1/tokens/{nmh_officer}"), Some(&app.admin), None).await.ok(204);
        app.post_idempotent(&path, &s.nmh, "n-1", &body).await.problem(401, "unauthenticated");
    }

    async fn a_retry_gets_its_replay_even_when_the_change_would_now_be_refused(app) {
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
        let body = need_body("45442100-8", "100", "18");
        let first = app.post_idempotent(&path, &s.nmh, "n-closed", &body).await.ok(201);
        app.post(&format!("/api/v1/campaigns/{}/close", s.campaign), &s.lead, json!({})).await.ok(200);
        // A fresh request is refused now; the retry of the first still gets its response.
        app.post_idempotent(&path, &s.nmh, "n-other", &body).await.problem(409, "campaign_closed");
        let again = app.post_idempotent(&path, &s.nmh, "n-closed", &body).await;
        assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
        assert_eq!(again.ok(201), first);
        // The same key with another request is still refused as such, not as the campaign's.
        let other = need_body("45442100-8", "5", "18");
        app.post_idempotent(&path, &s.nmh, "n-closed", &other).await.problem(422, "idempotency_key_reused");
        assert_eq!(app.count("needs"), 1);
        assert_eq!(app.count("idempotency_records"), 1);
    }

    async fn concurrent_needs_with_one_key_are_created_once(app) {
        // A need's record is written by the same statement as the need and its audit event
        // (PostgreSQL): the later requests wait on the first one's record, fail when it
        // commits, roll back whole and get its response.
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
        let body = need_body("45442100-8", "100", "18");
        let events = app.count("audit_events");
        let post = || app.post_idempotent(&path, &s.nmh, "n-race", &body);
        let (a, b, c, d) = tokio::join!(post(), post(), post(), post());
        let answers = [&a, &b, &c, &d];
        for r in answers {
            assert_eq!(r.status.as_u16(), 201, "{r:?}");
        }
        let fresh = answers.iter().filter(|r| !r.headers.contains_key("idempotent-replayed")).count();
        assert_eq!(fresh, 1, "{answers:?}");
        assert!(answers.iter().all(|r| r.json() == a.json()));
        assert_eq!(app.count("needs"), 1);
        assert_eq!(app.count("idempotency_records"), 1);
        assert_eq!(app.count("audit_events"), events + 1, "one need.created event");
    }

    async fn concurrent_requests_with_one_key_act_once(app) {
        let body = member("27440001600094");
        let post = || app.post_idempotent("/api/v1/members", &app.admin, "k-race", &body);
        let (a, b, c) = tokio::join!(post(), post(), post());
        assert_eq!(app.count("members"), 1, "{a:?} {b:?} {c:?}");
        // One acts; the others' inserts wait for its commit, fail (the code, or the key, is
        // taken), and the key's look-up after the failure finds its response to replay.
        let answers = [&a, &b, &c];
        for r in answers {
            assert_eq!(r.status.as_u16(), 201, "{r:?}");
            assert_eq!(r.json()["code"], "NMH");
        }
        let fresh = answers.iter().filter(|r| !r.headers.contains_key("idempotent-replayed")).count();
        assert_eq!(fresh, 1, "{a:?} {b:?} {c:?}");
        assert_eq!(a.json(), b.json());
        assert_eq!(b.json(), c.json());
        assert_eq!(app.count("idempotency_records"), 1);
    }

    async fn a_replayed_token_creation_never_returns_the_secret(app) {
        let body = json!({"role": "admin", "name": "ops"});
        let first = app.post_idempotent("/api/v1/tokens", &app.admin, "t-1", &body).await.ok(201);
        let secret = first["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tp_"));
        let replay = app.post_idempotent("/api/v1/tokens", &app.admin, "t-1", &body).await;
        let problem = replay.problem(409, "idempotent_replay_unavailable");
        assert!(!replay.body.contains("tp_"), "{}", replay.body);
        assert!(problem["detail"].as_str().unwrap().contains("shown once"));
        // One token was created, and its secret is nowhere in the database.
        let list = app.get("/api/v1/tokens?limit=500", &app.admin).await.ok(200);
        assert_eq!(list["items"].as_array().unwrap().iter().filter(|t| t["name"] == "ops").count(), 1);
        assert!(!list.to_string().contains("tp_"));
        assert!(!app.database_contains(&secret), "the secret is stored somewhere");
        assert!(!app.database_contains(&app.admin), "the admin's secret is stored somewhere");
    }

    async fn the_worker_purges_records_older_than_24_hours(app) {
        app.post_idempotent("/api/v1/members", &app.admin, "k-6", &member("27440001600094")).await.ok(201);
        let worker = app.memory_worker();
        assert_eq!(worker.purge_idempotency().await.unwrap(), 0);
        assert_eq!(app.count("idempotency_records"), 1);
        app.clock.advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
        assert_eq!(worker.purge_idempotency().await.unwrap(), 1);
        assert_eq!(app.count("idempotency_records"), 0);
    }

    async fn bad_keys_are_400(app) {
        let body = member("27440001600094");
        for bad in ["", "with space", &"k".repeat(256)] {
            app.post_idempotent("/api/v1/members", &app.admin, bad, &body).await.problem(400, "invalid_idempotency_key");
        }
        assert_eq!(app.count("members"), 0);
    }
}
