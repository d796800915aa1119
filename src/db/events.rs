//! SQL for the event log.

use crate::errors::AppError;
use crate::events::{Event, StoredEvent};
use crate::ids::{Timestamp, UserId};
use bytestring::ByteString;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::json;

/// Appends an event inside the transaction of the change it describes.
pub fn insert(tx: &Transaction<'_>, event: &Event) -> Result<StoredEvent, AppError> {
    let data = event.data().map_err(AppError::internal)?;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO events (type, request_id, owner_id, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             RETURNING id",
        )?
        .query_row(
            params![event.kind(), event.request_id(), event.owner(), data.to_string(), Timestamp::now()],
            |row| row.get(0),
        )?;
    Ok(StoredEvent {
        id,
        owner: event.owner(),
        frame: frame(id, event.kind(), &data),
    })
}

fn frame(id: i64, kind: &str, data: &serde_json::Value) -> ByteString {
    json!({"id": id, "type": kind, "data": data})
        .to_string()
        .into()
}

/// Up to `limit` events after `since`, oldest first; only `owner`'s when given.
pub fn after(
    conn: &Connection,
    since: i64,
    owner: Option<UserId>,
    limit: usize,
) -> Result<Vec<StoredEvent>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, owner_id, data FROM events WHERE id > ?1 AND (?2 IS NULL OR owner_id = ?2)
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![since, owner, limit as i64], |row| {
        let id: i64 = row.get(0)?;
        let kind: String = row.get(1)?;
        let data: String = row.get(3)?;
        Ok((id, kind, row.get::<_, UserId>(2)?, data))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (id, kind, owner, data) = row?;
        let data: serde_json::Value = serde_json::from_str(&data).map_err(AppError::internal)?;
        events.push(StoredEvent {
            id,
            owner,
            frame: frame(id, &kind, &data),
        });
    }
    Ok(events)
}

/// The oldest event still kept, and the last id ever given (pruned or not).
pub fn bounds(conn: &Connection) -> Result<(Option<i64>, i64), AppError> {
    let oldest: Option<i64> = conn.query_row("SELECT min(id) FROM events", [], |r| r.get(0))?;
    let latest: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok((oldest, latest.unwrap_or(0)))
}

/// Deletes events older than `before`; returns how many.
pub fn prune(conn: &Connection, before: Timestamp) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM events WHERE created_at < ?1", [before])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;

    fn insert_at(conn: &Connection, created_at: &str) {
        conn.execute(
            "INSERT INTO events (type, request_id, owner_id, data, created_at) VALUES ('new_request', 1, 1, '{}', ?1)",
            [created_at],
        )
        .unwrap();
    }

    #[test]
    fn old_events_are_pruned_and_ids_are_never_reused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        insert_at(&conn, "2026-01-01T00:00:00.000000Z");
        insert_at(&conn, "2026-01-02T00:00:00.000000Z");
        insert_at(&conn, "2026-03-01T00:00:00.000000Z");
        let cutoff = Timestamp(
            chrono::DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        );
        assert_eq!(prune(&conn, cutoff).unwrap(), 2);
        assert_eq!(bounds(&conn).unwrap(), (Some(3), 3));
        // Even with the table emptied, the next id continues the sequence.
        conn.execute("DELETE FROM events", []).unwrap();
        assert_eq!(bounds(&conn).unwrap(), (None, 3));
        insert_at(&conn, "2026-03-02T00:00:00.000000Z");
        assert_eq!(bounds(&conn).unwrap(), (Some(4), 4));
        assert_eq!(after(&conn, 0, None, 10).unwrap().len(), 1);
        assert!(
            after(&conn, 0, Some(UserId(2)), 10).unwrap().is_empty(),
            "another owner's events are not theirs"
        );
    }
}
