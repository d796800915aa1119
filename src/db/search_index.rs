//! Upkeep of the trigram search index, after the commit and in batches (migration 0013).
//!
//! A change's transaction only appends the request's id to `search_backlog`; the writer
//! moves the backlog into the index when no change has come for [`INDEX_WHEN_IDLE_FOR`], and
//! right after a commit once the backlog holds [`BACKLOG_BOUND`] rows. FTS5 writes one new
//! segment per transaction and merges segments as they pile up: a batch of a thousand rows
//! costs about a fifth per row of what one row in each change's transaction cost, and the
//! merges no longer land inside a caller's commit. Searches read the backlog's rows beside
//! the index ([`super::lists`]), so nothing waits for this to be found.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::time::Duration;

/// How long the writer waits with nothing to do before it indexes the backlog.
pub const INDEX_WHEN_IDLE_FOR: Duration = Duration::from_millis(20);

/// A backlog this long is indexed right after the next commit, busy or not: it keeps what a
/// search reads beside the index small.
pub const BACKLOG_BOUND: u64 = 2_000;

/// The most rows one indexing transaction takes: few enough that the changes queued behind
/// it wait a few milliseconds, enough that its segment is not one of many tiny ones.
pub const INDEX_BATCH: u64 = 1_000;

/// How many requests wait to be indexed.
pub fn backlog(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM search_backlog")?
        .query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Moves the oldest [`INDEX_BATCH`] rows of the backlog into the index, in one transaction;
/// returns how many it moved.
pub fn index_some(conn: &mut Connection) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: Option<i64> = tx
        .prepare_cached("SELECT max(id) FROM (SELECT id FROM search_backlog ORDER BY id LIMIT ?1)")?
        .query_row([INDEX_BATCH as i64], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(last) = last else {
        return Ok(0);
    };
    tx.prepare_cached(
        "INSERT INTO requests_fts (rowid, description, location)
         SELECT requests.id, description, location
         FROM search_backlog JOIN requests USING (id) WHERE search_backlog.id <= ?1",
    )?
    .execute([last])?;
    let moved = tx
        .prepare_cached("DELETE FROM search_backlog WHERE id <= ?1")?
        .execute([last])?;
    tx.commit()?;
    Ok(moved as u64)
}
