//! Numbered SQL migrations, compiled into the binary and applied once each.
//!
//! The applied count is kept in SQLite's `PRAGMA user_version`; each migration
//! runs in its own transaction together with the bump of that number.

use rusqlite::{Connection, TransactionBehavior};

/// Every migration in order; append only, never edit a shipped one.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_classification",
        include_str!("../../migrations/0002_classification.sql"),
    ),
    (
        "0003_events",
        include_str!("../../migrations/0003_events.sql"),
    ),
    (
        "0004_photos",
        include_str!("../../migrations/0004_photos.sql"),
    ),
    (
        "0005_ids_and_sessions",
        include_str!("../../migrations/0005_ids_and_sessions.sql"),
    ),
    (
        "0006_idempotency",
        include_str!("../../migrations/0006_idempotency.sql"),
    ),
    (
        "0007_legacy_ids",
        include_str!("../../migrations/0007_legacy_ids.sql"),
    ),
    (
        "0008_dashboard_order",
        include_str!("../../migrations/0008_dashboard_order.sql"),
    ),
    (
        "0009_password_resets",
        include_str!("../../migrations/0009_password_resets.sql"),
    ),
    (
        "0010_legacy_identity",
        include_str!("../../migrations/0010_legacy_identity.sql"),
    ),
    (
        "0011_counters_and_search",
        include_str!("../../migrations/0011_counters_and_search.sql"),
    ),
    (
        "0012_search_order",
        include_str!("../../migrations/0012_search_order.sql"),
    ),
    (
        "0013_search_backlog",
        include_str!("../../migrations/0013_search_backlog.sql"),
    ),
    (
        "0014_bigram_index",
        include_str!("../../migrations/0014_bigram_index.sql"),
    ),
    (
        "0015_search_content_version",
        include_str!("../../migrations/0015_search_content_version.sql"),
    ),
];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database is at schema version {found}, newer than this program knows ({known}); use a newer release"
    )]
    TooNew { found: usize, known: usize },
    #[error(
        "the database holds tables this program did not create ({tables}) and no schema version; \
         it was left untouched: point DATABASE_URL at a new file"
    )]
    Foreign { tables: String },
    /// The original (Python) system's database; [`crate::db::OpenError::Legacy`] says what to do.
    #[error("this is the original (Python) system's database; it was left untouched")]
    Legacy,
    #[error("migration {name} leaves rows whose foreign keys point nowhere ({problems} rows)")]
    ForeignKeys { name: &'static str, problems: usize },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// How many migrations the database has applied.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(0))
}

/// The tables of a database at schema version 0: none for a new file, the original
/// system's (or anyone's) for a file this program did not create.
fn unversioned_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    stmt.query_map([], |row| row.get(0))?.collect()
}

/// The columns of `table`, none when it does not exist.
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    stmt.query_map([table], |row| row.get(0))?.collect()
}

/// Whether an unversioned database is the original system's: its `users` table has
/// `hashed_password` and its `requests` table `description` (and none of our later columns).
pub fn is_legacy(conn: &Connection) -> rusqlite::Result<bool> {
    if schema_version(conn)? != 0 {
        return Ok(false);
    }
    let users = columns(conn, "users")?;
    let requests = columns(conn, "requests")?;
    let has = |cols: &[String], name: &str| cols.iter().any(|c| c == name);
    Ok(has(&users, "email")
        && has(&users, "hashed_password")
        && has(&requests, "description")
        && has(&requests, "user_id")
        && !has(&requests, "classification_status"))
}

/// Refuses a database that has tables but no schema version: the original system's, or
/// another program's.
pub fn refuse_foreign(conn: &Connection) -> Result<(), MigrateError> {
    if schema_version(conn)? == 0 {
        let tables = unversioned_tables(conn)?;
        if !tables.is_empty() {
            if is_legacy(conn)? {
                return Err(MigrateError::Legacy);
            }
            return Err(MigrateError::Foreign {
                tables: tables.join(", "),
            });
        }
    }
    Ok(())
}

/// Applies the migrations the database has not seen; returns how many ran.
pub fn migrate(conn: &mut Connection) -> Result<usize, MigrateError> {
    // Migration 0014 fills an index with it; the connection keeps it for indexing after.
    super::search_index::register(conn)?;
    let applied = schema_version(conn)?;
    if applied > MIGRATIONS.len() {
        return Err(MigrateError::TooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    refuse_foreign(conn)?;
    if applied == MIGRATIONS.len() {
        return Ok(0);
    }
    // Rebuilding a table drops the old one, which with foreign keys on would cascade into
    // its children. The pragma cannot change inside a transaction, so it is set around them,
    // and each migration proves its foreign keys before it commits.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = apply_pending(conn, applied);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

/// How many requests the database holds, 0 before the table exists.
fn count_requests(conn: &Connection) -> rusqlite::Result<i64> {
    if columns(conn, "requests")?.is_empty() {
        return Ok(0);
    }
    conn.query_row("SELECT count(*) FROM requests", [], |row| row.get(0))
}

fn apply_pending(conn: &mut Connection, applied: usize) -> Result<usize, MigrateError> {
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now = schema_version(&tx)?;
        if now > index {
            continue;
        }
        // Some migrations build an index or counters over every row: say so before the wait.
        let requests = count_requests(&tx)?;
        if requests > 0 {
            tracing::info!(migration = name, requests, "applying migration");
        }
        tx.execute_batch(sql)?;
        let problems = tx
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |_| Ok(()))?
            .count();
        if problems > 0 {
            return Err(MigrateError::ForeignKeys { name, problems });
        }
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(MIGRATIONS.len() - applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_then_do_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len());
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
    }

    #[test]
    fn the_schema_refuses_values_outside_the_contract() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at) VALUES ('a@b.c', 'x', 'user', 't', 't')",
            [],
        )
        .unwrap();
        let bad_role = conn.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at) VALUES ('b@b.c', 'x', 'root', 't', 't')",
            [],
        );
        assert!(bad_role.is_err());
        for (column, value) in [
            ("category", "processing"),
            ("priority", "urgent"),
            ("status", "done"),
        ] {
            let sql = format!(
                "INSERT INTO requests (user_id, description, {column}, created_at, updated_at) VALUES (1, 'd', '{value}', 't', 't')"
            );
            assert!(
                conn.execute(&sql, []).is_err(),
                "{column}={value} was accepted"
            );
        }
    }
}

#[cfg(test)]
mod rebuild_tests {
    use super::*;

    fn at_version(conn: &mut Connection, version: usize) {
        for (index, (_, sql)) in MIGRATIONS.iter().enumerate().take(version) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (index + 1) as i64)
                .unwrap();
        }
    }

    #[test]
    fn the_rebuild_keeps_every_row_and_never_reuses_a_remembered_id() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        at_version(&mut conn, 4);
        conn.execute_batch(
            "INSERT INTO users (id, email, hashed_password, role, created_at, updated_at)
                 VALUES (1, 'a@b.co', 'h', 'user', 't', 't'), (2, 'c@d.co', 'h', 'admin', 't', 't');
             INSERT INTO requests (id, user_id, description, created_at, updated_at, image_file)
                 VALUES (1, 1, 'leak', 't', 't', 'f.jpg'), (2, 2, 'light', 't', 't', NULL);
             INSERT INTO classification_jobs (request_id, created_at, updated_at) VALUES (2, 't', 't');
             -- Account 3 and request 9 were deleted before the upgrade; the log still names them.
             INSERT INTO events (type, request_id, owner_id, data, created_at)
                 VALUES ('request_deleted', 9, 3, '{}', 't');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() - 4);

        let rows: i64 = conn
            .query_row(
                "SELECT count(*) FROM requests JOIN users ON users.id = requests.user_id",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, 2, "requests lost their owners");
        let jobs: i64 = conn
            .query_row("SELECT count(*) FROM classification_jobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(jobs, 1, "the rebuild cascaded into the job queue");
        let photo: Option<String> = conn
            .query_row("SELECT image_file FROM requests WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(photo.as_deref(), Some("f.jpg"));

        conn.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at) VALUES ('e@f.co', 'h', 'user', 't', 't')",
            [],
        )
        .unwrap();
        assert_eq!(
            conn.last_insert_rowid(),
            4,
            "a remembered user id was reused"
        );
        conn.execute(
            "INSERT INTO requests (user_id, description, created_at, updated_at) VALUES (1, 'x', 't', 't')",
            [],
        )
        .unwrap();
        assert_eq!(
            conn.last_insert_rowid(),
            10,
            "a remembered request id was reused"
        );

        // And from now on deleting the newest row never frees its id.
        conn.execute("DELETE FROM users WHERE id = 4", []).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at) VALUES ('g@h.co', 'h', 'user', 't', 't')",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 5);
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys were left off");
    }

    /// An existing database gets its counters and its search index built from the rows it
    /// already holds, and kept from then on.
    #[test]
    fn the_counters_and_the_search_index_are_built_from_the_rows_already_there() {
        let mut conn = Connection::open_in_memory().unwrap();
        at_version(&mut conn, 10);
        conn.execute_batch(
            "INSERT INTO users (id, email, hashed_password, role, created_at, updated_at)
                 VALUES (1, 'a@b.co', 'h', 'user', 't', 't'), (2, 'c@d.co', 'h', 'user', 't', 't');
             INSERT INTO requests (user_id, description, location, category, priority, status, created_at, updated_at)
                 VALUES (1, '욕실 천장 누수', '101동 1203호', 'plumbing', 'high', 'pending', '2026-11-01T00:00:00.000000Z', 't'),
                        (1, '전등 고장', NULL, 'electrical', 'low', 'completed', '2026-11-01T09:00:00.000000Z', 't'),
                        (2, '천장에서 물이 떨어져요', '102동', NULL, NULL, 'pending', '2026-11-02T00:00:00.000000Z', 't');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() - 10);
        let query = |sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            query(
                "SELECT status || '/' || category || '/' || priority || '=' || n FROM request_counts ORDER BY 1"
            ),
            [
                "completed/electrical/low=1",
                "pending//=1",
                "pending/plumbing/high=1"
            ]
        );
        assert_eq!(
            query(
                "SELECT user_id || ':' || sum(n) FROM owner_request_counts GROUP BY user_id ORDER BY 1"
            ),
            ["1:2", "2:1"]
        );
        assert_eq!(
            query("SELECT day || '=' || n FROM request_days ORDER BY 1"),
            ["2026-11-01=2", "2026-11-02=1"]
        );
        assert_eq!(
            query(
                "SELECT rowid || '' FROM requests_fts WHERE requests_fts MATCH '\"천장 \" OR \"물이 \"' ORDER BY rowid"
            ),
            ["1", "3"]
        );
        assert_eq!(
            query("SELECT rowid || '' FROM requests_fts WHERE requests_fts MATCH '\"203\"'"),
            ["1"]
        );
        // The pairs of characters too (migration 0014), the location's among them.
        let pairs = |pair: &str| {
            query(&format!(
                "SELECT rowid || '' FROM requests_bigrams WHERE requests_bigrams MATCH '\"{pair}\"' ORDER BY rowid"
            ))
        };
        assert_eq!(pairs("천장"), ["1", "3"]);
        assert_eq!(pairs("누수"), ["1"]);
        assert_eq!(pairs("12"), ["1"]);
        assert!(
            pairs("수1").is_empty(),
            "a pair across description and location"
        );
        // And kept by the triggers from now on: an edited row leaves both indexes and waits
        // in the backlog.
        conn.execute(
            "UPDATE requests SET description = '전등 교체' WHERE id = 1",
            [],
        )
        .unwrap();
        assert!(
            query(
                "SELECT rowid || '' FROM requests_fts WHERE requests_fts MATCH '\"천장 \" OR \"물이 \"'"
            ) == ["3"]
        );
        assert_eq!(pairs("천장"), ["3"]);
        assert_eq!(query("SELECT id || '' FROM search_backlog"), ["1"]);
        conn.execute("DELETE FROM requests WHERE id = 3", [])
            .unwrap();
        assert!(pairs("천장").is_empty());
    }

    #[test]
    fn a_database_from_another_program_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(255));
             CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id VARCHAR(100));",
        )
        .unwrap();
        let error = migrate(&mut conn).unwrap_err();
        assert!(matches!(error, MigrateError::Foreign { .. }), "{error}");
        assert!(error.to_string().contains("requests, users"), "{error}");
        assert_eq!(schema_version(&conn).unwrap(), 0);
    }

    #[test]
    fn the_original_systems_database_is_told_apart_from_any_other() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER,
                 description TEXT NOT NULL, task_id VARCHAR(100));
             CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(255) UNIQUE NOT NULL,
                 hashed_password VARCHAR(255) NOT NULL);",
        )
        .unwrap();
        assert!(is_legacy(&conn).unwrap());
        let error = migrate(&mut conn).unwrap_err();
        assert!(matches!(error, MigrateError::Legacy), "{error}");
        assert_eq!(schema_version(&conn).unwrap(), 0);

        let mut ours = Connection::open_in_memory().unwrap();
        migrate(&mut ours).unwrap();
        assert!(!is_legacy(&ours).unwrap());
    }
}
