//! `GET /metrics`: Prometheus text of this instance — requests by route template and status
//! (count and latency histogram), the connection pool, the outbox, the worker's last pass.
//!
//! Counters live in process memory: they describe this instance only (Prometheus scrapes each
//! instance). Labels are bounded: the route template, never the raw path; no caller, no id.
//! Access is a setting (`metrics.access`): `admin` (an admin token, the default), `open`, or
//! `off` (404).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};

use actix_web::{get, web, HttpRequest, HttpResponse};

use crate::config::MetricsAccess;
use crate::error::ApiError;
use crate::state::AppState;

/// Upper bounds of the latency buckets, in microseconds, with their Prometheus spelling.
const BUCKETS: [(u64, &str); 11] = [
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (5_000_000, "5"),
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_us: u64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
struct Registry {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    worker_last_pass: AtomicI64,
}

/// This process's counters (per instance by nature, so not configuration: one per process).
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// Counts a finished request.
pub fn observe(method: &str, route: &str, status: u16, duration_us: u64) {
    let Ok(mut map) = registry().requests.lock() else {
        return;
    };
    let s = map
        .entry((method.to_owned(), route.to_owned(), status))
        .or_default();
    s.count += 1;
    s.sum_us = s.sum_us.saturating_add(duration_us);
    for (i, (le, _)) in BUCKETS.iter().enumerate() {
        if duration_us <= *le {
            s.buckets[i] += 1;
        }
    }
}

/// Records that the outbox worker finished a pass at this Unix time (seconds).
pub fn worker_passed(unix_seconds: i64) {
    registry()
        .worker_last_pass
        .store(unix_seconds, Ordering::Relaxed);
}

fn seconds(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text of the request counters.
pub fn render_requests(out: &mut String) {
    let _ = writeln!(out, "# HELP tenderpool_http_requests_total Requests answered, by method, route template and status.");
    let _ = writeln!(out, "# TYPE tenderpool_http_requests_total counter");
    let Ok(map) = registry().requests.lock() else {
        return;
    };
    for ((method, route, status), s) in map.iter() {
        let _ = writeln!(
            out,
            "tenderpool_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
            escape(method),
            escape(route),
            s.count
        );
    }
    let _ = writeln!(out, "# HELP tenderpool_http_request_duration_seconds Time to answer, by method, route template and status.");
    let _ = writeln!(
        out,
        "# TYPE tenderpool_http_request_duration_seconds histogram"
    );
    for ((method, route, status), s) in map.iter() {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{status}\"",
            escape(method),
            escape(route)
        );
        for (i, (_, le)) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "tenderpool_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                s.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "tenderpool_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            s.count
        );
        let _ = writeln!(
            out,
            "tenderpool_http_request_duration_seconds_sum{{{labels}}} {}",
            seconds(s.sum_us)
        );
        let _ = writeln!(
            out,
            "tenderpool_http_request_duration_seconds_count{{{labels}}} {}",
            s.count
        );
    }
}

/// Writes one metric: its HELP and TYPE lines, then one line per labelled sample.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Prometheus text of this instance.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match state.settings.metrics.access {
        MetricsAccess::Off => return Err(ApiError::not_found("route")),
        MetricsAccess::Open => {}
        MetricsAccess::Admin => {
            let caller = crate::auth::authenticate(&req).await?;
            <crate::auth::Admin as crate::auth::FromCaller>::from_caller(caller)?;
        }
    }
    let now = state.clock.now();
    let outbox = state
        .db
        .read(move |conn| crate::notifications::store::health(conn, now).map_err(ApiError::from))
        .await?;
    let pool = state.db.pool_state();
    let mut out = String::new();
    render_requests(&mut out);
    metric(
        &mut out,
        "tenderpool_db_pool_connections",
        "gauge",
        "Pooled database connections, by state.",
        &[
            ("{state=\"idle\"}", i64::from(pool.idle)),
            ("{state=\"in_use\"}", i64::from(pool.in_use)),
        ],
    );
    metric(
        &mut out,
        "tenderpool_db_pool_max",
        "gauge",
        "Most connections the pool opens.",
        &[("", i64::from(pool.max))],
    );
    metric(
        &mut out,
        "tenderpool_db_pool_timeouts_total",
        "counter",
        "Requests that found no free connection in time (answered 503).",
        &[("", i64::try_from(pool.timeouts).unwrap_or(i64::MAX))],
    );
    if let Some(writes) = pool.writes {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        metric(
            &mut out,
            "tenderpool_sqlite_write_transactions_total",
            "counter",
            "SQLite: transactions run by the writer (each commits one or more queued writes).",
            &[("", count(writes.transactions))],
        );
        metric(
            &mut out,
            "tenderpool_sqlite_write_jobs_total",
            "counter",
            "SQLite: writes run by the writer (divided by its transactions: the mean batch).",
            &[("", count(writes.jobs))],
        );
    }
    let campaigns = &state.campaigns;
    metric(
        &mut out,
        "tenderpool_campaign_cache_entries",
        "gauge",
        "Open campaigns kept in process per member (creating a need then sends one statement).",
        &[("", i64::try_from(campaigns.len()).unwrap_or(i64::MAX))],
    );
    metric(
        &mut out,
        "tenderpool_campaign_cache_rechecks_total",
        "counter",
        "Writes that read a kept campaign again: its condition failed (closed or frozen since) or the request was refused on it.",
        &[("", i64::try_from(campaigns.rechecks()).unwrap_or(i64::MAX))],
    );
    metric(
        &mut out,
        "tenderpool_outbox_messages",
        "gauge",
        "Outbox messages, by status.",
        &[
            ("{status=\"pending\"}", outbox.pending),
            ("{status=\"failed\"}", outbox.failed),
        ],
    );
    metric(
        &mut out,
        "tenderpool_outbox_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest pending message (0: none).",
        &[("", outbox.oldest_pending_age_s)],
    );
    metric(
        &mut out,
        "tenderpool_worker_last_pass_timestamp_seconds",
        "gauge",
        "When this instance's outbox worker last finished a pass (Unix time; 0: never).",
        &[("", registry().worker_last_pass.load(Ordering::Relaxed))],
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}
