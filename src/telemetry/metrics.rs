//! Prometheus metrics: what the server counts and measures, and `/metrics`.
//!
//! The recorder is installed once per process ([`install`]) unless `METRICS=off`; without it
//! every recording below is a no-op. Gauges that describe a state (the pool, the queue's
//! backlog, memory) are read when a scrape asks, not kept up to date on every change.
//!
//! `/metrics` is never public by accident: on the main port it answers only a client on this
//! machine whose request shows no sign of having passed a proxy ([`is_local_scrape`]), and
//! with `METRICS_ADDR` only on that listener.

use crate::classify::llm::LlmError;
use crate::config::MetricsEndpoint;
use crate::state::AppState;
use crate::taxonomy::ClassificationMethod;
use crate::web::PageError;
use ::metrics::{counter, gauge, histogram};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const HTTP_REQUESTS: &str = "maintenance_http_requests_total";
pub const HTTP_DURATION: &str = "maintenance_http_request_duration_seconds";
pub const QUEUE_DEPTH: &str = "maintenance_queue_depth";
pub const JOB_DURATION: &str = "maintenance_queue_job_duration_seconds";
pub const CLASSIFICATIONS: &str = "maintenance_classifications_total";
pub const LLM_CALLS: &str = "maintenance_llm_calls_total";
pub const LLM_FAILURES: &str = "maintenance_llm_failures_total";
pub const LLM_CIRCUIT_OPEN: &str = "maintenance_llm_circuit_open";
pub const WEBSOCKETS: &str = "maintenance_websocket_connections";
pub const EVENTS_DELIVERED: &str = "maintenance_events_delivered_total";
pub const EVENTS_DROPPED: &str = "maintenance_events_dropped_total";
pub const POOL_CONNECTIONS: &str = "maintenance_db_pool_connections";
pub const WRITE_WAIT: &str = crate::db::WRITE_WAIT_METRIC;
pub const WRITE_BATCH: &str = crate::db::WRITE_BATCH_METRIC;
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";

/// Every metric the server exports, for the dashboard's test.
pub const ALL: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_DURATION,
    QUEUE_DEPTH,
    JOB_DURATION,
    CLASSIFICATIONS,
    LLM_CALLS,
    LLM_FAILURES,
    LLM_CIRCUIT_OPEN,
    WEBSOCKETS,
    EVENTS_DELIVERED,
    EVENTS_DROPPED,
    POOL_CONNECTIONS,
    WRITE_WAIT,
    WRITE_BATCH,
    RESIDENT_MEMORY,
];

/// The kinds an LLM call can fail with, as `kind` labels.
const LLM_FAILURE_KINDS: &[&str] = &[
    "rate_limited",
    "status",
    "timeout",
    "transport",
    "malformed",
    "too_large",
    "circuit_open",
];

/// Seconds: from a fraction of a millisecond (a cached list) to a slow LLM call.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Changes per write transaction, up to the writer's largest batch.
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle). None when
/// another recorder was installed first, which nothing in this program does.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(WRITE_BATCH.into()), BATCH_SIZES)
                });
            let handle = match builder.map(|b| b.install_recorder()) {
                Ok(Ok(handle)) => handle,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "metrics are off: no recorder");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: bad buckets");
                    return None;
                }
            };
            describe();
            // Series that exist before anything happens, so a dashboard shows 0, not "no data".
            for kind in LLM_FAILURE_KINDS {
                counter!(LLM_FAILURES, "kind" => *kind).absolute(0);
            }
            for method in ["keyword", "llm", "manual"] {
                counter!(CLASSIFICATIONS, "method" => method).absolute(0);
            }
            counter!(LLM_CALLS, "outcome" => "ok").absolute(0);
            counter!(EVENTS_DELIVERED).absolute(0);
            counter!(EVENTS_DROPPED).absolute(0);
            gauge!(WEBSOCKETS).set(0.0);
            gauge!(LLM_CIRCUIT_OPEN).set(0.0);
            Some(handle)
        })
        .as_ref()
}

/// The HELP line of each metric.
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template"
    );
    describe_gauge!(QUEUE_DEPTH, "Classification jobs waiting for a worker");
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Time from a classification job's queueing to its saved result"
    );
    describe_counter!(
        CLASSIFICATIONS,
        "Classifications stored, by method (keyword: offline, llm, manual)"
    );
    describe_counter!(
        LLM_CALLS,
        "Calls to the LLM provider (retries included), by outcome"
    );
    describe_counter!(LLM_FAILURES, "Failed LLM calls, by kind");
    describe_gauge!(
        LLM_CIRCUIT_OPEN,
        "1 while the LLM circuit breaker refuses calls"
    );
    describe_gauge!(WEBSOCKETS, "Open live-update WebSockets");
    describe_counter!(EVENTS_DELIVERED, "Live events sent to WebSockets");
    describe_counter!(
        EVENTS_DROPPED,
        "Live events missed by WebSockets that fell behind (then closed)"
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Reader pool connections, by state (in_use, idle)"
    );
    describe_histogram!(
        WRITE_WAIT,
        Unit::Seconds,
        "Time a change waited for its write transaction (queue and lock)"
    );
    describe_histogram!(WRITE_BATCH, "Changes committed per write transaction");
    describe_gauge!(
        RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory of the process"
    );
}

/// Drains the histograms' buffers now and then, whether or not anyone scrapes.
pub async fn keep_up(
    handle: &'static PrometheusHandle,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    crate::periodic::every(Duration::from_secs(5), shutdown, || {
        handle.run_upkeep();
        std::future::ready(())
    })
    .await
}

/// One answered HTTP request. `route` is the matched pattern (`/api/requests/{id}`), never
/// the path itself, and a method outside the usual few counts as `other`: no client can make
/// a series per id, path or invented method.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let method: &'static str = match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = route.to_owned();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// A classification stored on a request.
pub fn classified(method: ClassificationMethod) {
    counter!(CLASSIFICATIONS, "method" => method.as_str()).increment(1);
}

/// A job's result saved, `waited` after it was queued.
pub fn job_finished(waited: Duration) {
    histogram!(JOB_DURATION).record(waited.as_secs_f64());
}

/// One call to the LLM provider (retries included), and how it ended.
pub fn llm_call(outcome: Result<(), &LlmError>) {
    let label = match outcome {
        Ok(()) => "ok",
        Err(e) => llm_failure_kind(e),
    };
    counter!(LLM_CALLS, "outcome" => label).increment(1);
    if outcome.is_err() {
        counter!(LLM_FAILURES, "kind" => label).increment(1);
    }
}

fn llm_failure_kind(error: &LlmError) -> &'static str {
    match error {
        LlmError::RateLimited { .. } => "rate_limited",
        LlmError::Status(_) => "status",
        LlmError::Timeout => "timeout",
        LlmError::Transport(_) => "transport",
        LlmError::Malformed(_) => "malformed",
        LlmError::TooLarge { .. } => "too_large",
        LlmError::CircuitOpen => "circuit_open",
    }
}

/// Counts one open WebSocket while it lives.
pub struct OpenSocket(());

impl OpenSocket {
    pub fn count() -> OpenSocket {
        gauge!(WEBSOCKETS).increment(1.0);
        OpenSocket(())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        gauge!(WEBSOCKETS).decrement(1.0);
    }
}

/// Live events sent to a socket.
pub fn events_delivered(n: u64) {
    counter!(EVENTS_DELIVERED).increment(n);
}

/// Live events a socket missed by falling behind (it is then closed and may resume).
pub fn events_dropped(n: u64) {
    counter!(EVENTS_DROPPED).increment(n);
}

/// Whether a scrape on the main port may be answered: the TCP peer is this machine, is not a
/// proxy named in `TRUSTED_PROXIES`, and the request carries no forwarding header (a proxy on
/// this machine passing on someone else's request adds one).
pub fn is_local_scrape(req: &HttpRequest, state: &AppState) -> bool {
    let Some(peer) = req.peer_addr() else {
        return false;
    };
    let peer = crate::client_address::canonical(peer.ip());
    let forwarded = [
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
        "via",
    ]
    .iter()
    .any(|name| req.headers().contains_key(*name));
    peer.is_loopback() && !state.config.trusted_proxies.contains(peer) && !forwarded
}

/// `GET /metrics` on the main port; anyone it does not answer gets the same 404 as for a
/// path that does not exist.
pub async fn main_port(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    match install() {
        Some(handle)
            if state.config.metrics == MetricsEndpoint::MainPortLocalOnly
                && is_local_scrape(&req, &state) =>
        {
            Ok(scrape(handle, &state).await)
        }
        _ => crate::web::not_found(req).await,
    }
}

/// The one route of the `METRICS_ADDR` listener.
pub fn own_listener_routes(cfg: &mut web::ServiceConfig) {
    crate::routing::register(
        cfg,
        vec![crate::routing::at(
            actix_web::http::Method::GET,
            "/metrics",
            own_port,
        )],
    );
}

/// `GET /metrics` on `METRICS_ADDR`.
pub async fn own_port(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    match install() {
        Some(handle) => Ok(scrape(handle, &state).await),
        None => crate::web::not_found(req).await,
    }
}

/// The current figures in Prometheus' text format.
async fn scrape(handle: &PrometheusHandle, state: &AppState) -> HttpResponse {
    let (in_use, idle) = state.db.pool_use();
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    match state
        .db
        .run(|conn| crate::db::jobs::queued_count(conn))
        .await
    {
        Ok(depth) => gauge!(QUEUE_DEPTH).set(depth as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: could not count queued jobs"),
    }
    if let Some(llm) = &state.llm {
        gauge!(LLM_CIRCUIT_OPEN).set(if llm.is_available() { 0.0 } else { 1.0 });
    }
    if let Some(bytes) = resident_memory_bytes() {
        gauge!(RESIDENT_MEMORY).set(bytes as f64);
    }
    handle.run_upkeep();
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(handle.render())
}

/// The process's resident set, from `VmRSS` in `/proc/self/status` (Linux); None elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
