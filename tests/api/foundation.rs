//! Decimals through the database, problem+json for every kind of error, auth, OpenAPI, docs.

use std::str::FromStr;

use actix_web::http::Method;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use tenderpool::auth::Role;
use tenderpool::db::types::{DbDecimal, DbUuid};
use tenderpool::schema::{group_members, members};

use crate::both_backends;

both_backends! {
    async fn decimals_round_trip_exactly_through_the_database(app) {
        let group = app.seed_group().await;
        let group_id = DbUuid(uuid::Uuid::parse_str(&group).unwrap());
        let mut conn = app.state.db.conn().unwrap();
        let nmh: DbUuid = members::table.filter(members::code.eq("NMH")).select(members::id).first(&mut **conn).unwrap();
        for text in ["12345678901234567.89", "0.0001", "999999999999.99", "0.10", "1.000", "0"] {
            let value = Decimal::from_str(text).unwrap();
            diesel::update(group_members::table)
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq(nmh))
                .set(group_members::budget_ceiling.eq(Some(DbDecimal(value))))
                .execute(&mut **conn)
                .unwrap();
            let back: Option<DbDecimal> = group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq(nmh))
                .select(group_members::budget_ceiling)
                .first(&mut **conn)
                .unwrap();
            let back = back.unwrap().0;
            assert_eq!(back, value, "{text}");
            assert_eq!(back.to_string(), text, "{text} must print as written on {:?}", app.backend);
        }
    }

    async fn decimals_print_identically_through_the_api(app) {
        app.seed_members().await;
        let g = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "NMH", "members": ["NMH", "BMH"], "cost_sharing_key": "equal",
            "coordinator_fee_percent": "2.50",
            "budget_ceilings": {"NMH": "999999999999.99", "BMH": "1000.5"}
        })).await.ok(201);
        let read = app.get(&format!("/api/v1/groups/{}", g["id"].as_str().unwrap()), &app.admin).await.ok(200);
        assert_eq!(read, g);
        assert_eq!(read["coordinator_fee_percent"], "2.5");
        let ceiling = |code: &str| read["members"].as_array().unwrap().iter().find(|m| m["member_code"] == code).unwrap()["budget_ceiling"].clone();
        assert_eq!(ceiling("NMH"), "999999999999.99");
        assert_eq!(ceiling("BMH"), "1000.50");
    }

    async fn json_numbers_and_malformed_decimals_are_422_and_store_nothing(app) {
        app.seed_members().await;
        let bad_values = [
            json!(2.5), json!(3), json!("1e3"), json!("1,5"), json!("NaN"),
            json!(format!("0.{}", "1".repeat(30))), json!("-1"), json!(" 2"), json!("1000000000000.00"),
            json!(null),
        ];
        for bad in bad_values {
            let res = app.post("/api/v1/groups", &app.admin, json!({
                "name": "G", "coordinator": "NMH", "members": ["NMH", "BMH"], "cost_sharing_key": "equal",
                "budget_ceilings": {"NMH": bad}
            })).await;
            res.invalid("/budget_ceilings/NMH");
        }
        let res = app.post("/api/v1/groups", &app.admin, json!({
            "name": "G", "coordinator": "NMH", "members": ["NMH", "BMH"], "cost_sharing_key": "equal",
            "coordinator_fee_percent": 2
        })).await;
        let body = res.invalid("/coordinator_fee_percent");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("string"), "{body}");
        assert_eq!(app.count("groups"), 0);
        assert_eq!(app.count("group_members"), 0);
    }

    async fn invalid_siret_is_422_naming_the_field(app) {
        let res = app.post("/api/v1/members", &app.admin, json!({
            "code": "NMH", "legal_name": "Nantes Métropole Habitat", "siret": "27440001600095",
            "dwellings": 25000, "contact_email": "achats@nmh.fr"
        })).await;
        let body = res.invalid("/siret");
        assert_eq!(body["errors"].as_array().unwrap().len(), 1);
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("checksum"));
        let res = app.post("/api/v1/suppliers", &app.admin, json!({
            "legal_name": "BTP Ouest", "siret": "123", "contact_emails": ["x"], "cpv_divisions": ["45", "04"]
        })).await;
        let body = res.invalid("/siret");
        let pointers: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
        assert_eq!(pointers, ["/siret", "/contact_emails/0", "/cpv_divisions/1"]);
        assert_eq!(app.count("members"), 0);
        assert_eq!(app.count("suppliers"), 0);
    }

    async fn no_token_is_401_unknown_token_401_wrong_role_403(app) {
        app.seed_members().await;
        let res = app.call(Method::GET, "/api/v1/members", None, None).await;
        res.problem(401, "unauthenticated");
        assert_eq!(res.headers.get("www-authenticate").unwrap(), "Bearer");
        app.get("/api/v1/members", "tp_not-a-real-token").await.problem(401, "unauthenticated");
        let officer = app.token(Role::Officer, Some("BMH"), None);
        let lead = app.token(Role::Lead, Some("NMH"), None);
        app.get("/api/v1/members", &officer).await.problem(403, "forbidden");
        app.get("/api/v1/members", &lead).await.problem(403, "forbidden");
        app.post("/api/v1/members", &officer, json!({})).await.problem(403, "forbidden");
        app.post("/api/v1/tokens", &lead, json!({"role": "admin", "name": "x"})).await.problem(403, "forbidden");
        app.get("/api/v1/suppliers", &officer).await.problem(403, "forbidden");
        app.get("/api/v1/suppliers", &lead).await.ok(200);
    }

    async fn malformed_json_is_400_problem(app) {
        for body in ["{\"code\": ", "not json", "{\"a\":1}}", ""] {
            app.post_raw("/api/v1/members", &app.admin, body).await.problem(400, "malformed_json");
        }
        assert_eq!(app.count("members"), 0);
    }

    async fn unknown_fields_and_wrong_types_are_422_with_pointer(app) {
        let res = app.post("/api/v1/members", &app.admin, json!({
            "code": "NMH", "legal_name": "N", "siret": "27440001600094", "dwellings": 1,
            "contact_email": "a@b.fr", "id": "00000000-0000-0000-0000-000000000000"
        })).await;
        res.invalid("/id");
        let res = app.post("/api/v1/members", &app.admin, json!({
            "code": "NMH", "legal_name": "N", "siret": "27440001600094", "dwellings": -4, "contact_email": "a@b.fr"
        })).await;
        res.invalid("/dwellings");
        let res = app.post("/api/v1/members", &app.admin, json!({"code": "NMH"})).await;
        res.invalid("/legal_name");
        assert_eq!(app.count("members"), 0);
    }

    async fn three_megabyte_body_is_413(app) {
        let big = format!("{{\"legal_name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
        app.post_raw("/api/v1/members", &app.admin, &big).await.problem(413, "payload_too_large");
        assert_eq!(app.count("members"), 0);
    }

    async fn unknown_route_bad_method_and_bad_path_are_problems(app) {
        app.get("/api/v1/nothing-here", &app.admin).await.problem(404, "not_found");
        let res = app.call(Method::DELETE, "/api/v1/members", Some(&app.admin), None).await;
        res.problem(405, "method_not_allowed");
        assert_eq!(res.headers.get("allow").unwrap(), "GET, POST");
        let group = uuid::Uuid::nil();
        let res = app.call(Method::PUT, &format!("/api/v1/groups/{group}/members/NMH/convention"), Some(&app.admin), None).await;
        res.problem(405, "method_not_allowed");
        assert_eq!(res.headers.get("allow").unwrap(), "POST");
        app.get("/api/v1/groups/not-a-uuid", &app.admin).await.problem(404, "not_found");
        app.get("/api/v1/members?limit=0", &app.admin).await.invalid("/query/limit");
        let res = app.call(Method::POST, "/api/v1/members", Some(&app.admin), None).await;
        res.problem(400, "malformed_json");
    }

    async fn health_and_ready(app) {
        let res = app.call(Method::GET, "/health", None, None).await;
        assert_eq!(res.ok(200), json!({"status": "ok"}));
        let res = app.call(Method::GET, "/ready", None, None).await;
        assert_eq!(res.ok(200), json!({"status": "ready"}));
        // Forget the newest migration: the service is up but not ready.
        let mut conn = app.state.db.conn().unwrap();
        diesel::sql_query(
            "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .execute(&mut **conn)
        .unwrap();
        drop(conn);
        app.call(Method::GET, "/ready", None, None).await.problem(503, "not_ready");
        app.call(Method::GET, "/health", None, None).await.ok(200);
    }

    async fn openapi_is_3_1_and_lists_every_route(app) {
        let res = app.call(Method::GET, "/openapi.json", None, None).await;
        let doc = res.ok(200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        let mut listed: Vec<String> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                listed.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        listed.sort();
        let mut expected = vec![
            "GET /health", "GET /ready", "GET /metrics",
            "POST /api/v1/tokens",
            "GET /api/v1/tokens",
            "DELETE /api/v1/tokens/{id}",
            "POST /api/v1/members", "GET /api/v1/members",
            "POST /api/v1/suppliers", "GET /api/v1/suppliers",
            "POST /api/v1/groups", "GET /api/v1/groups", "GET /api/v1/groups/{id}",
            "POST /api/v1/groups/{id}/members/{code}/convention",
            "POST /api/v1/groups/{id}/campaigns", "GET /api/v1/campaigns", "GET /api/v1/campaigns/{id}",
            "POST /api/v1/campaigns/{id}/close", "GET /api/v1/campaigns/{id}/aggregation",
            "POST /api/v1/campaigns/{id}/needs", "GET /api/v1/needs", "GET /api/v1/needs/{id}",
            "PATCH /api/v1/needs/{id}", "DELETE /api/v1/needs/{id}", "POST /api/v1/needs/{id}/submit",
            "POST /api/v1/needs/{id}/withdraw", "POST /api/v1/needs/{id}/reject",
            "POST /api/v1/tenders", "GET /api/v1/tenders", "GET /api/v1/tenders/{id}",
            "POST /api/v1/tenders/{id}/publish", "POST /api/v1/tenders/{id}/cancel",
            "PUT /api/v1/tenders/{id}/lots/{lot_id}/bid", "GET /api/v1/tenders/{id}/lots/{lot_id}/bid",
            "DELETE /api/v1/tenders/{id}/lots/{lot_id}/bid", "GET /api/v1/tenders/{id}/lots/{lot_id}/bids",
            "PUT /api/v1/bids/{id}/evaluation", "POST /api/v1/bids/{id}/abnormally-low",
            "GET /api/v1/tenders/{id}/lots/{lot_id}/ranking",
            "POST /api/v1/tenders/{id}/lots/{lot_id}/award", "GET /api/v1/tenders/{id}/lots/{lot_id}/award",
            "POST /api/v1/tenders/{id}/lots/{lot_id}/award/withdraw",
            "POST /api/v1/tenders/{id}/lots/{lot_id}/contract",
            "GET /api/v1/contracts/{id}", "GET /api/v1/contracts/{id}/allocation",
            "POST /api/v1/groups/{id}/shared-costs", "GET /api/v1/groups/{id}/shared-costs",
            "GET /api/v1/groups/{id}/savings",
            "GET /api/v1/tenders/{id}/ocds", "GET /api/v1/contracts/{id}/decp",
            "GET /api/v1/tenders/{id}/lots/{lot_id}/comparison",
            "GET /api/v1/outbox",
            "GET /api/v1/audit", "GET /api/v1/audit/head",
        ];
        expected.sort();
        assert_eq!(listed, expected);
        // Every listed route really answers (not the 404 of an unknown route).
        for route in &expected {
            let (method, path) = route.split_once(' ').unwrap();
            let path = path.replace("{id}", &uuid::Uuid::nil().to_string()).replace("{code}", "NMH");
            let res = app.call(Method::from_bytes(method.as_bytes()).unwrap(), &path, None, None).await;
            assert_ne!(res.json()["detail"], "route not found", "{route}");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        // Every schema reference resolves.
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {r}");
        }
    }

    async fn openapi_documents_every_error_as_problem_json_and_parameters_as_read(app) {
        let doc = app.call(Method::GET, "/openapi.json", None, None).await.ok(200);
        // Stored enums are documented with the spellings the API sends.
        for (schema, spelled) in [
            ("EntityType", "token"), ("NeedStatus", "submitted"), ("TenderStatus", "published"),
            ("BidStatus", "late"), ("Procedure", "open_tender"), ("IdentifierType", "HORS-UE"),
        ] {
            let values = &doc["components"]["schemas"][schema]["enum"];
            assert!(values.as_array().is_some_and(|v| v.contains(&serde_json::json!(spelled))), "{schema}: {values}");
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let mut expected = vec!["415", "500", "503"];
                if path.starts_with("/api/") { expected.extend(["401", "403"]); }
                if path.contains('{') { expected.push("404"); }
                if method == "post" || method == "patch" { expected.extend(["400", "409", "413", "422"]); }
                for status in expected {
                    assert!(responses.contains_key(status), "{method} {path} does not list {status}");
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let content = response["content"].as_object().unwrap();
                        assert_eq!(content.keys().collect::<Vec<_>>(), ["application/problem+json"], "{method} {path} {status}");
                        assert_eq!(content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
                    }
                }
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                for p in &params {
                    match p["name"].as_str().unwrap() {
                        "limit" => assert_eq!((p["schema"]["minimum"].as_i64(), p["schema"]["maximum"].as_i64()), (Some(1), Some(500)), "{method} {path}"),
                        "cursor" => assert_eq!(p["schema"]["pattern"], "^([A-Za-z0-9_-]{22})?$", "{method} {path}"),
                        _ => {}
                    }
                }
            }
        }
        let status = &doc["paths"]["/api/v1/needs"]["get"]["parameters"].as_array().unwrap().iter()
            .find(|p| p["name"] == "status").unwrap()["schema"];
        assert!(status.to_string().contains("NeedStatus"), "the status filter is the enum: {status}");
        assert_eq!(doc["components"]["schemas"]["Amount"]["pattern"], "^[0-9]{1,15}(\\.[0-9]{1,2})?$");
        // What the document promises, the server does: an empty cursor is the first page, any
        // cursor of the documented form is accepted, a signed limit is not.
        app.seed_members().await;
        let first = app.get("/api/v1/members?cursor=", &app.admin).await.ok(200);
        assert_eq!(first["items"].as_array().unwrap().len(), 3);
        app.get("/api/v1/members?cursor=zzzzzzzzzzzzzzzzzzzzzz", &app.admin).await.ok(200);
        app.get("/api/v1/members?limit=+5", &app.admin).await.invalid("/query/limit");
        // Errors really are problem+json with the documented codes.
        app.call(Method::GET, "/api/v1/members", None, None).await.problem(401, "unauthenticated");
    }

    async fn every_response_carries_a_request_id_also_in_problems(app) {
        let res = app.call_with(Method::GET, "/api/v1/members", None, None, &[("X-Request-Id", "client-id_42.a:b")]).await;
        assert_eq!(res.headers.get("x-request-id").unwrap(), "client-id_42.a:b");
        assert_eq!(res.problem(401, "unauthenticated")["request_id"], "client-id_42.a:b");
        for bad in ["has space", &"x".repeat(129), "é"] {
            let res = app.call_with(Method::GET, "/health", None, None, &[("X-Request-Id", bad)]).await;
            let id = res.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "a malformed id is replaced: {id}");
        }
        let a = app.call(Method::GET, "/health", None, None).await;
        let b = app.call(Method::GET, "/nowhere", None, None).await;
        let (a, b) = (a.headers.get("x-request-id").unwrap(), b.headers.get("x-request-id").unwrap());
        assert_ne!(a, b);
        assert_eq!(app.call(Method::GET, "/nowhere", None, None).await.json()["request_id"].as_str().map(str::len), Some(36));
    }

    async fn metrics_are_prometheus_text_for_admins_and_count_requests(app) {
        app.call(Method::GET, "/metrics", None, None).await.problem(401, "unauthenticated");
        let scrape = |text: &str, series: &str| -> u64 {
            text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        let series = "tenderpool_http_requests_total{method=\"GET\",route=\"/api/v1/members\",status=\"200\"}";
        let before = app.get("/metrics", &app.admin).await;
        assert_eq!(before.status.as_u16(), 200);
        assert!(before.content_type.starts_with("text/plain; version=0.0.4"));
        let n = scrape(&before.body, series);
        app.get("/api/v1/members", &app.admin).await.ok(200);
        app.get("/api/v1/members", &app.admin).await.ok(200);
        let after = app.get("/metrics", &app.admin).await.body;
        assert!(scrape(&after, series) >= n + 2, "{after}");
        // Every line is a comment or `name{labels} value` (the Prometheus text format).
        for line in after.lines().filter(|l| !l.starts_with('#')) {
            let (name_labels, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = name_labels.split('{').next().unwrap();
            assert!(name.starts_with("tenderpool_") && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{line}");
            if name_labels.contains('{') { assert!(name_labels.ends_with('}'), "{line}"); }
        }
        for name in ["tenderpool_http_request_duration_seconds_bucket", "tenderpool_db_pool_connections", "tenderpool_outbox_messages", "tenderpool_worker_last_pass_timestamp_seconds"] {
            assert!(after.contains(name), "{name} missing");
        }
        assert!(!after.contains("/api/v1/needs/0"), "raw paths never become labels");
        // SQLite: the writer counts its transactions and the writes they ran (seeding the
        // members below is three writes at least).
        let writes = |text: &str| (scrape(text, "tenderpool_sqlite_write_transactions_total"), scrape(text, "tenderpool_sqlite_write_jobs_total"));
        let (tx_before, jobs_before) = writes(&after);
        let nmh = { app.seed_members().await; app.token(tenderpool::auth::Role::Officer, Some("NMH"), None) };
        app.get("/metrics", &nmh).await.problem(403, "forbidden");
        let last = app.get("/metrics", &app.admin).await.body;
        let (tx_after, jobs_after) = writes(&last);
        if app.db_url.starts_with("postgres") {
            assert!(!last.contains("tenderpool_sqlite_write"), "{last}");
        } else {
            assert!(jobs_after >= jobs_before + 3 && tx_after > tx_before && jobs_after >= tx_after, "{last}");
        }
    }

    async fn docs_page_works_offline(app) {
        let res = app.call(Method::GET, "/docs", None, None).await;
        assert_eq!(res.status.as_u16(), 308);
        assert_eq!(res.headers.get("location").unwrap(), "/docs/");
        for page in ["/docs/", "/docs/swagger-initializer.js"] {
            let res = app.call(Method::GET, page, None, None).await;
            assert_eq!(res.status.as_u16(), 200, "{page}");
            for external in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
                assert!(!res.body.contains(external), "{page} references {external}: {}", res.body);
            }
        }
        let res = app.call(Method::GET, "/docs/swagger-initializer.js", None, None).await;
        assert!(res.body.contains("/openapi.json"));
        assert!(res.body.contains("\"validatorUrl\": \"none\""));
        let res = app.call(Method::GET, "/docs/swagger-ui-bundle.js", None, None).await;
        assert_eq!(res.status.as_u16(), 200, "the Swagger UI script is served by the binary");
    }
}
