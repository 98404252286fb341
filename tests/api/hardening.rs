//! Hardening: compressed bodies, instant ranges, token expiry and revocation, race-free status
//! changes, invisible characters, duplicate keys, oversized lists, SQLite busy, outbox leases.

use std::cell::Cell;
use std::rc::Rc;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;
use tenderpool::auth::Role;

use crate::both_backends;
use crate::common::scenario::{need_body, Scenario};
use crate::common::{Resp, TestApp};

fn member(code: &str, siret: &str) -> serde_json::Value {
    json!({"code": code, "legal_name": "Office", "siret": siret, "dwellings": 1, "contact_email": "a@b.fr"})
}

/// A POST whose body is an endless stream of gzip-looking bytes, counting what the server
/// pulls from it.
fn encoded_post(app: &TestApp, encoding: &str, pulled: Rc<Cell<usize>>) -> actix_http::Request {
    let chunk = web_bytes(vec![0x1f; 64 * 1024]);
    let stream = futures_util::stream::poll_fn(move |_| {
        pulled.set(pulled.get() + chunk.len());
        std::task::Poll::Ready(Some(Ok::<_, actix_http::error::PayloadError>(
            chunk.clone(),
        )))
    });
    let req = TestRequest::default()
        .method(Method::POST)
        .uri("/api/v1/members")
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Content-Encoding", encoding))
        .insert_header(("Idempotency-Key", "gz-1"))
        .to_request();
    let boxed: actix_http::BoxedPayloadStream = Box::pin(stream);
    req.replace_payload(actix_http::Payload::from(boxed)).0
}

fn web_bytes(v: Vec<u8>) -> actix_web::web::Bytes {
    actix_web::web::Bytes::from(v)
}

both_backends! {
    async fn compressed_bodies_are_415_before_any_byte_is_read(app) {
        for encoding in ["gzip", "deflate", "br", "gzip, identity"] {
            let pulled = Rc::new(Cell::new(0));
            let res = app.send(encoded_post(&app, encoding, pulled.clone())).await;
            res.problem(415, "unsupported_content_encoding");
            assert_eq!(pulled.get(), 0, "{encoding}: the server read {} bytes of the body", pulled.get());
        }
        assert_eq!(app.count("members"), 0);
        assert_eq!(app.count("idempotency_records"), 0);
        // `identity` is no encoding.
        let res = app.call_with(Method::POST, "/api/v1/members", Some(&app.admin),
            Some(member("NMH", "27440001600094").to_string().into_bytes()), &[("Content-Encoding", "identity")]).await;
        res.ok(201);
    }

    async fn unauthenticated_requests_are_refused_before_the_body_is_read(app) {
        let pulled = Rc::new(Cell::new(0));
        let mut req = encoded_post(&app, "identity", pulled.clone());
        req.headers_mut().insert(actix_web::http::header::AUTHORIZATION, "Bearer tp_nobody".parse().unwrap());
        app.send(req).await.problem(401, "unauthenticated");
        assert_eq!(pulled.get(), 0);
    }

    async fn instants_outside_the_accepted_range_are_422_and_lists_still_answer(app) {
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/groups/{}/campaigns", s.group);
        for (deadline, why) in [
            ("9999-12-31T23:59:59-23:59", "year 10000 in UTC"),
            ("2199-12-31T23:59:59-01:00", "year 2200 in UTC"),
            ("2150-01-01T00:00:00Z", "more than 10 years ahead"),
        ] {
            let res = app.post(&path, &s.lead, json!({"title": "X", "needs_deadline": deadline})).await;
            assert_eq!(res.status.as_u16(), 422, "{why}: {}", res.body);
            res.invalid("/needs_deadline");
        }
        app.get("/api/v1/campaigns", &s.lead).await.ok(200);
        app.get("/api/v1/campaigns", &app.admin).await.ok(200);
        app.get("/api/v1/campaigns", &s.bmh).await.ok(200);
        let mut body = need_body("45442100-8", "1", "1");
        body["wanted_by"] = json!("2250-01-01");
        app.post(&format!("/api/v1/campaigns/{}/needs", s.campaign), &s.nmh, body).await.invalid("/wanted_by");
        for expires in ["9999-12-31T23:59:59-23:59", "2026-11-30T07:59:59Z", "2040-01-01T00:00:00Z"] {
            app.post("/api/v1/tokens", &app.admin, json!({"role": "admin", "name": "x", "expires_at": expires}))
                .await.invalid("/expires_at");
        }
        assert_eq!(app.count("campaigns"), 1);
    }

    async fn sqlite_refuses_to_store_an_instant_it_could_not_read_back(app) {
        use tenderpool::notifications::domain::MailKind;
        use tenderpool::notifications::store::{enqueue, NewMail};
        let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59-23:59").unwrap().with_timezone(&chrono::Utc);
        let mail = NewMail { kind: MailKind::CampaignOpened, to: "a@b.fr".into(), subject: "s".into(), text: "t".into(), html: "h".into(), dedup_key: None };
        let mut conn = app.state.db.conn().unwrap();
        let stored = tenderpool::db::write_tx(&mut conn, |c| enqueue(c, &mail, "x", far));
        match app.backend {
            crate::common::Backend::Sqlite => assert!(stored.is_err(), "year 10000 must not be written as text"),
            crate::common::Backend::Postgres => assert!(stored.is_ok()),
        }
        drop(conn);
        app.get("/api/v1/outbox", &app.admin).await.ok(200);
    }

    async fn a_token_revoked_elsewhere_is_refused_within_the_cache_bound(app) {
        let bound = chrono::Duration::milliseconds(app.state.settings.auth.token_cache_ms as i64);
        assert!(bound > chrono::Duration::zero(), "the cache is on by default");
        let created = app.post("/api/v1/tokens", &app.admin, json!({"role": "admin", "name": "ops"})).await.ok(201);
        let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
        let secret = created["token"].as_str().unwrap().to_owned();
        app.get("/api/v1/members", &secret).await.ok(200); // looked up, now cached
        // Revoked by the CLI or another instance: in the database, not through this instance.
        let now = app.clock_now();
        let mut conn = app.state.db.conn().unwrap();
        tenderpool::db::write_tx(&mut conn, |c| {
            tenderpool::auth::store::revoke(c, &tenderpool::audit::domain::Actor::cli(), tenderpool::ids::TokenId(id), now)
        })
        .unwrap();
        drop(conn);
        app.clock.advance(bound - chrono::Duration::milliseconds(1));
        app.get("/api/v1/members", &secret).await.ok(200); // the documented bound, not more
        app.clock.advance(chrono::Duration::milliseconds(1));
        app.get("/api/v1/members", &secret).await.problem(401, "unauthenticated");
        // Once refused, it stays refused (nothing cached a refusal away).
        app.get("/api/v1/members", &secret).await.problem(401, "unauthenticated");
        assert!(!app.state.tokens.is_empty(), "the cache holds other tokens (the admin's)");
    }

    async fn revoked_and_expired_tokens_are_401_at_once(app) {
        app.seed_members().await;
        let created = app.post("/api/v1/tokens", &app.admin, json!({
            "role": "officer", "member_code": "NMH", "name": "agent", "expires_at": "2026-11-30T09:00:00Z"
        })).await.ok(201);
        let expiring = created["token"].as_str().unwrap().to_owned();
        assert_eq!(created["expires_at"], "2026-11-30T09:00:00Z");
        app.get("/api/v1/needs", &expiring).await.ok(200);
        app.clock.advance(chrono::Duration::minutes(59) + chrono::Duration::seconds(59));
        app.get("/api/v1/needs", &expiring).await.ok(200);
        app.clock.advance(chrono::Duration::seconds(1));
        app.get("/api/v1/needs", &expiring).await.problem(401, "unauthenticated");

        let other = app.post("/api/v1/tokens", &app.admin, json!({"role": "admin", "name": "ops"})).await.ok(201);
        let (id, secret) = (other["id"].as_str().unwrap().to_owned(), other["token"].as_str().unwrap().to_owned());
        app.get("/api/v1/members", &secret).await.ok(200);
        app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await.ok(204);
        app.get("/api/v1/members", &secret).await.problem(401, "unauthenticated");
        app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await.ok(204);
        app.call(Method::DELETE, &format!("/api/v1/tokens/{}", uuid::Uuid::now_v7()), Some(&app.admin), None).await.problem(404, "not_found");
        app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&expiring), None).await.problem(401, "unauthenticated");

        let list = app.get("/api/v1/tokens?limit=500", &app.admin).await.ok(200);
        let row = list["items"].as_array().unwrap().iter().find(|t| t["id"] == id.as_str()).unwrap().clone();
        assert_eq!(row["revoked_at"], "2026-11-30T09:00:00Z");
        assert!(!list.to_string().contains("tp_"), "a secret in the list: {list}");
        let officer = app.token(Role::Officer, Some("NMH"), None);
        app.get("/api/v1/tokens", &officer).await.problem(403, "forbidden");
        assert!(!app.database_contains(&secret) && !app.database_contains(&expiring));
    }

    async fn last_use_is_recorded_at_most_once_a_minute(app) {
        use tenderpool::auth::store::touch;
        let list = app.get("/api/v1/tokens", &app.admin).await.ok(200);
        let id: tenderpool::ids::TokenId = list["items"][0]["id"].as_str().unwrap().parse().unwrap();
        let mut conn = app.state.db.conn().unwrap();
        let now = app.clock_now() + chrono::Duration::hours(1);
        assert_eq!(touch(&mut conn, id, now).unwrap(), 1);
        assert_eq!(touch(&mut conn, id, now + chrono::Duration::seconds(59)).unwrap(), 0);
        assert_eq!(touch(&mut conn, id, now + chrono::Duration::seconds(60)).unwrap(), 1);
        drop(conn);
        let list = app.get("/api/v1/tokens", &app.admin).await.ok(200);
        assert_eq!(list["items"][0]["last_used_at"], "2026-11-30T09:01:00Z");
    }

    async fn parallel_conflicting_transitions_leave_one_winner_and_a_consistent_need(app) {
        let s = Scenario::new(&app).await;
        for round in 0..4 {
            // Two submits of one draft: one wins, the other finds it submitted.
            let id = s.need(&app, &s.nmh, need_body("45442100-8", "1", "1")).await;
            let path = format!("/api/v1/needs/{id}/submit");
            let submit = || app.post(&path, &s.nmh, json!({}));
            let (a, b) = tokio::join!(submit(), submit());
            let mut st = [a.status.as_u16(), b.status.as_u16()];
            st.sort();
            assert_eq!(st, [200, 409], "round {round}: {a:?} {b:?}");
            assert_eq!(app.get(&format!("/api/v1/needs/{id}"), &s.nmh).await.ok(200)["status"], "submitted");
            // The officer withdraws while the lead rejects: exactly one of them.
            let (withdraw, reject) = (format!("/api/v1/needs/{id}/withdraw"), format!("/api/v1/needs/{id}/reject"));
            let (w, r) = tokio::join!(
                app.post(&withdraw, &s.nmh, json!({})),
                app.post(&reject, &s.lead, json!({"reason": "doublon"})),
            );
            let stored = app.get(&format!("/api/v1/needs/{id}"), &s.nmh).await.ok(200);
            match (w.status.as_u16(), r.status.as_u16()) {
                (200, 409) => assert_eq!(stored["status"], "withdrawn"),
                (409, 200) => assert_eq!(stored["status"], "rejected"),
                other => panic!("round {round}: both or neither won: {other:?} {w:?} {r:?}"),
            }
        }
        // A submit racing the campaign's close: it commits before the close, or sees it closed.
        let id = s.need(&app, &s.bmh, need_body("45442100-8", "1", "1")).await;
        let (submit, close) = (format!("/api/v1/needs/{id}/submit"), format!("/api/v1/campaigns/{}/close", s.campaign));
        let (sub, close) = tokio::join!(
            app.post(&submit, &s.bmh, json!({})),
            app.post(&close, &s.lead, json!({})),
        );
        close.ok(200);
        let stored = app.get(&format!("/api/v1/needs/{id}"), &s.bmh).await.ok(200);
        match sub.status.as_u16() {
            200 => assert_eq!(stored["status"], "submitted"),
            409 => { sub.problem(409, "campaign_closed"); assert_eq!(stored["status"], "draft"); }
            other => panic!("submit answered {other}: {}", sub.body),
        }
    }

    async fn a_draft_created_while_its_campaign_closes_is_ordered_before_the_close_and_stays_inert(app) {
        // Creating a need holds its campaign only in its write statement: a creation racing the
        // close either finds the campaign closed, or commits before the close and leaves a
        // draft that can no longer be submitted, changed or withdrawn.
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
        let close_path = format!("/api/v1/campaigns/{}/close", s.campaign);
        let (create, close) = tokio::join!(
            app.post(&path, &s.arch, need_body("45442100-8", "3", "7")),
            app.post(&close_path, &s.lead, json!({})),
        );
        close.ok(200);
        match create.status.as_u16() {
            201 => {
                let id = create.json()["id"].as_str().unwrap().to_owned();
                let need = format!("/api/v1/needs/{id}");
                assert_eq!(app.get(&need, &s.arch).await.ok(200)["status"], "draft");
                app.post(&format!("{need}/submit"), &s.arch, json!({})).await.problem(409, "campaign_closed");
                app.post(&format!("{need}/withdraw"), &s.arch, json!({})).await.problem(409, "campaign_closed");
                app.call(Method::PATCH, &need, Some(&s.arch), Some(json!({"quantity": "4"}).to_string().into_bytes()))
                    .await.problem(409, "campaign_closed");
                assert_eq!(app.get(&need, &s.arch).await.ok(200)["status"], "draft");
            }
            409 => {
                create.problem(409, "campaign_closed");
                assert_eq!(app.count("needs"), 0);
            }
            other => panic!("create answered {other}: {}", create.body),
        }
    }

    async fn on_postgresql_a_need_created_while_its_campaign_closes_waits_for_the_close_and_is_refused(app) {
        // Creating a need takes its campaign's row FOR KEY SHARE in its one statement: while a
        // close holds the row, the creation waits, then sees the campaign closed and writes
        // nothing (its foreign-key check alone would let the draft through). SQLite's one
        // writer orders the two anyway.
        use diesel::connection::SimpleConnection;
        use diesel::RunQueryDsl;
        if matches!(app.backend, crate::common::Backend::Sqlite) {
            return;
        }
        let s = Scenario::new(&app).await;
        let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
        for officer in [&s.arch, &s.bmh] {
            // The first creation of a member reads the campaign; the second uses the kept one.
            s.need(&app, officer, need_body("45442100-8", "1", "1")).await;
        }
        let needs = app.count("needs");
        assert_eq!(app.state.campaigns.len(), 2, "the campaign is kept for ARCH and BMH");
        // ARCH through the kept campaign, NMH reading it first.
        for officer in [&s.arch, &s.nmh] {
            // A close in progress on another connection: the row held and changed, not committed.
            let mut close = app.state.db.conn().expect("connection");
            close.batch_execute(&format!(
                "BEGIN; SELECT id FROM campaigns WHERE id = '{c}' FOR UPDATE; \
                 UPDATE campaigns SET status = 'closed', closed_at = now() WHERE id = '{c}'",
                c = s.campaign
            )).expect("close begun");
            let create = app.post(&path, officer, need_body("45442100-8", "1", "1"));
            let commit = async {
                // Wait until the creation is blocked on the campaign's row, then commit.
                let mut waited = 0;
                loop {
                    #[derive(diesel::QueryableByName)]
                    struct N { #[diesel(sql_type = diesel::sql_types::BigInt)] n: i64 }
                    let mut conn = app.state.db.conn().expect("connection");
                    let blocked = diesel::sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                        .get_result::<N>(&mut **conn).expect("pg_stat_activity").n;
                    if blocked > 0 { break; }
                    waited += 1;
                    assert!(waited < 1000, "the creation never waited for the close");
                    actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                close.batch_execute("COMMIT").expect("close committed");
            };
            let (create, ()) = tokio::join!(create, commit);
            create.problem(409, "campaign_closed");
            assert_eq!(app.count("needs"), needs);
            // Reopen for the next round (no route does; the test resets the row).
            let mut conn = app.state.db.conn().expect("connection");
            conn.batch_execute(&format!("UPDATE campaigns SET status = 'open', closed_at = NULL WHERE id = '{}'", s.campaign)).expect("reopened");
        }
    }

    async fn invisible_characters_and_duplicate_keys_are_refused(app) {
        let mut body = member("NMH", "27440001600094");
        body["legal_name"] = json!("Nantes\u{202E}Habitat");
        app.post("/api/v1/members", &app.admin, body).await.invalid("/legal_name");
        let mut body = member("NMH", "27440001600094");
        body["contact_email"] = json!("achats@nmh\u{2028}.fr");
        app.post("/api/v1/members", &app.admin, body).await.invalid("/contact_email");
        let mut body = member("NMH", "27440001600094");
        body["legal_name"] = json!("Office\u{200B}");
        app.post("/api/v1/members", &app.admin, body).await.invalid("/legal_name");
        let dup = r#"{"code":"NMH","code":"BMH","legal_name":"Office","siret":"27440001600094","dwellings":1,"contact_email":"a@b.fr"}"#;
        let res = app.post_raw("/api/v1/members", &app.admin, dup).await;
        let problem = res.problem(400, "malformed_json");
        assert!(problem["detail"].as_str().unwrap().contains("duplicate key"));
        assert_eq!(app.count("members"), 0);
    }

    async fn oversized_lists_are_refused_before_per_entry_work_with_at_most_20_errors(app) {
        let s = Scenario::new(&app).await;
        let scope: Vec<&str> = vec!["99"; 80_000];
        let res = app.post(&format!("/api/v1/groups/{}/campaigns", s.group), &s.lead,
            json!({"title": "X", "needs_deadline": "2026-12-20T12:00:00Z", "cpv_scope": scope})).await;
        let v = res.invalid("/cpv_scope");
        assert_eq!(v["errors"].as_array().unwrap().len(), 1, "no entry was looked at");
        let members: Vec<String> = (0..45).map(|i| format!("bad code {i}")).collect();
        let res = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "NMH", "members": members, "cost_sharing_key": "equal"
        })).await;
        let v = res.problem(422, "validation_failed");
        assert_eq!(v["errors"].as_array().unwrap().len(), 20);
        assert_eq!(v["detail"], "46 fields are invalid; the first 20 are listed");
        let members: Vec<String> = (0..51).map(|i| format!("M{i}")).collect();
        let v = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "M0", "members": members, "cost_sharing_key": "equal"
        })).await.invalid("/members");
        assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    }

    async fn a_message_whose_lease_keeps_expiring_fails_after_max_attempts(app) {
        Scenario::new(&app).await;
        let worker = app.worker_with(app.smtp_mailer(crate::common::smtp::free_port()), |s| s.outbox.max_attempts = 2);
        for attempt in 1..=2 {
            let claimed = worker.claim().await.unwrap();
            assert_eq!(claimed.len(), 3, "attempt {attempt}");
            // The worker dies while sending; its lease runs out.
            app.clock.advance(chrono::Duration::seconds(61));
        }
        assert!(worker.claim().await.unwrap().is_empty(), "not claimed a third time");
        let outbox = app.outbox().await;
        assert_eq!(outbox.len(), 3);
        for m in &outbox {
            assert_eq!(m["status"], "failed");
            assert_eq!(m["attempts"], 2);
            assert!(m["last_error"].as_str().unwrap().contains("lease expired"), "{m}");
        }
    }
}

#[actix_rt::test]
async fn sqlite_writers_of_one_process_take_turns_instead_of_failing_busy() {
    // A busy timeout of 1 ms: writers that met each other on SQLite's lock would fail with
    // 503 database_busy; queued in arrival order, every one of them succeeds.
    let app = TestApp::sqlite_with(|s| {
        s.database.sqlite_busy_timeout_ms = 1;
        s.database.pool_max = 8;
    })
    .await;
    let s = Scenario::new(&app).await;
    // Open the pool's connections first (each sets its pragmas once), so the burst below
    // measures writers meeting writers only.
    let warm = (0..8).map(|_| app.get("/api/v1/needs", &s.nmh));
    for r in futures_util::future::join_all(warm).await {
        r.ok(200);
    }
    let path = format!("/api/v1/campaigns/{}/needs", s.campaign);
    let posts = (0..24).map(|i| {
        let body = need_body("45442100-8", &format!("{}", i + 1), "1");
        let path = path.clone();
        let token = if i % 2 == 0 {
            s.nmh.clone()
        } else {
            s.bmh.clone()
        };
        let app = &app;
        async move { app.post(&path, &token, body).await }
    });
    let answers = futures_util::future::join_all(posts).await;
    for r in &answers {
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    assert_eq!(app.count("needs"), 24, "nothing lost");
}

#[actix_rt::test]
async fn metrics_can_be_switched_off() {
    let app =
        TestApp::sqlite_with(|s| s.metrics.access = tenderpool::config::MetricsAccess::Off).await;
    app.get("/metrics", &app.admin)
        .await
        .problem(404, "not_found");
    let open =
        TestApp::sqlite_with(|s| s.metrics.access = tenderpool::config::MetricsAccess::Open).await;
    let res = open.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(res.status.as_u16(), 200);
}

#[actix_rt::test]
async fn sqlite_busy_is_503_with_retry_after_and_the_retry_succeeds() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = TestApp::sqlite_with(|s| s.database.sqlite_busy_timeout_ms = 50).await;
    let path = app.db_url.trim_start_matches("sqlite://").to_owned();
    let mut other = diesel::SqliteConnection::establish(&path).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    let body = member("NMH", "27440001600094");
    let res = app.post("/api/v1/members", &app.admin, body.clone()).await;
    res.problem(503, "database_busy");
    assert_eq!(res.headers.get("retry-after").unwrap(), "1");
    assert!(!res.body.contains("locked"), "{}", res.body);
    other.batch_execute("ROLLBACK").unwrap();
    app.post("/api/v1/members", &app.admin, body).await.ok(201);
}

/// Holds the need's row lock from a raw connection until both requests of `race` wait on a
/// lock (for status changes: both have read the need and reached their UPDATE), then
/// releases it. Returns how many
/// requests were seen waiting, and the two responses.
async fn race_at_the_update<F, Fut>(app: &TestApp, need: &str, race: F) -> (i64, Resp, Resp)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = (Resp, Resp)>,
{
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let (url, need) = (app.db_url.clone(), need.to_owned());
    let (locked, is_locked) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        let mut c = diesel::PgConnection::establish(&url).unwrap();
        c.batch_execute(&format!(
            "BEGIN; SELECT 1 FROM needs WHERE id = '{need}' FOR UPDATE"
        ))
        .unwrap();
        locked.send(()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let waiting = loop {
            let n = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result::<N>(&mut c)
            .unwrap()
            .n;
            if n >= 2 || std::time::Instant::now() > deadline {
                break n;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        c.batch_execute("COMMIT").unwrap();
        waiting
    });
    is_locked.recv().unwrap();
    let (a, b) = race().await;
    (locker.join().unwrap(), a, b)
}

#[actix_rt::test]
async fn postgres_status_changes_stay_exclusive_when_both_requests_reach_the_update() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let s = Scenario::new(&app).await;

    // Two submits that both read the draft: exactly one changes it.
    let id = s
        .need(&app, &s.nmh, need_body("45442100-8", "1", "1"))
        .await;
    let path = format!("/api/v1/needs/{id}/submit");
    let (waiting, a, b) = race_at_the_update(&app, &id, || async {
        tokio::join!(
            app.post(&path, &s.nmh, json!({})),
            app.post(&path, &s.nmh, json!({}))
        )
    })
    .await;
    assert_eq!(waiting, 2, "both submits must have reached their UPDATE");
    let mut st = [a.status.as_u16(), b.status.as_u16()];
    st.sort();
    assert_eq!(st, [200, 409], "{a:?} {b:?}");
    assert_eq!(
        app.get(&format!("/api/v1/needs/{id}"), &s.nmh)
            .await
            .ok(200)["status"],
        "submitted"
    );

    // Two PATCHes of one draft at once: the second waits for the first and applies its change
    // on top, instead of writing back a stale copy over it.
    let id = s
        .need(&app, &s.nmh, need_body("45442100-8", "1", "1"))
        .await;
    let path = format!("/api/v1/needs/{id}");
    let (waiting, a, b) = race_at_the_update(&app, &id, || async {
        tokio::join!(
            app.call(
                Method::PATCH,
                &path,
                Some(&s.nmh),
                Some(json!({"quantity": "2"}).to_string().into_bytes())
            ),
            app.call(
                Method::PATCH,
                &path,
                Some(&s.nmh),
                Some(json!({"title": "Autre titre"}).to_string().into_bytes())
            ),
        )
    })
    .await;
    assert_eq!(
        waiting, 2,
        "both PATCHes must have been waiting on the need"
    );
    a.ok(200);
    b.ok(200);
    let stored = app.get(&path, &s.nmh).await.ok(200);
    assert_eq!(stored["quantity"], "2", "the first change is kept");
    assert_eq!(stored["title"], "Autre titre", "the second change is kept");
}

#[actix_rt::test]
async fn postgresql_connections_killed_while_idle_are_replaced_before_use() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let s = Scenario::new(&app).await;
    // Several requests at once, so the pool holds several connections.
    let warm = (0..4).map(|_| app.get("/api/v1/needs", &s.nmh));
    for r in futures_util::future::join_all(warm).await {
        r.ok(200);
    }
    // A database restart, as the pool sees it: every connection of the service is closed.
    let mut admin = diesel::PgConnection::establish(&app.db_url).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    // Used again at once (idle for less than the bound, so not checked), a dead connection
    // fails its request with 503 and Retry-After, and is dropped.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let dead = app.get("/api/v1/needs", &s.nmh).await;
    dead.problem(503, "database_unavailable");
    assert!(dead.headers.contains_key("retry-after"));
    // Once idle for longer than the bound, a connection is checked before use: every request
    // gets a live one (without the check, the next requests would fail on dead ones).
    std::thread::sleep(tenderpool::db::CHECK_IDLE_AFTER + std::time::Duration::from_millis(200));
    for _ in 0..6 {
        app.get("/api/v1/needs", &s.nmh).await.ok(200);
    }
}
