//! The compiled binary, as an operator runs it.

use crate::helpers::SUPER_PASSWORD;
use maintenance::db::MIGRATIONS;
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn maintenance(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_maintenance"));
    command
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("BCRYPT_COST", "4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A running server and the log lines it printed up to "listening".
pub struct Running {
    pub child: Child,
    pub port: u16,
    pub log: Vec<String>,
    /// Every later line of its stderr, as it arrives.
    pub rest: mpsc::Receiver<String>,
}

impl Running {
    /// Sends SIGTERM, waits for the exit and returns its status with every line the server
    /// printed after "listening".
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        // The reader thread ends at EOF, so this ends too.
        let rest = self.rest.iter().collect();
        (status, rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is waited for by Running's Drop.
#[allow(clippy::zombie_processes)]
pub fn start(mut command: Command) -> Running {
    let mut child = command.spawn().expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after start-up so the server never writes into a full or closed pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server logs 'listening'");
        // `address=127.0.0.1:PORT` as text, `"address":"127.0.0.1:PORT"` with LOG_FORMAT=json.
        let port = line
            .contains("listening")
            .then(|| {
                line.split("address=")
                    .nth(1)
                    .or_else(|| line.split("\"address\":\"").nth(1))
            })
            .flatten()
            .and_then(|a| a.split(['"', ' ']).next())
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.trim().parse().ok());
        log.push(line);
        if let Some(port) = port {
            return Running {
                child,
                port,
                log,
                rest: lines_rx,
            };
        }
    }
}

/// Runs `command` to its end with `input` on its standard input.
pub fn output_with_input(mut command: Command, input: &str) -> std::process::Output {
    let mut child = command.stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub async fn login(port: u16, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/auth/login"))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_nothing_configured_it_creates_the_database_key_and_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = maintenance(dir.path());
    command.env("PORT", "0");
    let server = start(command);

    assert!(dir.path().join("maintenance.db").exists());
    let key = dir.path().join("maintenance.db.secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The banner after "listening" has the generated password.
    let mut banner = Vec::new();
    while !banner
        .last()
        .is_some_and(|l: &String| l.contains("set-password admin@localhost"))
    {
        banner.push(server.rest.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    let password = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("password "))
        .expect("the generated admin password is printed")
        .trim()
        .to_owned();
    let password = password.as_str();
    assert!(password.len() >= 16);

    let health: Value = reqwest::get(format!("http://127.0.0.1:{}/health", server.port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(
        login(server.port, "admin@localhost", password)
            .await
            .status(),
        StatusCode::OK
    );
    drop(server);

    // The password can be changed from the command line; a restart creates no second admin.
    let mut set = maintenance(dir.path());
    set.args(["set-password", "admin@localhost"])
        .stdin(Stdio::piped());
    let mut child = set.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let mut command = maintenance(dir.path());
    command.args(["serve"]).env("PORT", "0");
    let again = start(command);
    assert!(
        !again
            .log
            .iter()
            .any(|l| l.contains("created the super admin"))
    );
    assert_eq!(
        login(again.port, "admin@localhost", "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        login(again.port, "admin@localhost", password)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn invalid_configuration_stops_start_up_naming_every_bad_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = maintenance(dir.path())
        .env("PORT", "eighty")
        .env("ACCESS_TOKEN_EXPIRE_MINUTES", "-5")
        .env("DATABASE_URL", "postgres://db/maintenance")
        .env("SUPER_ADMIN_EMAIL", "boss@example.com")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in [
        "PORT",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "DATABASE_URL",
        "SUPER_ADMIN_PASSWORD",
    ] {
        assert!(stderr.contains(name), "{name} not named in: {stderr}");
    }
    assert!(
        !dir.path().join("maintenance.db").exists(),
        "nothing was created"
    );
}

#[tokio::test]
async fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = maintenance(dir.path())
        .args(["migrate", "--create"])
        .env("DATABASE_URL", "sqlite:///./data.db")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "logs go to stderr");
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, MIGRATIONS.len());
}

#[tokio::test]
async fn the_configured_super_admin_can_log_in_to_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = maintenance(dir.path());
    command
        .env("PORT", "0")
        .env("SUPER_ADMIN_EMAIL", "chief@example.com")
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD);
    let server = start(command);
    assert!(!server.log.iter().any(|l| l.contains("admin@localhost")));
    assert!(
        !server.log.iter().any(|l| l.contains(SUPER_PASSWORD)),
        "the password is never logged"
    );
    assert_eq!(
        login(server.port, "chief@example.com", SUPER_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

/// The shipped example database matches what the migrations build.
#[test]
fn the_example_database_is_at_the_latest_schema() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("maintenance.db.example");
    let conn =
        rusqlite::Connection::open_with_flags(&example, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version as usize,
        MIGRATIONS.len(),
        "regenerate with the commands in README.md (A demo database)"
    );
    let schema = |c: &rusqlite::Connection| -> Vec<String> {
        let mut stmt = c
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut fresh = rusqlite::Connection::open_in_memory().unwrap();
    maintenance::db::migrate(&mut fresh).unwrap();
    assert_eq!(schema(&conn), schema(&fresh));
}

/// A log collector that goes away must not take the server down with it.
#[tokio::test]
async fn the_server_keeps_serving_after_its_stderr_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = maintenance(dir.path()).env("PORT", "0").spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("server logs 'listening'").unwrap();
        if let Some(address) = line.split("listening address=").nth(1) {
            break address.rsplit(':').next().unwrap().trim().parse().unwrap();
        }
    };
    drop(lines);
    for _ in 0..3 {
        let health = reqwest::get(format!("http://127.0.0.1:{port}/health")).await;
        assert_eq!(health.map(|r| r.status()).ok(), Some(StatusCode::OK));
    }
    let _ = child.kill();
    let _ = child.wait();
}

mod queue_restart {
    use super::*;
    use crate::mock_llm::{Behaviour, MockLlm};

    fn with_llm(dir: &Path, llm: &MockLlm) -> Command {
        let mut command = maintenance(dir);
        command
            .env("PORT", "0")
            .env("SUPER_ADMIN_EMAIL", "chief@example.com")
            .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD)
            .env("GROQ_API_KEY", "test-key")
            .env("LLM_BASE_URL", llm.base_url())
            .env("LLM_TIMEOUT_SECS", "20")
            .env("QUEUE_SWEEP_MS", "50");
        command
    }

    async fn token(port: u16) -> String {
        let body: Value = login(port, "chief@example.com", SUPER_PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn submit(port: u16, token: &str, text: &str) -> i64 {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/requests"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "description": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    async fn wait_for_calls(llm: &MockLlm, calls: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while llm.calls() < calls {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the provider was never called"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls the task until it succeeds; returns the request.
    async fn finished(port: u16, token: &str, id: i64) -> Value {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let task: Value = client
                .get(format!(
                    "http://127.0.0.1:{port}/api/requests/{id}/task-status"
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if task["status"] == "SUCCESS" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task never finished: {task}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client
            .get(format!("http://127.0.0.1:{port}/api/requests/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn jobs_in_flight_when_the_process_is_killed_finish_after_a_restart() {
        let llm = MockLlm::builder(vec![])
            .default_behaviour(Behaviour::Hang(Duration::from_secs(60)))
            .rule(|_| ("other".to_owned(), "low".to_owned()))
            .start();
        let dir = tempfile::tempdir().unwrap();
        let first = start(with_llm(dir.path(), &llm));
        let token = token(first.port).await;
        let id = submit(first.port, &token, "전등이 깜빡입니다").await;
        wait_for_calls(&llm, 1).await;
        drop(first); // SIGKILL, mid-call

        llm.set_default(Behaviour::Answer);
        let second = start(with_llm(dir.path(), &llm));
        let request = finished(second.port, &token, id).await;
        assert_eq!(request["classification_method"], "llm");
        assert_eq!(request["category"], "other");
        assert_eq!(
            llm.calls(),
            2,
            "asked once before the kill and once after the restart"
        );
    }

    #[tokio::test]
    async fn sigterm_lets_a_running_job_finish_before_exit() {
        let llm = MockLlm::builder(vec![Behaviour::Hang(Duration::from_millis(1500))])
            .rule(|_| ("other".to_owned(), "low".to_owned()))
            .start();
        let dir = tempfile::tempdir().unwrap();
        let mut server = start(with_llm(dir.path(), &llm));
        let token = token(server.port).await;
        let id = submit(server.port, &token, "전등이 깜빡입니다").await;
        wait_for_calls(&llm, 1).await;
        let pid = server.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = tokio::task::spawn_blocking(move || {
            let status = server.child.wait();
            (server, status)
        })
        .await
        .unwrap()
        .1
        .unwrap();
        assert!(status.success(), "clean exit after SIGTERM: {status:?}");

        let again = start(with_llm(dir.path(), &llm));
        let request = finished(again.port, &token, id).await;
        assert_eq!(request["classification_method"], "llm");
        assert_eq!(
            llm.calls(),
            1,
            "the job finished before exit and was not asked again"
        );
    }
}

mod classify_command {
    use super::*;
    use crate::mock_llm::MockLlm;

    fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)], input: &str) -> std::process::Output {
        let mut command = maintenance(dir);
        command.args(args).envs(envs.iter().copied());
        output_with_input(command, input)
    }

    fn json_lines(output: &std::process::Output) -> Vec<Value> {
        String::from_utf8(output.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON on stdout: {l}: {e}"))
            })
            .collect()
    }

    const INPUT: &str =
        "{\"text\": \"콘센트에서 타는 냄새가 좀 나요\", \"id\": 9}\n엘리베이터가 멈췄어요\n\n";

    #[test]
    fn it_writes_one_json_line_per_input_and_nothing_else_to_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let output = run(dir.path(), &["classify"], &[("RUST_LOG", "debug")], INPUT);
        assert!(output.status.success());
        let lines = json_lines(&output);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["text"], "콘센트에서 타는 냄새가 좀 나요");
        assert_eq!(
            (lines[0]["category"].as_str(), lines[0]["priority"].as_str()),
            (Some("electrical"), Some("high"))
        );
        assert_eq!(lines[1]["category"], "other");
        for line in &lines {
            assert_eq!(line["method"], "keyword");
            assert!(line["reason"].as_str().is_some_and(|r| !r.is_empty()));
            assert!((0.0..=1.0).contains(&line["confidence"].as_f64().unwrap()));
        }
        assert!(
            !dir.path().join("maintenance.db").exists(),
            "classifying needs no database"
        );
    }

    #[test]
    fn eval_prints_accuracy_and_a_confusion_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/requests-dev.jsonl");
        let output = run(
            dir.path(),
            &["classify", "--eval", data.to_str().unwrap()],
            &[],
            "",
        );
        assert!(output.status.success());
        let report = String::from_utf8(output.stdout).unwrap();
        for expected in [
            "samples:  160",
            "category: ",
            "priority: ",
            "both: ",
            "confusion",
            "electrical",
            "high",
        ] {
            assert!(
                report.contains(expected),
                "{expected} missing from\n{report}"
            );
        }
        let bad = run(
            dir.path(),
            &["classify", "--eval", "/no/such/file.jsonl"],
            &[],
            "",
        );
        assert!(!bad.status.success());
    }

    #[tokio::test]
    async fn llm_uses_the_provider_and_falls_back_when_it_fails() {
        let llm = MockLlm::builder(vec![])
            .rule(|_| ("structural".to_owned(), "low".to_owned()))
            .start();
        let dir = tempfile::tempdir().unwrap();
        let base = llm.base_url();
        let envs = [("GROQ_API_KEY", "k"), ("LLM_BASE_URL", base.as_str())];
        let output = tokio::task::spawn_blocking({
            let dir = dir.path().to_owned();
            let envs: Vec<(String, String)> = envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move || {
                let envs: Vec<(&str, &str)> =
                    envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                run(&dir, &["classify", "--llm"], &envs, INPUT)
            }
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = json_lines(&output);
        assert!(
            lines
                .iter()
                .all(|l| l["method"] == "llm" && l["category"] == "structural"),
            "{lines:?}"
        );
        assert_eq!(llm.calls(), 1, "both lines went in one batch");

        let unreachable = run(
            dir.path(),
            &["classify", "--llm"],
            &[
                ("GROQ_API_KEY", "k"),
                ("LLM_BASE_URL", "http://127.0.0.1:9"),
                ("LLM_TIMEOUT_SECS", "1"),
            ],
            INPUT,
        );
        assert!(unreachable.status.success());
        assert!(
            json_lines(&unreachable)
                .iter()
                .all(|l| l["method"] == "keyword")
        );
        let no_key = run(dir.path(), &["classify", "--llm"], &[], INPUT);
        assert!(!no_key.status.success());
    }
}

#[test]
fn dot_env_is_read_from_the_working_directory_only_or_the_file_named() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    // A file planted in a parent directory names another database: it must be ignored.
    std::fs::write(root.path().join(".env"), "DATABASE_URL=planted.db\n").unwrap();
    let output = maintenance(&work)
        .args(["migrate", "--create"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(work.join("maintenance.db").exists());
    assert!(!work.join("planted.db").exists() && !root.path().join("planted.db").exists());

    // ./.env is read, and --env-file names another file.
    std::fs::write(work.join(".env"), "DATABASE_URL=from-dot-env.db\n").unwrap();
    let output = maintenance(&work)
        .args(["migrate", "--create"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(work.join("from-dot-env.db").exists());
    let named = root.path().join("settings.env");
    std::fs::write(&named, "DATABASE_URL=from-env-file.db\n").unwrap();
    let output = maintenance(&work)
        .arg("--env-file")
        .arg(&named)
        .args(["migrate", "--create"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(work.join("from-env-file.db").exists());
    let output = maintenance(&work)
        .args(["--env-file", "missing.env", "migrate"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.env"));
}

/// Finding 6: the server, `migrate` and `set-password` stop on the original's database with
/// one message naming the import command, and leave it byte for byte as it was, with nothing
/// created beside it.
#[test]
fn the_original_systems_database_is_recognised_and_left_untouched() {
    use crate::import::{ORIGINAL_SCHEMA, ORIGINAL_SUPER_ADMIN};
    // As init_db() leaves it, and as it is after init_super_admin() and some use.
    for seed in ["", ORIGINAL_SUPER_ADMIN] {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("maintenance.db");
        {
            let conn = rusqlite::Connection::open(&original).unwrap();
            conn.execute_batch(ORIGINAL_SCHEMA).unwrap();
            conn.execute_batch(seed).unwrap();
        }
        let before = std::fs::read(&original).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let cases: [(&[&str], Option<&Path>, String); 5] = [
            (&[], None, "maintenance.db".to_owned()),
            (&["serve"], None, "maintenance.db".to_owned()),
            (&["migrate"], None, "maintenance.db".to_owned()),
            (
                &["set-password", "kim@example.com"],
                None,
                "maintenance.db".to_owned(),
            ),
            // Named by an absolute DATABASE_URL from another working directory.
            (
                &["migrate"],
                Some(&original),
                original.display().to_string(),
            ),
        ];
        for (args, url, shown) in cases {
            let mut command = maintenance(if url.is_some() {
                elsewhere.path()
            } else {
                dir.path()
            });
            command.args(args).env("PORT", "0");
            if let Some(path) = url {
                command.env("DATABASE_URL", format!("sqlite:///{}", path.display()));
            }
            let output = command.output().unwrap();
            assert!(!output.status.success(), "{args:?} succeeded");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let said = "is the original (Python) system's database";
            assert_eq!(stderr.matches(said).count(), 1, "said once: {stderr}");
            let fresh = Path::new(&shown).with_file_name("maintenance-new.db");
            let command_line = format!(
                "DATABASE_URL={} maintenance import-legacy {shown}",
                fresh.display()
            );
            assert!(
                stderr.contains(&command_line),
                "{command_line} not in: {stderr}"
            );
            assert!(!stderr.contains("already exists"), "{stderr}");
            assert!(!stderr.contains("applied migration"), "{stderr}");
            assert_eq!(
                std::fs::read(&original).unwrap(),
                before,
                "{args:?} changed the file"
            );
            let mut files: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            assert_eq!(files, ["maintenance.db"], "{args:?} left files beside it");
        }
    }
}

/// Finding 7: half a super admin, or the original's PostgreSQL URL, says exactly what to set.
#[test]
fn the_originals_settings_get_messages_that_say_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let output = maintenance(dir.path())
        .env("SUPER_ADMIN_PASSWORD", "a long enough password")
        .env(
            "DATABASE_URL",
            "postgresql://user:pg-secret@localhost:5432/maintenance",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "SUPER_ADMIN_PASSWORD is set but SUPER_ADMIN_EMAIL is not: add SUPER_ADMIN_EMAIL=<the address of the super admin>",
        "the original system defaulted it to admin@system.local",
        "SQLite",
        "DATABASE_URL=sqlite:///path/to/maintenance.db",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from: {stderr}"
        );
    }
    assert_eq!(
        stderr.matches("invalid configuration").count(),
        1,
        "one message: {stderr}"
    );
    assert!(!stderr.contains("pg-secret"), "{stderr}");
    assert!(!stderr.contains("a long enough password"), "{stderr}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn set_password_ends_every_session_of_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = maintenance(dir.path());
    command
        .env("PORT", "0")
        .env("WS_PING_INTERVAL_SECS", "1")
        .env("SUPER_ADMIN_EMAIL", "chief@example.com")
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD);
    let server = start(command);
    let body: Value = login(server.port, "chief@example.com", SUPER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let me = format!("http://127.0.0.1:{}/api/auth/me", server.port);
    let client = reqwest::Client::new();
    let status = |token: String| {
        let (client, me) = (client.clone(), me.clone());
        async move {
            client
                .get(&me)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(token.clone()).await, StatusCode::OK);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{}/ws?token={token}",
        server.port
    ))
    .await
    .unwrap();

    let mut set = maintenance(dir.path())
        .env("SUPER_ADMIN_EMAIL", "chief@example.com")
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD)
        .args(["set-password", "chief@example.com"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    let output = set.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(status(token).await, StatusCode::UNAUTHORIZED);
    // The socket opened with it closes too, at its next check.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        use futures_util::StreamExt;
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert!(closed.is_some_and(|f| f.reason.contains("session ended")));
}
