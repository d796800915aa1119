//! Upkeep of the trigram search index, after the commit and in batches (migration 0013).
//!
//! A change's transaction only appends the request's id to `search_backlog`; the writer
//! moves the backlog into the index when no change has come for [`INDEX_WHEN_IDLE_FOR`], and
//! right after a commit once the backlog holds [`BACKLOG_BOUND`] rows. FTS5 writes one new
//! segment per transaction and merges segments as they pile up: a batch of a thousand rows
//! costs about a fifth per row of what one row in each change's transaction cost, and the
//! merges no longer land inside a caller's commit. Searches read the backlog's rows beside
//! the index ([`super::lists`]), so nothing waits for this to be found.
//!
//! FTS5 merges its segments itself only when they pile up (its `automerge` is off, migration
//! 0013: merging inside the batches made one in eight of them several times slower, and with
//! it every change queued behind). The writer merges them when idle, a few pages at a time,
//! once the backlog is indexed ([`merge_some`]); a long busy spell is bounded by FTS5's own
//! crisis merge.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::time::Duration;

/// How long the writer waits with nothing to do before it indexes the backlog.
pub const INDEX_WHEN_IDLE_FOR: Duration = Duration::from_millis(20);

/// How often an idle writer with nothing left to index looks whether another process has
/// added to the backlog (a count of an empty table).
pub const BACKLOG_RECHECK: Duration = Duration::from_secs(1);

/// A backlog this long is indexed right after the next commit, busy or not: it keeps what a
/// search reads beside the index small.
pub const BACKLOG_BOUND: u64 = 2_000;

/// The most rows one indexing transaction takes: few enough that the changes queued behind
/// it wait a few milliseconds, enough that its segment is not one of many tiny ones.
pub const INDEX_BATCH: u64 = 1_000;

/// Indexes the backlog's rows up to an id. CROSS JOIN keeps the backlog the outer loop:
/// left to itself, the planner walks the requests up to that id (all of them) instead.
const INDEX_UP_TO: &str = "INSERT INTO requests_fts (rowid, description, location)
     SELECT requests.id, description, location
     FROM search_backlog CROSS JOIN requests ON requests.id = search_backlog.id
     WHERE search_backlog.id <= ?1";

/// The same rows' pairs of characters, into the index of two-character searches.
const BIGRAMS_UP_TO: &str = "INSERT INTO requests_bigrams (rowid, grams)
     SELECT requests.id, bigrams(description, location)
     FROM search_backlog CROSS JOIN requests ON requests.id = search_backlog.id
     WHERE search_backlog.id <= ?1";

/// The SQL function that makes what [`BIGRAMS_UP_TO`] stores (migration 0014):
/// `bigrams(description, location)`, see [`bigrams`].
const BIGRAMS_FUNCTION: &str = "bigrams";

/// Makes `bigrams(description, location)` known to `conn`: every connection that indexes
/// requests (the writer, migrations, seeding) needs it; searches and triggers do not.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        BIGRAMS_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            use rusqlite::types::ValueRef;
            // Whatever another program stored (a blob, bytes that are not UTF-8) is read as
            // well as it can be: one failing row would stop every batch after it.
            let mut texts = Vec::with_capacity(2);
            for at in 0..2 {
                let text = match ctx.get_raw(at) {
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Null => continue,
                };
                texts.push(text);
            }
            Ok(bigrams(texts.iter().map(String::as_str)))
        },
    )
}

/// Whether a search of `text` is answered by the index of character pairs: two characters,
/// each a letter or digit, so the pair is one token of the index (its `ascii` tokenizer
/// splits at ASCII spaces and punctuation).
pub fn is_bigram(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(
        (chars.next(), chars.next(), chars.next()),
        (Some(a), Some(b), None) if a.is_alphanumeric() && b.is_alphanumeric()
    )
}

/// Every distinct pair of adjacent characters in `texts` that [`is_bigram`] would search
/// for, ASCII letters in lower case (as `LIKE` compares them), separated by spaces: the
/// index's tokens. A pair never spans two texts, a space or punctuation.
pub fn bigrams<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for text in texts {
        let mut previous: Option<char> = None;
        for c in text.chars() {
            let c = c.to_ascii_lowercase();
            if !c.is_alphanumeric() {
                previous = None;
                continue;
            }
            if let Some(p) = previous
                && seen.insert((p, c))
            {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(p);
                out.push(c);
            }
            previous = Some(c);
        }
    }
    out
}

/// The query of the index of pairs for `text` ([`is_bigram`]).
pub fn bigram_query(text: &str) -> String {
    format!("\"{}\"", text.to_ascii_lowercase())
}

/// Pages of segments one merge step rewrites: a few milliseconds of work.
const MERGE_PAGES: i64 = 16;

/// Raises the number [`version`] reads: part of every transaction that changes what the
/// indexes hold, other than the triggers of migration 0015 (deletes and text changes). Any
/// new code that writes to `requests_fts`, `requests_bigrams` or `search_backlog` must run
/// it in the same transaction: without it, searches answer with counts remembered from
/// before (today: [`index_some`] and `counts::refill_indexes`).
pub const RAISE_VERSION: &str = "UPDATE search_content_version SET n = n + 1 WHERE id = 1";

/// A number that changes whenever the rows or texts the indexes hold change, and only then
/// (migration 0015): merging their segments leaves it as it was. Equal numbers, equal
/// matches in either index. `None` if another program has deleted its row: then nothing
/// can be known to be unchanged.
pub fn version(conn: &Connection) -> rusqlite::Result<Option<u64>> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT n FROM search_content_version WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(n.map(|n| n as u64))
}

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
    tx.prepare_cached(INDEX_UP_TO)?.execute([last])?;
    tx.prepare_cached(BIGRAMS_UP_TO)?.execute([last])?;
    let moved = tx
        .prepare_cached("DELETE FROM search_backlog WHERE id <= ?1")?
        .execute([last])?;
    tx.prepare_cached(RAISE_VERSION)?.execute([])?;
    tx.commit()?;
    Ok(moved as u64)
}

/// One step of merging the index's segments, in its own transaction; returns whether any
/// merging is left (FTS5 makes fewer than two changes when there was none to do).
pub fn merge_some(conn: &mut Connection) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut worked = false;
    for merge in [
        "INSERT INTO requests_fts (requests_fts, rank) VALUES ('merge', ?1)",
        "INSERT INTO requests_bigrams (requests_bigrams, rank) VALUES ('merge', ?1)",
    ] {
        let before = tx.total_changes();
        tx.prepare_cached(merge)?.execute([MERGE_PAGES])?;
        worked |= tx.total_changes().saturating_sub(before) >= 2;
    }
    tx.commit()?;
    Ok(worked)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::migrate;

    /// A request's pairs: each distinct pair of adjacent letters or digits once, ASCII in
    /// lower case, never across a space, punctuation or the two texts.
    #[test]
    fn pairs_are_the_letters_and_digits_side_by_side() {
        assert_eq!(
            bigrams(["욕실 누수, 누수!", "101동 B1"]),
            "욕실 누수 10 01 1동 b1"
        );
        assert_eq!(bigrams(["a", "b"]), "");
        assert!(is_bigram("누수") && is_bigram("B1") && is_bigram("3호"));
        assert!(!is_bigram("누") && !is_bigram("수)") && !is_bigram("누수가") && !is_bigram("a "));
        assert_eq!(bigram_query("Li"), "\"li\"");
        // Stored by another program, not UTF-8 or not text: still read.
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let pairs: String = conn
            .query_row(
                "SELECT bigrams(CAST(X'eb8b88ec8898ff' AS TEXT), X'6162')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pairs, "니수 ab");
    }

    /// Indexing reads the backlog's rows, each request by its id: never the table.
    #[test]
    fn indexing_reads_the_backlog_not_the_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {INDEX_UP_TO}"))
            .unwrap()
            .query_map([5], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            plan,
            [
                "SEARCH search_backlog USING INTEGER PRIMARY KEY (rowid<?)",
                "SEARCH requests USING INTEGER PRIMARY KEY (rowid=?)"
            ]
        );
    }

    /// The number of segments on each level of the index, from its structure record.
    pub(crate) fn segments_per_level(conn: &Connection) -> Vec<u64> {
        let block: Vec<u8> = conn
            .query_row(
                "SELECT block FROM requests_fts_data WHERE id = 10",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut at = 4; // the cookie
        let mut varint = || {
            let mut value = 0u64;
            for n in 0..9 {
                let byte = block[at];
                at += 1;
                if n == 8 {
                    return (value << 8) | u64::from(byte);
                }
                value = (value << 7) | u64::from(byte & 0x7f);
                if byte & 0x80 == 0 {
                    break;
                }
            }
            value
        };
        let levels = varint();
        let _segments = varint();
        let _writes = varint();
        (0..levels)
            .map(|_| {
                let _merging = varint();
                let segments = varint();
                for _ in 0..segments * 3 {
                    varint(); // its id, first and last page
                }
                segments
            })
            .collect()
    }

    /// Each batch indexed is a segment of its own (the index does not merge by itself), and
    /// merging steps leave fewer than four on every level, then report nothing left.
    #[test]
    fn batches_are_segments_until_merged_in_steps() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, created_at, updated_at) VALUES ('r@example.com', 'x', 't', 't')",
            [],
        )
        .unwrap();
        for batch in 0..6 {
            conn.execute(
                "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50)
                 INSERT INTO requests (user_id, description, status, created_at, updated_at)
                 SELECT 1, '보일러 고장 ' || ?1 || '-' || i, 'pending', 't', 't' FROM k",
                [batch],
            )
            .unwrap();
            assert_eq!(index_some(&mut conn).unwrap(), 50);
        }
        assert_eq!(segments_per_level(&conn).iter().sum::<u64>(), 6);
        let mut steps = 0;
        while merge_some(&mut conn).unwrap() {
            steps += 1;
            assert!(steps < 100, "merging never ends");
        }
        assert!(steps > 0);
        let levels = segments_per_level(&conn);
        assert!(levels.iter().all(|&n| n < 4), "{levels:?}");
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM requests_fts WHERE requests_fts MATCH '\"보일러\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 300);
        // Rows waiting to be indexed are not damage to SQLite's own check.
        conn.execute(
            "INSERT INTO requests (user_id, description, status, created_at, updated_at)
             VALUES (1, '엘리베이터 멈춤', 'pending', 't', 't')",
            [],
        )
        .unwrap();
        assert_eq!(backlog(&conn).unwrap(), 1);
        for check in ["integrity_check", "quick_check"] {
            let report: String = conn
                .query_row(&format!("PRAGMA {check}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(report, "ok", "{check}");
        }
    }
}
