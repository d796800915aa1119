//! SQL for the event log.

use crate::errors::AppError;
use crate::ids::RequestId;
use crate::ids::{Timestamp, UserId};
use crate::model::{Event, StoredEvent};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Appends an event inside the transaction of the change it describes.
pub fn insert(tx: &Transaction<'_>, event: &Event) -> Result<StoredEvent, AppError> {
    let data = event.data().map_err(AppError::internal)?;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO events (type, request_id, owner_id, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             RETURNING id",
        )?
        .query_row(
            params![event.kind(), event.request_id(), event.owner(), data, Timestamp::now()],
            |row| row.get(0),
        )?;
    Ok(StoredEvent::new(
        id,
        event.owner(),
        event.kind(),
        &data,
        event.stored_photo(),
    ))
}

const AFTER: &str =
    "SELECT e.id, e.type, e.owner_id, e.data, e.request_id, r.image_file IS NOT NULL
     FROM events e LEFT JOIN requests r ON r.id = e.request_id
     WHERE e.id > ?1 AND (?2 IS NULL OR e.owner_id = ?2)
     ORDER BY e.id LIMIT ?3";

/// Up to `limit` events after `since`, oldest first; only `owner`'s when given. Whether a
/// request's photo is stored here is read from the request as it is now.
pub fn after(
    conn: &Connection,
    since: i64,
    owner: Option<UserId>,
    limit: usize,
) -> Result<Vec<StoredEvent>, AppError> {
    let mut stmt = conn.prepare_cached(AFTER)?;
    let rows = stmt.query_map(params![since, owner, limit as i64], |row| {
        let id: i64 = row.get(0)?;
        let kind: String = row.get(1)?;
        let data: String = row.get(3)?;
        let request: RequestId = row.get(4)?;
        let photo = row.get::<_, bool>(5)?.then_some(request);
        Ok((id, kind, row.get::<_, UserId>(2)?, data, photo))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (id, kind, owner, data, photo) = row?;
        events.push(StoredEvent::new(id, owner, &kind, &data, photo));
    }
    Ok(events)
}

/// The oldest event still kept, and the last id ever given (pruned or not).
pub fn bounds(conn: &Connection) -> Result<(Option<i64>, i64), AppError> {
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT min(id) FROM events")?
        .query_row([], |r| r.get(0))?;
    let latest: Option<i64> = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'events'")?
        .query_row([], |r| r.get(0))
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

    /// A replay walks the events by id (or a resident's by the owner index) and finds each
    /// event's request by its key: no scan of the requests, no sort.
    #[test]
    fn a_replay_reads_events_in_index_order_and_requests_by_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for owner in [None, Some(UserId(1))] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {AFTER}"))
                .unwrap()
                .query_map(params![0, owner, 500], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join(" | ");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            assert!(
                plan.contains("SEARCH r USING INTEGER PRIMARY KEY"),
                "{plan}"
            );
        }
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
