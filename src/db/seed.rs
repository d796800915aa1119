//! SQL for `maintenance seed-demo`: plain rows written in bulk into a database made for the
//! purpose. The schema's own triggers and constraints apply to them as to any other row.

use super::migrate::{self, MigrateError};
use super::requests::Photo;
use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::{Event, Scope, photo_path};
use crate::taxonomy::{Category, HistoryAction, Priority, Role, Status};
use chrono::DateTime;
use rusqlite::{CachedStatement, Connection, Transaction, params};
use std::path::Path;

/// An account as the demo stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoUser {
    pub id: UserId,
    pub email: String,
    pub full_name: Option<String>,
    pub hashed_password: String,
    pub role: Role,
    pub created_at: String,
}

/// A request as the demo stores it: classified once, by the offline classifier, when it was
/// made; then started and finished by staff as far as `status_changes` says.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRequest {
    pub id: RequestId,
    pub owner: UserId,
    pub description: String,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    pub category: Category,
    pub priority: Priority,
    pub confidence: f64,
    pub reason: String,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    /// The photo the resident attached when writing it.
    pub photo: Option<Photo>,
    /// Oldest first; the last one's `to` is `status`.
    pub status_changes: Vec<StatusChange>,
}

/// A change of a request's status by a member of staff.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub from: Status,
    pub to: Status,
    pub actor: UserId,
    pub at: String,
}

/// Opens the new, empty database file at `path`, brings it to the current schema and sets it
/// up for one bulk write: no fsync until the end ([`finish`] makes the file durable) and a
/// large page cache. The rollback journal stays on, so an interrupted run leaves the schema
/// without half of the rows.
pub fn open(path: &Path) -> Result<Connection, MigrateError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate::migrate(&mut conn)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    // 64 MiB: the indexes' working set of a million rows stays in memory.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The sorts that build the indexes at the end may use helper threads.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    conn.pragma_update(None, "threads", threads as i64)?;
    // Each INSERT would build a lookup table for every `CHECK (... IN (...))` of the schema,
    // for every row: the rows come from typed values that cannot break those constraints
    // (the tests run `PRAGMA integrity_check`, which checks them, on a seeded database).
    conn.pragma_update(None, "ignore_check_constraints", "ON")?;
    Ok(conn)
}

/// Switches the finished database to the write-ahead log the server uses, with every page
/// written through (the caller then syncs the file); returns the journal mode now in force.
pub fn finish(conn: &Connection) -> rusqlite::Result<String> {
    conn.pragma_update(None, "ignore_check_constraints", "OFF")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
}

/// Stores the accounts with the ids they were given. Foreign keys are checked at the commit
/// from here on: a statement then never has to undo itself alone.
pub fn insert_users(tx: &Transaction<'_>, users: &[DemoUser]) -> rusqlite::Result<()> {
    tx.pragma_update(None, "defer_foreign_keys", "ON")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO users (id, email, full_name, hashed_password, role, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?;
    for user in users {
        insert.execute(params![
            user.id,
            user.email,
            user.full_name,
            user.hashed_password,
            user.role,
            user.created_at
        ])?;
    }
    Ok(())
}

/// Drops the indexes and triggers of `tables` and returns the statements that make them
/// again: an index built at once from a million rows costs a fraction of one grown row by row,
/// and so do the counters and the search index the triggers keep ([`super::counts::Tally`]
/// makes them afterwards). The schema's own text is kept, so [`create_indexes`] makes exactly
/// what the migrations made.
pub fn drop_indexes(tx: &Transaction<'_>, tables: &[&str]) -> rusqlite::Result<Vec<String>> {
    let mut found = Vec::new();
    for table in tables {
        let mut stmt = tx.prepare(
            "SELECT type, name, sql FROM sqlite_master
             WHERE type IN ('index', 'trigger') AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY rowid",
        )?;
        let indexes = stmt
            .query_map([table], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        found.extend(indexes);
    }
    for (kind, name, _) in &found {
        let kind = if kind == "index" { "INDEX" } else { "TRIGGER" };
        tx.execute_batch(&format!("DROP {kind} \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(found.into_iter().map(|(_, _, sql)| sql).collect())
}

/// Makes the indexes and triggers [`drop_indexes`] dropped.
pub fn create_indexes(tx: &Transaction<'_>, indexes: &[String]) -> rusqlite::Result<()> {
    for sql in indexes {
        tx.execute_batch(sql)?;
    }
    Ok(())
}

/// Requests stored by one statement. Each execution of an INSERT builds the lookup tables of
/// the schema's `CHECK (... IN (...))` constraints afresh; many rows a statement share them.
const REQUESTS_PER_STATEMENT: usize = 64;
/// History entries stored by one statement, for the same reason.
const HISTORY_PER_STATEMENT: usize = 128;

// OR ROLLBACK: a row that breaks a constraint ends the whole run anyway, so no statement needs
// a statement journal to undo just itself (with foreign keys deferred, see `open`).
const REQUEST_INSERT: &str =
    "INSERT OR ROLLBACK INTO requests (id, user_id, description, location, contact_info,
    category, priority, status, created_at, updated_at, classification_status,
    classification_method, classification_confidence, classification_reason, classified_at,
    image_file, image_type, image_url)
    VALUES ";
/// One request's values: its 16 parameters, and the classification's constants.
const REQUEST_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', 'keyword', ?, ?, ?, ?, ?, ?)";
const HISTORY_INSERT: &str =
    "INSERT OR ROLLBACK INTO request_history (request_id, actor_id, action, field,
    old_value, new_value, created_at) VALUES ";
const HISTORY_ROW: &str = "(?, ?, ?, ?, ?, ?, ?)";

/// `INSERT ... VALUES` with `rows` rows.
fn insert_sql(insert: &str, row: &str, rows: usize) -> String {
    let mut sql = String::with_capacity(insert.len() + rows * (row.len() + 2));
    sql.push_str(insert);
    for n in 0..rows {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql
}

/// One history entry, to be stored with others.
struct HistoryRow<'r> {
    request: RequestId,
    actor: UserId,
    action: HistoryAction,
    change: Option<(Status, Status)>,
    at: &'r str,
}

/// Writes requests and their history many rows a statement.
pub struct RequestWriter<'tx> {
    tx: &'tx Transaction<'tx>,
}

impl<'tx> RequestWriter<'tx> {
    pub fn new(tx: &'tx Transaction<'tx>) -> RequestWriter<'tx> {
        RequestWriter { tx }
    }

    /// Stores `requests` (in id order), each with its 'created' history entry and one entry
    /// per status change; returns how many history entries it wrote.
    pub fn insert(&mut self, requests: &[DemoRequest]) -> rusqlite::Result<usize> {
        for group in requests.chunks(REQUESTS_PER_STATEMENT) {
            self.insert_requests(group)?;
        }
        let mut history = Vec::with_capacity(requests.len() * 3);
        for request in requests {
            history.push(HistoryRow {
                request: request.id,
                actor: request.owner,
                action: HistoryAction::Created,
                change: None,
                at: &request.created_at,
            });
            history.extend(request.status_changes.iter().map(|change| HistoryRow {
                request: request.id,
                actor: change.actor,
                action: HistoryAction::StatusChanged,
                change: Some((change.from, change.to)),
                at: &change.at,
            }));
        }
        for group in history.chunks(HISTORY_PER_STATEMENT) {
            self.insert_history(group)?;
        }
        Ok(history.len())
    }

    fn statement(
        &self,
        insert: &str,
        row: &str,
        rows: usize,
    ) -> rusqlite::Result<CachedStatement<'tx>> {
        self.tx.prepare_cached(&insert_sql(insert, row, rows))
    }

    fn insert_requests(&self, group: &[DemoRequest]) -> rusqlite::Result<()> {
        let mut stmt = self.statement(REQUEST_INSERT, REQUEST_ROW, group.len())?;
        let mut at = 0;
        let mut bind = |value: &dyn rusqlite::ToSql| {
            at += 1;
            stmt.raw_bind_parameter(at, value)
        };
        for request in group {
            bind(&request.id)?;
            bind(&request.owner)?;
            bind(&request.description)?;
            bind(&request.location)?;
            bind(&request.contact_info)?;
            bind(&request.category)?;
            bind(&request.priority)?;
            bind(&request.status)?;
            bind(&request.created_at)?;
            bind(&request.updated_at)?;
            bind(&request.confidence)?;
            bind(&request.reason)?;
            bind(&request.created_at)?;
            let photo = request.photo.as_ref();
            bind(&photo.map(|p| &p.file))?;
            bind(&photo.map(|p| &p.content_type))?;
            bind(&photo.map(|_| photo_path(request.id)))?;
        }
        stmt.raw_execute()?;
        Ok(())
    }

    fn insert_history(&self, group: &[HistoryRow<'_>]) -> rusqlite::Result<()> {
        let mut stmt = self.statement(HISTORY_INSERT, HISTORY_ROW, group.len())?;
        let mut at = 0;
        let mut bind = |value: &dyn rusqlite::ToSql| {
            at += 1;
            stmt.raw_bind_parameter(at, value)
        };
        for row in group {
            bind(&row.request)?;
            bind(&row.actor)?;
            bind(&row.action)?;
            bind(&row.change.map(|_| "status"))?;
            bind(&row.change.map(|(from, _)| from))?;
            bind(&row.change.map(|(_, to)| to))?;
            bind(&row.at)?;
        }
        stmt.raw_execute()?;
        Ok(())
    }
}

/// A moment in a request's life that the event log records: its creation, or a change of its
/// status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DemoEvent {
    /// Unix microseconds: events are stored in this order, so their ids follow time.
    pub at_us: i64,
    pub request: RequestId,
    /// The status the moment left; `Pending` is the creation.
    pub status: Status,
}

/// Stores `events` (in time order) as the server would have logged them: each one's data is
/// the request as the API returned it just after that moment.
pub fn insert_events(tx: &Transaction<'_>, events: &[DemoEvent]) -> Result<(), AppError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (type, request_id, owner_id, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for event in events {
        let Some(mut request) = super::requests::find_request(tx, event.request, Scope::All)?
        else {
            continue;
        };
        let at = DateTime::from_timestamp_micros(event.at_us)
            .map(Timestamp)
            .ok_or_else(|| AppError::internal(format!("no such time: {}", event.at_us)))?;
        request.status = event.status;
        request.updated_at = at;
        let event = if event.status == Status::Pending {
            Event::NewRequest(request)
        } else {
            Event::RequestUpdated(request)
        };
        let data = event.data().map_err(AppError::internal)?;
        insert.execute(params![
            event.kind(),
            event.request_id(),
            event.owner(),
            data.to_string(),
            at
        ])?;
    }
    Ok(())
}
