//! Test application: the real app (all middleware, real database) driven in-process, built
//! once per test; [`scenario`] builds the usual data (group → conventions → campaign → needs)
//! through the API.

pub mod pg;
pub mod scenario;
pub mod smtp;

use std::path::Path;
use std::sync::Arc;

use actix_service::boxed::BoxService;
use actix_service::ServiceExt;
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{test, web};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use tenderpool::auth::store::TokenSpec;
use tenderpool::auth::Role;
use tenderpool::clock::ManualClock;
use tenderpool::config::Settings;
use tenderpool::db::Db;
use tenderpool::ids::SupplierId;
use tenderpool::state::AppState;

/// The application as one service, built once per test.
type AppService = BoxService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's application with its own database.
pub struct TestApp {
    pub state: web::Data<AppState>,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    pub db_url: String,
    pub admin: String,
    service: AppService,
    _dir: Option<tempfile::TempDir>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: header::HeaderMap,
    pub body: String,
    /// The body as sent (binary bodies: XLSX).
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The body as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts a problem+json error with this status and code; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {:?}",
            self.content_type
        );
        let v = self.json();
        assert_eq!(v["code"], code, "body: {}", self.body);
        assert_eq!(v["status"], status);
        assert!(v["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(v["detail"].as_str().is_some());
        v
    }

    /// Asserts a 422 whose `errors[]` names `pointer`; returns the body.
    #[track_caller]
    pub fn invalid(&self, pointer: &str) -> Value {
        let v = self.problem(422, "validation_failed");
        let pointers: Vec<&str> = v["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            pointers.contains(&pointer),
            "expected {pointer} in {pointers:?}"
        );
        v
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        self.json()
    }
}

/// A fixed start instant for every test: 2026-11-30 09:00 Paris.
pub fn start_instant() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
        .single()
        .expect("valid instant")
}

fn settings_for(url: &str) -> Settings {
    let mut s = Settings::load_from(Path::new("/nonexistent"), &[]).expect("defaults load");
    s.database.url = url.to_owned();
    s.database.pool_max = 4;
    s
}

impl TestApp {
    /// A fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    /// A fresh SQLite file, with changed settings.
    pub async fn sqlite_with(change: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let mut settings = settings_for(&url);
        change(&mut settings);
        let mut app = Self::open(Backend::Sqlite, settings).await;
        app._dir = Some(dir);
        app
    }

    /// A fresh PostgreSQL database, or `None` (test skipped) when no server can be had and
    /// `CI` is not set. Under CI an unavailable PostgreSQL fails the test.
    pub async fn postgres() -> Option<TestApp> {
        match pg::server().and_then(|s| s.fresh_database()) {
            Ok(url) => Some(Self::open(Backend::Postgres, settings_for(&url)).await),
            Err(why) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL tests must run under CI but cannot: {why}");
                }
                eprintln!("SKIPPED PostgreSQL test: {why}");
                None
            }
        }
    }

    async fn open(backend: Backend, settings: Settings) -> TestApp {
        let db_url = settings.database.url.clone();
        let db = Db::open(&settings.database).expect("open test database");
        db.migrate().expect("migrate");
        let clock = Arc::new(ManualClock::at(start_instant()));
        let state = web::Data::new(AppState::new(db, clock.clone(), Arc::new(settings)));
        let admin = create_token(&state, Role::Admin, None, None);
        let service = test::init_service(tenderpool::server::build(state.clone()))
            .await
            .map(ServiceResponse::map_into_boxed_body);
        TestApp {
            state,
            clock,
            backend,
            db_url,
            admin,
            service: actix_service::boxed::service(service),
            _dir: None,
        }
    }

    /// Sends a request through the whole application.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        self.call_with(method, path, token, body, &[]).await
    }

    /// POSTs JSON with an `Idempotency-Key`.
    pub async fn post_idempotent(&self, path: &str, token: &str, key: &str, body: &Value) -> Resp {
        let body = Some(body.to_string().into_bytes());
        self.call_with(
            Method::POST,
            path,
            Some(token),
            body,
            &[("Idempotency-Key", key)],
        )
        .await
    }

    /// Sends a request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = test::TestRequest::default().method(method).uri(path);
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        if let Some(t) = token {
            req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
        }
        if let Some(b) = body {
            req = req
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload(b);
        }
        self.send(req.to_request()).await
    }

    /// Sends a prepared request through the whole application.
    pub async fn send(&self, req: actix_http::Request) -> Resp {
        let res = match self.service.call(req).await {
            Ok(res) => res,
            Err(e) => ServiceResponse::new(
                test::TestRequest::default().to_http_request(),
                e.error_response(),
            ),
        };
        let status = res.status();
        let headers = res.headers().clone();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = test::read_body(res).await.to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Resp {
            status,
            content_type,
            headers,
            body,
            bytes,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(
            Method::POST,
            path,
            Some(token),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, token: &str, body: &str) -> Resp {
        self.call(
            Method::POST,
            path,
            Some(token),
            Some(body.as_bytes().to_vec()),
        )
        .await
    }

    /// A token for `role`, created directly in the store.
    pub fn token(&self, role: Role, member: Option<&str>, supplier: Option<SupplierId>) -> String {
        create_token(&self.state, role, member, supplier)
    }

    /// Creates the three offices NMH, BMH and ARCH; returns their codes.
    pub async fn seed_members(&self) -> [&'static str; 3] {
        for (code, name, siret, dwellings) in [
            ("NMH", "Nantes Métropole Habitat", "27440001600094", 25_000),
            ("BMH", "Brest Métropole Habitat", "27290003200017", 13_000),
            ("ARCH", "Archipel Habitat", "27350004700017", 14_000),
        ] {
            self.post(
                "/api/v1/members",
                &self.admin,
                json!({"code": code, "legal_name": name, "siret": siret, "dwellings": dwellings,
                       "contact_email": format!("achats@{}.fr", code.to_lowercase())}),
            )
            .await
            .ok(201);
        }
        ["NMH", "BMH", "ARCH"]
    }

    /// Creates a group of the three offices coordinated by NMH (shared costs by dwellings, a
    /// 1.5 % coordinator fee); returns its id.
    pub async fn seed_group(&self) -> String {
        self.seed_members().await;
        let g = self
            .post(
                "/api/v1/groups",
                &self.admin,
                json!({"name": "Groupement Ouest", "coordinator": "NMH", "members": ["NMH", "BMH", "ARCH"],
                       "cost_sharing_key": "dwellings", "coordinator_fee_percent": "1.5"}),
            )
            .await
            .ok(201);
        g["id"].as_str().expect("group id").to_owned()
    }

    /// A delivery worker on this app's database and clock, with `mailer`.
    pub fn worker(
        &self,
        mailer: tenderpool::notifications::transport::Mailer,
    ) -> tenderpool::notifications::worker::Worker {
        self.worker_with(mailer, |_| {})
    }

    /// Like [`TestApp::worker`] with changed settings.
    pub fn worker_with(
        &self,
        mailer: tenderpool::notifications::transport::Mailer,
        change: impl FnOnce(&mut Settings),
    ) -> tenderpool::notifications::worker::Worker {
        let mut settings = (*self.state.settings).clone();
        change(&mut settings);
        tenderpool::notifications::worker::Worker::new(
            self.state.db.clone(),
            self.clock.clone(),
            mailer,
            Arc::new(settings),
        )
    }

    /// A worker claiming under `name`, as `serve` runs it (`outbox.worker_name`).
    pub fn named_worker(
        &self,
        mailer: tenderpool::notifications::transport::Mailer,
        name: &str,
    ) -> tenderpool::notifications::worker::Worker {
        tenderpool::notifications::worker::Worker::named(
            self.state.db.clone(),
            self.clock.clone(),
            mailer,
            self.state.settings.clone(),
            name.to_owned(),
        )
    }

    /// An SMTP mailer (no TLS) to a server on loopback `port`.
    pub fn smtp_mailer(&self, port: u16) -> tenderpool::notifications::transport::Mailer {
        let mut mail = self.state.settings.mail.clone();
        mail.transport = tenderpool::config::MailTransportKind::Smtp;
        mail.smtp.host = "127.0.0.1".into();
        mail.smtp.port = port;
        mail.smtp.tls = tenderpool::config::SmtpTls::None;
        mail.smtp.timeout_secs = 5;
        tenderpool::notifications::transport::Mailer::from_settings(&mail).expect("SMTP mailer")
    }

    /// The test clock's current instant.
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use tenderpool::clock::Clock;
        self.clock.now()
    }

    /// Opens the standard campaign "Entretien 2027" (needs deadline 2026-12-14 18:00 Paris) in
    /// `group` as `lead`; returns its id.
    pub async fn open_campaign(&self, group: &str, lead: &str) -> String {
        let c = self
            .post(
                &format!("/api/v1/groups/{group}/campaigns"),
                lead,
                json!({"title": "Entretien 2027", "needs_deadline": "2026-12-14T18:00:00+01:00"}),
            )
            .await
            .ok(201);
        c["id"].as_str().expect("campaign id").to_owned()
    }

    /// Records `code`'s signature of the group's convention (admin); returns the group.
    pub async fn sign_convention(&self, group: &str, code: &str) -> Value {
        self.post(
            &format!("/api/v1/groups/{group}/members/{code}/convention"),
            &self.admin,
            json!({}),
        )
        .await
        .ok(200)
    }

    /// Creates a draft need in `campaign` as `officer`; returns its id.
    pub async fn create_need(&self, campaign: &str, officer: &str, body: Value) -> String {
        let n = self
            .post(
                &format!("/api/v1/campaigns/{campaign}/needs"),
                officer,
                body,
            )
            .await
            .ok(201);
        n["id"].as_str().expect("need id").to_owned()
    }

    /// Every outbox message (admin view, up to 500).
    pub async fn outbox(&self) -> Vec<Value> {
        self.get("/api/v1/outbox?limit=500", &self.admin)
            .await
            .ok(200)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A worker on this app with the memory transport.
    pub fn memory_worker(&self) -> tenderpool::notifications::worker::Worker {
        let mut mail = self.state.settings.mail.clone();
        mail.transport = tenderpool::config::MailTransportKind::Memory;
        self.worker(
            tenderpool::notifications::transport::Mailer::from_settings(&mail)
                .expect("memory mailer"),
        )
    }

    /// True when `needle` appears anywhere in the stored data: in any column of any table
    /// (PostgreSQL), or anywhere in the database file and its WAL (SQLite).
    pub fn database_contains(&self, needle: &str) -> bool {
        use diesel::RunQueryDsl;
        match self.backend {
            Backend::Sqlite => {
                let path = self.db_url.trim_start_matches("sqlite://");
                [path.to_owned(), format!("{path}-wal")].iter().any(|p| {
                    std::fs::read(p).is_ok_and(|bytes| {
                        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                    })
                })
            }
            Backend::Postgres => {
                #[derive(diesel::QueryableByName)]
                struct T {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    tablename: String,
                }
                #[derive(diesel::QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let mut conn = self.state.db.conn().expect("connection");
                let tables: Vec<T> = diesel::sql_query(
                    "SELECT tablename::text AS tablename FROM pg_tables WHERE schemaname = 'public'",
                )
                .load(&mut **conn)
                .expect("tables");
                tables.iter().any(|t| {
                    diesel::sql_query(format!(
                        "SELECT COUNT(*) AS n FROM \"{}\" x WHERE strpos(x::text, $1) > 0",
                        t.tablename
                    ))
                    .bind::<diesel::sql_types::Text, _>(needle)
                    .get_result::<N>(&mut **conn)
                    .expect("search")
                    .n > 0
                })
            }
        }
    }

    /// Row count of a table (checks that refused requests stored nothing).
    pub fn count(&self, table: &str) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.state.db.conn().expect("connection");
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<N>(&mut **conn)
            .expect("count")
            .n
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.backend == Backend::Postgres {
            if let Ok(server) = pg::server() {
                server.drop_database(&self.db_url);
            }
        }
    }
}

fn create_token(
    state: &web::Data<AppState>,
    role: Role,
    member: Option<&str>,
    supplier: Option<SupplierId>,
) -> String {
    let spec = TokenSpec {
        role,
        member_code: member.map(str::to_owned),
        supplier_id: supplier,
        name: format!("test {role:?}"),
        expires_at: None,
    };
    let mut conn = state.db.conn().expect("connection");
    tenderpool::db::write_tx(&mut conn, |c| {
        tenderpool::auth::store::create(c, &tenderpool::audit::Actor::cli(), &spec, start_instant())
    })
    .expect("token created")
    .token
}

/// Declares async tests that run once on SQLite and once on PostgreSQL:
/// `both_backends! { async fn name(app) { … } }` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[actix_rt::test]
            async fn sqlite() {
                run($crate::common::TestApp::sqlite().await).await
            }

            #[actix_rt::test]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::postgres().await {
                    run(app).await
                }
            }
        }
    )*};
}
