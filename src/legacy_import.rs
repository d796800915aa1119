//! `maintenance import-legacy`: the original (Python) system's accounts and requests brought
//! into this one.
//!
//! Three steps. *Prepare* reads the legacy file (opened read-only, nothing created beside it)
//! and turns each row into what this system stores: emails normalised as registration does,
//! roles taken as the original compared them, labels mapped to ours or left to the offline
//! classifier, naive UTC timestamps converted, empty strings made NULL. *Decide* compares that
//! with the target: rows an earlier import brought (listed in `legacy_ids`, with what
//! identified them) are not brought again, a row whose id was imported before but which is
//! another row (another database) is left out, an email already registered here is not taken
//! over, a request whose owner is not here is skipped, and an id is kept when this database
//! never gave it out and it is small enough. *Apply* writes the decision in one transaction,
//! so a failure leaves nothing half-imported. A dry run stops after deciding and writes
//! nothing, not even the target file.

use crate::accounts::{self, FULL_NAME_MAX_CHARS};
use crate::classify;
use crate::config::LEGACY_DEFAULT_PASSWORD;
use crate::db::legacy::{self as sql, LegacyOpenError, Snapshot};
use crate::db::{self, Db, MigrateError, OpenError, migrate};
use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::private_files::{self, FileIdentity};
use crate::requests::{DESCRIPTION_MAX_CHARS, SHORT_FIELD_MAX_CHARS};
use crate::taxonomy::{Category, Priority, Role, Status};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rusqlite::{ErrorCode, OpenFlags, TransactionBehavior};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::model::legacy::{
    ImportRequest, ImportUser, LabelChange, LegacyRequest, LegacyUser, RawText, RawTime,
};

/// The largest id kept from the original; larger ones get new ids. An id near 2^63 would
/// leave no room for the ids given out after it (every new account or request would fail),
/// and ids above 2^53 are not exact in JavaScript.
pub const MAX_KEPT_ID: i64 = 1 << 40;

/// The highest bcrypt cost a stored hash may have and still be tried: 16 already takes
/// seconds per login (passlib makes 12); a hash above it would hold a worker for minutes or
/// more, so its account is imported with its password disabled.
pub const MAX_BCRYPT_COST: u32 = 16;

/// A row left behind, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `user #3 (kim@example.com)` or `request #8`.
    pub row: String,
    pub reason: String,
}

/// Why a row gets a new id here instead of its old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renumber {
    /// This database gave the id out already.
    Used,
    /// Below 1 or above [`MAX_KEPT_ID`].
    OutOfRange,
}

/// A row written (or, in a dry run, to be written) with a new id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renumbered {
    /// `user` or `request`.
    pub kind: &'static str,
    pub old: i64,
    /// The id it got; None in a dry run.
    pub new: Option<i64>,
    pub why: Renumber,
}

/// Where an imported request's owner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// An account already here (imported earlier).
    Existing(UserId),
    /// An account this run imports, by its id in the original.
    Imported(i64),
}

struct PlannedUser {
    user: ImportUser,
    fingerprint: String,
    /// None: the old id is kept.
    renumber: Option<Renumber>,
}

struct PlannedRequest {
    request: ImportRequest,
    fingerprint: String,
    renumber: Option<Renumber>,
    owner: Owner,
}

/// What an import will do (or, in a dry run, would do).
struct Plan {
    users: Vec<PlannedUser>,
    requests: Vec<PlannedRequest>,
    users_before: usize,
    requests_before: usize,
    skipped: Vec<Skipped>,
}

/// What the command reports at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub dry_run: bool,
    pub legacy: PathBuf,
    pub target: PathBuf,
    /// Whether the target does not exist yet (and would be, or was, created).
    pub target_new: bool,
    /// In a dry run: why the import itself would fail to write the target.
    pub target_problem: Option<String>,
    pub users_imported: usize,
    pub users_before: usize,
    pub requests_imported: usize,
    pub requests_before: usize,
    /// Rows that got a new id, and why.
    pub renumbered: Vec<Renumbered>,
    /// (field, from, to) → rows.
    pub labels: BTreeMap<LabelChange, usize>,
    /// Requests the offline classifier decided.
    pub classified: usize,
    /// Of those, how many wait for the LLM.
    pub queued: usize,
    pub refine: bool,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

/// How the import reports its progress (a terminal bar, or nothing).
pub trait Progress {
    fn phase(&self, name: &'static str, total: u64);
    fn advance(&self);
    fn finish(&self);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &'static str, _: u64) {}
    fn advance(&self) {}
    fn finish(&self) {}
}

/// Why the import did not run or did not finish; nothing was written in either case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("{0} is a folder, not a database file: name the original's database in it, e.g. {1}")]
    Folder(String, String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("cannot read {0}: {1}")]
    Unreadable(String, std::io::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "cannot read {path}: {source}: another program is using it (if the original system is still running, stop it first)"
    )]
    Busy {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "{0} changed while it was being read: another program is writing to it (if the original system is still running, stop it first)"
    )]
    Changed(String),
    #[error("{0} is not an SQLite database")]
    NotSqlite(String),
    #[error("{0}")]
    HotJournal(String),
    #[error(
        "cannot copy {path} and its -wal into a temporary folder to read them: {source} (TMPDIR names the folder)"
    )]
    Copy {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} is not the original system's database as it made it: its `{name}` is a {kind}, not a table; \
         make it a table in a copy of the file (CREATE TABLE ... AS SELECT * FROM {name}) and import the copy"
    )]
    NotTable {
        path: String,
        name: &'static str,
        kind: String,
    },
    #[error(
        "{0} is already a database of this program, not the original system's: there is nothing to import"
    )]
    Ours(String),
    #[error(
        "{0} is not the original system's database: it needs a users table with email and hashed_password \
         and a requests table with user_id and description"
    )]
    NotLegacy(String),
    #[error(
        "DATABASE_URL names the file being imported ({0}); the import writes into a new database: \
         set DATABASE_URL to another file, e.g. DATABASE_URL={1}"
    )]
    SameFile(String, String),
    /// The target cannot be created or written where DATABASE_URL names it.
    #[error("{0}")]
    TargetPlace(String),
    #[error(transparent)]
    Target(#[from] OpenError),
    #[error("cannot use the database at {path}: {source}")]
    TargetSchema { path: String, source: MigrateError },
    #[error("the import failed and nothing was written: {0}")]
    Write(#[from] AppError),
    #[error("{error}; the database file {path} was created by this import but kept: {reason}")]
    Kept {
        error: Box<ImportError>,
        path: String,
        reason: String,
    },
}

/// The id each written row got here, by kind (`user`, `request`) and its id in the original.
type NewIds = HashMap<(&'static str, i64), i64>;

/// What to import, where, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The original's `maintenance.db`.
    pub legacy: PathBuf,
    /// The database `DATABASE_URL` names; created if missing.
    pub target: PathBuf,
    pub dry_run: bool,
    /// Whether an LLM is configured: requests the offline classifier decided get a job.
    pub refine: bool,
}

/// Runs the import (or the dry run) and returns what it did.
pub fn run(options: &Options, progress: &dyn Progress) -> Result<Summary, ImportError> {
    let (users, requests) = read_legacy(&options.legacy, &options.target)?;
    let target = check_target(&options.target);
    let mut summary = Summary {
        dry_run: options.dry_run,
        legacy: options.legacy.clone(),
        target: options.target.clone(),
        refine: options.refine,
        ..Summary::default()
    };
    match target {
        Ok(new) => summary.target_new = new,
        Err(problem) if options.dry_run => {
            summary.target_new = !options.target.exists();
            summary.target_problem = Some(problem.to_string());
        }
        Err(problem) => return Err(problem),
    }
    progress.phase("checking", (users.len() + requests.len()) as u64);
    let owner_emails: HashMap<i64, String> = users
        .iter()
        .map(|user| (user.id, identity_email(user.email.as_deref())))
        .collect();
    let mut prepared = Prepared {
        users: Vec::with_capacity(users.len()),
        requests: Vec::with_capacity(requests.len()),
    };
    for user in &users {
        prepared.users.push(Row {
            legacy: user.id,
            fingerprint: user_fingerprint(&owner_emails[&user.id]),
            prepared: prepare_user(user),
        });
        progress.advance();
    }
    for request in &requests {
        let owner_email = request
            .user_id
            .and_then(|owner| owner_emails.get(&owner))
            .map_or("", String::as_str);
        prepared.requests.push(Row {
            legacy: request.id,
            fingerprint: request_fingerprint(owner_email, request),
            prepared: prepare_request(request).map(|r| (r, owner_email.to_owned())),
        });
        progress.advance();
    }
    if options.dry_run {
        let snapshot = target_snapshot(&options.target)?;
        let plan = decide(prepared, &snapshot);
        progress.finish();
        summarise(&mut summary, &plan, &HashMap::new());
        return Ok(summary);
    }
    let outcome = write(options, prepared, progress);
    progress.finish();
    let (plan, ids) = outcome?;
    summarise(&mut summary, &plan, &ids);
    Ok(summary)
}

fn read_legacy(
    legacy: &Path,
    target: &Path,
) -> Result<(Vec<LegacyUser>, Vec<LegacyRequest>), ImportError> {
    let shown = legacy.display().to_string();
    match std::fs::metadata(legacy) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(ImportError::Missing(shown)),
        Err(e) => return Err(ImportError::Unreadable(shown, e)),
        Ok(m) if m.is_dir() => {
            let inside = db::shell_word(&legacy.join("maintenance.db"));
            return Err(ImportError::Folder(shown, inside));
        }
        Ok(m) if !m.is_file() => return Err(ImportError::NotAFile(shown)),
        Ok(_) => {}
    }
    if let (Ok(a), Ok(b)) = (legacy.canonicalize(), target.canonicalize())
        && a == b
    {
        let fresh = legacy.with_file_name("maintenance-new.db");
        return Err(ImportError::SameFile(shown, db::shell_word(&fresh)));
    }
    let read_error = |source| read_failure(legacy, source);
    let legacy_db = sql::open_legacy(legacy).map_err(|e| match e {
        LegacyOpenError::Sqlite(source) => read_failure(legacy, source),
        LegacyOpenError::Copy(source) => ImportError::Copy {
            path: shown.clone(),
            source,
        },
        LegacyOpenError::Changed => ImportError::Changed(shown.clone()),
    })?;
    let conn = &legacy_db.conn;
    if migrate::schema_version(conn).map_err(read_error)? > 0 {
        return Err(ImportError::Ours(shown));
    }
    if !migrate::is_legacy(conn).map_err(read_error)? {
        return Err(ImportError::NotLegacy(shown));
    }
    for name in ["users", "requests"] {
        match sql::object_type(conn, name).map_err(read_error)? {
            Some(kind) if kind == "table" => {}
            kind => {
                return Err(ImportError::NotTable {
                    path: shown,
                    name,
                    kind: kind.unwrap_or_else(|| "missing".to_owned()),
                });
            }
        }
    }
    // One read transaction, so users and requests are from the same moment.
    conn.execute_batch("BEGIN").map_err(read_error)?;
    let users = sql::read_users(conn).map_err(read_error)?;
    let requests = sql::read_requests(conn).map_err(read_error)?;
    conn.execute_batch("COMMIT").map_err(read_error)?;
    Ok((users, requests))
}

/// What SQLite's refusal to read the original's file means for the operator.
fn read_failure(legacy: &Path, source: rusqlite::Error) -> ImportError {
    let path = legacy.display().to_string();
    let Some(code) = source.sqlite_error() else {
        return ImportError::Read { path, source };
    };
    let journal = sibling(legacy, "-journal");
    if code.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK
        || (code.code == ErrorCode::ReadOnly && journal.exists())
    {
        return ImportError::HotJournal(hot_journal_advice(legacy, &journal));
    }
    match code.code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => ImportError::Busy { path, source },
        ErrorCode::NotADatabase => ImportError::NotSqlite(path),
        _ => ImportError::Read { path, source },
    }
}

fn hot_journal_advice(legacy: &Path, journal: &Path) -> String {
    let name = legacy.file_name().map_or_else(
        || "maintenance.db".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let copy = Path::new("/tmp/legacy-copy");
    format!(
        "{path} has an unfinished transaction: the program writing it stopped part-way and left \
         {journal} beside it. Reading it means rolling that back, which writes to the file, and the \
         import never writes to the original's file. Copy both files to another folder, open the \
         copy once with sqlite3 to roll it back, then import the copy:\n  \
         mkdir {dir} && cp {db} {journal_word} {dir}/ && sqlite3 {copy} 'PRAGMA integrity_check'\n  \
         maintenance import-legacy {copy}",
        path = legacy.display(),
        journal = journal.display(),
        dir = db::shell_word(copy),
        db = db::shell_word(legacy),
        journal_word = db::shell_word(journal),
        copy = db::shell_word(&copy.join(name)),
    )
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Whether the import can create or write the target where DATABASE_URL names it: its folder
/// exists and takes new files (SQLite puts `-wal` and `-shm` there), and an existing target
/// is a file this process may write. `Ok(true)` when the target does not exist yet. Writes
/// nothing but a probe file in that folder, removed at once.
fn check_target(target: &Path) -> Result<bool, ImportError> {
    let shown = target.display();
    let folder_of = |path: &Path| match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A link to a file not made yet: SQLite creates the file where the link points.
    let folder = match std::fs::read_link(target) {
        Ok(link) if !target.exists() => folder_of(&folder_of(target).join(link)),
        _ => folder_of(target),
    };
    let place = |reason: String| ImportError::TargetPlace(reason);
    let new = match std::fs::metadata(target) {
        Ok(m) if m.is_dir() => {
            return Err(place(format!(
                "DATABASE_URL names {shown}, which is a folder, not a database file"
            )));
        }
        Ok(m) if !m.is_file() => {
            return Err(place(format!(
                "DATABASE_URL names {shown}, which is not a regular file"
            )));
        }
        Ok(_) => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|e| place(format!("cannot write to the database {shown}: {e}")))?;
            false
        }
        Err(e) if e.kind() == ErrorKind::NotFound => true,
        Err(e) => return Err(place(format!("cannot use the database {shown}: {e}"))),
    };
    let what = if new {
        format!("cannot create the database {shown}")
    } else {
        format!("cannot use the database {shown}")
    };
    match std::fs::metadata(&folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(place(format!(
                "{what}: {} is not a folder",
                folder.display()
            )));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(place(format!(
                "{what}: the folder {} does not exist; create it first (mkdir -p {})",
                folder.display(),
                db::shell_word(&folder)
            )));
        }
        Err(e) => return Err(place(format!("{what}: {}: {e}", folder.display()))),
    }
    tempfile::Builder::new()
        .prefix(".maintenance-probe-")
        .tempfile_in(&folder)
        .map_err(|e| {
            place(format!(
                "{what}: the folder {} does not let this user create files in it ({e}), and SQLite \
                 keeps the database's -wal and -shm files there",
                folder.display()
            ))
        })?;
    Ok(new)
}

/// What a dry run compares with: the target as it is, read-only, or nothing when it does not
/// exist yet.
fn target_snapshot(target: &Path) -> Result<Snapshot, ImportError> {
    if !target.exists() {
        return Ok(Snapshot::default());
    }
    let shown = target.display().to_string();
    let schema = |source: MigrateError| ImportError::TargetSchema {
        path: shown.clone(),
        source,
    };
    let conn = sql::open_read_only(target).map_err(|e| schema(e.into()))?;
    migrate::refuse_foreign(&conn).map_err(|source| match source {
        MigrateError::Legacy => ImportError::Target(OpenError::Legacy {
            path: target.to_path_buf(),
        }),
        other => schema(other),
    })?;
    let version = migrate::schema_version(&conn).map_err(|e| schema(e.into()))?;
    if version > db::MIGRATIONS.len() {
        return Err(schema(MigrateError::TooNew {
            found: version,
            known: db::MIGRATIONS.len(),
        }));
    }
    if version == 0 {
        return Ok(Snapshot::default());
    }
    Ok(sql::snapshot(&conn)?)
}

/// The real run: creates the target if it is missing, and when the import then fails removes
/// it again, but only the file this run created and only while it holds nothing else.
fn write(
    options: &Options,
    prepared: Prepared,
    progress: &dyn Progress,
) -> Result<(Plan, NewIds), ImportError> {
    let target = &options.target;
    // Created here with O_EXCL: when another process made the file first, it is not ours.
    let created = private_files::create_new(target).map_err(|source| OpenError::Create {
        path: target.display().to_string(),
        source,
    })?;
    let outcome = write_into(options, prepared, progress);
    match (outcome, created) {
        (Err(error), Some(identity)) => match remove_created(target, identity) {
            Ok(()) => Err(error),
            Err(reason) => Err(ImportError::Kept {
                error: Box::new(error),
                path: target.display().to_string(),
                reason,
            }),
        },
        (outcome, _) => outcome,
    }
}

/// Opens (migrating) the target, then decides and writes in one write transaction, so nothing
/// can register an email between the two.
fn write_into(
    options: &Options,
    prepared: Prepared,
    progress: &dyn Progress,
) -> Result<(Plan, NewIds), ImportError> {
    let db = Db::open(&options.target, 1, crate::db::OpenMode::CreateIfMissing)?;
    let refine = options.refine;
    let outcome = db.run_now(|conn| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let snapshot = sql::snapshot(&tx)?;
        let plan = decide(prepared, &snapshot);
        progress.phase("writing", (plan.users.len() + plan.requests.len()) as u64);
        let mut ids: NewIds = HashMap::new();
        let mut owners: HashMap<i64, UserId> = HashMap::new();
        // Kept ids first: the renumbered rows then take ids above every one of them.
        for pass_keeps in [true, false] {
            for planned in plan
                .users
                .iter()
                .filter(|p| p.renumber.is_none() == pass_keeps)
            {
                let id = sql::insert_user(&tx, &planned.user, pass_keeps, &planned.fingerprint)?;
                owners.insert(planned.user.legacy_id, id);
                ids.insert(("user", planned.user.legacy_id), id.0);
                progress.advance();
            }
        }
        let now = Timestamp::now();
        for pass_keeps in [true, false] {
            for planned in plan
                .requests
                .iter()
                .filter(|p| p.renumber.is_none() == pass_keeps)
            {
                let owner = match planned.owner {
                    Owner::Existing(id) => id,
                    Owner::Imported(legacy) => *owners.get(&legacy).ok_or_else(|| {
                        AppError::internal(format!("owner #{legacy} was not written"))
                    })?,
                };
                let id: RequestId = sql::insert_request(
                    &tx,
                    &planned.request,
                    pass_keeps,
                    &planned.fingerprint,
                    owner,
                    refine,
                    now,
                )?;
                ids.insert(("request", planned.request.legacy_id), id.0);
                progress.advance();
            }
        }
        tx.commit()?;
        Ok((plan, ids))
    })?;
    Ok(outcome)
}

/// After a failed import: removes the target this run created (with its `-wal`, `-shm` and
/// `-journal`), unless another file has taken its name or another program has written to it
/// meanwhile (a server started on it, a second import); then says why it was kept.
fn remove_created(target: &Path, identity: FileIdentity) -> Result<(), String> {
    let metadata = match std::fs::symlink_metadata(target) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("it could not be checked ({e})")),
    };
    if !metadata.is_file() || FileIdentity::of(&metadata) != identity {
        return Err("another file has taken its name meanwhile".to_owned());
    }
    if metadata.len() > 0 {
        let check = || -> rusqlite::Result<bool> {
            let mut conn = rusqlite::Connection::open_with_flags(
                target,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(Duration::from_millis(500))?;
            // The write lock: nobody is writing to it while it is looked at.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            Ok(migrate::schema_version(&tx)? <= db::MIGRATIONS.len() && sql::is_empty(&tx)?)
        };
        match check() {
            Ok(true) => {}
            Ok(false) => return Err("another program has written to it meanwhile".to_owned()),
            Err(e) => {
                return Err(format!(
                    "it could not be checked that nothing else wrote to it ({e})"
                ));
            }
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        match std::fs::remove_file(sibling(target, suffix)) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(format!("it could not be removed ({e})"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// One row of the original: its id there, what identifies it, and what it became (or why it
/// cannot come over on its own).
struct Row<T> {
    legacy: i64,
    fingerprint: String,
    prepared: Result<T, Skipped>,
}

/// Every row of the original by its id there, ready to store or refused on its own; requests
/// with their owner's email in the original.
struct Prepared {
    users: Vec<Row<ImportUser>>,
    requests: Vec<Row<(ImportRequest, String)>>,
}

/// How an email identifies its account across imports: normalised as registration does or,
/// when registration would refuse it, trimmed and lower-cased.
fn identity_email(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or_default();
    accounts::normalize_email(raw).unwrap_or_else(|_| raw.trim().to_lowercase())
}

/// SHA-256 over `kind` and each field (length first, so no two lists of fields agree), hex.
fn fingerprint(kind: &str, fields: &[&str]) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(kind.as_bytes());
    for field in fields {
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field.as_bytes());
    }
    hex::encode(context.finish())
}

/// What identifies an account of the original: its email.
fn user_fingerprint(email: &str) -> String {
    fingerprint("user", &[email])
}

/// What identifies a request of the original: its owner's email, and its created_at and
/// description as stored there.
fn request_fingerprint(owner_email: &str, request: &LegacyRequest) -> String {
    let created = match &request.created_at {
        RawTime::Text(text) => format!("text {text}"),
        RawTime::Number(number) => format!("number {number}"),
        RawTime::Missing => "missing".to_owned(),
    };
    let description = request.description.as_deref().unwrap_or_default();
    fingerprint("request", &[owner_email, &created, description])
}

const ANOTHER_DATABASE: &str = "is this another database, or was the original's re-created?";

fn decide(prepared: Prepared, snapshot: &Snapshot) -> Plan {
    let mut plan = Plan {
        users: Vec::new(),
        requests: Vec::new(),
        users_before: 0,
        requests_before: 0,
        skipped: Vec::new(),
    };
    // Which original account each account here was imported from.
    let imported_as: HashMap<UserId, i64> = snapshot
        .users
        .iter()
        .map(|(legacy, account)| (account.id, *legacy))
        .collect();
    // Accounts a request may belong to, and why the others may not.
    let mut owners: HashMap<i64, Result<Owner, String>> = HashMap::new();
    let mut emails_this_run: HashMap<String, i64> = HashMap::new();
    for Row {
        legacy,
        fingerprint,
        prepared: user,
    } in prepared.users
    {
        if let Some(account) = snapshot.users.get(&legacy) {
            // Imported before, if it is the same account (whatever else its row says now).
            let same = match (&account.fingerprint, &account.email, &user) {
                (Some(before), _, _) => *before == fingerprint,
                // Imported before identities were kept: its email here tells.
                (None, Some(email), Ok(user)) => *email == user.email,
                (None, Some(_), Err(_)) => false,
                // Deleted here since: nothing to tell by, and nothing to attach to either.
                (None, None, _) => true,
            };
            if same {
                plan.users_before += 1;
                let owner = if account.exists {
                    Ok(Owner::Existing(account.id))
                } else {
                    Err(format!(
                        "its owner, user #{legacy}, was imported before as account #{} and deleted here since",
                        account.id
                    ))
                };
                owners.insert(legacy, owner);
            } else {
                let row = match &user {
                    Ok(user) => format!("user #{legacy} ({})", user.email),
                    Err(skipped) => skipped.row.clone(),
                };
                let here = if account.exists {
                    format!("account #{} here", account.id)
                } else {
                    format!("account #{}, deleted here since", account.id)
                };
                plan.skipped.push(Skipped {
                    row,
                    reason: format!(
                        "not the account imported before as user #{legacy} ({here}), which had another email: \
                         {ANOTHER_DATABASE} Neither it nor its requests were imported"
                    ),
                });
                owners.insert(
                    legacy,
                    Err(format!(
                        "its owner, user #{legacy}, is not the account imported before as user #{legacy}"
                    )),
                );
            }
            continue;
        }
        let user = match user {
            Ok(user) => user,
            Err(skipped) => {
                owners.insert(
                    legacy,
                    Err(format!(
                        "its owner, user #{legacy}, was not imported: {}",
                        skipped.reason
                    )),
                );
                plan.skipped.push(skipped);
                continue;
            }
        };
        let row = format!("user #{legacy} ({})", user.email);
        let taken = if let Some(id) = snapshot.emails.get(&user.email) {
            Some(match imported_as.get(id) {
                Some(other) => format!(
                    "the email is that of the account imported before as user #{other} (account #{id} here), \
                     and this file has it as user #{legacy}: {ANOTHER_DATABASE}"
                ),
                None => format!(
                    "the email is already registered here (account #{id}); to bring this account's requests \
                     over, delete that account or change its email, then import again"
                ),
            })
        } else {
            emails_this_run.get(&user.email).map(|first| {
                format!("same email as user #{first} once lower-cased; only the first was imported")
            })
        };
        if let Some(reason) = taken {
            owners.insert(
                legacy,
                Err(format!(
                    "its owner, user #{legacy}, was not imported: {reason}"
                )),
            );
            plan.skipped.push(Skipped { row, reason });
            continue;
        }
        emails_this_run.insert(user.email.clone(), legacy);
        owners.insert(legacy, Ok(Owner::Imported(legacy)));
        plan.users.push(PlannedUser {
            renumber: renumber(legacy, snapshot.user_seq),
            fingerprint,
            user,
        });
    }
    for Row {
        legacy,
        fingerprint,
        prepared: request,
    } in prepared.requests
    {
        if let Some(before) = snapshot.requests.get(&legacy) {
            let same = match (&before.fingerprint, &before.here, &request) {
                (Some(earlier), _, _) => *earlier == fingerprint,
                // Imported before identities were kept: the request here tells.
                (None, Some((description, owner)), Ok((request, owner_email))) => {
                    *description == request.description && owner == owner_email
                }
                (None, Some(_), Err(_)) => false,
                (None, None, _) => true,
            };
            if same {
                plan.requests_before += 1;
            } else {
                plan.skipped.push(Skipped {
                    row: format!("request #{legacy}"),
                    reason: format!(
                        "not the request imported before as request #{legacy} (#{} here), which had another \
                         owner, created_at or description: {ANOTHER_DATABASE}",
                        before.id.0
                    ),
                });
            }
            continue;
        }
        let request = match request {
            Ok((request, _)) => request,
            Err(skipped) => {
                plan.skipped.push(skipped);
                continue;
            }
        };
        let owner = owners
            .get(&request.legacy_owner)
            .cloned()
            .unwrap_or_else(|| {
                Err(format!(
                    "its owner, user #{}, no longer exists in the original",
                    request.legacy_owner
                ))
            });
        match owner {
            Ok(owner) => plan.requests.push(PlannedRequest {
                renumber: renumber(legacy, snapshot.request_seq),
                fingerprint,
                request,
                owner,
            }),
            Err(reason) => plan.skipped.push(Skipped {
                row: format!("request #{legacy}"),
                reason,
            }),
        }
    }
    plan
}

/// Whether a row keeps its old id (None) or why not: ids this database gave out (up to
/// `used`) are taken, and only ids from 1 to [`MAX_KEPT_ID`] are kept.
fn renumber(legacy: i64, used: i64) -> Option<Renumber> {
    if !(1..=MAX_KEPT_ID).contains(&legacy) {
        Some(Renumber::OutOfRange)
    } else if legacy <= used {
        Some(Renumber::Used)
    } else {
        None
    }
}

fn summarise(summary: &mut Summary, plan: &Plan, ids: &NewIds) {
    summary.users_imported = plan.users.len();
    summary.users_before = plan.users_before;
    summary.requests_imported = plan.requests.len();
    summary.requests_before = plan.requests_before;
    summary.skipped = plan.skipped.clone();
    for planned in &plan.users {
        let user = &planned.user;
        if let Some(why) = planned.renumber {
            summary.renumbered.push(Renumbered {
                kind: "user",
                old: user.legacy_id,
                new: ids.get(&("user", user.legacy_id)).copied(),
                why,
            });
        }
        for change in &user.labels {
            *summary.labels.entry(change.clone()).or_default() += 1;
        }
        summary.notes.extend(user.notes.iter().cloned());
    }
    for planned in &plan.requests {
        let request = &planned.request;
        if let Some(why) = planned.renumber {
            summary.renumbered.push(Renumbered {
                kind: "request",
                old: request.legacy_id,
                new: ids.get(&("request", request.legacy_id)).copied(),
                why,
            });
        }
        for change in &request.labels {
            *summary.labels.entry(change.clone()).or_default() += 1;
        }
        if request.classification.is_some() {
            summary.classified += 1;
            if summary.refine {
                summary.queued += 1;
            }
        }
        summary.notes.extend(request.notes.iter().cloned());
    }
}

impl Summary {
    /// The report printed at the end.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let legacy = self.legacy.display();
        let target = self.target.display();
        if self.dry_run {
            let into = match (&self.target_problem, self.target_new) {
                (Some(_), _) => format!("{target} (which the import cannot write: see below)"),
                (None, true) => format!("{target} (a new file; its folder takes new files)"),
                (None, false) => target.to_string(),
            };
            let _ = writeln!(
                out,
                "Dry run: nothing was written. Importing {legacy} into {into} would bring:"
            );
        } else {
            let _ = writeln!(out, "Imported {legacy} into {target}:");
        }
        let verb = if self.dry_run {
            "to import"
        } else {
            "imported"
        };
        let _ = writeln!(
            out,
            "users: {} {verb}, {} imported before, {} skipped",
            self.users_imported,
            self.users_before,
            self.skipped
                .iter()
                .filter(|s| s.row.starts_with("user"))
                .count()
        );
        let _ = writeln!(
            out,
            "requests: {} {verb}, {} imported before, {} skipped",
            self.requests_imported,
            self.requests_before,
            self.skipped
                .iter()
                .filter(|s| s.row.starts_with("request"))
                .count()
        );
        if self.users_imported == 0 && self.requests_imported == 0 {
            if self.users_before + self.requests_before > 0 {
                let _ = writeln!(
                    out,
                    "Nothing new to import: every row was imported before (or is skipped below)."
                );
            } else {
                let _ = writeln!(out, "Nothing to import.");
            }
        }
        if !self.renumbered.is_empty() {
            let _ = writeln!(out, "new ids:");
            for row in &self.renumbered {
                let new = row
                    .new
                    .map_or_else(|| "a new id".to_owned(), |new| format!("#{new}"));
                let why = match row.why {
                    Renumber::Used => format!("#{} was already used here", row.old),
                    Renumber::OutOfRange => {
                        format!("only ids from 1 to 2^40 = {MAX_KEPT_ID} are kept")
                    }
                };
                let _ = writeln!(out, "  {} #{} -> {new} ({why})", row.kind, row.old);
            }
        }
        if !self.labels.is_empty() {
            let _ = writeln!(out, "labels mapped (from -> to: rows):");
            for ((field, from, to), count) in &self.labels {
                let _ = writeln!(out, "  {field} {from} -> {to}: {count}");
            }
        }
        let _ = write!(
            out,
            "requests classified by the offline classifier: {}",
            self.classified
        );
        if self.refine {
            let _ = writeln!(
                out,
                "; queued for LLM refinement: {} (done by the server once it runs)",
                self.queued
            );
        } else {
            let _ = writeln!(
                out,
                "; queued for LLM refinement: 0 (no GROQ_API_KEY or LLM_API_KEY set)"
            );
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "skipped:");
            for skipped in &self.skipped {
                let _ = writeln!(out, "  {}: {}", skipped.row, skipped.reason);
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "notes:");
            for note in &self.notes {
                let _ = writeln!(out, "  {note}");
            }
        }
        if let Some(problem) = &self.target_problem {
            let _ = writeln!(out, "The import itself would fail: {problem}");
        }
        out
    }
}

// ---- preparing one row ----

/// A label as the summary shows it: quoted, or (none) / (empty).
fn shown(raw: Option<&str>) -> String {
    match raw {
        None => "(none)".to_owned(),
        Some(text) if text.trim().is_empty() => "(empty)".to_owned(),
        Some(text) => format!("'{}'", text.escape_debug()),
    }
}

/// Letters and digits only, lower-cased: `In-Progress`, `in progress` and `in_progress` agree,
/// and so do `진행 중` and `진행중`.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One of our values, the original's text for it, and what became of it.
enum Label<T> {
    /// Already our exact text.
    Ours(T),
    /// Mapped from another spelling or a synonym.
    Mapped(T),
    /// Missing, a placeholder (`processing`) or unknown.
    Unknown,
}

/// Our vocabularies, for mapping.
trait Vocabulary: Copy + 'static {
    fn all() -> &'static [Self];
    fn text(self) -> &'static str;
    fn korean_text(self) -> &'static str;
}

macro_rules! vocabulary {
    ($($name:ident),+) => {$(
        impl Vocabulary for $name {
            fn all() -> &'static [Self] { $name::ALL }
            fn text(self) -> &'static str { self.as_str() }
            fn korean_text(self) -> &'static str { self.korean() }
        }
    )+};
}
vocabulary!(Category, Priority, Status);

/// Maps the original's text to one of our values: ours as it is, its Korean label, or one of
/// `synonyms` (already squashed), ignoring case, spaces, hyphens and underscores.
fn label<T: Vocabulary>(raw: Option<&str>, synonyms: &[(&str, T)]) -> Label<T> {
    let Some(raw) = raw else {
        return Label::Unknown;
    };
    if let Some(value) = T::all().iter().find(|v| v.text() == raw) {
        return Label::Ours(*value);
    }
    let key = squash(raw);
    if key.is_empty() {
        return Label::Unknown;
    }
    T::all()
        .iter()
        .copied()
        .find(|v| squash(v.text()) == key || squash(v.korean_text()) == key)
        .or_else(|| {
            synonyms
                .iter()
                .find(|(word, _)| *word == key)
                .map(|(_, v)| *v)
        })
        .map_or(Label::Unknown, Label::Mapped)
}

const CATEGORY_SYNONYMS: &[(&str, Category)] = &[
    ("electric", Category::Electrical),
    ("electricity", Category::Electrical),
    ("power", Category::Electrical),
    ("lighting", Category::Electrical),
    ("전등", Category::Electrical),
    ("조명", Category::Electrical),
    ("plumb", Category::Plumbing),
    ("water", Category::Plumbing),
    ("수도", Category::Plumbing),
    ("누수", Category::Plumbing),
    ("heating", Category::Hvac),
    ("cooling", Category::Hvac),
    ("airconditioning", Category::Hvac),
    ("ventilation", Category::Hvac),
    ("냉방", Category::Hvac),
    ("난방", Category::Hvac),
    ("공조", Category::Hvac),
    ("환기", Category::Hvac),
    ("structure", Category::Structural),
    ("building", Category::Structural),
    ("건축", Category::Structural),
    ("others", Category::Other),
    ("etc", Category::Other),
    ("misc", Category::Other),
    ("miscellaneous", Category::Other),
    ("general", Category::Other),
];

const PRIORITY_SYNONYMS: &[(&str, Priority)] = &[
    ("urgent", Priority::High),
    ("critical", Priority::High),
    ("emergency", Priority::High),
    ("highest", Priority::High),
    ("asap", Priority::High),
    ("긴급", Priority::High),
    ("응급", Priority::High),
    ("높은", Priority::High),
    ("상", Priority::High),
    ("normal", Priority::Medium),
    ("moderate", Priority::Medium),
    ("mid", Priority::Medium),
    ("middle", Priority::Medium),
    ("average", Priority::Medium),
    ("standard", Priority::Medium),
    ("중간", Priority::Medium),
    ("일반", Priority::Medium),
    ("중", Priority::Medium),
    ("minor", Priority::Low),
    ("lowest", Priority::Low),
    ("낮은", Priority::Low),
    ("하", Priority::Low),
];

const STATUS_SYNONYMS: &[(&str, Status)] = &[
    ("new", Status::Pending),
    ("open", Status::Pending),
    ("submitted", Status::Pending),
    ("received", Status::Pending),
    ("waiting", Status::Pending),
    ("todo", Status::Pending),
    ("대기", Status::Pending),
    ("접수", Status::Pending),
    ("접수됨", Status::Pending),
    ("inprogress", Status::InProgress),
    ("progress", Status::InProgress),
    ("processing", Status::InProgress),
    ("started", Status::InProgress),
    ("working", Status::InProgress),
    ("ongoing", Status::InProgress),
    ("assigned", Status::InProgress),
    ("진행", Status::InProgress),
    ("처리중", Status::InProgress),
    ("작업중", Status::InProgress),
    ("complete", Status::Completed),
    ("done", Status::Completed),
    ("resolved", Status::Completed),
    ("closed", Status::Completed),
    ("fixed", Status::Completed),
    ("finished", Status::Completed),
    ("처리완료", Status::Completed),
    ("해결", Status::Completed),
    ("해결됨", Status::Completed),
    ("종료", Status::Completed),
];

/// Trims, replaces control characters (other than line breaks and tabs) with spaces, and
/// gives None for nothing left; the flag says whether a character was replaced.
fn clean(raw: Option<&str>) -> (Option<String>, bool) {
    let Some(raw) = raw else {
        return (None, false);
    };
    let mut replaced = false;
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                replaced = true;
                ' '
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim();
    ((!cleaned.is_empty()).then(|| cleaned.to_owned()), replaced)
}

/// At most `max` characters, the last one an ellipsis when something was cut.
fn shorten(text: String, max: usize) -> (String, Option<usize>) {
    let count = text.chars().count();
    if count <= max {
        return (text, None);
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    (short, Some(count))
}

/// A naive UTC timestamp (`2024-03-01 09:15:00`, with fractions, a `T`, a `Z` or an offset),
/// a date, or seconds since 1970.
pub fn parse_time(raw: &RawTime) -> Option<Timestamp> {
    let parsed = match raw {
        RawTime::Missing => None,
        RawTime::Number(seconds) => {
            let whole = seconds.floor();
            let nanos = ((seconds - whole) * 1e9) as u32;
            DateTime::from_timestamp(whole as i64, nanos)
        }
        RawTime::Text(text) => {
            let text = text.trim();
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.to_utc())
                .ok()
                .or_else(|| {
                    ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"]
                        .iter()
                        .find_map(|f| DateTime::parse_from_str(text, f).ok())
                        .map(|t| t.to_utc())
                })
                .or_else(|| {
                    let naive = text.trim_end_matches(['Z', 'z']);
                    [
                        "%Y-%m-%d %H:%M:%S%.f",
                        "%Y-%m-%dT%H:%M:%S%.f",
                        "%Y-%m-%d %H:%M",
                        "%Y-%m-%dT%H:%M",
                    ]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
                    .or_else(|| {
                        NaiveDate::parse_from_str(naive, "%Y-%m-%d")
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                    })
                    .map(|t| t.and_utc())
                })
        }
    };
    // Our text form is fixed-width with a four-digit year; anything outside is a mistake.
    parsed
        .filter(|t: &DateTime<Utc>| (1970..=9999).contains(&chrono::Datelike::year(t)))
        .map(Timestamp)
}

fn shown_time(raw: &RawTime) -> String {
    match raw {
        RawTime::Missing => "(none)".to_owned(),
        RawTime::Number(n) => n.to_string(),
        RawTime::Text(t) => shown(Some(t)),
    }
}

/// The cost of a stored hash when it is bcrypt's as passlib writes it (`$2b$12$` and 53
/// characters of bcrypt's base64; `$2a$`, `$2x$` and `$2y$` too), None for anything else.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let bytes = hash.as_bytes();
    let well_formed = bytes.len() == 60
        && ["$2a$", "$2b$", "$2x$", "$2y$"]
            .iter()
            .any(|prefix| hash.starts_with(prefix))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/'));
    if !well_formed {
        return None;
    }
    let cost = u32::from(bytes[4] - b'0') * 10 + u32::from(bytes[5] - b'0');
    // bcrypt itself refuses costs below 4.
    (4..=31).contains(&cost).then_some(cost)
}

/// A stored role as the summary shows it.
fn shown_text(raw: &RawText) -> String {
    match raw {
        RawText::Missing => "(none)".to_owned(),
        RawText::Text(text) => shown(Some(text)),
        RawText::Other { class, text } => format!("{} (a {class}, not text)", shown(Some(text))),
    }
}

/// The role the original gave an account. It compared the stored text exactly (`role !=
/// "admin"`, `role not in ["admin", "super_admin"]`), so only those exact texts were staff
/// there, and only they are here; `user` is a resident; anything else granted nothing there
/// and is a resident here too (the flag says the summary should mention it).
fn role_of(raw: &RawText) -> (Role, bool) {
    match raw {
        RawText::Text(text) => match Role::ALL.iter().find(|role| role.as_str() == text) {
            Some(role) => (*role, false),
            None => (Role::User, !text.trim().is_empty()),
        },
        RawText::Other { .. } => (Role::User, true),
        RawText::Missing => (Role::User, false),
    }
}

fn prepare_user(user: &LegacyUser) -> Result<ImportUser, Skipped> {
    let id = user.id;
    let raw_email = user.email.as_deref().unwrap_or_default();
    let email = accounts::normalize_email(raw_email).map_err(|message| Skipped {
        row: format!("user #{id}"),
        reason: if raw_email.trim().is_empty() {
            "it has no email".to_owned()
        } else {
            format!(
                "{message}; fix it in a copy of the original's database and import the copy again"
            )
        },
    })?;
    let mut labels = Vec::new();
    let mut notes = Vec::new();
    let (role, odd) = role_of(&user.role);
    let exact = matches!(&user.role, RawText::Text(text) if text == role.as_str());
    if !exact {
        labels.push(("role", shown_text(&user.role), role.as_str().to_owned()));
    }
    if odd {
        let why = match &user.role {
            RawText::Other { .. } => "is not stored as text".to_owned(),
            _ => {
                "is not exactly user, admin or super_admin; the original compared the stored text \
                  as it is, so it gave this account no staff rights"
                    .to_owned()
            }
        };
        notes.push(format!(
            "user #{id} ({email}): role {} {why}; imported as a resident (user): change the role \
             here if this account should be staff",
            shown_text(&user.role)
        ));
    }
    let (full_name, replaced) = clean(user.full_name.as_deref());
    let full_name = full_name.map(|name| {
        let visible: String = name.chars().filter(|c| !accounts::is_invisible(*c)).collect();
        let changed = replaced || visible != name;
        let (name, cut) = shorten(visible, FULL_NAME_MAX_CHARS);
        if changed || cut.is_some() {
            notes.push(format!(
                "user #{id} ({email}): full name cleaned of invisible or control characters, or shortened to {FULL_NAME_MAX_CHARS} characters"
            ));
        }
        name
    });
    let mut hashed_password = user.hashed_password.clone().unwrap_or_default();
    let cost = bcrypt_cost(&hashed_password);
    if cost.is_none() {
        notes.push(format!(
            "user #{id} ({email}): the stored password is not a bcrypt hash, so it cannot log in; \
             set one with `maintenance set-password {email}`"
        ));
    } else if let Some(cost) = cost.filter(|cost| *cost > MAX_BCRYPT_COST) {
        // Never tried, here or at a login: one check would take minutes or more.
        hashed_password.insert(0, '!');
        notes.push(format!(
            "user #{id} ({email}): its password hash has bcrypt cost {cost} (passlib makes 12; above \
             {MAX_BCRYPT_COST} one login takes minutes or longer), so it was disabled; set a new one \
             with `maintenance set-password {email}`"
        ));
    } else if role.is_staff()
        && bcrypt::verify(LEGACY_DEFAULT_PASSWORD, &hashed_password).unwrap_or(false)
    {
        // The original's published default would let anyone in as staff: locked until set again.
        hashed_password.insert(0, '!');
        notes.push(format!(
            "user #{id} ({email}): its password was the original system's published default, so it \
             was disabled; set a new one with `maintenance set-password {email}`"
        ));
    }
    let created_at = parse_time(&user.created_at).unwrap_or_else(|| {
        notes.push(format!(
            "user #{id} ({email}): created_at {} unreadable; the import time was used",
            shown_time(&user.created_at)
        ));
        Timestamp::now()
    });
    Ok(ImportUser {
        legacy_id: id,
        email,
        full_name,
        hashed_password,
        role,
        created_at,
        labels,
        notes,
    })
}

fn prepare_request(request: &LegacyRequest) -> Result<ImportRequest, Skipped> {
    let id = request.id;
    let row = format!("request #{id}");
    let Some(legacy_owner) = request.user_id else {
        return Err(Skipped {
            row,
            reason: "it has no owner (user_id is empty)".to_owned(),
        });
    };
    let mut notes = Vec::new();
    let mut labels = Vec::new();
    let (description, replaced) = clean(request.description.as_deref());
    let Some(description) = description else {
        return Err(Skipped {
            row,
            reason: "its description is empty".to_owned(),
        });
    };
    if replaced {
        notes.push(format!(
            "{row}: control characters in the description replaced by spaces"
        ));
    }
    let (description, cut) = shorten(description, DESCRIPTION_MAX_CHARS);
    if let Some(count) = cut {
        notes.push(format!(
            "{row}: description shortened from {count} to {DESCRIPTION_MAX_CHARS} characters"
        ));
    }
    let mut short_field = |name: &str, raw: Option<&str>| {
        let (value, replaced) = clean(raw);
        if replaced {
            notes.push(format!(
                "{row}: control characters in {name} replaced by spaces"
            ));
        }
        value.map(|value| {
            let (value, cut) = shorten(value, SHORT_FIELD_MAX_CHARS);
            if let Some(count) = cut {
                notes.push(format!(
                    "{row}: {name} shortened from {count} to {SHORT_FIELD_MAX_CHARS} characters"
                ));
            }
            value
        })
    };
    let location = short_field("location", request.location.as_deref());
    let contact_info = short_field("contact_info", request.contact_info.as_deref());

    let status = match label(request.status.as_deref(), STATUS_SYNONYMS) {
        Label::Ours(status) => status,
        Label::Mapped(status) => {
            labels.push((
                "status",
                shown(request.status.as_deref()),
                status.as_str().to_owned(),
            ));
            status
        }
        Label::Unknown => {
            labels.push((
                "status",
                shown(request.status.as_deref()),
                "pending".to_owned(),
            ));
            if request
                .status
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
            {
                notes.push(format!(
                    "{row}: unknown status {}, imported as pending for staff to review",
                    shown(request.status.as_deref())
                ));
            }
            Status::Pending
        }
    };
    let category = label(request.category.as_deref(), CATEGORY_SYNONYMS);
    let priority = label(request.priority.as_deref(), PRIORITY_SYNONYMS);
    let classification = match (&category, &priority) {
        (Label::Unknown, _) | (_, Label::Unknown) => Some(classify::offline(&description)),
        _ => None,
    };
    let category = match (category, &classification) {
        (Label::Ours(c), _) => c,
        (Label::Mapped(c), _) => {
            labels.push((
                "category",
                shown(request.category.as_deref()),
                c.as_str().to_owned(),
            ));
            c
        }
        (Label::Unknown, Some(offline)) => {
            labels.push((
                "category",
                shown(request.category.as_deref()),
                "the offline classifier".to_owned(),
            ));
            offline.category
        }
        (Label::Unknown, None) => Category::Other,
    };
    let priority = match (priority, &classification) {
        (Label::Ours(p), _) => p,
        (Label::Mapped(p), _) => {
            labels.push((
                "priority",
                shown(request.priority.as_deref()),
                p.as_str().to_owned(),
            ));
            p
        }
        (Label::Unknown, Some(offline)) => {
            labels.push((
                "priority",
                shown(request.priority.as_deref()),
                "the offline classifier".to_owned(),
            ));
            offline.priority
        }
        (Label::Unknown, None) => Priority::Medium,
    };
    // What the request holds is what the classification says: one label kept, the other decided.
    let classification = classification.map(|mut c| {
        c.category = category;
        c.priority = priority;
        c
    });

    let image_url = match clean(request.image_url.as_deref()).0 {
        Some(url)
            if (url.starts_with("https://") || url.starts_with("http://"))
                && !url.chars().any(char::is_whitespace) =>
        {
            Some(url)
        }
        Some(url) => {
            notes.push(format!(
                "{row}: image_url {} is not an http(s) address and was dropped",
                shown(Some(&url))
            ));
            None
        }
        None => None,
    };

    let created = parse_time(&request.created_at);
    let updated = parse_time(&request.updated_at);
    let (created_at, updated_at) = match (created, updated) {
        (Some(c), Some(u)) => (c, u),
        (Some(c), None) => (c, c),
        (None, Some(u)) => (u, u),
        (None, None) => {
            let now = Timestamp::now();
            (now, now)
        }
    };
    if created.is_none() {
        notes.push(format!(
            "{row}: created_at {} unreadable; {} used",
            shown_time(&request.created_at),
            if updated.is_some() {
                "updated_at"
            } else {
                "the import time"
            }
        ));
    }
    Ok(ImportRequest {
        legacy_id: id,
        legacy_owner,
        description,
        location,
        contact_info,
        category,
        priority,
        status,
        image_url,
        created_at,
        updated_at,
        classification,
        labels,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> String {
        parse_time(&RawTime::Text(text.into()))
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn the_originals_timestamps_become_ours() {
        assert_eq!(time("2024-03-01 09:15:00"), "2024-03-01T09:15:00.000000Z");
        assert_eq!(
            time("2024-03-01 09:15:00.123456"),
            "2024-03-01T09:15:00.123456Z"
        );
        assert_eq!(time("2024-03-01T09:15:00"), "2024-03-01T09:15:00.000000Z");
        assert_eq!(time("2024-03-01T09:15:00Z"), "2024-03-01T09:15:00.000000Z");
        assert_eq!(
            time("2024-03-01T18:15:00+09:00"),
            "2024-03-01T09:15:00.000000Z"
        );
        assert_eq!(time("2024-03-01 09:15"), "2024-03-01T09:15:00.000000Z");
        assert_eq!(time("2024-03-01"), "2024-03-01T00:00:00.000000Z");
        assert_eq!(time("yesterday"), "none");
        assert_eq!(time(""), "none");
        assert_eq!(
            parse_time(&RawTime::Number(1_709_284_500.0)).map(|t| t.to_rfc3339()),
            Some("2024-03-01T09:15:00.000000Z".into())
        );
        assert_eq!(parse_time(&RawTime::Missing), None);
    }

    fn mapped<T: Vocabulary + PartialEq + std::fmt::Debug>(
        raw: &str,
        synonyms: &[(&str, T)],
    ) -> Option<T> {
        match label(Some(raw), synonyms) {
            Label::Ours(v) | Label::Mapped(v) => Some(v),
            Label::Unknown => None,
        }
    }

    #[test]
    fn labels_map_ignoring_case_spacing_and_language() {
        for (raw, want) in [
            ("urgent", Priority::High),
            ("URGENT", Priority::High),
            ("Critical", Priority::High),
            ("긴급", Priority::High),
            ("높음", Priority::High),
            ("normal", Priority::Medium),
            ("보통", Priority::Medium),
            ("Low", Priority::Low),
        ] {
            assert_eq!(mapped(raw, PRIORITY_SYNONYMS), Some(want), "{raw}");
        }
        for (raw, want) in [
            ("in-progress", Status::InProgress),
            ("In Progress", Status::InProgress),
            ("진행 중", Status::InProgress),
            ("done", Status::Completed),
            ("resolved", Status::Completed),
            ("완료", Status::Completed),
            ("대기중", Status::Pending),
        ] {
            assert_eq!(mapped(raw, STATUS_SYNONYMS), Some(want), "{raw}");
        }
        for (raw, want) in [
            ("Electrical", Category::Electrical),
            ("전기", Category::Electrical),
            ("배관", Category::Plumbing),
            ("냉난방", Category::Hvac),
            ("HVAC", Category::Hvac),
            ("기타", Category::Other),
        ] {
            assert_eq!(mapped(raw, CATEGORY_SYNONYMS), Some(want), "{raw}");
        }
        for placeholder in ["processing", "", "  ", "???"] {
            assert_eq!(
                mapped(placeholder, CATEGORY_SYNONYMS),
                None,
                "{placeholder}"
            );
            assert_eq!(
                mapped(placeholder, PRIORITY_SYNONYMS),
                None,
                "{placeholder}"
            );
        }
        assert!(matches!(
            label(Some("high"), PRIORITY_SYNONYMS),
            Label::Ours(Priority::High)
        ));
    }

    fn legacy_request(category: &str, priority: &str) -> LegacyRequest {
        LegacyRequest {
            id: 1,
            user_id: Some(1),
            description: Some("  화장실 천장에서 물이 계속 새요  ".into()),
            category: Some(category.into()),
            priority: Some(priority.into()),
            status: Some("pending".into()),
            location: Some("".into()),
            contact_info: Some("   ".into()),
            image_url: Some("javascript:alert(1)".into()),
            created_at: RawTime::Text("2024-03-01 09:15:00".into()),
            updated_at: RawTime::Missing,
        }
    }

    #[test]
    fn placeholders_are_classified_offline_and_empty_strings_become_null() {
        let r = prepare_request(&legacy_request("processing", "processing")).unwrap();
        let c = r.classification.as_ref().expect("classified");
        assert_eq!(c.method, crate::taxonomy::ClassificationMethod::Keyword);
        assert_eq!((r.category, r.priority), (c.category, c.priority));
        assert_eq!(r.category, Category::Plumbing);
        assert_eq!(r.description, "화장실 천장에서 물이 계속 새요");
        assert_eq!(
            (r.location.as_deref(), r.contact_info.as_deref()),
            (None, None)
        );
        assert_eq!(r.image_url, None, "only http(s) addresses are kept");
        assert_eq!(r.updated_at, r.created_at);

        let kept = prepare_request(&legacy_request("Electrical", "urgent")).unwrap();
        assert_eq!(kept.classification, None);
        assert_eq!(
            (kept.category, kept.priority),
            (Category::Electrical, Priority::High)
        );

        // One label kept, the other decided; the classification agrees with what is stored.
        let half = prepare_request(&legacy_request("hvac", "")).unwrap();
        assert_eq!(half.category, Category::Hvac);
        assert_eq!(half.classification.unwrap().category, Category::Hvac);
    }

    #[test]
    fn ids_are_kept_only_when_free_and_from_1_to_2_to_the_40th() {
        assert_eq!(renumber(1, 0), None);
        assert_eq!(renumber(MAX_KEPT_ID, 0), None);
        assert_eq!(renumber(MAX_KEPT_ID + 1, 0), Some(Renumber::OutOfRange));
        assert_eq!(renumber(i64::MAX, 0), Some(Renumber::OutOfRange));
        assert_eq!(renumber(0, 0), Some(Renumber::OutOfRange));
        assert_eq!(renumber(-5, 0), Some(Renumber::OutOfRange));
        assert_eq!(renumber(3, 3), Some(Renumber::Used));
        assert_eq!(renumber(4, 3), None);
    }

    #[test]
    fn only_well_formed_bcrypt_hashes_have_a_cost() {
        let body = "hKWfFKHsok4e89QALrrymOGXgxLcYRCSdjfrj8KOgMzg6aEynqu/m";
        assert_eq!(bcrypt_cost(&format!("$2b$12${body}")), Some(12));
        assert_eq!(bcrypt_cost(&format!("$2y$04${body}")), Some(4));
        assert_eq!(bcrypt_cost(&format!("$2b$31${body}")), Some(31));
        for bad in [
            format!("$2b$03${body}"),
            format!("$2b$32${body}"),
            format!("$2b$+9${body}"),
            format!("$2b$12${}", "!".repeat(53)),
            format!("$2b$12${}", &body[1..]),
            format!("$1$12${body}x"),
            "plain-text-pw".to_owned(),
        ] {
            assert_eq!(bcrypt_cost(&bad), None, "{bad}");
        }
    }

    #[test]
    fn roles_are_the_originals_exact_text_or_a_resident() {
        let text = |t: &str| role_of(&RawText::Text(t.to_owned()));
        assert_eq!(text("admin"), (Role::Admin, false));
        assert_eq!(text("super_admin"), (Role::SuperAdmin, false));
        assert_eq!(text("user"), (Role::User, false));
        for odd in [
            "Admin",
            "super_admin ",
            "SUPER-ADMIN",
            "staff",
            "관리자",
            "manager",
        ] {
            assert_eq!(text(odd), (Role::User, true), "{odd}");
        }
        assert_eq!(text(""), (Role::User, false));
        assert_eq!(role_of(&RawText::Missing), (Role::User, false));
        let blob = RawText::Other {
            class: "blob",
            text: "admin".into(),
        };
        assert_eq!(role_of(&blob), (Role::User, true));
    }

    #[test]
    fn fingerprints_tell_fields_apart() {
        assert_ne!(
            fingerprint("r", &["ab", "c"]),
            fingerprint("r", &["a", "bc"])
        );
        assert_ne!(fingerprint("user", &["a"]), fingerprint("request", &["a"]));
        assert_eq!(
            user_fingerprint(&identity_email(Some(" Kim@Example.com "))),
            user_fingerprint("kim@example.com")
        );
    }

    fn migrated(dir: &Path) -> (PathBuf, FileIdentity) {
        let path = dir.join("maintenance.db");
        let identity = private_files::create_new(&path).unwrap().unwrap();
        drop(Db::open(&path, 1, crate::db::OpenMode::CreateIfMissing).unwrap());
        (path, identity)
    }

    #[test]
    fn a_failed_import_removes_only_the_file_it_created_while_nothing_else_wrote_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let (path, identity) = migrated(dir.path());
        // What the migrations wrote is all it holds: it goes, with what SQLite kept beside it.
        assert_eq!(remove_created(&path, identity), Ok(()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        // Someone started using it meanwhile: it stays.
        let (path, identity) = migrated(dir.path());
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO users (email, hashed_password, role, created_at, updated_at)
                 VALUES ('a@b.co', 'h', 'user', 't', 't')",
            )
            .unwrap();
        let kept = remove_created(&path, identity).unwrap_err();
        assert!(kept.contains("another program has written to it"), "{kept}");
        assert!(path.exists());
        std::fs::remove_file(&path).unwrap();

        // An empty file another process put in its place is not the one created.
        let (path, identity) = migrated(dir.path());
        let other = dir.path().join("other");
        std::fs::write(&other, b"").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let kept = remove_created(&path, identity).unwrap_err();
        assert!(kept.contains("another file has taken its name"), "{kept}");
        assert!(path.exists());

        // Gone already: nothing to do.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(remove_created(&path, identity), Ok(()));
    }

    #[test]
    fn overlong_text_is_shortened_not_refused() {
        let mut long = legacy_request("other", "low");
        long.description = Some("가".repeat(DESCRIPTION_MAX_CHARS + 10));
        long.location = Some("동".repeat(300));
        let r = prepare_request(&long).unwrap();
        assert_eq!(r.description.chars().count(), DESCRIPTION_MAX_CHARS);
        assert_eq!(
            r.location.as_ref().map(|l| l.chars().count()),
            Some(SHORT_FIELD_MAX_CHARS)
        );
        assert_eq!(r.notes.len(), 3, "{:?}", r.notes);
    }
}
