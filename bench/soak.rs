//! Soak: a mixed workload held for minutes against the release server, to show it stays
//! correct (no errors, no lost live events) and flat (latency and memory) under sustained use.
//!
//! 50 clients: 40 residents each submitting, listing, reading and having an admin update their
//! requests, back to back, and 10 admin sockets following every event live and reconnecting
//! with `since` every 20 s. Reports errors, p50/p99 per operation and the server's resident
//! memory over time.
//!
//! Run: `cargo bench --bench soak` (5 minutes; `SOAK_SECS=30` for a short run).

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{BenchServer, register, token};
use tokio_tungstenite::tungstenite::Message;

const HTTP_CLIENTS: usize = 40;
const SOCKET_CLIENTS: usize = 10;
const RECONNECT_EVERY: Duration = Duration::from_secs(20);
const RSS_EVERY: Duration = Duration::from_secs(30);

/// The operations of the mix, in the order of the report.
const OPERATIONS: [&str; 5] = [
    "POST /api/requests",
    "GET /api/my-requests",
    "GET /api/requests/{id}",
    "GET /api/requests (admin)",
    "PATCH /api/requests/{id} (admin)",
];

/// One client's schedule, repeated: 3 creates, 6 lists, 4 reads, 2 admin lists, 5 updates
/// out of every 20 operations.
const SCHEDULE: [usize; 20] = [0, 1, 2, 4, 1, 0, 3, 4, 1, 2, 4, 1, 0, 2, 4, 1, 3, 2, 4, 1];

#[derive(Default)]
struct Tally {
    latencies_ms: [Vec<f64>; OPERATIONS.len()],
    errors: [u64; OPERATIONS.len()],
    first_error: Option<String>,
}

struct Shared {
    base: String,
    admin: String,
    stop: AtomicBool,
    tally: Mutex<Tally>,
    events: AtomicU64,
    socket_errors: AtomicU64,
    reconnects: AtomicU64,
    socket_first_error: Mutex<Option<String>>,
}

impl Shared {
    fn socket_error(&self, what: String) {
        self.socket_errors.fetch_add(1, Ordering::Relaxed);
        self.socket_first_error
            .lock()
            .expect("lock")
            .get_or_insert(what);
    }
}

fn descriptions(n: usize) -> &'static str {
    const TEXTS: [&str; 5] = [
        "욕실 천장에서 물이 떨어져요. 윗집 배관 문제 같아요.",
        "거실 전등이 깜빡이다가 꺼졌습니다.",
        "에어컨에서 찬바람이 나오지 않아요.",
        "현관문 도어락이 잘 안 잠겨요.",
        "복도 벽에 금이 가 있습니다.",
    ];
    TEXTS[n % TEXTS.len()]
}

/// One resident: the schedule, back to back, until told to stop.
async fn resident(shared: Arc<Shared>, token: String, n: usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let base = &shared.base;
    let mut mine: Vec<i64> = Vec::new();
    let statuses = ["in_progress", "completed", "pending"];
    let mut step = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        let operation = SCHEDULE[step % SCHEDULE.len()];
        // Reads and updates need a request of one's own first.
        let operation = if mine.is_empty() { 0 } else { operation };
        let target = mine.get(step % mine.len().max(1)).copied().unwrap_or(0);
        let call = match operation {
            0 => client
                .post(format!("{base}/api/requests"))
                .bearer_auth(&token)
                .json(&json!({"description": descriptions(step + n), "location": format!("{n}동 {step}호")})),
            1 => client
                .get(format!("{base}/api/my-requests?limit=50"))
                .bearer_auth(&token),
            2 => client
                .get(format!("{base}/api/requests/{target}"))
                .bearer_auth(&token),
            3 => client
                .get(format!("{base}/api/requests?status=pending&limit=50"))
                .bearer_auth(&shared.admin),
            _ => client
                .patch(format!("{base}/api/requests/{target}"))
                .bearer_auth(&shared.admin)
                .json(&json!({"status": statuses[step % statuses.len()]})),
        };
        let sent = Instant::now();
        let outcome = match call.send().await {
            Ok(response) if response.status().is_success() => {
                let body = response.bytes().await;
                match (operation, body) {
                    (0, Ok(body)) => serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["id"].as_i64())
                        .map(|id| mine.push(id))
                        .ok_or_else(|| "a created request without an id".to_owned()),
                    (_, Ok(_)) => Ok(()),
                    (_, Err(e)) => Err(format!("body: {e}")),
                }
            }
            Ok(response) => Err(format!("status {}", response.status())),
            Err(e) => Err(format!("{e}")),
        };
        let elapsed_ms = sent.elapsed().as_secs_f64() * 1000.0;
        {
            let mut tally = shared.tally.lock().expect("lock");
            tally.latencies_ms[operation].push(elapsed_ms);
            if let Err(e) = outcome {
                tally.errors[operation] += 1;
                tally
                    .first_error
                    .get_or_insert(format!("{}: {e}", OPERATIONS[operation]));
            }
        }
        step += 1;
    }
}

/// One admin socket: follows every event, checks the ids have no gap, and reconnects with
/// `since` every `RECONNECT_EVERY` as a client coming back would.
async fn follower(shared: Arc<Shared>, port: u16) {
    let mut last: Option<i64> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        let since = last.map(|id| format!("&since={id}")).unwrap_or_default();
        let url = format!("ws://127.0.0.1:{port}/ws?token={}{since}", shared.admin);
        let mut ws = match tokio_tungstenite::connect_async(&url).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                shared.socket_error(format!("connect: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let connected = Instant::now();
        while connected.elapsed() < RECONNECT_EVERY && !shared.stop.load(Ordering::Relaxed) {
            let frame = match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(frame))) => frame,
                Ok(other) => {
                    shared.socket_error(format!("socket ended: {other:?}"));
                    break;
                }
            };
            let Message::Text(text) = frame else { continue };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(id) = event["id"].as_i64() else {
                shared.socket_error(format!("unexpected message: {text}"));
                continue;
            };
            if let Some(previous) = last
                && id != previous + 1
            {
                shared.socket_error(format!("event {id} after {previous}"));
            }
            last = Some(id);
            shared.events.fetch_add(1, Ordering::Relaxed);
        }
        let _ = ws.close(None).await;
        let _ = ws.flush().await;
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let duration = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );
    // Tokens outlive the run; the workload measures serving, not limits.
    let server = BenchServer::start(
        "warn,maintenance::startup=info",
        &[
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "1440"),
            ("REQUEST_RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    let base = server.base();
    let client = reqwest::Client::new();
    let root = token(&client, &base, "root@example.com").await;
    let admin_id = register(&client, &base, "admin@example.com").await;
    client
        .patch(format!(
            "{base}/api/admin/users/{admin_id}/role?new_role=admin"
        ))
        .bearer_auth(&root)
        .send()
        .await
        .expect("promote");
    let shared = Arc::new(Shared {
        admin: token(&client, &base, "admin@example.com").await,
        base: base.clone(),
        stop: AtomicBool::new(false),
        tally: Mutex::default(),
        events: AtomicU64::new(0),
        socket_errors: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        socket_first_error: Mutex::new(None),
    });
    let mut tasks = Vec::new();
    for _ in 0..SOCKET_CLIENTS {
        tasks.push(tokio::spawn(follower(shared.clone(), server.port)));
    }
    let mut residents = Vec::new();
    for n in 0..HTTP_CLIENTS {
        let email = format!("resident{n}@example.com");
        register(&client, &base, &email).await;
        residents.push(token(&client, &base, &email).await);
    }

    println!(
        "soak: {} clients ({HTTP_CLIENTS} residents over HTTP, {SOCKET_CLIENTS} admin sockets) for {} s",
        HTTP_CLIENTS + SOCKET_CLIENTS,
        duration.as_secs()
    );
    let started = Instant::now();
    let mut memory = vec![(0u64, server.rss_kib())];
    for (n, token) in residents.into_iter().enumerate() {
        tasks.push(tokio::spawn(resident(shared.clone(), token, n)));
    }
    while started.elapsed() < duration {
        let left = duration.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(RSS_EVERY)).await;
        memory.push((started.elapsed().as_secs(), server.rss_kib()));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client task");
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut tally = shared.tally.lock().expect("lock");
    let tally = &mut *tally;
    let mut all: Vec<f64> = Vec::new();
    let mut errors = 0;
    for (i, name) in OPERATIONS.iter().enumerate() {
        let latencies = &mut tally.latencies_ms[i];
        latencies.sort_by(f64::total_cmp);
        println!(
            "{name:<34} {:>8} calls  p50 {:>6.1} ms  p99 {:>6.1} ms  errors {}",
            latencies.len(),
            percentile(latencies, 0.5),
            percentile(latencies, 0.99),
            tally.errors[i]
        );
        all.extend_from_slice(latencies);
        errors += tally.errors[i];
    }
    all.sort_by(f64::total_cmp);
    println!(
        "{:<34} {:>8} calls  p50 {:>6.1} ms  p99 {:>6.1} ms  errors {errors}  ({:.0} req/s)",
        "all HTTP",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.len() as f64 / elapsed
    );
    if let Some(first) = &tally.first_error {
        println!("first HTTP error: {first}");
    }
    let socket_errors = shared.socket_errors.load(Ordering::Relaxed);
    println!(
        "sockets: {} events received, {} reconnects with since, errors {socket_errors} (gaps, drops, refused)",
        shared.events.load(Ordering::Relaxed),
        shared.reconnects.load(Ordering::Relaxed)
    );
    if let Some(first) = shared.socket_first_error.lock().expect("lock").as_ref() {
        println!("first socket error: {first}");
    }
    let samples: Vec<String> = memory
        .iter()
        .map(|(at, kib)| format!("{at}s {} MiB", kib / 1024))
        .collect();
    println!("server RSS: {}", samples.join(", "));
    let (start, end) = (memory[0].1, memory[memory.len() - 1].1);
    println!(
        "server RSS start {start} KiB, end {end} KiB, max {} KiB",
        memory.iter().map(|m| m.1).max().unwrap_or(0)
    );
    println!("errors total: {}", errors + socket_errors);
    drop(server);
}
