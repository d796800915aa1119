//! The real binary killed with SIGKILL in the middle of concurrent writes: what it acknowledged
//! is there after a restart, intact, and every classification job finishes, with or without an
//! LLM configured on the restart.

use crate::binary::{Running, login, maintenance, start};
use crate::helpers::{PASSWORD, SUPER_PASSWORD};
use crate::mock_llm::{Behaviour, MockLlm};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const ROOT: &str = "chief@example.com";
const WRITERS: usize = 8;
/// Acknowledged creates after which the server is killed.
const KILL_AFTER: usize = 120;

/// The server on the database in `dir`, with the LLM at `llm` or none.
fn server(dir: &Path, llm: Option<&MockLlm>) -> Running {
    let mut command = maintenance(dir);
    command
        .env("PORT", "0")
        .env("SUPER_ADMIN_EMAIL", ROOT)
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD)
        .env("AUTH_RATE_LIMIT_PER_MINUTE", "0")
        .env("LOGIN_RATE_LIMIT_PER_MINUTE", "0")
        .env("REGISTER_RATE_LIMIT_PER_MINUTE", "0")
        .env("QUEUE_SWEEP_MS", "50");
    if let Some(llm) = llm {
        command
            .env("GROQ_API_KEY", "test-key")
            .env("LLM_BASE_URL", llm.base_url())
            .env("LLM_TIMEOUT_SECS", "20")
            .env("LLM_RPM", "60000");
    }
    start(command)
}

/// What the server acknowledged about one request.
#[derive(Debug, Clone)]
struct Acknowledged {
    description: String,
    location: String,
    user_id: i64,
    /// The last status change that got a 2xx (None: still as submitted).
    status: Option<&'static str>,
    /// A status change sent without an answer: it may or may not have been applied.
    unanswered: Option<&'static str>,
}

type Ledger = Arc<Mutex<HashMap<i64, Acknowledged>>>;

async fn token(port: u16, email: &str, password: &str) -> String {
    let body: Value = login(port, email, password).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A GET with a bearer token, answered with JSON.
async fn get_json(client: &Client, url: String, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    response.json().await.unwrap()
}

/// A resident's account on the running server; returns (user id, token).
async fn resident(client: &Client, port: u16, email: &str) -> (i64, String) {
    let registered = client
        .post(format!("http://127.0.0.1:{port}/api/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    let id = registered.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    (id, token(port, email, PASSWORD).await)
}

/// What the writers of one load share.
struct Load {
    base: String,
    phase: &'static str,
    root: String,
    ledger: Ledger,
    created: AtomicUsize,
    enough: Notify,
}

/// One writer: submits requests and has the admin move some of them on, recording every 2xx,
/// until the server stops answering.
async fn writer(load: Arc<Load>, n: usize, resident: (i64, String)) {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = &load.base;
    for i in 0.. {
        let description = format!(
            "{} 작성자 {n}의 {i}번째 요청: 화장실 천장에서 물이 떨어져요",
            load.phase
        );
        let location = format!("{n}동 {i}호");
        let submitted = client
            .post(format!("{base}/api/requests"))
            .bearer_auth(&resident.1)
            .json(&json!({"description": description, "location": location}))
            .send()
            .await;
        let Ok(response) = submitted else { return };
        if !response.status().is_success() {
            return;
        }
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        let id = body["id"].as_i64().unwrap();
        load.ledger.lock().unwrap().insert(
            id,
            Acknowledged {
                description,
                location,
                user_id: resident.0,
                status: None,
                unanswered: None,
            },
        );
        if load.created.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
            load.enough.notify_one();
        }
        let changes: &[&'static str] = match i % 3 {
            0 => &[],
            1 => &["in_progress"],
            _ => &["in_progress", "completed"],
        };
        for status in changes {
            load.ledger.lock().unwrap().get_mut(&id).unwrap().unanswered = Some(status);
            let patched = client
                .patch(format!("{base}/api/requests/{id}"))
                .bearer_auth(&load.root)
                .json(&json!({"status": status}))
                .send()
                .await;
            match patched {
                Ok(r) if r.status().is_success() => {
                    let mut ledger = load.ledger.lock().unwrap();
                    let entry = ledger.get_mut(&id).unwrap();
                    entry.status = Some(status);
                    entry.unanswered = None;
                }
                _ => return,
            }
        }
    }
}

/// Runs the writers against `server` and SIGKILLs it once `KILL_AFTER` creates were answered,
/// while they are still writing; waits for the writers to notice.
async fn write_then_kill(mut server: Running, phase: &'static str, ledger: &Ledger) {
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = Client::new();
    let load = Arc::new(Load {
        root: token(server.port, ROOT, SUPER_PASSWORD).await,
        base,
        phase,
        ledger: ledger.clone(),
        created: AtomicUsize::new(0),
        enough: Notify::new(),
    });
    let mut writers = Vec::new();
    for n in 0..WRITERS {
        let account = resident(&client, server.port, &format!("{phase}-{n}@example.com")).await;
        writers.push(tokio::spawn(writer(load.clone(), n, account)));
    }
    tokio::time::timeout(Duration::from_secs(60), load.enough.notified())
        .await
        .expect("the writers got far enough");
    // SIGKILL: no shutdown, no flush, writes in flight.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
}

/// Every acknowledged request is there as acknowledged.
async fn assert_intact(base: &str, root: &str, ledger: &Ledger) {
    let client = Client::new();
    let expected = ledger.lock().unwrap().clone();
    assert!(expected.len() >= KILL_AFTER);
    for (id, ack) in expected {
        let response = client
            .get(format!("{base}/api/requests/{id}"))
            .bearer_auth(root)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "acknowledged request {id} is lost"
        );
        let request: Value = response.json().await.unwrap();
        assert_eq!(request["description"], ack.description, "request {id}");
        assert_eq!(request["location"], ack.location, "request {id}");
        assert_eq!(request["user_id"], ack.user_id, "request {id}");
        let status = request["status"].as_str().unwrap();
        let acknowledged = ack.status.unwrap_or("pending");
        assert!(
            status == acknowledged || Some(status) == ack.unanswered,
            "request {id} is {status}; acknowledged {acknowledged}, unanswered {:?}",
            ack.unanswered
        );
    }
}

/// Ids of every request on the server.
async fn all_requests(client: &Client, base: &str, root: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let url = format!("{base}/api/requests?limit=200&offset={}", all.len());
        let page = get_json(client, url, root).await;
        let page = page.as_array().unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page.iter().cloned());
    }
}

/// Waits until no request is still being classified and every task reports SUCCESS.
async fn assert_every_job_finishes(base: &str, root: &str, context: &str) {
    let client = Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let requests = all_requests(&client, base, root).await;
        let mut unfinished = Vec::new();
        for request in &requests {
            let id = request["id"].as_i64().unwrap();
            if request["classification_status"] == "pending" {
                unfinished.push(format!("{id}: classification_status pending"));
                continue;
            }
            let task = get_json(
                &client,
                format!("{base}/api/requests/{id}/task-status"),
                root,
            )
            .await;
            if task["status"] != "SUCCESS" {
                unfinished.push(format!("{id}: task {}", task["status"]));
            }
        }
        if unfinished.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{context}: {} of {} requests never finished classifying, e.g. {:?}",
            unfinished.len(),
            requests.len(),
            &unfinished[..unfinished.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_and_every_job_finishes_after_restart() {
    // A slow provider, so jobs are queued and in flight when the server dies.
    let slow = MockLlm::builder(vec![])
        .default_behaviour(Behaviour::Hang(Duration::from_secs(2)))
        .start();
    let fast = MockLlm::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let ledger: Ledger = Arc::default();

    // Killed with an LLM configured, restarted with one.
    write_then_kill(server(dir.path(), Some(&slow)), "first", &ledger).await;
    let restarted = server(dir.path(), Some(&fast));
    let base = format!("http://127.0.0.1:{}", restarted.port);
    let root = token(restarted.port, ROOT, SUPER_PASSWORD).await;
    assert_intact(&base, &root, &ledger).await;
    assert_every_job_finishes(&base, &root, "restarted with an LLM").await;
    drop(restarted);

    // Killed again, restarted without an LLM: jobs left behind settle with the offline answer
    // (issue 8, finding 22: before its fix they stayed pending / STARTED forever).
    write_then_kill(server(dir.path(), Some(&slow)), "second", &ledger).await;
    let restarted = server(dir.path(), None);
    let base = format!("http://127.0.0.1:{}", restarted.port);
    let root = token(restarted.port, ROOT, SUPER_PASSWORD).await;
    assert_intact(&base, &root, &ledger).await;
    assert_every_job_finishes(
        &base,
        &root,
        "restarted without an LLM (finding 22: jobs must settle without a key)",
    )
    .await;
}
