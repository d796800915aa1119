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
        "0006_idempotency",
        include_str!("../../migrations/0006_idempotency.sql"),
    ),
];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database is at schema version {found}, newer than this program knows ({known}); use a newer release"
    )]
    TooNew { found: usize, known: usize },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// How many migrations the database has applied.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(0))
}

/// Applies the migrations the database has not seen; returns how many ran.
pub fn migrate(conn: &mut Connection) -> Result<usize, MigrateError> {
    let applied = schema_version(conn)?;
    if applied > MIGRATIONS.len() {
        return Err(MigrateError::TooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now = schema_version(&tx)?;
        if now > index {
            continue;
        }
        tx.execute_batch(sql)?;
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
