//! `Idempotency-Key`: the same key and request within 24 h returns the first response.

use serde_json::json;
use tenderpool::auth::Role;

use crate::both_backends;

fn member(siret: &str) -> serde_json::Value {
    json!({"code": "NMH", "legal_name": "Nantes Métropole Habitat", "siret": siret, "dwellings": 25000, "contact_email": "achats@nmh.fr"})
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
        // Without the header the second request acts (and here conflicts).
        app.post("/api/v1/members", &app.admin, member("27440001600094")).await.problem(409, "member_code_taken");
    }

    async fn the_same_key_with_another_request_is_refused(app) {
        app.post_idempotent("/api/v1/members", &app.admin, "k-2", &member("27440001600094")).await.ok(201);
        let res = app.post_idempotent("/api/v1/members", &app.admin, "k-2", &json!({"code": "BMH", "legal_name": "Brest Métropole Habitat", "siret": "27290003200017", "dwellings": 1, "contact_email": "a@b.fr"})).await;
        res.problem(422, "idempotency_key_reused");
        let res = app.post_idempotent("/api/v1/suppliers", &app.admin, "k-2", &member("27440001600094")).await;
        res.problem(422, "idempotency_key_reused");
        assert_eq!(app.count("members"), 1);
        assert_eq!(app.count("suppliers"), 0);
    }

    async fn keys_belong_to_their_caller_and_expire_after_24_hours(app) {
        let body = json!({"role": "admin", "name": "ops"});
        let other_admin = app.token(Role::Admin, None, None);
        let a = app.post_idempotent("/api/v1/tokens", &app.admin, "k-3", &body).await.ok(201);
        let b = app.post_idempotent("/api/v1/tokens", &other_admin, "k-3", &body).await.ok(201);
        assert_ne!(a["id"], b["id"], "another caller's key is another key");
        let replay = app.post_idempotent("/api/v1/tokens", &app.admin, "k-3", &body).await.ok(201);
        assert_eq!(replay["id"], a["id"]);
        app.clock.advance(chrono::Duration::hours(24));
        let later = app.post_idempotent("/api/v1/tokens", &app.admin, "k-3", &body).await.ok(201);
        assert_ne!(later["id"], a["id"], "after 24 h the key acts again");
    }

    async fn errors_are_not_kept_so_a_fixed_request_can_reuse_the_key(app) {
        app.post_idempotent("/api/v1/members", &app.admin, "k-4", &member("27440001600095")).await.invalid("/siret");
        app.post_idempotent("/api/v1/members", &app.admin, "k-4", &member("27440001600094")).await.ok(201);
        // 401 and 403 are not kept either.
        let officer = app.token(Role::Officer, Some("NMH"), None);
        app.post_idempotent("/api/v1/members", &officer, "k-5", &member("21440109300015")).await.problem(403, "forbidden");
        assert_eq!(app.count("idempotency_records"), 1);
    }

    async fn a_running_request_blocks_its_key_and_bad_keys_are_400(app) {
        let scope = tenderpool::idempotency::domain::scope(Some(format!("Bearer {}", app.admin).as_bytes()));
        let body = member("27440001600094");
        let fingerprint = tenderpool::idempotency::domain::fingerprint("POST", "/api/v1/members", body.to_string().as_bytes());
        let now = app.clock_now();
        app.state.db.write(move |conn| tenderpool::idempotency::store::begin(conn, &scope, "k-6", &fingerprint, now)).await.unwrap();
        app.post_idempotent("/api/v1/members", &app.admin, "k-6", &body).await.problem(409, "idempotency_key_in_use");
        assert_eq!(app.count("members"), 0);
        // A request that never finished (crash) frees its key after 5 minutes.
        app.clock.advance(chrono::Duration::minutes(5));
        app.post_idempotent("/api/v1/members", &app.admin, "k-6", &body).await.ok(201);
        for bad in ["", "with space", &"k".repeat(256)] {
            app.post_idempotent("/api/v1/members", &app.admin, bad, &body).await.problem(400, "invalid_idempotency_key");
        }
    }
}
