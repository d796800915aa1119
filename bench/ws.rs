//! Live-update fan-out: 10,000 authenticated sockets (1,000 admin, 9,000 residents), then a
//! burst of requests created through the API. Reports delivery latency from commit to receipt
//! (p50/p99) and the server's memory per idle connection.
//!
//! Run: `cargo bench --bench ws` (the server is the release binary, in its own process).

mod support;

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{BenchServer, register, token};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

const RESIDENTS: usize = 100;
const ADMIN_SOCKETS: usize = 1_000;
const RESIDENT_SOCKETS: usize = 9_000;
const BURST: usize = 200;

#[tokio::main]
async fn main() {
    let server = BenchServer::start("info,maintenance::startup=info,actix_server=warn", &[]);
    let port = server.port;
    let base = server.base();
    let client = reqwest::Client::new();

    // Accounts: one admin, a hundred residents.
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
    let admin = token(&client, &base, "admin@example.com").await;
    let mut residents = Vec::new();
    for n in 0..RESIDENTS {
        register(&client, &base, &format!("r{n}@example.com")).await;
        residents.push(token(&client, &base, &format!("r{n}@example.com")).await);
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();

    // Open the sockets, 200 handshakes at a time.
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::with_capacity(
        ADMIN_SOCKETS * BURST + RESIDENT_SOCKETS * BURST / RESIDENTS,
    )));
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(200));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..ADMIN_SOCKETS + RESIDENT_SOCKETS {
        let token = if n < ADMIN_SOCKETS {
            admin.clone()
        } else {
            residents[n % RESIDENTS].clone()
        };
        let url = format!("ws://127.0.0.1:{port}/ws?token={token}");
        let (gate, connected, latencies) = (gate.clone(), connected.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("gate");
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("upgrade");
            drop(permit);
            connected.fetch_add(1, Ordering::SeqCst);
            let mut mine = Vec::new();
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    let received = chrono::Utc::now();
                    let event: Value = serde_json::from_str(&text).unwrap_or_default();
                    if event["type"] == "new_request" {
                        let created = event["data"]["created_at"].as_str().unwrap_or_default();
                        if let Ok(created) = chrono::DateTime::parse_from_rfc3339(created) {
                            mine.push(
                                (received - created.to_utc())
                                    .num_microseconds()
                                    .unwrap_or(0) as f64
                                    / 1000.0,
                            );
                        }
                    }
                }
                if !mine.is_empty() {
                    latencies.lock().expect("latencies").append(&mut mine);
                }
            }
        }));
    }
    while connected.load(Ordering::SeqCst) < ADMIN_SOCKETS + RESIDENT_SOCKETS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    let sockets = ADMIN_SOCKETS + RESIDENT_SOCKETS;

    // The burst: each resident submits two requests, twenty in flight at a time.
    let expected = ADMIN_SOCKETS * BURST + RESIDENT_SOCKETS * BURST / RESIDENTS;
    let burst_started = Instant::now();
    let gate = Arc::new(Semaphore::new(20));
    let mut posts = Vec::new();
    for n in 0..BURST {
        let (client, base, token, gate) = (
            client.clone(),
            base.clone(),
            residents[n % RESIDENTS].clone(),
            gate.clone(),
        );
        posts.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            let response = client
                .post(format!("{base}/api/requests"))
                .bearer_auth(token)
                .json(&json!({"description": format!("{n}층 복도 전등이 깜빡입니다")}))
                .send()
                .await
                .expect("submit");
            assert_eq!(response.status(), 200);
        }));
    }
    for post in posts {
        post.await.expect("post");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while latencies.lock().expect("latencies").len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let burst_time = burst_started.elapsed();
    let mut delivered = latencies.lock().expect("latencies").clone();
    delivered.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        delivered
            .get(((delivered.len() as f64 * q) as usize).min(delivered.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let after_burst = server.rss_kib();

    println!(
        "sockets: {sockets} ({ADMIN_SOCKETS} admin, {RESIDENT_SOCKETS} residents over {RESIDENTS} accounts), connected in {:.1} s",
        connect_time.as_secs_f64()
    );
    println!(
        "server memory: {before} KiB before, {after} KiB with the sockets idle: {:.1} KiB per connection",
        (after.saturating_sub(before)) as f64 / sockets as f64
    );
    println!(
        "burst: {BURST} requests via the API; deliveries {} of {expected} in {:.2} s",
        delivered.len(),
        burst_time.as_secs_f64()
    );
    println!(
        "delivery latency, commit to receipt: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pick(0.50),
        pick(0.99),
        pick(1.0)
    );
    println!("server memory after the burst: {after_burst} KiB");

    for task in tasks {
        task.abort();
    }
    drop(server);
}
