//! HTTP throughput and latency of the release server, measured the way `baseline.md` measured
//! the original system: the same machine, a load generator in another process, 10 s per case.
//!
//! Run: `cargo bench --bench http`

mod support;

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{BenchServer, register, token};

const RUN: Duration = Duration::from_secs(10);
const WARM_UP: Duration = Duration::from_secs(2);

struct Result {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
}

/// `connections` clients, each sending requests back to back for `RUN` after `WARM_UP`.
async fn load(
    connections: usize,
    make: Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
) -> Result {
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while started.elapsed() < WARM_UP + RUN {
                let sent = Instant::now();
                let ok = matches!(make(&client).send().await, Ok(r) if r.status().is_success());
                if started.elapsed() > WARM_UP {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    errors += usize::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, failed) = task.await.expect("load task");
        all.extend(latencies);
        errors += failed;
    }
    all.sort_by(f64::total_cmp);
    Result {
        requests: all.len(),
        errors,
        elapsed: RUN,
        latencies_ms: all,
    }
}

fn report(name: &str, connections: usize, result: &Result) {
    let pick = |q: f64| {
        let v = &result.latencies_ms;
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{name}, {connections} connections: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, errors {}",
        result.requests as f64 / result.elapsed.as_secs_f64(),
        pick(0.5),
        pick(0.99),
        result.errors
    );
}

#[tokio::main]
async fn main() {
    let server = BenchServer::start("warn,maintenance::startup=info", &[]);
    let base = server.base();
    let client = reqwest::Client::new();
    register(&client, &base, "resident@example.com").await;
    let token = Arc::new(token(&client, &base, "resident@example.com").await);

    let health = {
        let url = format!("{base}/health");
        Arc::new(move |c: &reqwest::Client| c.get(&url))
    };
    report("GET /health", 50, &load(50, health).await);

    let submit = {
        let (url, token) = (format!("{base}/api/requests"), token.clone());
        Arc::new(move |c: &reqwest::Client| {
            c.post(&url)
                .bearer_auth(token.as_str())
                .json(&json!({"description": "욕실 천장에서 물이 떨어져요. 윗집 배관 문제 같아요.", "location": "101동 1203호"}))
        })
    };
    report("POST /api/requests", 10, &load(10, submit.clone()).await);
    report("POST /api/requests", 50, &load(50, submit).await);

    let rows = client
        .get(format!("{base}/api/my-requests?limit=1"))
        .bearer_auth(token.as_str())
        .send()
        .await
        .expect("count")
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned();
    let list = {
        // One page of 50, as measured before lists returned up to 1000 rows by default.
        let (url, token) = (format!("{base}/api/my-requests?limit=50"), token.clone());
        Arc::new(move |c: &reqwest::Client| c.get(&url).bearer_auth(token.as_str()))
    };
    println!("(the resident now has {rows} requests; the list returns the newest 50)");
    report("GET /api/my-requests", 10, &load(10, list).await);

    drop(server);
}
