//! The operator's commands beside `serve`: backup, restore, create-admin, reclassify, check.
//!
//! Each returns the text it prints on stdout, or the one message of its failure; progress
//! bars go to stderr and are drawn only on a terminal.

use crate::accounts;
use crate::auth::Passwords;
use crate::classify::llm::{LlmClient, LlmError};
use crate::config::Config;
use crate::db::server_lock::{Holder, LockError, ServerLock};
use crate::db::{self, Db, backup, requests::Reclassify};
use crate::events::Events;
use crate::private_files;
use crate::queue;
use crate::taxonomy::Role;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Free space below which `check` fails.
const MIN_FREE_BYTES: u64 = 100 * 1024 * 1024;

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn bar(template: &str) -> indicatif::ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(None, target);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Sizes for people: `12.3 MB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b => format!("{:.1} kB", b as f64 / 1024.0),
    }
}

fn shown(path: &Path) -> String {
    db::shell_word(&db::absolute(path))
}

/// `maintenance backup PATH`.
pub async fn backup(config: &Config, target: &Path) -> Result<String, String> {
    let source = config.database_path.clone();
    let target = target.to_path_buf();
    let copied = tokio::task::spawn_blocking(move || {
        let bar = bar("backup [{bar:40}] {percent}% of {len} pages");
        let copied = backup::backup(&source, &target, |p| {
            bar.set_length(p.total);
            bar.set_position(p.copied);
        });
        bar.finish_and_clear();
        copied
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let mut text = format!(
        "backup of {} written to {} ({}, integrity check ok)\n",
        shown(&config.database_path),
        shown(&copied.database),
        size(copied.bytes)
    );
    text.push_str(&match copied.photos {
        0 => "  photos: none\n".to_owned(),
        n => format!(
            "  photos: {n} copied to {}\n",
            shown(&crate::photos::folder_for(&copied.database))
        ),
    });
    if let Some(key) = &copied.key {
        text.push_str(&format!(
            "  signing key: {} (keep it as private as the database)\n",
            shown(key)
        ));
    }
    Ok(text)
}

/// `maintenance restore PATH`.
pub async fn restore(config: &Config, from: &Path) -> Result<String, String> {
    let database = config.database_path.clone();
    let from = from.to_path_buf();
    let restored = tokio::task::spawn_blocking(move || backup::restore(&from, &database))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let mut text = format!(
        "restored {} ({}) with {} photos\n",
        shown(&restored.database),
        size(restored.bytes),
        restored.photos
    );
    if let Some(aside) = &restored.replaced {
        text.push_str(&format!(
            "  the database it replaced is kept as {}\n",
            shown(aside)
        ));
    }
    if let Some(key) = &restored.key {
        text.push_str(&format!("  signing key restored: {}\n", shown(key)));
    }
    if let Some(key) = &restored.key_kept {
        text.push_str(&format!(
            "  signing key: the one in place, {}, is kept (sessions and photo links stay valid); \
             the backup's is not copied over it\n",
            shown(key)
        ));
    }
    text.push_str("  start the server to serve it (it applies any newer migrations)\n");
    Ok(text)
}

/// The password for a new account: prompted twice without echo on a terminal, otherwise one
/// line of standard input.
pub fn read_new_password(email: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {email} (8 to 72 bytes): "))
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("The same password again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the two passwords differ; nothing was created".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    if read == 0 {
        return Err(
            "no password read: standard input was empty (give it one line, or run this on a terminal)"
                .into(),
        );
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `maintenance create-admin EMAIL [--role admin|super_admin]` on an open database.
pub async fn create_admin(
    db: &Db,
    config: &Config,
    email: &str,
    role: Role,
) -> Result<String, String> {
    let email = accounts::normalize_email(email)?;
    if accounts::find_by_email(db, &email)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!(
            "an account with the email {email} already exists in {}: change its role on the users \
             page, or its password with `maintenance set-password {email}`",
            shown(&config.database_path)
        ));
    }
    let password = read_new_password(&email)?;
    accounts::check_password(&password)?;
    let cost = config.bcrypt_cost;
    let passwords = tokio::task::spawn_blocking(move || Passwords::new(cost))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let user = accounts::create_staff(db, &passwords, &email, password, role)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "created {} {} in {}\n",
        user.role.as_str(),
        user.email,
        shown(&config.database_path)
    ))
}

/// `maintenance reclassify`.
pub async fn reclassify(db: &Db, config: &Config, which: Reclassify) -> Result<String, String> {
    // Whoever serves the database classifies the jobs, so that their changes reach its
    // clients live and in order; with no server running and no LLM, this process does it now,
    // holding the server's lock so that none starts meanwhile.
    let no_server = match ServerLock::acquire(&config.database_path, Holder::Reclassify) {
        Ok(lock) => Some(lock),
        Err(LockError::Held { .. }) => None,
        Err(e) => return Err(e.to_string()),
    };
    let bar = bar("reclassify [{bar:40}] {pos}/{len} requests, {eta} left");
    let done = queue::reclassify(db, which, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let taken = format!(
        "{} requests taken (manual classifications are left alone); {} classification jobs queued.\n",
        done.taken, done.queued
    );
    Ok(match (no_server, &config.llm) {
        (None, _) => format!(
            "{taken}  The server running on this database classifies them (with its LLM if it has \
             one, at most LLM_RPM calls a minute; otherwise offline within QUEUE_SWEEP_MS) and \
             sends the changes to its clients live.\n"
        ),
        (Some(_lock), Some(_)) => format!(
            "{taken}  No server is running: its LLM workers take them when it starts; the \
             requests show as pending until then.\n"
        ),
        (Some(_lock), None) => {
            let settled = queue::settle_without_llm(db, &Events::new(16))
                .await
                .map_err(|e| e.to_string())?;
            format!(
                "{taken}  No server is running and no LLM is configured (GROQ_API_KEY): {} \
                 requests classified again by the offline classifier now; {} changed category or \
                 priority, each with a history entry. Clients catch up when they reconnect.\n",
                settled.jobs, settled.changed
            )
        }
    })
}

/// One line of `check`'s report.
struct Finding {
    ok: Option<bool>,
    what: &'static str,
    detail: String,
}

impl Finding {
    fn ok(what: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            ok: Some(true),
            what,
            detail: detail.into(),
        }
    }
    fn fail(what: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            ok: Some(false),
            what,
            detail: detail.into(),
        }
    }
    fn skipped(what: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            ok: None,
            what,
            detail: detail.into(),
        }
    }
}

/// What `check` looks at beyond the configuration and the database.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Make one small call to the LLM when a key is set.
    pub llm: bool,
    /// Run `PRAGMA quick_check` (reads the whole file).
    pub integrity: bool,
    /// Require the server at HOST:PORT to answer `/health`.
    pub serving: bool,
}

/// `maintenance check`: the report, and whether everything holds.
pub async fn check(config: &Config, options: CheckOptions) -> (String, bool) {
    let mut findings = vec![Finding::ok(
        "configuration",
        format!("valid; database {}", shown(&config.database_path)),
    )];
    let path = config.database_path.clone();
    let integrity = options.integrity;
    let database = tokio::task::spawn_blocking(move || check_database(&path, integrity))
        .await
        .unwrap_or_else(|e| vec![Finding::fail("database", e.to_string())]);
    findings.extend(database);
    findings.push(check_key(config));
    findings.push(check_disk(&config.database_path));
    findings.push(match (&config.llm, options.llm) {
        (None, _) => Finding::skipped(
            "llm",
            "no GROQ_API_KEY or LLM_API_KEY: the offline classifier decides",
        ),
        (Some(_), false) => Finding::skipped("llm", "not called (--no-llm)"),
        (Some(llm), true) => check_llm(llm).await,
    });
    if options.serving {
        findings.push(check_serving(config).await);
    }
    let all_hold = findings.iter().all(|f| f.ok != Some(false));
    let mut text = String::new();
    for f in &findings {
        let mark = match f.ok {
            Some(true) => "ok",
            Some(false) => "FAIL",
            None => "skip",
        };
        text.push_str(&format!("{mark:<5} {:<14} {}\n", f.what, f.detail));
    }
    (text, all_hold)
}

/// The signing key the server would use: `SECRET_KEY`, or the file beside the database,
/// which must be long enough and only its owner's.
fn check_key(config: &Config) -> Finding {
    if config.secret_key.is_some() {
        return Finding::ok("key", "from SECRET_KEY");
    }
    let path = config.secret_key_path();
    match crate::auth::secret::inspect(&path) {
        Ok(key) if key.open_to_others => Finding::fail(
            "key",
            format!(
                "{} can be read by other users, who could sign tokens for any account: chmod 600 it (the server does so at its next start)",
                shown(&path)
            ),
        ),
        Ok(_) => Finding::ok("key", format!("{}, owner-only", shown(&path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Finding::ok(
            "key",
            format!(
                "none yet: the server makes {} at its first start",
                shown(&path)
            ),
        ),
        Err(e) => Finding::fail("key", format!("{}: {e}", shown(&path))),
    }
}

/// Opens the database read-only (nothing is migrated or created): its schema version and a
/// `PRAGMA quick_check`; and whether this user may write it, as the server must.
fn check_database(path: &Path, integrity: bool) -> Vec<Finding> {
    if !path.is_file() {
        return vec![Finding::fail(
            "database",
            format!(
                "no database at {} (the server creates it on its first start)",
                shown(path)
            ),
        )];
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return vec![Finding::fail(
            "database",
            format!(
                "{} is an empty file: no schema and no requests (the server would start on it as on a new database; restore a backup if there was data)",
                shown(path)
            ),
        )];
    }
    // Opened for writing and closed at once: nothing is written, but a file the server
    // could not write is found now, not at its start.
    for file in [path.to_path_buf(), private_files::beside(path, "-wal")] {
        match std::fs::OpenOptions::new().write(true).open(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return vec![Finding::fail(
                    "database",
                    format!("cannot write {} ({e}): the server must", shown(&file)),
                )];
            }
            _ => {}
        }
    }
    let conn = match open_to_look(path) {
        Ok(conn) => conn,
        Err(e) => return vec![Finding::fail("database", format!("cannot open: {e}"))],
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    if let Err(e) = db::migrate::refuse_foreign(&conn) {
        let why = match e {
            db::MigrateError::Legacy => {
                "the original (Python) system's database: import it with `maintenance import-legacy`"
                    .to_owned()
            }
            e => e.to_string(),
        };
        return vec![Finding::fail(
            "database",
            format!("not a database of this program: {why}"),
        )];
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut findings = Vec::new();
    let report: rusqlite::Result<Vec<String>> = if integrity {
        conn.prepare("PRAGMA quick_check")
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
    } else {
        // Reading the schema still proves the file is a database that opens.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|_| vec!["skipped".to_owned()])
    };
    findings.push(match report {
        Ok(lines) if lines == ["skipped"] => Finding::skipped(
            "database",
            format!(
                "opens; quick_check not run (--no-integrity) ({})",
                size(bytes)
            ),
        ),
        Ok(lines) if lines == ["ok"] => {
            Finding::ok("database", format!("quick_check ok ({})", size(bytes)))
        }
        Ok(lines) => Finding::fail(
            "database",
            format!(
                "damaged: {}",
                lines.into_iter().take(3).collect::<Vec<_>>().join("; ")
            ),
        ),
        Err(e) => Finding::fail("database", format!("cannot check: {e}")),
    });
    let known = db::MIGRATIONS.len() as i64;
    findings.push(match conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)) {
        Ok(v) if v == known => Finding::ok("migrations", format!("{v} of {known} applied")),
        Ok(v) if v > known => Finding::fail(
            "migrations",
            format!("schema version {v} is newer than this program's {known}: run a newer maintenance"),
        ),
        Ok(v) => Finding::ok(
            "migrations",
            format!("{v} of {known} applied; the rest are applied at the server's next start (or by `maintenance migrate`)"),
        ),
        Err(e) => Finding::fail("migrations", format!("cannot read the schema version: {e}")),
    });
    findings
}

/// A read-only connection that creates nothing beside the file. With no `-wal` there (no
/// server running, or one that stopped cleanly) the file is opened as immutable: a plain
/// read-only open of a WAL database would leave a new `-shm` and `-wal` behind it. With a
/// `-wal` (a server running, or one that crashed) the log is part of the data and is read.
fn open_to_look(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::{Connection, OpenFlags};
    if private_files::beside(path, "-wal").exists() {
        return Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY);
    }
    let absolute = db::absolute(path);
    let mut uri = String::from("file:");
    for c in absolute.to_string_lossy().chars() {
        match c {
            '?' | '#' | '%' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
}

fn check_disk(database: &Path) -> Finding {
    let folder = database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The server writes beside the database: its -wal and -shm, photos, the key, the lock.
    if let Err(e) = tempfile::tempfile_in(folder) {
        return Finding::fail(
            "disk",
            format!(
                "cannot write in {} ({e}): the server keeps its log, photos and lock there",
                shown(folder)
            ),
        );
    }
    match fs4::available_space(folder) {
        Ok(free) if free >= MIN_FREE_BYTES => Finding::ok(
            "disk",
            format!("{} free in {}, writable", size(free), shown(folder)),
        ),
        Ok(free) => Finding::fail(
            "disk",
            format!(
                "only {} free in {} (at least {} needed)",
                size(free),
                shown(folder),
                size(MIN_FREE_BYTES)
            ),
        ),
        Err(e) => Finding::fail(
            "disk",
            format!("cannot read the free space of {}: {e}", shown(folder)),
        ),
    }
}

async fn check_llm(llm: &crate::config::LlmConfig) -> Finding {
    let client = match LlmClient::from_config(llm) {
        Ok(client) => client,
        Err(e) => return Finding::fail("llm", format!("cannot build the client: {e}")),
    };
    let started = Instant::now();
    match client.classify_batch(&["복도 전등이 나갔어요"]).await {
        Ok(answers) if answers.first().is_some_and(Option::is_some) => Finding::ok(
            "llm",
            format!(
                "{} answered in {} ms ({})",
                llm.base_url,
                started.elapsed().as_millis(),
                llm.model
            ),
        ),
        Ok(_) | Err(LlmError::Malformed(_)) => Finding::fail(
            "llm",
            format!(
                "{} answered, but not with a usable classification ({})",
                llm.base_url, llm.model
            ),
        ),
        Err(e) => Finding::fail("llm", format!("{}: {e}", llm.base_url)),
    }
}

async fn check_serving(config: &Config) -> Finding {
    let host = match config.host {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!(
        "http://{}/health",
        std::net::SocketAddr::new(host, config.port)
    );
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => return Finding::fail("server", e.to_string()),
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            Finding::ok("server", format!("{url} answered {}", r.status().as_u16()))
        }
        Ok(r) => Finding::fail("server", format!("{url} answered {}", r.status().as_u16())),
        Err(e) => Finding::fail("server", format!("{url}: {}", without_url(&e))),
    }
}

/// reqwest's message without the URL it repeats.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}
