//! `maintenance seed-demo`, run as an operator runs it: a new demo database that the server
//! opens, with the demo accounts of the README and requests of every kind.

use crate::binary::{login, maintenance, start};
use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// The demo's "now", so that two runs make the same database.
const UNTIL: &str = "2026-06-01T09:00:00Z";

fn seed(dir: &Path, file: &str, requests: u64, more: &[&str]) -> Output {
    maintenance(dir)
        .args([
            "seed-demo",
            "--requests",
            &requests.to_string(),
            "--until",
            UNTIL,
        ])
        .args(more)
        .arg(file)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "seed-demo failed: {stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

async fn get(port: u16, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn token(port: u16, email: &str, password: &str) -> String {
    let response = login(port, email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "{email} cannot log in");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn total(response: &reqwest::Response) -> u64 {
    response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_demo_database_opens_in_the_server_with_its_accounts_and_every_label() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = succeeded(&seed(dir.path(), "demo.db", 3_000, &[]));
    assert!(stdout.contains("3000 requests"), "{stdout}");
    assert!(
        stdout.contains("requests/s"),
        "the rate is reported: {stdout}"
    );

    let mut command = maintenance(dir.path());
    command.env("PORT", "0").env("DATABASE_URL", "demo.db");
    let server = start(command);
    // The demo's super admin is the one: the server made no other.
    let super_admins: i64 = Connection::open(dir.path().join("demo.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM users WHERE role = 'super_admin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(super_admins, 1, "{:?}", server.log);
    // The passwords the README gives.
    let admin = token(server.port, "admin@demo.local", "demo-admin").await;
    let resident = token(server.port, "resident@demo.local", "demo-resident").await;

    let stats: Value = get(server.port, "/api/stats", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 3_000);
    for (field, values) in [("by_status", 3), ("by_category", 5), ("by_priority", 3)] {
        let counts = stats[field].as_object().unwrap();
        assert_eq!(counts.len(), values, "{field}: {counts:?}");
        assert!(
            counts.values().all(|n| n.as_u64().unwrap() > 0),
            "{field}: {counts:?}"
        );
    }
    let all = get(server.port, "/api/requests?limit=5", &admin).await;
    assert_eq!(total(&all), 3_000);

    let mine = get(server.port, "/api/my-requests?limit=1000", &resident).await;
    assert_eq!(mine.status(), StatusCode::OK);
    let count = total(&mine);
    let mine: Vec<Value> = mine.json().await.unwrap();
    assert!(count > 10, "the demo resident writes a lot: {count}");
    let me: Value = get(server.port, "/api/auth/me", &resident)
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.iter().all(|r| r["user_id"] == me["id"]));
    assert!(
        mine.iter()
            .all(|r| r["classification_method"] == "keyword" && r["category"].is_string())
    );
    let completed = mine
        .iter()
        .find(|r| r["status"] == "completed")
        .expect("an old request is done");
    let history: Vec<Value> = get(
        server.port,
        &format!("/api/requests/{}/history", completed["id"]),
        &resident,
    )
    .await
    .json()
    .await
    .unwrap();
    let actions: Vec<&str> = history
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "status_changed", "status_changed"]);
    assert_eq!(history[2]["new_value"], "completed");
    assert_eq!(history[2]["created_at"], completed["updated_at"]);
}

/// The history, the statuses and the event log agree with each other, as the server keeps
/// them: every status is where its last change left it, events follow time and describe the
/// request as it was then, all within the last day before the demo's "now".
#[test]
fn history_statuses_and_events_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&seed(dir.path(), "demo.db", 20_000, &["--days", "30"]));
    let conn = Connection::open(dir.path().join("demo.db")).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };

    assert_eq!(count("SELECT count(*) FROM requests"), 20_000);
    // The rows were written with the schema's CHECK constraints unchecked: they hold all the
    // same, and every foreign key points somewhere.
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_eq!(
        count(
            "SELECT count(*) FROM requests WHERE created_at < '2026-05-02T09:00:00' OR created_at > '2026-06-01T09:00:00'"
        ),
        0,
        "--days 30 spreads the requests over the 30 days before --until"
    );
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(
        count(
            "SELECT count(*) FROM requests r WHERE r.status <> coalesce(
                (SELECT new_value FROM request_history h
                 WHERE h.request_id = r.id AND h.action = 'status_changed' ORDER BY h.id DESC LIMIT 1),
                'pending')"
        ),
        0,
        "a status other than its last change"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM requests r WHERE (SELECT count(*) FROM request_history h
                 WHERE h.request_id = r.id AND h.action = 'created' AND h.actor_id = r.user_id) <> 1"
        ),
        0,
        "every request has its 'created' entry by its owner"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM request_history h JOIN users u ON u.id = h.actor_id
             WHERE h.action = 'status_changed' AND u.role = 'user'"
        ),
        0,
        "only staff change a status"
    );
    let events = count("SELECT count(*) FROM events");
    assert!(events > 100, "the last day's changes are logged: {events}");
    assert_eq!(
        count(
            "SELECT count(*) FROM events e JOIN requests r ON r.id = e.request_id
             WHERE e.owner_id = r.user_id AND json_extract(e.data, '$.id') = r.id
               AND e.created_at >= '2026-05-31T09:00:00' AND e.created_at <= '2026-06-01T09:00:01'
               AND json_extract(e.data, '$.updated_at') = e.created_at
               AND (e.type = 'new_request') = (json_extract(e.data, '$.status') = 'pending')"
        ),
        events,
        "an event that does not describe its request at its moment"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM events a JOIN events b ON b.id = a.id + 1
             WHERE b.created_at < a.created_at"
        ),
        0,
        "event ids follow time"
    );
    assert_eq!(
        count("SELECT max(id) - min(id) + 1 - count(*) FROM events"),
        0,
        "event ids have gaps"
    );
}

#[test]
fn the_same_options_make_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&seed(dir.path(), "a.db", 2_500, &[]));
    succeeded(&seed(dir.path(), "b.db", 2_500, &[]));
    succeeded(&seed(dir.path(), "c.db", 2_501, &[]));
    let bytes = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert!(
        bytes("a.db") == bytes("b.db"),
        "two runs made different files"
    );

    let requests = |name: &str| -> Vec<(i64, String, String, String)> {
        let conn = Connection::open(dir.path().join(name)).unwrap();
        let mut stmt = conn
            .prepare("SELECT id, description, status, created_at FROM requests ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (a, c) = (requests("a.db"), requests("c.db"));
    assert_eq!(a.len(), 2_500);
    assert_ne!(a, c[..2_500], "another N is another demo");
}

#[test]
fn an_existing_path_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"someone's data").unwrap();
    let output = seed(dir.path(), "taken.db", 10, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("taken.db already exists"),
        "the path is named: {stderr}"
    );
    assert_eq!(std::fs::read(&taken).unwrap(), b"someone's data");
    assert!(output.stdout.is_empty());

    // A folder that does not exist: nothing is made anywhere.
    let output = seed(dir.path(), "missing/demo.db", 10, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!dir.path().join("missing").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}
