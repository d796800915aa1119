//! Issue 10, "Start-up and the command line" and "README": the binary as a new operator meets
//! it in the first hour.

use crate::binary::{Running, login, maintenance, start};
use crate::helpers::{PASSWORD, SUPER_PASSWORD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A tracing line starts with its RFC 3339 timestamp (`2026-12-02T01:43:46.97Z  INFO ...`).
fn is_log_line(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 11 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[10] == b'T'
}

/// Reads the server's later lines until one contains `marker` (within 10 s).
fn read_until(server: &Running, marker: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server
            .rest
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{marker:?} never printed; got {lines:#?}"));
        let done = line.contains(marker);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// The server with nothing configured but a free port, at the default log level.
fn unconfigured(dir: &Path) -> Command {
    let mut command = maintenance(dir);
    command.env_remove("RUST_LOG").env("PORT", "0");
    command
}

/// Finding 1: one banner on its own lines with the URL and, on the run that creates it, the
/// admin's password, which no log line carries; requests and the configuration only at DEBUG.
#[tokio::test]
async fn the_first_start_prints_one_banner_and_the_password_is_in_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(unconfigured(dir.path()));
    let port = server.port;
    let banner_end = "cargo run --release -- set-password admin@localhost";
    let mut printed = read_until(&server, banner_end);
    let url = format!("http://127.0.0.1:{port}/");
    let first = printed
        .iter()
        .position(|l| l.contains(&url))
        .unwrap_or_else(|| panic!("{url} not in {printed:#?}"));
    let banner = printed[first..].to_vec();
    assert!(
        banner.iter().all(|l| !is_log_line(l)),
        "the banner is one block, no log line inside it: {banner:#?}"
    );
    let field = |name: &str| {
        banner
            .iter()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name} in {banner:#?}"))
    };
    assert_eq!(field("email"), "admin@localhost");
    let password = field("password");
    assert!(password.len() >= 16, "{password}");
    assert!(
        banner
            .iter()
            .any(|l| l.trim() == "maintenance set-password admin@localhost"),
        "{banner:#?}"
    );

    assert_eq!(
        login(port, "admin@localhost", &password).await.status(),
        StatusCode::OK
    );
    for _ in 0..3 {
        let health = reqwest::get(format!("http://127.0.0.1:{port}/health")).await;
        assert_eq!(health.unwrap().status(), StatusCode::OK);
    }
    let (status, rest) = server.terminate();
    assert!(status.success(), "{status:?}");
    printed.extend(rest);
    let all: Vec<&String> = server.log.iter().chain(&printed).collect();
    let with_password: Vec<&&String> = all.iter().filter(|l| l.contains(&password)).collect();
    assert_eq!(
        with_password.len(),
        1,
        "the password is printed once: {with_password:#?}"
    );
    assert!(!is_log_line(with_password[0]), "{with_password:#?}");
    assert!(
        !all.iter().any(|l| l.contains("path=/health")),
        "requests are logged at DEBUG by default: {all:#?}"
    );
    assert!(
        !all.iter().any(|l| l.contains("Config {")),
        "the configuration is dumped at DEBUG: {all:#?}"
    );
    for expected in ["starting", "listening address=", "shutting down", "stopped"] {
        assert!(
            all.iter().any(|l| is_log_line(l) && l.contains(expected)),
            "{expected} not logged at INFO: {all:#?}"
        );
    }

    // Later starts show the URL, and no account or password.
    let mut again = start(unconfigured(dir.path()));
    let url = format!("http://127.0.0.1:{}/", again.port);
    let (_, lines) = again.terminate();
    let lines = [again.log.clone(), lines].concat();
    assert!(lines.iter().any(|l| l.contains(&url)), "{lines:#?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("admin@localhost") || l.contains("password")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn on_every_interface_the_banner_gives_a_local_url_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = unconfigured(dir.path());
    command
        .env("HOST", "0.0.0.0")
        .env("SUPER_ADMIN_EMAIL", "chief@example.com")
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD);
    let mut server = start(command);
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains(&format!("listening address=0.0.0.0:{}", server.port))),
        "{:#?}",
        server.log
    );
    let url = format!("http://127.0.0.1:{}/", server.port);
    let (_, lines) = server.terminate();
    let at = lines
        .iter()
        .position(|l| l.contains(&url))
        .unwrap_or_else(|| panic!("{url} not in {lines:#?}"));
    assert!(
        lines[at + 1].contains("listening on every interface"),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("password")),
        "a configured admin's password is never printed: {lines:#?}"
    );
}

/// A request that takes `SLOW_REQUEST_MS` or longer is logged at INFO.
#[tokio::test]
async fn slow_requests_are_logged_at_info() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = unconfigured(dir.path());
    command.env("SLOW_REQUEST_MS", "0");
    let mut server = start(command);
    let health = reqwest::get(format!("http://127.0.0.1:{}/health", server.port)).await;
    assert_eq!(health.unwrap().status(), StatusCode::OK);
    let (_, rest) = server.terminate();
    assert!(
        rest.iter().any(|l| is_log_line(l)
            && l.contains(" INFO ")
            && l.contains("slow request")
            && l.contains("path=/health")),
        "{rest:#?}"
    );
}

/// Finding 1: a port already in use stops start-up before the default admin is created, so its
/// password is shown on the run that does start.
#[tokio::test]
async fn a_port_in_use_does_not_cost_the_only_showing_of_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = unconfigured(dir.path())
        .env("PORT", &port)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("cannot listen on").count(),
        1,
        "said once: {stderr}"
    );
    drop(taken);
    let server = start(unconfigured(dir.path()));
    let lines = read_until(&server, "set-password admin@localhost");
    assert!(
        lines.iter().any(|l| l.trim().starts_with("password")),
        "{lines:#?}"
    );
}

fn with_stdin(mut command: Command, input: &str) -> Output {
    command.stdin(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // The command may stop before reading.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// Finding 2: `set-password` and `migrate` run where there is no database create nothing,
/// and say which path they looked at and how to name the right one.
#[tokio::test]
async fn commands_other_than_serve_refuse_to_create_a_database() {
    let real = tempfile::tempdir().unwrap();
    let mut command = maintenance(real.path());
    command
        .env("PORT", "0")
        .env("SUPER_ADMIN_EMAIL", "chief@example.com")
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD);
    drop(start(command));

    let elsewhere = tempfile::tempdir().unwrap();
    let cwd = elsewhere.path().canonicalize().unwrap();
    let cases: [(&[&str], Option<&str>, PathBuf); 3] = [
        (
            &["set-password", "chief@example.com"],
            None,
            cwd.join("maintenance.db"),
        ),
        (&["migrate"], None, cwd.join("maintenance.db")),
        (
            &["set-password", "chief@example.com"],
            Some("sqlite:///data/m.db"),
            cwd.join("data/m.db"),
        ),
    ];
    for (args, url, looked_at) in cases {
        let mut command = maintenance(elsewhere.path());
        command.args(args);
        if let Some(url) = url {
            command.env("DATABASE_URL", url);
        }
        let output = with_stdin(command, "a brand new password\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} said it worked");
        let shown = looked_at.display().to_string();
        assert!(
            stderr.contains(&format!("there is no database at {shown} ")),
            "{shown} not named: {stderr}"
        );
        assert!(stderr.contains("DATABASE_URL=/path/to/maintenance.db maintenance"));
        assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
        assert_eq!(
            stderr.contains("--create"),
            args[0] == "migrate",
            "{stderr}"
        );
        assert!(
            files_in(elsewhere.path()).is_empty(),
            "{args:?} created {:?}",
            files_in(elsewhere.path())
        );
    }

    // The real one, named from elsewhere, works; `migrate --create` makes a new one.
    let real_db = real.path().join("maintenance.db");
    let mut command = maintenance(elsewhere.path());
    command
        .args(["set-password", "chief@example.com"])
        .env("DATABASE_URL", &real_db);
    let output = with_stdin(command, "a brand new password\n");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "password changed for chief@example.com in {}",
            real_db.display()
        )),
        "{stdout}"
    );
    let output = maintenance(elsewhere.path())
        .args(["migrate", "--create"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(files_in(elsewhere.path()).contains(&"maintenance.db".to_owned()));
}

/// Finding 3: every failing command says what went wrong once: one `error:` line, naming
/// its path once, and no log line about the same failure.
#[test]
fn every_failing_command_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("short.db.secret"), "short").unwrap();
    std::fs::create_dir(root.join("folder.db")).unwrap();
    std::fs::write(root.join("junk.db"), "not a database at all, just text").unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 8] = [
        (&[], &[("DATABASE_URL", "short.db")], "short.db.secret"),
        (&["migrate"], &[("DATABASE_URL", "folder.db")], "folder.db"),
        (&[], &[("DATABASE_URL", "junk.db")], "junk.db"),
        (
            &["migrate", "--create"],
            &[("DATABASE_URL", "no/such/dir/x.db")],
            "no/such/dir/x.db",
        ),
        (&["import-legacy", "missing-old.db"], &[], "missing-old.db"),
        (
            &["classify", "--eval", "missing.jsonl"],
            &[],
            "missing.jsonl",
        ),
        (&["classify", "--llm"], &[], "GROQ_API_KEY"),
        (&[], &[("PORT", "eighty")], "PORT"),
    ];
    for (args, envs, named) in cases {
        let mut command = maintenance(root);
        command.env_remove("RUST_LOG").env("PORT", "0").args(args);
        for (k, v) in envs {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {envs:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?} {envs:?}: {stderr}");
        assert_eq!(
            errors[0].matches(named).count(),
            1,
            "{named} named once: {stderr}"
        );
        assert!(
            !stderr
                .lines()
                .any(|l| is_log_line(l) && (l.contains(" ERROR ") || l.contains(" WARN "))),
            "{args:?} {envs:?}: {stderr}"
        );
    }
}

/// Finding 4: after SIGTERM the database file alone holds every acknowledged request, stop
/// after stop; the write-ahead log is empty or gone.
#[tokio::test]
async fn after_sigterm_the_database_file_alone_holds_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("maintenance.db");
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for round in 0..5 {
        let mut command = maintenance(dir.path());
        command
            .env("PORT", "0")
            .env("SUPER_ADMIN_EMAIL", "chief@example.com")
            .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD)
            .env("REQUEST_RATE_LIMIT_PER_MINUTE", "0")
            .env("REGISTER_RATE_LIMIT_PER_MINUTE", "0")
            .env("LOGIN_RATE_LIMIT_PER_MINUTE", "0");
        let mut server = start(command);
        let base = format!("http://127.0.0.1:{}", server.port);
        let email = format!("resident{round}@example.com");
        let registered = client
            .post(format!("{base}/api/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), StatusCode::OK);
        let body: Value = login(server.port, &email, PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let submits = (0..40).map(|i| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let response = client
                    .post(format!("{base}/api/requests"))
                    .bearer_auth(token)
                    .json(
                        &json!({"description": format!("{round}회차 {i}번: 복도 전등이 나갔어요")}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                response.json::<Value>().await.unwrap()["id"]
                    .as_i64()
                    .unwrap()
            }
        });
        acknowledged.extend(futures_util::future::join_all(submits).await);

        let (status, _) = server.terminate();
        assert!(status.success(), "round {round}: {status:?}");

        let copy = tempfile::tempdir().unwrap();
        let alone = copy.path().join("maintenance.db");
        std::fs::copy(&database, &alone).unwrap();
        let conn = rusqlite::Connection::open(&alone).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM requests").unwrap();
        let stored: std::collections::HashSet<i64> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let lost: Vec<&i64> = acknowledged
            .iter()
            .filter(|id| !stored.contains(id))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged requests are only in the -wal: {lost:?}",
            lost.len(),
            acknowledged.len()
        );
        let wal = dir.path().join("maintenance.db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            wal_len, 0,
            "round {round}: the -wal still holds {wal_len} bytes"
        );
    }
}

/// Finding 5: `.gitignore` covers every file the program writes beside a checkout's database,
/// and nothing else: each of its patterns matches one of them.
#[test]
fn gitignore_covers_what_the_program_writes_and_nothing_stale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = maintenance::config::Config::from_lookup(|_| None).unwrap();
    let database = config.database_path.clone();
    let db = database.display().to_string();
    let photos = maintenance::photos::folder_for(&database);
    let written: Vec<(String, &str)> = vec![
        (db.clone(), "the database"),
        (format!("{db}-wal"), "its write-ahead log"),
        (format!("{db}-shm"), "its shared-memory index"),
        (
            config.secret_key_path().display().to_string(),
            "the signing key",
        ),
        (
            format!("{}/3f2a.jpg", photos.display()),
            "a photo in the uploads folder",
        ),
        (
            "maintenance-new.db".to_owned(),
            "the import's suggested target",
        ),
        (
            "maintenance.db.example-wal".to_owned(),
            "the example database's log while it is regenerated",
        ),
        (
            maintenance::db::server_lock::lock_path(&database)
                .display()
                .to_string(),
            "the lock a serving process holds",
        ),
        (
            format!("{db}.before-restore-20261201T090000Z"),
            "the database a restore replaced",
        ),
        (".env".to_owned(), "the operator's settings"),
        ("target/debug/maintenance".to_owned(), "build output"),
        (
            ".schemathesis/default/cache/crashes/manifest.json".to_owned(),
            "schemathesis' cache, written by .ci/run",
        ),
    ];
    let mut used = std::collections::HashSet::new();
    for (path, what) in &written {
        let output = Command::new("git")
            .current_dir(root)
            .args(["check-ignore", "--no-index", "--verbose", path])
            .output()
            .expect("git runs");
        let verdict = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{what} ({path}) is not ignored by .gitignore"
        );
        // `.gitignore:LINE:PATTERN<TAB>PATH`
        let pattern = verdict
            .split(':')
            .nth(2)
            .unwrap()
            .split('\t')
            .next()
            .unwrap();
        used.insert(pattern.to_owned());
    }
    let patterns = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    let stale: Vec<&str> = patterns
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !used.contains(*l))
        .collect();
    assert!(
        stale.is_empty(),
        "patterns matching nothing the program writes: {stale:?}"
    );
}

/// Finding 7: each accuracy row of BENCHMARKS.md comes out of the command it shows, as written.
#[test]
fn the_accuracy_rows_of_benchmarks_md_reproduce_with_their_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with("| `cargo run --release -- classify --eval"))
        .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
        .collect();
    assert_eq!(rows.len(), 3, "the three accuracy rows");
    for row in rows {
        // | `command` | lines | category | priority | both | what |
        let command = row[1].trim_matches('`');
        let args: Vec<String> = command
            .strip_prefix("cargo run --release -- ")
            .unwrap()
            .split_whitespace()
            .flat_map(|word| expand(root, word))
            .collect();
        let output = maintenance(root).args(&args).output().unwrap();
        assert!(output.status.success(), "{command}: {output:?}");
        let report = String::from_utf8(output.stdout).unwrap();
        let number = |cell: &str| cell.replace(['*', ','], "").replace(" %", "%");
        let expected = [
            format!("samples:  {}", number(&row[2])),
            format!("category: {}", number(&row[3])),
            format!("priority: {}", number(&row[4])),
            format!("both:     {}", number(&row[5])),
        ];
        for line in expected {
            assert!(
                report.contains(&line),
                "{command}: {line:?} not in\n{report}"
            );
        }
    }
}

/// A word of a shell command, with a `*` in its last component expanded as the shell would.
fn expand(root: &Path, word: &str) -> Vec<String> {
    let Some((dir, pattern)) = word.rsplit_once('/').filter(|(_, p)| p.contains('*')) else {
        return vec![word.to_owned()];
    };
    let (prefix, suffix) = pattern.split_once('*').unwrap();
    let mut matches: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix) && name.ends_with(suffix))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    matches.sort();
    matches
}
