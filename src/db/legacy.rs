//! SQL for `maintenance import-legacy`: reading the original system's database, and writing
//! the rows it brings here together with the ids they had there.

use super::migrate;
use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::legacy::{
    ImportRequest, ImportUser, LegacyRequest, LegacyUser, RawText, RawTime,
};
use crate::taxonomy::ClassificationStatus;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Opens a database for reading only: nothing done on this connection can change the file,
/// and no file is created beside it. A WAL database normally gets `-wal` and `-shm` files even
/// from a reader; when it has none (no program has it open), it is read as immutable instead.
/// For this program's own database; the original's is opened with [`open_legacy`].
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if is_wal(path) && !sibling(path, "-wal").exists() {
        Connection::open_with_flags(
            format!("file:{}?mode=ro&immutable=1", uri_path(path)),
            flags | OpenFlags::SQLITE_OPEN_URI,
        )?
    } else {
        Connection::open_with_flags(path, flags)?
    };
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// The original system's database, open for reading.
pub struct LegacyDb {
    pub conn: Connection,
    /// The private copy a WAL database is read from; removed when this is dropped (after
    /// the connection, which is declared first).
    _copy: Option<tempfile::TempDir>,
}

/// Why the original's database could not be opened.
#[derive(Debug)]
pub enum LegacyOpenError {
    /// Copying a WAL database and its `-wal` to a private folder failed.
    Copy(std::io::Error),
    /// The database or its `-wal` changed while they were copied.
    Changed,
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for LegacyOpenError {
    fn from(e: rusqlite::Error) -> Self {
        LegacyOpenError::Sqlite(e)
    }
}

/// Opens the original's database for reading without creating or changing anything beside
/// it. Python's sqlite3 leaves it in rollback-journal mode, which a read-only connection reads
/// in place (SQLite creates nothing for a reader there). In WAL mode (someone switched it) a
/// reader needs a `-shm` index, which SQLite would create, or write into, beside the file: with
/// no `-wal` there is nothing but the file to read, so it is opened as immutable; with a `-wal`
/// (rows not yet copied into the file, perhaps no `-shm`), the file and its `-wal` are copied
/// into a private temporary folder and the copy is read.
pub fn open_legacy(path: &Path) -> Result<LegacyDb, LegacyOpenError> {
    let wal = sibling(path, "-wal");
    if !(is_wal(path) && wal.exists()) {
        return Ok(LegacyDb {
            conn: open_read_only(path)?,
            _copy: None,
        });
    }
    let stamp =
        |file: &Path| std::fs::metadata(file).map(|m| (m.len(), m.modified().ok(), m.file_type()));
    let before = (stamp(path), stamp(&wal));
    let copy = tempfile::Builder::new()
        .prefix("maintenance-import-")
        .tempdir()
        .map_err(LegacyOpenError::Copy)?;
    let copied = copy.path().join("legacy.db");
    std::fs::copy(path, &copied).map_err(LegacyOpenError::Copy)?;
    std::fs::copy(&wal, sibling(&copied, "-wal")).map_err(LegacyOpenError::Copy)?;
    let after = (stamp(path), stamp(&wal));
    match (before, after) {
        ((Ok(a), Ok(b)), (Ok(c), Ok(d))) if a == c && b == d => {}
        _ => return Err(LegacyOpenError::Changed),
    }
    // Read-write, so SQLite may build the copy's index and replay its WAL in that folder.
    let conn = Connection::open_with_flags(
        &copied,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(LegacyDb {
        conn,
        _copy: Some(copy),
    })
}

/// What an unversioned database's `users` or `requests` is: `table`, `view`..., or None.
pub fn object_type(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT type FROM sqlite_master WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')",
        [name],
        |r| r.get(0),
    )
    .optional()
}

/// Whether the file's header says WAL (bytes 18 and 19 are 2).
fn is_wal(path: &Path) -> bool {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header))
        .is_ok_and(|()| header[18] == 2 && header[19] == 2)
}

fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// A path as the path of a `file:` URI: every byte but plain path characters percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut uri = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(byte) {
            uri.push(char::from(*byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// `column` when `table` has it, NULL otherwise: versions of the original differ a little.
fn select_list(conn: &Connection, table: &str, wanted: &[&str]) -> rusqlite::Result<String> {
    let present = migrate::columns(conn, table)?;
    Ok(wanted
        .iter()
        .map(|column| {
            if present.iter().any(|p| p.eq_ignore_ascii_case(column)) {
                format!("\"{column}\"")
            } else {
                "NULL".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// Any stored value as text; the original's columns have no enforced types.
fn text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(s) => Some(s),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

fn integer(value: Value) -> Option<i64> {
    match value {
        Value::Integer(i) => Some(i),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Real(f) if f.fract() == 0.0 => Some(f as i64),
        _ => None,
    }
}

/// A value the original meant as text, with whether it was stored as text.
fn raw_text(value: Value) -> RawText {
    match value {
        Value::Null => RawText::Missing,
        Value::Text(s) => RawText::Text(s),
        Value::Integer(i) => RawText::Other {
            class: "integer",
            text: i.to_string(),
        },
        Value::Real(f) => RawText::Other {
            class: "real number",
            text: f.to_string(),
        },
        Value::Blob(b) => RawText::Other {
            class: "blob",
            text: String::from_utf8_lossy(&b).into_owned(),
        },
    }
}

fn time(value: Value) -> RawTime {
    match value {
        Value::Integer(i) => RawTime::Number(i as f64),
        Value::Real(f) => RawTime::Number(f),
        other => text(other).map_or(RawTime::Missing, RawTime::Text),
    }
}

/// Every account of the original, by id.
pub fn read_users(conn: &Connection) -> rusqlite::Result<Vec<LegacyUser>> {
    let columns = select_list(
        conn,
        "users",
        &[
            "email",
            "hashed_password",
            "full_name",
            "role",
            "created_at",
        ],
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT rowid, {columns} FROM users ORDER BY rowid"
    ))?;
    stmt.query_map([], |row| {
        Ok(LegacyUser {
            id: row.get(0)?,
            email: text(row.get(1)?),
            hashed_password: text(row.get(2)?),
            full_name: text(row.get(3)?),
            role: raw_text(row.get(4)?),
            created_at: time(row.get(5)?),
        })
    })?
    .collect()
}

/// Every request of the original, by id.
pub fn read_requests(conn: &Connection) -> rusqlite::Result<Vec<LegacyRequest>> {
    let columns = select_list(
        conn,
        "requests",
        &[
            "user_id",
            "description",
            "category",
            "priority",
            "status",
            "location",
            "contact_info",
            "image_url",
            "created_at",
            "updated_at",
        ],
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT rowid, {columns} FROM requests ORDER BY rowid"
    ))?;
    stmt.query_map([], |row| {
        Ok(LegacyRequest {
            id: row.get(0)?,
            user_id: integer(row.get(1)?),
            description: text(row.get(2)?),
            category: text(row.get(3)?),
            priority: text(row.get(4)?),
            status: text(row.get(5)?),
            location: text(row.get(6)?),
            contact_info: text(row.get(7)?),
            image_url: text(row.get(8)?),
            created_at: time(row.get(9)?),
            updated_at: time(row.get(10)?),
        })
    })?
    .collect()
}

/// An account an earlier import brought here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedAccount {
    pub id: UserId,
    /// False when the account was deleted here after its import.
    pub exists: bool,
    /// What identified it in the original; None when it was imported before that was kept.
    pub fingerprint: Option<String>,
    /// Its email here, while it exists.
    pub email: Option<String>,
}

/// A request an earlier import brought here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRequest {
    pub id: RequestId,
    /// What identified it in the original; None when it was imported before that was kept.
    pub fingerprint: Option<String>,
    /// Its description and its owner's email here, while it exists.
    pub here: Option<(String, String)>,
}

/// What the target database already holds that the import must respect.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every account's email and id.
    pub emails: HashMap<String, UserId>,
    /// Accounts imported before, by their id in the original.
    pub users: HashMap<i64, ImportedAccount>,
    /// Requests imported before, by their id in the original.
    pub requests: HashMap<i64, ImportedRequest>,
    /// The highest user id ever given out here: ids above it are free.
    pub user_seq: i64,
    /// The highest request id ever given out here.
    pub request_seq: i64,
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
}

/// The highest id `table` ever used: its AUTOINCREMENT sequence, or its largest id.
fn highest_id(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    let seq: Option<i64> = if table_exists(conn, "sqlite_sequence")? {
        conn.query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?
    } else {
        None
    };
    let max: i64 = conn.query_row(
        &format!("SELECT coalesce(max(id), 0) FROM {table}"),
        [],
        |r| r.get(0),
    )?;
    Ok(seq.unwrap_or(0).max(max))
}

/// Reads what the import must know about the target: taken emails, earlier imports, used ids.
/// Works on any schema version (a dry run does not migrate): before `legacy_ids` existed,
/// nothing was imported.
pub fn snapshot(conn: &Connection) -> Result<Snapshot, AppError> {
    let mut snapshot = Snapshot {
        user_seq: highest_id(conn, "users")?,
        request_seq: highest_id(conn, "requests")?,
        ..Snapshot::default()
    };
    let mut stmt = conn.prepare("SELECT email, id FROM users")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        let (email, id) = row?;
        snapshot.emails.insert(email, id);
    }
    if !table_exists(conn, "legacy_ids")? {
        return Ok(snapshot);
    }
    // Before migration 0010 (a dry run does not migrate) no identities were kept.
    let fingerprint = if migrate::columns(conn, "legacy_ids")?
        .iter()
        .any(|c| c == "fingerprint")
    {
        "l.fingerprint"
    } else {
        "NULL"
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT l.legacy_id, l.new_id, u.id IS NOT NULL, {fingerprint}, u.email FROM legacy_ids l
         LEFT JOIN users u ON u.id = l.new_id WHERE l.kind = 'user'"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            ImportedAccount {
                id: r.get(1)?,
                exists: r.get(2)?,
                fingerprint: r.get(3)?,
                email: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (legacy, account) = row?;
        snapshot.users.insert(legacy, account);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT l.legacy_id, l.new_id, {fingerprint}, r.description, o.email FROM legacy_ids l
         LEFT JOIN requests r ON r.id = l.new_id LEFT JOIN users o ON o.id = r.user_id
         WHERE l.kind = 'request'"
    ))?;
    let rows = stmt.query_map([], |r| {
        let description: Option<String> = r.get(3)?;
        let owner: Option<String> = r.get(4)?;
        Ok((
            r.get(0)?,
            ImportedRequest {
                id: r.get(1)?,
                fingerprint: r.get(2)?,
                here: description.zip(owner),
            },
        ))
    })?;
    for row in rows {
        let (legacy, request) = row?;
        snapshot.requests.insert(legacy, request);
    }
    Ok(snapshot)
}

/// Stores an imported account, with its old id when `keep_id` and what identified it there;
/// returns its id here.
pub fn insert_user(
    tx: &Transaction<'_>,
    user: &ImportUser,
    keep_id: bool,
    fingerprint: &str,
) -> Result<UserId, AppError> {
    let id = keep_id.then_some(user.legacy_id);
    let new: UserId = tx
        .prepare_cached(
            "INSERT INTO users (id, email, full_name, hashed_password, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
        )?
        .query_row(
            params![
                id,
                user.email,
                user.full_name,
                user.hashed_password,
                user.role,
                user.created_at
            ],
            |r| r.get(0),
        )?;
    record_id(tx, "user", user.legacy_id, new.0, fingerprint)?;
    Ok(new)
}

/// Stores an imported request for `owner` with its 'created' history entry, and a queued
/// refinement job when `refine`; returns its id here.
pub fn insert_request(
    tx: &Transaction<'_>,
    request: &ImportRequest,
    keep_id: bool,
    fingerprint: &str,
    owner: UserId,
    refine: bool,
    now: Timestamp,
) -> Result<RequestId, AppError> {
    let id = keep_id.then_some(request.legacy_id);
    let (status, method, confidence, reason, classified_at) = match &request.classification {
        Some(c) => (
            if refine {
                ClassificationStatus::Pending
            } else {
                ClassificationStatus::Done
            },
            Some(c.method),
            Some(c.confidence),
            c.reason.clone(),
            now,
        ),
        None => (
            ClassificationStatus::Done,
            None,
            None,
            "imported from the original system".to_owned(),
            request.updated_at,
        ),
    };
    let new: RequestId = tx
        .prepare_cached(
            "INSERT INTO requests (id, user_id, description, location, contact_info, category, priority,
                                   status, image_url, created_at, updated_at, classification_status,
                                   classification_method, classification_confidence,
                                   classification_reason, classified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) RETURNING id",
        )?
        .query_row(
            params![
                id,
                owner,
                request.description,
                request.location,
                request.contact_info,
                request.category,
                request.priority,
                request.status,
                request.image_url,
                request.created_at,
                request.updated_at,
                status,
                method,
                confidence,
                reason,
                classified_at,
            ],
            |r| r.get(0),
        )?;
    super::requests::record_created(tx, new, owner, request.created_at)?;
    if refine && request.classification.is_some() {
        super::jobs::insert_job(tx, new, now)?;
    }
    record_id(tx, "request", request.legacy_id, new.0, fingerprint)?;
    Ok(new)
}

fn record_id(
    tx: &Transaction<'_>,
    kind: &str,
    legacy: i64,
    new: i64,
    fingerprint: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO legacy_ids (kind, legacy_id, new_id, imported_at, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, legacy, new, Timestamp::now(), fingerprint])?;
    Ok(())
}

/// Whether a database file holds nothing but an empty schema: no row in any table, and no id
/// ever given out. For removing a file the import created after it failed.
pub fn is_empty(conn: &Connection) -> rusqlite::Result<bool> {
    let tables: Vec<String> = conn
        .prepare(
            // The search indexes' own tables hold their settings from the start; they index
            // `requests`, which is looked at.
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'
             AND name NOT LIKE 'requests\\_fts%' ESCAPE '\\'
             AND name NOT LIKE 'requests\\_bigrams%' ESCAPE '\\'
             AND name <> 'search_content_version'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in tables {
        let any: bool = conn.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM \"{}\")",
                table.replace('"', "\"\"")
            ),
            [],
            |r| r.get(0),
        )?;
        if any {
            return Ok(false);
        }
    }
    // Its one row is there from the start (migration 0015); any delete or edit raises it.
    if table_exists(conn, "search_content_version")? {
        let changed: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM search_content_version WHERE n <> 0)",
            [],
            |r| r.get(0),
        )?;
        if changed {
            return Ok(false);
        }
    }
    if table_exists(conn, "sqlite_sequence")? {
        let used: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_sequence WHERE seq <> 0)",
            [],
            |r| r.get(0),
        )?;
        return Ok(!used);
    }
    Ok(true)
}
