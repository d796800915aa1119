//! SQL for the request counters: exact counts per (status, category, priority), per owner
//! and per day, which the schema's triggers keep in the transaction of every change
//! (migration 0011). Counting any combination of those filters reads a few dozen rows,
//! however many requests there are.

use crate::errors::AppError;
use crate::ids::UserId;
use crate::model::Stats;
use crate::taxonomy::{Category, Priority, Status};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The fields a counter can be narrowed by; None is any value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub owner: Option<UserId>,
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
}

/// How many requests have the given fields.
pub fn count(conn: &Connection, of: Counted) -> Result<u64, AppError> {
    let (status, category, priority) = (
        of.status.map(Status::as_str),
        of.category.map(Category::as_str),
        of.priority.map(Priority::as_str),
    );
    let total: i64 = match of.owner {
        None => conn
            .prepare_cached(
                "SELECT coalesce(sum(n), 0) FROM request_counts
                 WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR category = ?2)
                   AND (?3 IS NULL OR priority = ?3)",
            )?
            .query_row(params![status, category, priority], |r| r.get(0))?,
        Some(owner) => conn
            .prepare_cached(
                "SELECT coalesce(sum(n), 0) FROM owner_request_counts
                 WHERE user_id = ?4 AND (?1 IS NULL OR status = ?1)
                   AND (?2 IS NULL OR category = ?2) AND (?3 IS NULL OR priority = ?3)",
            )?
            .query_row(params![status, category, priority, owner], |r| r.get(0))?,
    };
    Ok(total.max(0) as u64)
}

/// Counts by status, category and priority, every known value present.
pub fn stats(conn: &Connection) -> Result<Stats, AppError> {
    let mut stats = Stats {
        total: 0,
        by_status: Status::ALL.iter().map(|s| (*s, 0)).collect(),
        by_category: Category::ALL.iter().map(|c| (*c, 0)).collect(),
        by_priority: Priority::ALL.iter().map(|p| (*p, 0)).collect(),
    };
    let mut stmt = conn
        .prepare_cached("SELECT status, category, priority, n FROM request_counts WHERE n > 0")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (status, category, priority, n) = row?;
        let n = n as u64;
        stats.total += n;
        // '' is a request not classified yet: in the total, under no category or priority.
        if let Ok(status) = Status::from_str(&status) {
            *stats.by_status.entry(status).or_default() += n;
        }
        if let Ok(category) = Category::from_str(&category) {
            *stats.by_category.entry(category).or_default() += n;
        }
        if let Ok(priority) = Priority::from_str(&priority) {
            *stats.by_priority.entry(priority).or_default() += n;
        }
    }
    Ok(stats)
}

/// Requests created on each UTC day from `first_day` (YYYY-MM-DD) on; days without any are absent.
pub fn per_day(conn: &Connection, first_day: &str) -> Result<Vec<(String, u64)>, AppError> {
    let mut stmt = conn
        .prepare_cached("SELECT day, n FROM request_days WHERE day >= ?1 AND n > 0 ORDER BY day")?;
    let rows = stmt
        .query_map([first_day], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Counts gathered while rows are written in bulk without the triggers (`seed-demo`): the
/// writer knows each row's fields, so counting them costs less than grouping the table after.
/// Ordered maps: the same rows always make the same file.
#[derive(Debug, Default)]
pub struct Tally {
    by_fields: BTreeMap<(Status, Option<Category>, Option<Priority>), i64>,
    by_owner: BTreeMap<(UserId, Status, Option<Category>, Option<Priority>), i64>,
    by_day: BTreeMap<String, i64>,
    /// The newest creation time so far, and the newest before a row created earlier than
    /// it (migration 0012's `out_of_order_until`).
    newest: String,
    out_of_order_until: Option<String>,
}

impl Tally {
    /// Counts one request; `created_at` as stored. Requests come in id order.
    pub fn add(
        &mut self,
        owner: UserId,
        status: Status,
        category: Option<Category>,
        priority: Option<Priority>,
        created_at: &str,
    ) {
        *self
            .by_fields
            .entry((status, category, priority))
            .or_default() += 1;
        *self
            .by_owner
            .entry((owner, status, category, priority))
            .or_default() += 1;
        if created_at < self.newest.as_str()
            && self.out_of_order_until.as_deref() < Some(self.newest.as_str())
        {
            self.out_of_order_until = Some(self.newest.clone());
        }
        if created_at > self.newest.as_str() {
            self.newest.clear();
            self.newest.push_str(created_at);
        }
        let day = created_at.get(..10).unwrap_or(created_at);
        match self.by_day.get_mut(day) {
            Some(n) => *n += 1,
            None => {
                self.by_day.insert(day.to_owned(), 1);
            }
        }
    }

    /// Replaces the counters with these counts, and builds the search index from the rows.
    pub fn store(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(
            "DELETE FROM request_counts; DELETE FROM owner_request_counts; DELETE FROM request_days;",
        )?;
        let text = |value: Option<&'static str>| value.unwrap_or("");
        let mut insert = conn.prepare(
            "INSERT INTO request_counts (status, category, priority, n) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for ((status, category, priority), n) in &self.by_fields {
            insert.execute(params![
                status.as_str(),
                text(category.map(Category::as_str)),
                text(priority.map(Priority::as_str)),
                n
            ])?;
        }
        let mut insert = conn.prepare(
            "INSERT INTO owner_request_counts (user_id, status, category, priority, n)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for ((owner, status, category, priority), n) in &self.by_owner {
            insert.execute(params![
                owner,
                status.as_str(),
                text(category.map(Category::as_str)),
                text(priority.map(Priority::as_str)),
                n
            ])?;
        }
        let mut insert = conn.prepare("INSERT INTO request_days (day, n) VALUES (?1, ?2)")?;
        for (day, n) in &self.by_day {
            insert.execute(params![day, n])?;
        }
        conn.execute("DELETE FROM request_order", [])?;
        if let Some(until) = &self.out_of_order_until {
            conn.execute(
                "INSERT INTO request_order (id, out_of_order_until) VALUES (1, ?1)",
                [until],
            )?;
        }
        conn.execute_batch(&refill_indexes())
    }
}

/// Fills both search indexes from every row, each as one merged segment, and empties the
/// backlog: built, an index is a few dozen segments; merged into one, the batches written
/// later stay small beside it, and their merges quick (src/db/search_index.rs). Needs
/// [`super::search_index::register`] on the connection.
fn refill_indexes() -> String {
    format!(
        "INSERT INTO requests_fts (requests_fts) VALUES ('rebuild');
         INSERT INTO requests_fts (requests_fts) VALUES ('optimize');
         INSERT INTO requests_bigrams (requests_bigrams) VALUES ('delete-all');
         INSERT INTO requests_bigrams (rowid, grams) SELECT id, bigrams(description, location) FROM requests;
         INSERT INTO requests_bigrams (requests_bigrams) VALUES ('optimize');
         DELETE FROM search_backlog;
         INSERT OR IGNORE INTO search_content_version (id, n) VALUES (1, 0);
         {};",
        super::search_index::RAISE_VERSION
    )
}

/// Rebuilds every counter, the search index and the order check (migration 0012) from the
/// rows themselves.
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    super::search_index::register(conn)?;
    conn.execute_batch(&format!(
        "DELETE FROM request_counts;
         INSERT INTO request_counts (status, category, priority, n)
         SELECT status, coalesce(category, ''), coalesce(priority, ''), count(*)
         FROM requests GROUP BY 1, 2, 3;
         DELETE FROM owner_request_counts;
         INSERT INTO owner_request_counts (user_id, status, category, priority, n)
         SELECT user_id, status, coalesce(category, ''), coalesce(priority, ''), count(*)
         FROM requests GROUP BY 1, 2, 3, 4;
         DELETE FROM request_days;
         INSERT INTO request_days (day, n)
         SELECT substr(created_at, 1, 10), count(*) FROM requests GROUP BY 1;
         {}
         DELETE FROM request_order;
         INSERT INTO request_order (id, out_of_order_until)
         SELECT 1, max(before) FROM (
             SELECT created_at, max(created_at) OVER (
                 ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
             FROM requests
         ) WHERE created_at < before HAVING max(before) IS NOT NULL;",
        refill_indexes()
    ))
}
