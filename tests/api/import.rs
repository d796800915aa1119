//! `maintenance import-legacy`, run as an operator runs it, on a database the original system
//! would have written: its exact schema, passlib hashes, placeholders and odd labels.

use crate::binary::{login, maintenance, start};
use crate::pages::{browser, csrf_of};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The original's `init_db()` in backend/main.py, statement for statement (requests first).
pub const ORIGINAL_SCHEMA: &str = "
            CREATE TABLE IF NOT EXISTS requests (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user_id INTEGER,
                description TEXT NOT NULL,
                category VARCHAR(50),
                priority VARCHAR(20),
                status VARCHAR(20) DEFAULT 'pending',
                location VARCHAR(100),
                contact_info VARCHAR(100),
                image_url VARCHAR(500),
                task_id VARCHAR(100),
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                FOREIGN KEY (user_id) REFERENCES users(id)
            );
            CREATE TABLE IF NOT EXISTS users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email VARCHAR(255) UNIQUE NOT NULL,
                hashed_password VARCHAR(255) NOT NULL,
                full_name VARCHAR(100),
                role VARCHAR(20) DEFAULT 'user',
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
            );";

/// What `init_super_admin.py` inserts when neither SUPER_ADMIN_EMAIL nor SUPER_ADMIN_PASSWORD
/// is set: `admin@system.local` with the published default `qwer1234`, hashed by passlib
/// (`CryptContext(schemes=["bcrypt"]).hash("qwer1234")`, passlib 1.7.4, 12 rounds).
pub const ORIGINAL_SUPER_ADMIN: &str = "
            INSERT INTO users (email, hashed_password, full_name, role) VALUES ('admin@system.local',
                '$2b$12$y9OD3CrP3RtHnCT3ajl2H.I0DV/.tiM4F1I.t87TzZk5qIFIRxtSm', 'Super Administrator', 'super_admin');";

/// Kim's password in the original, and passlib's hash of it (12 rounds, as the original made them).
const KIM_PASSWORD: &str = "옛날비밀번호1234";
const KIM_HASH: &str = "$2b$12$hKWfFKHsok4e89QALrrymOGXgxLcYRCSdjfrj8KOgMzg6aEynqu/m";
/// The other accounts' hashes were made by passlib too, with 4 rounds to keep the test quick.
const MANAGER_PASSWORD: &str = "manager pass 1";
const MANAGER_HASH: &str = "$2b$04$nrGD2NFXz/9CK/lQZbvOd.UluqEkAGX00/Dw6VyQGPPST1ox/APGG";
const LEE_PASSWORD: &str = "lee password 22";
const LEE_HASH: &str = "$2b$04$.qOlaxzy6PscsCn2ITvJBu.ujxcxDq77jGQIILInr.txXNBeKviuq";
const TWIN_HASH: &str = "$2b$04$JU4DKTZBNYFL5G6jRxeBTOZstBvuZrJLoDHQNBvEpCul/oIwZTfuy";

const S3_PHOTO: &str =
    "https://maintenance-files.s3.ap-northeast-2.amazonaws.com/requests/1/0b6f1c.jpg";

/// owner, description, category, priority, status, location, contact_info, image_url,
/// created_at, updated_at: a row of the original's `requests`.
type OriginalRequest = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The original's database after some use: every case the import must handle.
fn build_original(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    // Python's sqlite3 leaves foreign keys off, so the original kept requests of deleted users.
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    conn.execute_batch(ORIGINAL_SCHEMA).unwrap();
    conn.execute_batch(ORIGINAL_SUPER_ADMIN).unwrap();
    let users = [
        // 2: an admin whose address was typed in capitals.
        (
            "Manager@Example.com",
            MANAGER_HASH,
            "관리소장",
            "admin",
            "2024-02-01 08:00:00",
        ),
        // 3: a resident.
        (
            "kim@example.com",
            KIM_HASH,
            "김철수",
            "user",
            "2024-03-01 09:15:00",
        ),
        // 4: a resident with empty strings for what is missing, and fractions in the time.
        ("lee@example.com", LEE_HASH, "", "", "2024-03-02T10:00:00.5"),
        // 5: the same address as 3 once lower-cased (the original's UNIQUE is case-sensitive).
        (
            "KIM@example.com",
            TWIN_HASH,
            "Kim again",
            "user",
            "2024-03-03 12:00:00",
        ),
    ];
    for (email, hash, name, role, created) in users {
        conn.execute(
            "INSERT INTO users (email, hashed_password, full_name, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            (email, hash, name, role, created),
        )
        .unwrap();
    }
    let requests: [OriginalRequest; 6] = [
        // 1: submitted with use_async: the Celery placeholders never replaced; photo on S3.
        (
            3,
            "화장실 천장에서 물이 계속 새요",
            "processing",
            "processing",
            "pending",
            "101동 1001호",
            "",
            S3_PHOTO,
            "2024-03-01 09:20:00",
            "2024-03-01 09:20:00",
        ),
        // 2: an urgent light, in progress with a hyphen.
        (
            3,
            "복도 전등이 깜빡여요",
            "electrical",
            "urgent",
            "in-progress",
            "",
            "010-1234-5678",
            "",
            "2024-03-01 10:00:00.123456",
            "2024-03-02 11:00:00",
        ),
        // 3: a Korean category, a capitalised priority, a status beyond ours.
        (
            4,
            "보일러가 안 켜져요",
            "냉난방",
            "High",
            "done",
            "202동 302호",
            "",
            "",
            "2024-03-03 07:00:00",
            "2024-03-04 07:00:00",
        ),
        // 4: its owner was deleted in the original.
        (
            99,
            "주인 없는 요청",
            "other",
            "low",
            "pending",
            "",
            "",
            "",
            "2024-03-04 07:00:00",
            "2024-03-04 07:00:00",
        ),
        // 5: its owner is the twin address, which is not imported.
        (
            5,
            "현관문이 잘 안 닫혀요",
            "structural",
            "normal",
            "pending",
            "",
            "",
            "",
            "2024-03-05 07:00:00",
            "2024-03-05 07:00:00",
        ),
        // 6: `T` in the time, `normal` and `resolved`.
        (
            4,
            "창문 손잡이가 헐거워요",
            "structural",
            "normal",
            "resolved",
            "",
            "",
            "",
            "2024-03-05T08:00:00",
            "2024-03-06T08:00:00",
        ),
    ];
    for (owner, text, category, priority, status, location, contact, image, created, updated) in
        requests
    {
        conn.execute(
            "INSERT INTO requests (user_id, description, category, priority, status, location, contact_info,
                                   image_url, task_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'a5c1e2d4-celery-task', ?9, ?10)",
            rusqlite::params![
                owner, text, category, priority, status, location, contact, image, created, updated
            ],
        )
        .unwrap();
    }
}

fn import(dir: &Path, legacy: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = maintenance(dir);
    command.arg("import-legacy").arg(legacy).args(extra);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "import failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn assert_says(text: &str, expected: &[&str]) {
    for line in expected {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

/// Every row of every table, in a stable order: equal dumps, equal contents.
fn dump(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                let values: Vec<rusqlite::types::Value> =
                    (0..width).map(|i| row.get(i).unwrap()).collect();
                Ok(format!("{values:?}"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.push_str(&format!(
            "{table} ({} rows)\n{}\n",
            rows.len(),
            rows.join("\n")
        ));
    }
    out
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn token(port: u16, email: &str, password: &str) -> String {
    let response = login(port, email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login of {email}");
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get(port: u16, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_originals_database_comes_over_with_its_logins_labels_and_owners() {
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    std::fs::create_dir(&old).unwrap();
    std::fs::create_dir(&new).unwrap();
    let legacy = old.join("maintenance.db");
    build_original(&legacy);
    let original = std::fs::read(&legacy).unwrap();
    let target = new.join("maintenance.db");

    // A dry run reports and writes nothing, not even the new database.
    let dry = stdout(&import(&new, &legacy, &["--dry-run"], &[]));
    assert_says(
        &dry,
        &[
            "Dry run: nothing was written",
            "users: 4 to import, 0 imported before, 1 skipped",
            "requests: 4 to import, 0 imported before, 2 skipped",
        ],
    );
    assert!(files_in(&new).is_empty(), "{:?}", files_in(&new));

    let summary = stdout(&import(&new, &legacy, &[], &[]));
    assert_says(
        &summary,
        &[
            "users: 4 imported, 0 imported before, 1 skipped",
            "requests: 4 imported, 0 imported before, 2 skipped",
            "category 'processing' -> the offline classifier: 1",
            "priority 'processing' -> the offline classifier: 1",
            "priority 'urgent' -> high: 1",
            "priority 'High' -> high: 1",
            "priority 'normal' -> medium: 1",
            "category '냉난방' -> hvac: 1",
            "status 'in-progress' -> in_progress: 1",
            "status 'done' -> completed: 1",
            "status 'resolved' -> completed: 1",
            "role (empty) -> user: 1",
            "requests classified by the offline classifier: 1; queued for LLM refinement: 0",
            "user #5 (kim@example.com): same email as user #3",
            "request #4: its owner, user #99, no longer exists",
            "request #5: its owner, user #5, was not imported",
            "user #1 (admin@system.local): its password was the original system's published default",
        ],
    );
    assert!(
        !summary.contains("new ids"),
        "a fresh database keeps every id: {summary}"
    );
    // The dry run said what the import then did.
    let body = |text: &str| {
        text.lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
            .replace("to import", "imported")
    };
    assert_eq!(body(&dry), body(&summary));
    assert_eq!(
        std::fs::read(&legacy).unwrap(),
        original,
        "the legacy file changed"
    );
    assert_eq!(
        files_in(&old),
        ["maintenance.db"],
        "files appeared beside it"
    );

    // The server starts on the result, and takes the imported super admin as its own.
    let mut command = maintenance(&new);
    command.env("PORT", "0");
    let server = start(command);
    assert!(
        !server
            .log
            .iter()
            .any(|l| l.contains("created the super admin")),
        "{:?}",
        server.log
    );
    let port = server.port;

    // The old password works with the original's login form; the address is normalised.
    let kim = token(port, "kim@example.com", KIM_PASSWORD).await;
    let me: Value = get(port, &kim, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(me["id"], 3, "ids are kept");
    assert_eq!(me["full_name"], "김철수");
    assert_eq!(me["created_at"], "2024-03-01T09:15:00.000000Z");
    let mine: Vec<Value> = get(port, &kim, "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = mine.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [2, 1], "newest first, ids kept");
    let (light, leak) = (&mine[0], &mine[1]);
    assert_eq!(light["category"], "electrical");
    assert_eq!(light["priority"], "high");
    assert_eq!(light["status"], "in_progress");
    assert_eq!(light["location"], Value::Null, "empty strings become null");
    assert_eq!(light["contact_info"], "010-1234-5678");
    assert_eq!(light["image_url"], Value::Null);
    assert_eq!(light["created_at"], "2024-03-01T10:00:00.123456Z");
    assert_eq!(light["updated_at"], "2024-03-02T11:00:00.000000Z");
    assert_eq!(light["classification_status"], "done");
    assert_eq!(leak["category"], "plumbing", "classified offline: {leak}");
    assert_eq!(leak["priority"], "high", "a continuing leak: {leak}");
    assert_eq!(leak["classification_method"], "keyword");
    assert_eq!(leak["classification_status"], "done");
    assert_eq!(leak["contact_info"], Value::Null);
    assert_eq!(
        leak["image_url"], S3_PHOTO,
        "the S3 photo stays where it is"
    );
    // Owner access holds: Lee's request is not Kim's to see.
    assert_eq!(
        get(port, &kim, "/api/requests/3").await.status(),
        StatusCode::NOT_FOUND
    );
    let history: Vec<Value> = get(port, &kim, "/api/requests/1/history")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["action"], "created");
    assert_eq!(history[0]["created_at"], "2024-03-01T09:20:00.000000Z");

    let lee = token(port, "lee@example.com", LEE_PASSWORD).await;
    let me: Value = get(port, &lee, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), &me["full_name"]),
        (Some("user"), &Value::Null)
    );

    // The admin sees everything imported, with the counts right.
    let manager = token(port, "manager@example.com", MANAGER_PASSWORD).await;
    let me: Value = get(port, &manager, "/api/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");
    let all = get(port, &manager, "/api/requests").await;
    assert_eq!(all.headers()["x-total-count"], "4");
    let all: Vec<Value> = all.json().await.unwrap();
    let boiler = all.iter().find(|r| r["id"] == 3).unwrap();
    assert_eq!(
        (&boiler["category"], &boiler["priority"], &boiler["status"]),
        (
            &Value::from("hvac"),
            &Value::from("high"),
            &Value::from("completed")
        )
    );
    let stats: Value = get(port, &manager, "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_status"]["completed"], 2);
    assert_eq!(stats["by_status"]["in_progress"], 1);
    assert_eq!(stats["by_status"]["pending"], 1);
    // The urgent light, the boiler, and the leak the offline classifier judged.
    assert_eq!(stats["by_priority"]["high"], 3);

    // The published default password opens nothing.
    assert_eq!(
        login(port, "admin@system.local", "qwer1234").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The twin address was not imported: its password is nobody's.
    assert_eq!(
        login(port, "kim@example.com", "kim twin pass")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Pages link to the S3 photo rather than embedding it (images load from this site only).
    let client = browser();
    let page = format!("http://127.0.0.1:{port}");
    let form = client.get(format!("{page}/login")).send().await.unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    let signed_in = client
        .post(format!("{page}/login"))
        .form(&[
            ("email", "kim@example.com"),
            ("password", KIM_PASSWORD),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let html = client
        .get(format!("{page}/requests/1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("<a href=\"{S3_PHOTO}\"")), "{html}");
    assert!(
        !html.contains(&format!("<img src=\"{S3_PHOTO}\"")),
        "{html}"
    );
    drop(server);

    // A second run imports nothing twice; its dry run neither.
    let before = dump(&target);
    let again = stdout(&import(&new, &legacy, &[], &[]));
    assert_says(
        &again,
        &[
            "users: 0 imported, 4 imported before, 1 skipped",
            "requests: 0 imported, 4 imported before, 2 skipped",
            "Nothing new to import",
        ],
    );
    assert_eq!(
        dump(&target),
        before,
        "the second import changed the database"
    );
    let files = files_in(&new);
    let dry_again = stdout(&import(&new, &legacy, &["--dry-run"], &[]));
    assert_says(
        &dry_again,
        &[
            "users: 0 to import, 4 imported before",
            "Nothing new to import",
        ],
    );
    assert_eq!(dump(&target), before, "the dry run changed the database");
    assert_eq!(
        files_in(&new),
        files,
        "the dry run left files beside the database"
    );
    assert_eq!(
        std::fs::read(&legacy).unwrap(),
        original,
        "the legacy file changed"
    );
    assert_eq!(files_in(&old), ["maintenance.db"]);
}

#[tokio::test]
async fn an_address_registered_here_first_is_not_taken_over_and_used_ids_are_not_reused() {
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    std::fs::create_dir(&old).unwrap();
    std::fs::create_dir(&new).unwrap();
    let legacy = old.join("maintenance.db");
    build_original(&legacy);
    let target = new.join("maintenance.db");
    let chief = [
        ("SUPER_ADMIN_EMAIL", "chief@example.com"),
        ("SUPER_ADMIN_PASSWORD", crate::helpers::SUPER_PASSWORD),
    ];

    // The new system ran first: chief is account 1; someone registered Kim's address (2)
    // and submitted request 1.
    let mut command = maintenance(&new);
    command.env("PORT", "0").envs(chief);
    let server = start(command);
    let client = reqwest::Client::new();
    let registered = client
        .post(format!(
            "http://127.0.0.1:{}/api/auth/register",
            server.port
        ))
        .json(&serde_json::json!({"email": "kim@example.com", "password": "a new system pw"}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let newcomer = token(server.port, "kim@example.com", "a new system pw").await;
    let submitted = client
        .post(format!("http://127.0.0.1:{}/api/requests", server.port))
        .bearer_auth(&newcomer)
        .json(&serde_json::json!({"description": "엘리베이터 버튼이 안 눌려요"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::OK);
    drop(server);

    let summary = stdout(&import(&new, &legacy, &[], &chief));
    assert_says(
        &summary,
        &[
            "users: 3 imported, 0 imported before, 2 skipped",
            "requests: 2 imported, 0 imported before, 4 skipped",
            "user #3 (kim@example.com): the email is already registered here (account #2)",
            "request #1: its owner, user #3, was not imported: the email is already registered here",
            "user #1 -> #5",
            "user #2 -> #6",
        ],
    );
    assert!(!summary.contains("request #3 ->"), "{summary}");

    let mut command = maintenance(&new);
    command.env("PORT", "0").envs(chief);
    let server = start(command);
    let port = server.port;
    // The address's owner here keeps it; the old password opens nothing.
    assert_eq!(
        login(port, "kim@example.com", KIM_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let newcomer = token(port, "kim@example.com", "a new system pw").await;
    let mine: Vec<Value> = get(port, &newcomer, "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "no imported request went to the newcomer");
    let manager = token(port, "manager@example.com", MANAGER_PASSWORD).await;
    let me: Value = get(port, &manager, "/api/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], 6);
    let lee = token(port, "lee@example.com", LEE_PASSWORD).await;
    let lees: Vec<Value> = get(port, &lee, "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = lees.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [6, 3], "free request ids are kept");
    drop(server);

    let before = dump(&target);
    let again = stdout(&import(&new, &legacy, &[], &chief));
    assert_says(
        &again,
        &[
            "users: 0 imported, 3 imported before, 2 skipped",
            "Nothing new to import",
        ],
    );
    assert_eq!(dump(&target), before);
}

#[tokio::test]
async fn with_an_llm_configured_the_placeholders_are_queued_and_refined_by_the_server() {
    use crate::mock_llm::MockLlm;
    let llm = MockLlm::builder(vec![])
        .rule(|_| ("structural".to_owned(), "low".to_owned()))
        .start();
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("original.db");
    build_original(&legacy);
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let base = llm.base_url();
    let envs = [
        ("GROQ_API_KEY", "test-key"),
        ("LLM_BASE_URL", base.as_str()),
        ("QUEUE_SWEEP_MS", "50"),
    ];
    let summary = stdout(&import(&new, &legacy, &[], &envs));
    assert_says(
        &summary,
        &["requests classified by the offline classifier: 1; queued for LLM refinement: 1"],
    );
    assert_eq!(llm.calls(), 0, "the import itself asks no LLM");

    let mut command = maintenance(&new);
    command.env("PORT", "0").envs(envs);
    let server = start(command);
    let kim = token(server.port, "kim@example.com", KIM_PASSWORD).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let leak: Value = get(server.port, &kim, "/api/requests/1")
            .await
            .json()
            .await
            .unwrap();
        if leak["classification_status"] == "done" {
            assert_eq!(leak["classification_method"], "llm", "{leak}");
            assert_eq!(leak["category"], "structural");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refined: {leak}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only the placeholder request was sent; the labelled ones kept theirs.
    assert_eq!(
        llm.received_items().concat(),
        ["화장실 천장에서 물이 계속 새요"]
    );
    let light: Value = get(server.port, &kim, "/api/requests/2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(light["category"], "electrical");
}

#[test]
fn what_is_not_the_originals_database_is_refused_and_nothing_is_created() {
    let root = tempfile::tempdir().unwrap();
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let run = |legacy: &Path, envs: &[(&str, &str)]| {
        let mut command = maintenance(&new);
        command.arg("import-legacy").arg(legacy);
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().unwrap()
    };

    let missing = run(&root.path().join("nowhere.db"), &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
    assert!(files_in(&new).is_empty());

    // One of ours is not the original's.
    let ours = root.path().join("ours.db");
    let migrated = maintenance(root.path())
        .args(["migrate", "--create"])
        .env("DATABASE_URL", &ours)
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let refused = run(&ours, &[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already a database of this program"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(files_in(&new).is_empty(), "{:?}", files_in(&new));

    // The legacy file is never its own target.
    let legacy = new.join("maintenance.db");
    build_original(&legacy);
    let original = std::fs::read(&legacy).unwrap();
    let itself = run(&legacy, &[]);
    assert!(!itself.status.success());
    let stderr = String::from_utf8_lossy(&itself.stderr);
    assert!(
        stderr.contains("DATABASE_URL names the file being imported"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&legacy).unwrap(), original);
    assert_eq!(files_in(&new), ["maintenance.db"]);
}

#[test]
fn a_failure_part_way_leaves_nothing_imported() {
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("original.db");
    build_original(&legacy);
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let target = new.join("maintenance.db");
    let migrated = maintenance(&new)
        .args(["migrate", "--create"])
        .output()
        .unwrap();
    assert!(migrated.status.success());
    // The last request written fails, after every account and the other requests.
    rusqlite::Connection::open(&target)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON requests WHEN NEW.id = 6
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let before = dump(&target);
    let output = maintenance(&new)
        .arg("import-legacy")
        .arg(&legacy)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(stderr.contains("refused by the test"), "{stderr}");
    assert_eq!(dump(&target), before, "a part of the import was kept");
}

/// An original database with its exact schema and nothing in it yet.
fn bare_original(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    conn.execute_batch(ORIGINAL_SCHEMA).unwrap();
    conn
}

fn add_user(conn: &rusqlite::Connection, id: i64, email: &str, role: &str) {
    conn.execute(
        "INSERT INTO users (id, email, hashed_password, full_name, role) VALUES (?1, ?2, ?3, 'x', ?4)",
        rusqlite::params![id, email, LEE_HASH, role],
    )
    .unwrap();
}

fn add_request(conn: &rusqlite::Connection, id: i64, owner: i64, description: &str) {
    conn.execute(
        "INSERT INTO requests (id, user_id, description, category, priority, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'other', 'low', 'pending', '2024-04-01 09:00:00', '2024-04-01 09:00:00')",
        rusqlite::params![id, owner, description],
    )
    .unwrap();
}

/// Finding 1: "imported before" was decided by the id alone, so a second database (or the
/// original re-created) had its accounts taken for the first one's and its requests attached
/// to people they do not belong to.
#[test]
fn another_database_with_the_same_ids_is_not_taken_for_the_one_imported_before() {
    let root = tempfile::tempdir().unwrap();
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let first = root.path().join("first.db");
    build_original(&first);
    import(&new, &first, &[], &[]);
    let target = new.join("maintenance.db");
    // The same, as an earlier version recorded it: without identities (see below).
    let older = new.join("older.db");
    std::fs::copy(&target, &older).unwrap();

    // Another building's database, or the original started afresh: the same ids, other people.
    let other = root.path().join("other.db");
    let conn = bare_original(&other);
    conn.execute_batch(ORIGINAL_SUPER_ADMIN).unwrap();
    add_user(&conn, 3, "park@example.com", "user");
    add_user(&conn, 8, "kim@example.com", "user");
    add_request(&conn, 1, 3, "박 씨의 요청: 현관 센서등이 안 켜져요");
    add_request(&conn, 7, 3, "박 씨의 두 번째 요청");
    drop(conn);

    for database in [&target, &older] {
        if database == &older {
            rusqlite::Connection::open(&older)
                .unwrap()
                .execute("UPDATE legacy_ids SET fingerprint = NULL", [])
                .unwrap();
        }
        let before = dump(database);
        let url = database.display().to_string();
        let summary = stdout(&import(&new, &other, &[], &[("DATABASE_URL", &url)]));
        assert_says(
            &summary,
            &[
                "users: 0 imported, 1 imported before, 2 skipped",
                "requests: 0 imported, 0 imported before, 2 skipped",
                "user #3 (park@example.com): not the account imported before as user #3 (account #3 here), \
                 which had another email: is this another database",
                "user #8 (kim@example.com): the email is that of the account imported before as user #3 \
                 (account #3 here), and this file has it as user #8",
                "request #1: not the request imported before as request #1 (#1 here)",
                "request #7: its owner, user #3, is not the account imported before as user #3",
            ],
        );
        assert_eq!(dump(database), before, "{url} changed");
    }
}

/// Finding 2: a failed import removed the target when it had not existed a moment before,
/// even though something else (here a link someone made) was there when the import began.
#[cfg(unix)]
#[test]
fn a_target_that_was_there_before_is_never_removed_when_the_import_fails() {
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("original.db");
    build_original(&legacy);
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let target = new.join("maintenance.db");
    // A link to where the database will live, in a folder not made yet.
    std::os::unix::fs::symlink(root.path().join("later/maintenance.db"), &target).unwrap();
    let output = maintenance(&new)
        .arg("import-legacy")
        .arg(&legacy)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        std::fs::symlink_metadata(&target).is_ok(),
        "the link was removed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Finding 3: ids near i64::MAX were kept, and then no account or request could ever be
/// created again ("database or disk is full").
#[tokio::test]
async fn ids_too_large_to_keep_get_new_ones_and_the_database_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("original.db");
    let conn = bare_original(&legacy);
    add_user(&conn, 1, "a@example.com", "user");
    add_user(&conn, i64::MAX, "max@example.com", "user");
    add_request(&conn, 5, i64::MAX, "큰 번호 주인의 요청");
    add_request(&conn, i64::MAX, 1, "큰 번호 요청");
    drop(conn);

    let dry = stdout(&import(dir.path(), &legacy, &["--dry-run"], &[]));
    assert_says(
        &dry,
        &[
            "user #9223372036854775807 -> a new id (only ids from 1 to 2^40 = 1099511627776 are kept)",
            "request #9223372036854775807 -> a new id (only ids from 1 to 2^40",
        ],
    );
    let summary = stdout(&import(dir.path(), &legacy, &[], &[]));
    assert_says(
        &summary,
        &[
            "users: 2 imported",
            "requests: 2 imported",
            "user #9223372036854775807 -> #2 (only ids from 1 to 2^40",
            "request #9223372036854775807 -> #6 (only ids from 1 to 2^40",
        ],
    );

    // The server starts (creating its super admin) and takes new accounts and requests.
    let app = crate::helpers::spawn_app_in(dir, &[]).await;
    let (id, token) = app.resident("newcomer@example.com").await;
    assert!(id < 10, "{id}");
    let created = app.submit(&token, "새로 들어온 요청").await;
    assert_eq!(created["id"], 7);
    let owner = app.token("max@example.com", LEE_PASSWORD).await;
    let theirs: Vec<Value> = app
        .get(Some(&owner), "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["id"], 5);
}

/// Finding 4: the original compared roles as exact text, so any other spelling gave no staff
/// rights there; mapping `Admin`, `staff`, `관리자`... to staff here granted rights the accounts
/// never had.
#[test]
fn only_the_exact_staff_roles_keep_staff_rights() {
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("original.db");
    let conn = bare_original(&legacy);
    let roles = [
        ("admin", "admin"),
        ("super_admin", "super_admin"),
        ("user", "user"),
        ("super_admin ", "user"),
        ("SUPER-ADMIN", "user"),
        ("Admin", "user"),
        ("staff", "user"),
        ("관리자", "user"),
        ("manager", "user"),
        ("", "user"),
    ];
    for (i, (role, _)) in roles.iter().enumerate() {
        add_user(
            &conn,
            i as i64 + 1,
            &format!("u{}@example.com", i + 1),
            role,
        );
    }
    // A blob that reads "admin" is not the text the original compared with.
    conn.execute(
        "INSERT INTO users (id, email, hashed_password, role) VALUES (20, 'blob@example.com', ?1, ?2)",
        rusqlite::params![LEE_HASH, b"admin".to_vec()],
    )
    .unwrap();
    drop(conn);
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let summary = stdout(&import(&new, &legacy, &[], &[]));
    assert_says(
        &summary,
        &[
            "users: 11 imported",
            "role 'Admin' -> user: 1",
            "role '관리자' -> user: 1",
            "role 'admin' (a blob, not text) -> user: 1",
            "user #4 (u4@example.com): role 'super_admin ' is not exactly user, admin or super_admin",
            "user #20 (blob@example.com): role 'admin' (a blob, not text) is not stored as text",
        ],
    );
    assert!(!summary.contains("user #10 (u10"), "{summary}");
    let target = rusqlite::Connection::open(new.join("maintenance.db")).unwrap();
    let role_of = |email: &str| -> String {
        target
            .query_row("SELECT role FROM users WHERE email = ?1", [email], |r| {
                r.get(0)
            })
            .unwrap()
    };
    for (i, (stored, expected)) in roles.iter().enumerate() {
        let email = format!("u{}@example.com", i + 1);
        assert_eq!(role_of(&email), *expected, "role {stored:?}");
    }
    assert_eq!(role_of("blob@example.com"), "user");
}

/// Runs the import and gives up after `limit`.
fn import_within(dir: &Path, legacy: &Path, limit: Duration) -> Output {
    let mut child = maintenance(dir)
        .arg("import-legacy")
        .arg(legacy)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("the import was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Finding 5: a hash with an absurd bcrypt cost was trusted: the import tried it (for staff),
/// and a login would then run for hours.
#[tokio::test]
async fn a_hash_with_an_absurd_cost_is_never_tried_and_its_account_cannot_be_used_to_stall() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("original.db");
    let conn = bare_original(&legacy);
    let absurd = format!("$2b$31${}", &KIM_HASH[7..]);
    for (id, email, role) in [
        (1, "chief@example.com", "super_admin"),
        (2, "slow@example.com", "user"),
    ] {
        conn.execute(
            "INSERT INTO users (id, email, hashed_password, role) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, email, absurd, role],
        )
        .unwrap();
    }
    add_user(&conn, 3, "fine@example.com", "user");
    drop(conn);

    let output = import_within(dir.path(), &legacy, Duration::from_secs(60));
    assert!(output.status.success(), "{output:?}");
    let summary = stdout(&output);
    assert_says(
        &summary,
        &[
            "users: 3 imported",
            "user #1 (chief@example.com): its password hash has bcrypt cost 31",
            "user #2 (slow@example.com): its password hash has bcrypt cost 31",
            "so it was disabled; set a new one with `maintenance set-password slow@example.com`",
        ],
    );
    assert!(!summary.contains("fine@example.com"), "{summary}");

    let app = crate::helpers::spawn_app_in(dir, &[]).await;
    let started = std::time::Instant::now();
    let refused = app.login_form("slow@example.com", KIM_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() < Duration::from_secs(5));
    app.token("fine@example.com", LEE_PASSWORD).await;
}

fn failure(dir: &Path, legacy: &Path) -> String {
    let output = maintenance(dir)
        .arg("import-legacy")
        .arg(legacy)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

/// Finding 6: what cannot be read is said in the operator's terms, and the hint about a
/// running original only where it is the likely cause.
#[test]
fn what_cannot_be_read_is_explained() {
    let root = tempfile::tempdir().unwrap();
    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();

    let folder = failure(&new, root.path());
    assert!(
        folder.contains("is a folder, not a database file"),
        "{folder}"
    );
    assert!(!folder.contains("does not exist"), "{folder}");

    let text = root.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some text for the header",
    )
    .unwrap();
    let not_sqlite = failure(&new, &text);
    assert!(
        not_sqlite.contains("is not an SQLite database"),
        "{not_sqlite}"
    );
    assert!(!not_sqlite.contains("stop it first"), "{not_sqlite}");

    // `users` as a view over another table.
    let view = root.path().join("view.db");
    let conn = rusqlite::Connection::open(&view).unwrap();
    conn.execute_batch(&ORIGINAL_SCHEMA.replace(
        "CREATE TABLE IF NOT EXISTS users",
        "CREATE TABLE real_users",
    ))
    .unwrap();
    conn.execute_batch("CREATE VIEW users AS SELECT * FROM real_users")
        .unwrap();
    drop(conn);
    let message = failure(&new, &view);
    assert!(
        message.contains("its `users` is a view, not a table"),
        "{message}"
    );
    assert!(!message.contains("rowid"), "{message}");

    // A transaction left unfinished: a rollback journal beside the file.
    let writing = root.path().join("writing");
    std::fs::create_dir(&writing).unwrap();
    let live = writing.join("maintenance.db");
    build_original(&live);
    let conn = rusqlite::Connection::open(&live).unwrap();
    conn.execute_batch("PRAGMA cache_size = 1; BEGIN;").unwrap();
    for i in 0..2000 {
        add_user(
            &conn,
            100 + i,
            &format!("n{i}@example.com"),
            &"x".repeat(300),
        );
    }
    let crashed = root.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    for name in ["maintenance.db", "maintenance.db-journal"] {
        std::fs::copy(writing.join(name), crashed.join(name)).unwrap();
    }
    drop(conn);
    let hot = crashed.join("maintenance.db");
    let before = (
        std::fs::read(&hot).unwrap(),
        std::fs::read(crashed.join("maintenance.db-journal")).unwrap(),
    );
    let message = failure(&new, &hot);
    assert!(
        message.contains("has an unfinished transaction"),
        "{message}"
    );
    assert!(message.contains("sqlite3"), "{message}");
    assert!(!message.contains("readonly database"), "{message}");
    assert!(!message.contains("stop it first"), "{message}");
    assert_eq!(
        (
            std::fs::read(&hot).unwrap(),
            std::fs::read(crashed.join("maintenance.db-journal")).unwrap(),
        ),
        before
    );
    assert_eq!(
        files_in(&crashed),
        ["maintenance.db", "maintenance.db-journal"]
    );

    // Another program holds the file: then the hint applies.
    let busy = root.path().join("busy.db");
    build_original(&busy);
    let holder = rusqlite::Connection::open(&busy).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let message = failure(&new, &busy);
    assert!(message.contains("stop it first"), "{message}");
    drop(holder);
    assert!(files_in(&new).is_empty(), "{:?}", files_in(&new));
}

/// Finding 6: a WAL database with rows only in its `-wal` and no `-shm` (copied from a running
/// system, or left by a crash) is read whole, and nothing is created or changed beside it.
#[test]
fn a_wal_database_is_read_with_its_log_and_nothing_is_created_beside_it() {
    let root = tempfile::tempdir().unwrap();
    let running = root.path().join("running");
    std::fs::create_dir(&running).unwrap();
    let live = running.join("maintenance.db");
    build_original(&live);
    let conn = rusqlite::Connection::open(&live).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    // Only in the -wal: an account and its request.
    add_user(&conn, 50, "walonly@example.com", "user");
    add_request(&conn, 50, 50, "로그에만 있는 요청");
    let copied = root.path().join("copied");
    std::fs::create_dir(&copied).unwrap();
    for name in ["maintenance.db", "maintenance.db-wal"] {
        std::fs::copy(running.join(name), copied.join(name)).unwrap();
    }
    drop(conn);
    let legacy = copied.join("maintenance.db");
    let before = (
        std::fs::read(&legacy).unwrap(),
        std::fs::read(copied.join("maintenance.db-wal")).unwrap(),
    );

    let new = root.path().join("new");
    std::fs::create_dir(&new).unwrap();
    let summary = stdout(&import(&new, &legacy, &[], &[]));
    assert_says(&summary, &["users: 5 imported", "requests: 5 imported"]);
    let target = rusqlite::Connection::open(new.join("maintenance.db")).unwrap();
    let owner: String = target
        .query_row(
            "SELECT u.email FROM requests r JOIN users u ON u.id = r.user_id WHERE r.id = 50",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owner, "walonly@example.com");
    assert_eq!(files_in(&copied), ["maintenance.db", "maintenance.db-wal"]);
    assert_eq!(
        (
            std::fs::read(&legacy).unwrap(),
            std::fs::read(copied.join("maintenance.db-wal")).unwrap(),
        ),
        before
    );
}

/// Finding 7: the dry run said nothing about the target, so it passed where the import then
/// failed (a DATABASE_URL in a folder that does not exist).
#[test]
fn the_dry_run_says_when_the_target_cannot_be_created() {
    let root = tempfile::tempdir().unwrap();
    let legacy = root.path().join("original.db");
    build_original(&legacy);
    let nowhere = root.path().join("srv/maintenance");
    let url = nowhere.join("maintenance.db").display().to_string();
    let output = maintenance(root.path())
        .arg("import-legacy")
        .arg(&legacy)
        .arg("--dry-run")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let summary = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problem = format!(
        "cannot create the database {url}: the folder {} does not exist; create it first (mkdir -p {})",
        nowhere.display(),
        nowhere.display()
    );
    assert_says(
        &summary,
        &[
            "users: 4 to import",
            &format!("The import itself would fail: {problem}"),
        ],
    );
    assert!(stderr.contains(&problem), "{stderr}");
    assert!(!root.path().join("srv").exists());

    // Where it can, the dry run says the file will be new.
    let fine = root.path().join("fine");
    std::fs::create_dir(&fine).unwrap();
    let dry = stdout(&import(&fine, &legacy, &["--dry-run"], &[]));
    assert_says(&dry, &["(a new file; its folder takes new files)"]);
    assert!(files_in(&fine).is_empty(), "{:?}", files_in(&fine));
}
