//! The real binary: `serve` in an empty folder on the embedded default and on PostgreSQL,
//! `token create` printing the token alone on the last line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::pg;
use crate::common::smtp::SmtpServer;

const BIN: &str = env!("CARGO_BIN_EXE_tenderpool");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.1 GET; returns (status, body).
fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    http(port, "GET", path, token, None)
}

/// Minimal HTTP/1.1 client; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split(' ').nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(cwd: &Path, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("TENDERPOOL_ENV");
    for (k, _) in std::env::vars() {
        if k.starts_with("TENDERPOOL__") {
            cmd.env_remove(k);
        }
    }
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

fn serve(cwd: &Path, database_url: Option<&str>) -> (Server, u16) {
    serve_with(cwd, database_url, &[])
}

fn serve_with(cwd: &Path, database_url: Option<&str>, env: &[(&str, String)]) -> (Server, u16) {
    let port = free_port();
    let child = command(cwd, database_url)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenderpool serve");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_get(port, "/health", None).is_some() {
            return (server, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tenderpool serve did not answer within 30 s");
}

fn token_create(cwd: &Path, database_url: Option<&str>, args: &[&str]) -> std::process::Output {
    command(cwd, database_url)
        .args(["token", "create"])
        .args(args)
        .output()
        .expect("run token create")
}

fn check_binary(cwd: &Path, database_url: Option<&str>) {
    let out = token_create(cwd, database_url, &["--role", "admin", "--name", "ops"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap();
    assert!(
        token.starts_with("tp_") && !token.contains(' '),
        "last line must be the token alone: {stdout:?}"
    );

    let out = token_create(
        cwd,
        database_url,
        &["--role", "officer", "--member", "NOPE", "--name", "x"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("member_code"));

    // Token lifecycle from the command line: an expiring token, listed, then revoked.
    let out = token_create(
        cwd,
        database_url,
        &["--role", "admin", "--name", "temp", "--expires-in", "1h"],
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let temp = created_token(out);
    let temp_id = stdout
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .to_owned();
    let out = token_create(
        cwd,
        database_url,
        &["--role", "admin", "--name", "x", "--expires-in", "soon"],
    );
    assert!(!out.status.success());
    let list = command(cwd, database_url)
        .args(["token", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(list.status.success());
    let row = listed.lines().find(|l| l.starts_with(&temp_id)).unwrap();
    assert!(
        row.contains("\ttemp\t") && !row.ends_with("\t-\t-\t-"),
        "{row}"
    );
    assert!(!listed.contains("tp_"), "a secret in the list: {listed}");
    let revoke = command(cwd, database_url)
        .args(["token", "revoke", &temp_id])
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );

    // The audit journal of what the CLI did, checked by the CLI (nothing sealed yet: intact).
    let verify = command(cwd, database_url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("audit journal intact"));
    let head = command(cwd, database_url)
        .args(["audit", "head"])
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert!(
        head.contains("seq 0") && head.contains("unsealed 3"),
        "{head}"
    );

    let (server, port) = serve(cwd, database_url);
    assert_eq!(
        http_get(port, "/api/v1/members", Some(&temp)).unwrap().0,
        401,
        "a revoked token"
    );
    assert_eq!(http_get(port, "/health", None).unwrap().0, 200);
    let (status, body) = http_get(port, "/ready", None).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http_get(port, "/api/v1/members", Some(token)).unwrap().0,
        200,
        "the CLI token works on the server"
    );
    assert_eq!(http_get(port, "/api/v1/members", None).unwrap().0, 401);
    assert_eq!(
        http_get(port, "/api/v1/outbox", Some(token)).unwrap().0,
        200,
        "the outbox is listed"
    );
    stop_gracefully(server);
}

/// Sends SIGTERM and expects a clean exit: the HTTP server drains and the outbox worker stops.
fn stop_gracefully(mut server: Server) {
    let pid = i32::try_from(server.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(
                status.success(),
                "serve exits cleanly on SIGTERM: {status:?}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_on_the_embedded_default_in_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    check_binary(dir.path(), None);
    assert!(
        dir.path().join("data/tenderpool.db").is_file(),
        "./data/tenderpool.db is created"
    );
}

#[test]
fn serve_on_postgres_with_database_url() {
    let url = match pg::server().and_then(|s| s.fresh_database()) {
        Ok(url) => url,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL tests must run under CI: {why}"
            );
            eprintln!("SKIPPED PostgreSQL test: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    check_binary(dir.path(), Some(&url));
    assert!(
        !dir.path().join("data").exists(),
        "no SQLite file when DATABASE_URL is PostgreSQL"
    );
    if let Ok(s) = pg::server() {
        s.drop_database(&url);
    }
}

#[test]
fn bad_configuration_stops_start_up_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path(), None)
        .env("TENDERPOOL__DATABASE__POOL_SIZE", "3")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool_size"));
    let out = command(dir.path(), Some("postgres:nobody"))
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !dir.path().join("postgres:nobody").exists(),
        "a mistyped URL never becomes a SQLite file"
    );
}

fn created_token(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

#[test]
fn serve_delivers_campaign_mail_over_smtp_and_stops_on_sigterm() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TENDERPOOL__MAIL__TRANSPORT", "smtp".to_owned()),
        ("TENDERPOOL__MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TENDERPOOL__MAIL__SMTP__PORT", smtp.port.to_string()),
        ("TENDERPOOL__MAIL__SMTP__TLS", "none".to_owned()),
        ("TENDERPOOL__OUTBOX__POLL_MS", "100".to_owned()),
    ];
    let admin = created_token(token_create(
        dir.path(),
        None,
        &["--role", "admin", "--name", "ops"],
    ));
    let (server, port) = serve_with(dir.path(), None, &env);
    for (code, siret) in [("NMH", "27440001600094"), ("BMH", "27290003200017")] {
        let body = format!(
            r#"{{"code":"{code}","legal_name":"Office {code}","siret":"{siret}","dwellings":10,"contact_email":"achats@{}.fr"}}"#,
            code.to_lowercase()
        );
        assert_eq!(
            http(port, "POST", "/api/v1/members", Some(&admin), Some(&body))
                .unwrap()
                .0,
            201
        );
    }
    let (status, group) = http(
        port,
        "POST",
        "/api/v1/groups",
        Some(&admin),
        Some(r#"{"name":"Groupement Ouest","coordinator":"NMH","members":["NMH","BMH"],"cost_sharing_key":"equal"}"#),
    )
    .unwrap();
    assert_eq!(status, 201, "{group}");
    let group: serde_json::Value = serde_json::from_str(&group).unwrap();
    let lead = created_token(token_create(
        dir.path(),
        None,
        &["--role", "lead", "--member", "NMH", "--name", "Claire"],
    ));
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/groups/{}/campaigns", group["id"].as_str().unwrap()),
        Some(&lead),
        Some(&format!(
            r#"{{"title":"Entretien 2027","needs_deadline":"{}"}}"#,
            (chrono::Utc::now() + chrono::Duration::days(60)).to_rfc3339()
        )),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.messages().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the worker of serve delivered nothing within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rcpts: std::collections::BTreeSet<String> =
        smtp.messages().into_iter().flat_map(|m| m.rcpt).collect();
    assert_eq!(
        rcpts,
        ["achats@bmh.fr", "achats@nmh.fr"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    stop_gracefully(server);
}
