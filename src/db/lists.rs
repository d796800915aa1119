//! SQL for lists of requests: one page in a list's order, from an offset or from a cursor,
//! and how many rows match.
//!
//! Every page walks an index in the list's order and stops when it is full, so a page costs
//! the same at a million rows as at a hundred, and a cursor's page 10,000 what page 1 costs.
//! Counts come from the counters ([`super::counts`]), and a text search from the trigram
//! index: neither reads the table.

use super::counts::{self, Counted};
use super::requests::{REQUEST_COLUMNS, request_from_row};
use super::search_index;
use crate::errors::AppError;
use crate::ids::Timestamp;
use crate::model::{Cursor, MaintenanceRequest, RequestFilter, RequestPage, Seek, Total, Window};
use crate::taxonomy::{Priority, Status};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A search of fewer characters than this cannot use the trigram index: it reads the newest
/// [`SHORT_SEARCH_WINDOW`] requests matching the other filters instead.
const TRIGRAMS_FROM: usize = 3;

/// How many requests a short search reads.
pub const SHORT_SEARCH_WINDOW: u64 = 50_000;

/// How many index candidates counting a dense search reads at most.
const DENSE_COUNT_CANDIDATES: u64 = 100_000;

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first.
    Newest,
    /// The dashboard's: open `high` requests waiting, then those in progress, then the rest;
    /// each part newest first.
    ActionFirst,
}

impl Order {
    fn parts(self) -> &'static [Part] {
        match self {
            Order::Newest => &[Part::All],
            Order::ActionFirst => &[Part::UrgentWaiting, Part::UrgentInProgress, Part::Rest],
        }
    }
}

/// A part of a list's order; each is read newest first along an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    All,
    UrgentWaiting,
    UrgentInProgress,
    Rest,
}

impl Part {
    /// The status and priority every row of the part has, for the urgent parts.
    fn urgent(self) -> Option<Status> {
        match self {
            Part::UrgentWaiting => Some(Status::Pending),
            Part::UrgentInProgress => Some(Status::InProgress),
            Part::All | Part::Rest => None,
        }
    }

    /// The part's condition and its parameters.
    fn condition(self, sql: &mut Conditions) {
        let text = |s: &str| Value::Text(s.to_owned());
        let high = text(Priority::High.as_str());
        match (self, self.urgent()) {
            (_, Some(status)) => {
                sql.push("priority = ? AND status = ?", [high, text(status.as_str())])
            }
            // `IS NOT`: a request not classified yet (NULL priority) belongs here too.
            (Part::Rest, _) => sql.push(
                "(priority IS NOT ? OR status NOT IN (?, ?))",
                [
                    high,
                    text(Status::Pending.as_str()),
                    text(Status::InProgress.as_str()),
                ],
            ),
            _ => {}
        }
    }

    /// Whether any request matching `filter` can be in this part.
    fn may_match(self, filter: &RequestFilter) -> bool {
        let urgent = |status: Status| {
            filter.priority.is_none_or(|p| p == Priority::High)
                && filter.status.is_none_or(|s| s == status)
        };
        match self {
            Part::All => true,
            Part::UrgentWaiting => urgent(Status::Pending),
            Part::UrgentInProgress => urgent(Status::InProgress),
            Part::Rest => {
                filter.priority != Some(Priority::High)
                    || !matches!(filter.status, Some(Status::Pending | Status::InProgress))
            }
        }
    }
}

/// A WHERE clause being built, and its parameters in order.
#[derive(Debug, Default, Clone)]
struct Conditions {
    conditions: Vec<String>,
    values: Vec<Value>,
    /// The index a walk of the table must take, when the planner could pick a worse one.
    walk_by: Option<&'static str>,
}

impl Conditions {
    fn push(&mut self, condition: &str, values: impl IntoIterator<Item = Value>) {
        self.conditions.push(condition.to_owned());
        self.values.extend(values);
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The table walked in the list's order, with the index the walk takes.
    fn table(&self) -> String {
        match self.walk_by {
            Some(index) => format!("requests INDEXED BY {index}"),
            None => "requests".to_owned(),
        }
    }

    /// The filter's conditions other than its text.
    fn of(filter: &RequestFilter) -> Conditions {
        let mut sql = Conditions::default();
        if let Some(owner) = filter.owner {
            sql.push("user_id = ?", [Value::Integer(owner.0)]);
            // One owner's rows, however many: with a status and a priority as well, and no
            // statistics, the planner would rather walk everyone's rows of that pair.
            sql.walk_by = Some("requests_owner_created");
        }
        let enums = [
            ("status = ?", filter.status.map(Status::as_str)),
            (
                "category = ?",
                filter.category.map(crate::taxonomy::Category::as_str),
            ),
            ("priority = ?", filter.priority.map(Priority::as_str)),
        ];
        for (condition, value) in enums {
            if let Some(value) = value {
                sql.push(condition, [Value::Text(value.to_owned())]);
            }
        }
        sql
    }
}

/// Most trigrams a search asks the index for: a few spread over the text narrow the
/// candidates as well as all of them, and the LIKE check on each candidate is exact anyway.
const QUERY_TRIGRAMS: usize = 12;

/// The index query for rows holding every trigram of `text` (at least three characters),
/// or a spread of [`QUERY_TRIGRAMS`] of them: `"abc" AND "bcd" AND …`.
fn trigram_query(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let windows = chars.len().saturating_sub(TRIGRAMS_FROM - 1);
    let picked: Vec<usize> = if windows <= QUERY_TRIGRAMS {
        (0..windows).collect()
    } else {
        (0..QUERY_TRIGRAMS)
            .map(|i| i * (windows - 1) / (QUERY_TRIGRAMS - 1))
            .collect()
    };
    picked
        .into_iter()
        .map(|start| {
            let trigram: String = chars[start..start + TRIGRAMS_FROM].iter().collect();
            format!("\"{}\"", trigram.replace('"', "\"\""))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How many rows a search checks: the trigram index's candidates, read up to a limit, and
/// the rows still waiting to be indexed.
#[derive(Debug, Clone, Copy)]
struct IndexCount {
    /// The index's candidates (up to one past the limit it was read to) and the backlog.
    candidates: u64,
    /// Rows not yet indexed ([`super::search_index`]): every search checks each of them.
    backlog: u64,
    /// Whether every candidate holds the text, so the candidates are the matches.
    exact: bool,
}

/// Which index a search reads its candidates from. Both hold the same rows (those not in
/// the backlog) and change in the same transactions (migrations 0013 and 0014).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchIndex {
    /// Trigrams of the text, for three characters and more.
    Trigrams,
    /// Pairs of letters or digits, for two ([`search_index::is_bigram`]).
    Bigrams,
}

impl SearchIndex {
    fn table(self) -> &'static str {
        match self {
            SearchIndex::Trigrams => "requests_fts",
            SearchIndex::Bigrams => "requests_bigrams",
        }
    }
}

/// The ids a text search checks: the index's candidates (its query the first parameter)
/// and every row not yet indexed. No row is in both (migration 0013).
fn candidates_sql(index: SearchIndex) -> String {
    let table = index.table();
    format!(
        "SELECT rowid AS candidate FROM {table} WHERE {table} MATCH ?
         UNION ALL SELECT id FROM search_backlog"
    )
}

/// How many rows `query` finds in `index`, read up to one past `limit`.
fn index_candidates(
    conn: &Connection,
    index: SearchIndex,
    query: &str,
    limit: u64,
) -> Result<u64, AppError> {
    let table = index.table();
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"
        ))?
        .query_row(rusqlite::params![query, (limit + 1) as i64], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// The text a search looks for. A NUL would end the index's query early, and no stored text
/// holds one: it is left out. Tabs and line breaks, which descriptions do hold, stay.
fn searched(text: Option<&str>) -> String {
    text.unwrap_or_default()
        .chars()
        .filter(|&c| c != '\0')
        .collect()
}

/// How deep an offset may go and still cost about what a first page does: the walk of that
/// many index entries takes well under a millisecond.
const QUICK_OFFSET: u32 = 1_000;

/// The longest page read as a quick one: a few dozen rows, as the pages and clients ask.
const QUICK_LIMIT: u32 = 100;

/// The most index entries a quick page may expect to walk past ([`expected_walk`]).
const QUICK_WALK: u64 = 5_000;

/// Whether a page of `filter` from `window` may be read by index seeks and a short walk
/// alone, at about the cost of a first page: no text to search, no deep offset, a page of
/// a few dozen rows (see [`Db::read`]); [`list_if_quick`] then asks the counters.
///
/// [`Db::read`]: super::Db::read
pub fn is_quick(filter: &RequestFilter, window: &Window) -> bool {
    filter.text.is_none()
        && window.limit <= QUICK_LIMIT
        && match window.seek {
            Seek::Offset(skip) => skip <= QUICK_OFFSET,
            Seek::Before(_) | Seek::After(_) => true,
        }
}

/// [`list`], when the page [`is_quick`] and the counters expect its walk to be short;
/// `None` when it should be read where a long read blocks nobody.
pub fn list_if_quick(
    conn: &mut Connection,
    counts: &SearchCounts,
    filter: &RequestFilter,
    order: Order,
    window: Window,
) -> Result<Option<RequestPage>, AppError> {
    if !is_quick(filter, &window) {
        return Ok(None);
    }
    // The counters and the page from one snapshot, and one read lock taken for both.
    super::read_transaction(conn, |tx| {
        if expected_walk(tx, filter, window)? > QUICK_WALK {
            return Ok(None);
        }
        list_in(tx, counts, filter, order, window).map(Some)
    })
}

/// About how many index entries a page of `filter` walks past: the page itself when an
/// index holds exactly the filter's rows in order; otherwise, from the start, the rows of
/// the index it walks (an owner's, or at most every row) for each match, times the page's
/// rows, matches being spread evenly; from a cursor, unknown (`u64::MAX`). None when no row
/// matches (the page then reads nothing).
fn expected_walk(
    conn: &Connection,
    filter: &RequestFilter,
    window: Window,
) -> Result<u64, AppError> {
    let page = u64::from(window.limit)
        + 1
        + match window.seek {
            Seek::Offset(skip) => u64::from(skip),
            Seek::Before(_) | Seek::After(_) => 0,
        };
    let matches = counts::count(conn, counted(filter, Part::All))?;
    if matches == 0 {
        return Ok(0);
    }
    // Indexes on (owner), (status), (category), (priority), (priority, status), each then
    // by time, and the time alone (migration 0011).
    let exact = matches!(
        (
            filter.owner,
            filter.status,
            filter.category,
            filter.priority
        ),
        (None, _, None, None)
            | (None, None, Some(_), None)
            | (None, _, None, Some(_))
            | (Some(_), None, None, None)
    );
    if exact {
        return Ok(page);
    }
    // From a cursor the rows may have no match for a long way (requests of one season): the
    // even spread below assumes too much.
    if !matches!(window.seek, Seek::Offset(_)) {
        return Ok(u64::MAX);
    }
    let walked = counts::count(
        conn,
        Counted {
            owner: filter.owner,
            status: None,
            category: None,
            priority: None,
        },
    )?;
    Ok(walked.saturating_mul(page) / matches)
}

/// Whether a search for `text` can use neither index (one character, or two that are not
/// both letters or digits), and reads the newest [`SHORT_SEARCH_WINDOW`] rows instead.
pub fn is_short_search(text: Option<&str>) -> bool {
    let text = searched(text);
    let length = text.chars().count();
    length > 0 && length < TRIGRAMS_FROM && !search_index::is_bigram(&text)
}

/// Counts of recent searches, each with the version of the indexes' content it was read
/// from ([`search_index::version`]): what depends only on the rows the indexes hold and their
/// texts is counted once until a row is indexed, edited or deleted; merging the indexes'
/// segments leaves it counted. One for each database.
#[derive(Debug, Default)]
pub struct SearchCounts {
    known: Mutex<HashMap<String, (u64, u64)>>,
    /// A lock for each count being made: the searches that want the same count meanwhile
    /// wait for it rather than each making it again. A new search's first seconds are
    /// dozens of the same search at once, and counting up to 10,000 matches takes tens of
    /// milliseconds; dozens of them side by side held every search up for a second.
    counting: Counting,
}

/// How many searches [`SearchCounts`] remembers before it starts again.
const REMEMBERED_SEARCHES: usize = 1_024;

impl SearchCounts {
    /// [`index_candidates`], from memory when the index has not changed since.
    fn candidates(
        &self,
        conn: &Connection,
        index: SearchIndex,
        query: &str,
        limit: u64,
    ) -> Result<u64, AppError> {
        self.remember(
            conn,
            format!("candidates {index:?} {limit} {query}"),
            || index_candidates(conn, index, query, limit),
        )
    }

    /// What `count` counts, remembered under `key`, which names all it depends on besides the
    /// search index and the indexed texts.
    fn remember(
        &self,
        conn: &Connection,
        key: String,
        count: impl FnOnce() -> Result<u64, AppError>,
    ) -> Result<u64, AppError> {
        let Some(version) = search_index::version(conn)? else {
            return count();
        };
        let lock = || self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let remembered = || match lock().get(&key) {
            Some((seen, n)) if *seen == version => Some(*n),
            _ => None,
        };
        if let Some(n) = remembered() {
            return Ok(n);
        }
        // One count for each key and version of the content: searches that read another
        // version (an older snapshot, or one after the next batch) need their own.
        let turn = Turn::take(&self.counting, (key.clone(), version));
        let _counting = turn.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = remembered() {
            return Ok(n);
        }
        let counted = count();
        if let Ok(n) = counted {
            let mut known = lock();
            if known.len() >= REMEMBERED_SEARCHES {
                known.clear();
            }
            // A slower search may have read an older snapshot: the newest count stays.
            let newer = known.get(&key).is_some_and(|(seen, _)| *seen > version);
            if !newer {
                known.insert(key, (version, n));
            }
        }
        counted
    }
}

/// Searches waiting for the same count, by the count's key and the content version it is
/// of: the lock they take in turn, and how many hold a [`Turn`] in its line.
type Counting = Mutex<HashMap<(String, u64), (Arc<Mutex<()>>, usize)>>;

/// A place in the line for one count ([`SearchCounts::remember`]). Whoever leaves it last
/// (counted, found it counted, failed or panicked) takes the line away, so nothing is left
/// behind; a line made after that is a new one, and never taken away by a leaver of the old.
struct Turn<'a> {
    counting: &'a Counting,
    key: (String, u64),
    lock: Arc<Mutex<()>>,
}

impl<'a> Turn<'a> {
    fn take(counting: &'a Counting, key: (String, u64)) -> Turn<'a> {
        let mut lines = counting.lock().unwrap_or_else(PoisonError::into_inner);
        let (lock, holders) = lines.entry(key.clone()).or_default();
        *holders += 1;
        let lock = lock.clone();
        drop(lines);
        Turn {
            counting,
            key,
            lock,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut lines = self.counting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((lock, holders)) = lines.get_mut(&self.key)
            && Arc::ptr_eq(lock, &self.lock)
        {
            *holders -= 1;
            if *holders == 0 {
                lines.remove(&self.key);
            }
        }
    }
}

/// Whether the index's rows for `text` are exactly the rows whose text contains it: a
/// search of one trigram whose characters have no case (Hangul, digits, punctuation), so
/// the index's folding and LIKE's agree. Letters are left to LIKE: the index folds some
/// other characters into ASCII ones (the Kelvin sign to `k`, the long s to `s`), which LIKE
/// does not. A longer text's trigrams may sit apart in a row.
fn index_is_exact(text: &str) -> bool {
    text.chars().count() == TRIGRAMS_FROM
        && text
            .chars()
            .all(|c| c.to_lowercase().eq([c]) && c.to_uppercase().eq([c]))
}

/// Whether the filter asks for nothing but its text.
fn only_text(filter: &RequestFilter) -> bool {
    filter.owner.is_none()
        && filter.status.is_none()
        && filter.category.is_none()
        && filter.priority.is_none()
}

/// How far [`newest_by_id`] reads before it leaves the page to the other plans.
const ID_WALK_BUDGET: usize = 2_000;

/// The newest `want` rows holding the text, for a search with nothing else to filter on:
/// the rows not yet indexed, then the index's candidates newest id first, each looked up and
/// checked, stopping as soon as no row further down can be newer than the page's oldest (see
/// migration 0012). `None` when the rows are too far from id order for that to stop within
/// [`ID_WALK_BUDGET`] rows.
fn newest_by_id(
    conn: &Connection,
    index: SearchIndex,
    query: &str,
    pattern: &str,
    want: usize,
) -> Result<Option<Vec<MaintenanceRequest>>, AppError> {
    let out_of_order_until: Option<Timestamp> = conn
        .prepare_cached("SELECT out_of_order_until FROM request_order")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let table = index.table();
    let mut candidates = conn.prepare_cached(&format!(
        "SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid DESC"
    ))?;
    let mut look_up = conn.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS}, (description LIKE ?2 ESCAPE '\\' OR location LIKE ?2 ESCAPE '\\')
         FROM requests WHERE id = ?1"
    ))?;
    let matched_column = REQUEST_COLUMNS.split(',').count();
    let key = |r: &MaintenanceRequest| (r.created_at, r.id.0);
    let mut page: Vec<MaintenanceRequest> = Vec::with_capacity(want + 1);
    let keep = |page: &mut Vec<MaintenanceRequest>, row: MaintenanceRequest| {
        let at = page.partition_point(|r| key(r) > key(&row));
        page.insert(at, row);
        page.truncate(want);
    };
    let waiting = conn
        .prepare_cached(&waiting_rows_sql())?
        .query_map([pattern], request_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for row in waiting {
        keep(&mut page, row);
    }
    let mut ids = candidates.query([query])?;
    let mut read = 0;
    while let Some(id) = ids.next()? {
        read += 1;
        if read > ID_WALK_BUDGET {
            return Ok(None);
        }
        let id: i64 = id.get(0)?;
        let Some((row, matched)) = look_up
            .query_row(rusqlite::params![id, pattern], |r| {
                // NULL when the location is NULL and the description does not match.
                let matched: Option<bool> = r.get(matched_column)?;
                Ok((request_from_row(r)?, matched.unwrap_or(false)))
            })
            .optional()?
        else {
            continue;
        };
        // Rows further down are at most as new as this one, or as the out-of-order time.
        let ahead = out_of_order_until.map_or(row.created_at, |t| t.max(row.created_at));
        if matched {
            keep(&mut page, row);
        }
        if page.len() == want && page.last().is_some_and(|oldest| ahead <= oldest.created_at) {
            return Ok(Some(page));
        }
    }
    // Every candidate read.
    Ok(Some(page))
}

/// The rows not yet in the search index that hold the text (`?1`, a `LIKE` pattern), each
/// looked up by its id from the backlog.
fn waiting_rows_sql() -> String {
    format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id IN (SELECT id FROM search_backlog)
         AND (description LIKE ?1 ESCAPE '\\' OR location LIKE ?1 ESCAPE '\\')"
    )
}

/// How a text search finds its rows. Whichever way, a row matches exactly when its
/// description or location contains the text (`LIKE`, case-insensitive for ASCII): the index
/// only narrows down where to look.
#[derive(Debug, Clone)]
enum TextPlan {
    None,
    /// Few enough candidates in the index to look each up by id.
    Indexed {
        index: SearchIndex,
        query: String,
        pattern: String,
        found: IndexCount,
    },
    /// Candidates everywhere: walking the list's order meets matches at once.
    Dense {
        index: SearchIndex,
        query: String,
        pattern: String,
        found: IndexCount,
    },
    /// Too short for either index ([`is_short_search`]): the newest
    /// [`SHORT_SEARCH_WINDOW`] rows are read.
    Short {
        pattern: String,
    },
}

impl TextPlan {
    fn choose(
        conn: &Connection,
        counts: &SearchCounts,
        text: Option<&str>,
    ) -> Result<TextPlan, AppError> {
        let text = searched(text);
        if text.is_empty() {
            return Ok(TextPlan::None);
        }
        let pattern = super::like_pattern(&text);
        let (index, query, exact) = if text.chars().count() >= TRIGRAMS_FROM {
            (
                SearchIndex::Trigrams,
                trigram_query(&text),
                index_is_exact(&text),
            )
        } else if search_index::is_bigram(&text) {
            // The pair's folding is LIKE's (ASCII letters only): its rows are the matches.
            (
                SearchIndex::Bigrams,
                search_index::bigram_query(&text),
                true,
            )
        } else {
            return Ok(TextPlan::Short { pattern });
        };
        let backlog = search_index::backlog(conn)?;
        let candidates = counts.candidates(conn, index, &query, Total::SEARCH_CAP)? + backlog;
        let found = IndexCount {
            candidates,
            backlog,
            exact: exact && backlog == 0,
        };
        Ok(if candidates <= Total::SEARCH_CAP {
            TextPlan::Indexed {
                index,
                query,
                pattern,
                found,
            }
        } else {
            TextPlan::Dense {
                index,
                query,
                pattern,
                found,
            }
        })
    }

    /// The index, its query and the text's LIKE pattern, when an index is used.
    fn indexed(&self) -> Option<(SearchIndex, &str, &str, IndexCount)> {
        match self {
            TextPlan::Indexed {
                index,
                query,
                pattern,
                found,
            }
            | TextPlan::Dense {
                index,
                query,
                pattern,
                found,
            } => Some((*index, query, pattern, *found)),
            TextPlan::None | TextPlan::Short { .. } => None,
        }
    }

    fn like(sql: &mut Conditions, pattern: &str) {
        sql.push(
            "(description LIKE ? ESCAPE '\\' OR location LIKE ? ESCAPE '\\')",
            [
                Value::Text(pattern.to_owned()),
                Value::Text(pattern.to_owned()),
            ],
        );
    }

    /// The SELECT of `columns` from the rows matching `sql` and the text, in `direction`.
    /// `sql`'s parameters come first, then the text's.
    fn select(&self, columns: &str, sql: &Conditions, direction: &str) -> (String, Vec<Value>) {
        let order = format!("ORDER BY created_at {direction}, id {direction}");
        let mut sql = sql.clone();
        match self {
            TextPlan::None => {}
            TextPlan::Indexed {
                index,
                query,
                pattern,
                ..
            } => {
                // CROSS JOIN keeps the candidates the outer loop: each is looked up by id,
                // and at most SEARCH_CAP of them are sorted, instead of walking an index
                // across the table in the hope of meeting them.
                TextPlan::like(&mut sql, pattern);
                let mut values = vec![Value::Text(query.clone())];
                values.extend(sql.values.iter().cloned());
                return (
                    format!(
                        "SELECT {columns} FROM ({})
                         CROSS JOIN requests ON requests.id = candidate{} {order}",
                        candidates_sql(*index),
                        sql.clause()
                    ),
                    values,
                );
            }
            TextPlan::Dense { pattern, .. } => TextPlan::like(&mut sql, pattern),
            TextPlan::Short { pattern } => {
                let inner = format!(
                    "SELECT * FROM {}{} {order} LIMIT {SHORT_SEARCH_WINDOW}",
                    sql.table(),
                    sql.clause()
                );
                let mut outer = Conditions {
                    conditions: Vec::new(),
                    values: sql.values,
                    walk_by: None,
                };
                TextPlan::like(&mut outer, pattern);
                return (
                    format!("SELECT {columns} FROM ({inner}){} {order}", outer.clause()),
                    outer.values,
                );
            }
        }
        (
            format!(
                "SELECT {columns} FROM {}{} {order}",
                sql.table(),
                sql.clause()
            ),
            sql.values,
        )
    }
}

/// One page of the requests matching `filter` in `order`, from `window`, with how many match
/// in all and the cursors on either side; read in one transaction, so they agree.
pub fn list(
    conn: &mut Connection,
    counts: &SearchCounts,
    filter: &RequestFilter,
    order: Order,
    window: Window,
) -> Result<RequestPage, AppError> {
    super::read_transaction(conn, |tx| list_in(tx, counts, filter, order, window))
}

/// [`list`], inside a transaction the caller holds.
fn list_in(
    tx: &Connection,
    counts: &SearchCounts,
    filter: &RequestFilter,
    order: Order,
    window: Window,
) -> Result<RequestPage, AppError> {
    let parts = order.parts();
    let cursor_part = |cursor: &Cursor, field: &'static str| {
        let part = usize::from(cursor.part);
        if part < parts.len() {
            Ok(part)
        } else {
            Err(AppError::invalid(
                field,
                format!("{field} must be a cursor from this list's Link header"),
            ))
        }
    };
    let plan = TextPlan::choose(tx, counts, filter.text.as_deref())?;
    let total = total(tx, counts, filter, &plan)?;
    // One row past the page tells whether another page follows.
    let want = window.limit as usize + 1;
    let mut rows: Vec<(u8, MaintenanceRequest)> = Vec::new();
    let first_page_by_id = match (plan.indexed(), window.seek) {
        (Some((index, query, pattern, _)), Seek::Offset(0))
            if parts == [Part::All] && only_text(filter) =>
        {
            newest_by_id(tx, index, query, pattern, want)?
        }
        _ => None,
    };
    // The counters say no row matches: nothing to walk an index for (with some filters, a
    // walk past every row of a status and priority).
    let none_match = matches!(plan, TextPlan::None) && total.count == 0;
    match window.seek {
        _ if none_match => {}
        _ if first_page_by_id.is_some() => {
            rows.extend(first_page_by_id.into_iter().flatten().map(|r| (0, r)));
        }
        Seek::Offset(offset) => {
            let mut skip = u64::from(offset);
            for (index, part) in parts.iter().enumerate() {
                if rows.len() >= want {
                    break;
                }
                if !part.may_match(filter) {
                    continue;
                }
                if skip > 0 && index + 1 < parts.len() {
                    let in_part = count_part(tx, filter, *part, &plan)?;
                    if in_part <= skip {
                        skip -= in_part;
                        continue;
                    }
                }
                let found = fetch(
                    tx,
                    filter,
                    *part,
                    &plan,
                    None,
                    false,
                    want - rows.len(),
                    skip,
                )?;
                skip = 0;
                rows.extend(found.into_iter().map(|r| (index as u8, r)));
            }
        }
        Seek::Before(cursor) => {
            let first = cursor_part(&cursor, "before")?;
            for (index, part) in parts.iter().enumerate().skip(first) {
                if rows.len() >= want {
                    break;
                }
                if !part.may_match(filter) {
                    continue;
                }
                let from = (index == first).then_some(Seek::Before(cursor));
                let found = fetch(tx, filter, *part, &plan, from, false, want - rows.len(), 0)?;
                rows.extend(found.into_iter().map(|r| (index as u8, r)));
            }
        }
        Seek::After(cursor) => {
            let last = cursor_part(&cursor, "after")?;
            for (index, part) in parts.iter().enumerate().take(last + 1).rev() {
                if rows.len() >= want {
                    break;
                }
                if !part.may_match(filter) {
                    continue;
                }
                // Oldest first: the rows nearest the cursor, then the parts above it.
                let from = (index == last).then_some(Seek::After(cursor));
                let found = fetch(tx, filter, *part, &plan, from, true, want - rows.len(), 0)?;
                rows.extend(found.into_iter().map(|r| (index as u8, r)));
            }
        }
    }
    let more = rows.len() > window.limit as usize;
    rows.truncate(window.limit as usize);
    let at = |row: Option<&(u8, MaintenanceRequest)>| row.map(|(part, r)| Cursor::at(*part, r));
    let (next, prev) = match window.seek {
        Seek::Offset(offset) => (
            more.then(|| at(rows.last())).flatten(),
            (offset > 0).then(|| at(rows.first())).flatten(),
        ),
        // Past the end, the way back is the cursor itself.
        Seek::Before(cursor) => (
            more.then(|| at(rows.last())).flatten(),
            at(rows.first()).or(Some(cursor)),
        ),
        Seek::After(cursor) => {
            // Read newer first, from the cursor upwards: turn the page round.
            rows.reverse();
            (
                at(rows.last()).or(Some(cursor)),
                more.then(|| at(rows.first())).flatten(),
            )
        }
    };
    Ok(RequestPage {
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        total,
        next,
        prev,
    })
}

/// Up to `limit` rows of `part` matching `filter`, past `skip` rows, past the cursor in
/// `from` when set; newest first, or `ascending`, oldest first.
#[allow(clippy::too_many_arguments)]
fn fetch(
    conn: &Connection,
    filter: &RequestFilter,
    part: Part,
    plan: &TextPlan,
    from: Option<Seek>,
    ascending: bool,
    limit: usize,
    skip: u64,
) -> Result<Vec<MaintenanceRequest>, AppError> {
    let (select, mut values) = page_sql(filter, part, plan, from, ascending);
    values.push(Value::Integer(limit as i64));
    values.push(Value::Integer(skip.min(i64::MAX as u64) as i64));
    let rows = conn
        .prepare_cached(&select)?
        .query_map(params_from_iter(values.iter()), request_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The query behind [`fetch`], its last two parameters (LIMIT, OFFSET) left to the caller.
fn page_sql(
    filter: &RequestFilter,
    part: Part,
    plan: &TextPlan,
    from: Option<Seek>,
    ascending: bool,
) -> (String, Vec<Value>) {
    let mut sql = Conditions::of(filter);
    part.condition(&mut sql);
    let direction = if ascending { "ASC" } else { "DESC" };
    let position = |c: Cursor| {
        [
            Value::Text(c.created_at.to_rfc3339()),
            Value::Integer(c.id.0),
        ]
    };
    match from {
        Some(Seek::Before(cursor)) => sql.push("(created_at, id) < (?, ?)", position(cursor)),
        Some(Seek::After(cursor)) => sql.push("(created_at, id) > (?, ?)", position(cursor)),
        Some(Seek::Offset(_)) | None => {}
    }
    let (select, values) = plan.select(REQUEST_COLUMNS, &sql, direction);
    (format!("{select} LIMIT ? OFFSET ?"), values)
}

/// The counters' view of `filter` (its text aside), narrowed to an urgent part's values.
fn counted(filter: &RequestFilter, part: Part) -> Counted {
    let mut of = Counted {
        owner: filter.owner,
        status: filter.status,
        category: filter.category,
        priority: filter.priority,
    };
    if let Some(status) = part.urgent() {
        of.status = Some(status);
        of.priority = Some(Priority::High);
    }
    of
}

/// How many rows of `part` match `filter`, exactly: to skip whole parts of an offset.
fn count_part(
    conn: &Connection,
    filter: &RequestFilter,
    part: Part,
    plan: &TextPlan,
) -> Result<u64, AppError> {
    if let TextPlan::None = plan
        && part.urgent().is_some()
    {
        return counts::count(conn, counted(filter, part));
    }
    let mut sql = Conditions::of(filter);
    part.condition(&mut sql);
    let (select, values) = plan.select("1", &sql, "DESC");
    count_rows(conn, &format!("SELECT count(*) FROM ({select})"), &values)
}

/// How many requests match `filter`: from the counters without text; with text, up to
/// [`Total::SEARCH_CAP`], read from the trigram index's candidates.
fn total(
    conn: &Connection,
    counts: &SearchCounts,
    filter: &RequestFilter,
    plan: &TextPlan,
) -> Result<Total, AppError> {
    let capped = |n: u64, complete: bool| {
        if n > Total::SEARCH_CAP {
            Total {
                count: Total::SEARCH_CAP,
                exact: false,
            }
        } else {
            Total {
                count: n,
                exact: complete,
            }
        }
    };
    if let Some((_, _, _, found)) = plan.indexed()
        && found.exact
        && only_text(filter)
    {
        // Each candidate holds the text: the index's count is the answer.
        return Ok(capped(found.candidates, true));
    }
    // What depends only on the text is counted in two parts: the index's matches,
    // remembered until the index changes, and the matches among the rows waiting for it,
    // counted anew each time (no row is in both). With other filters, counted as one.
    let backlog = plan.indexed().map_or(0, |(_, _, _, found)| found.backlog);
    let sql = Conditions::of(filter);
    let count_matches = |key: String,
                         pattern: &str,
                         sql_of: &dyn Fn(bool) -> (String, Vec<Value>)| {
        if !only_text(filter) {
            let (query, values) = sql_of(true);
            return count_rows(conn, &query, &values);
        }
        let (query, values) = sql_of(false);
        let indexed = counts.remember(conn, key, || count_rows(conn, &query, &values))?;
        let waiting = if backlog > 0 {
            let mut checked = Conditions::default();
            TextPlan::like(&mut checked, pattern);
            count_rows(
                conn,
                &format!(
                    "SELECT count(*) FROM search_backlog CROSS JOIN requests ON requests.id = search_backlog.id{}",
                    checked.clause()
                ),
                &checked.values,
            )?
        } else {
            0
        };
        Ok(indexed + waiting)
    };
    match plan {
        TextPlan::None => Ok(Total::exact(counts::count(
            conn,
            counted(filter, Part::All),
        )?)),
        TextPlan::Indexed {
            index,
            query,
            pattern,
            ..
        } => {
            // At most SEARCH_CAP candidates: counting them all is cheap.
            let n = count_matches(format!("indexed {pattern}"), pattern, &|with_backlog| {
                if with_backlog {
                    let (select, values) = plan.select("1", &sql, "DESC");
                    (format!("SELECT count(*) FROM ({select})"), values)
                } else {
                    let mut checked = sql.clone();
                    TextPlan::like(&mut checked, pattern);
                    let mut values = vec![Value::Text(query.clone())];
                    values.extend(checked.values.iter().cloned());
                    let table = index.table();
                    (
                        format!(
                            "SELECT count(*) FROM (SELECT rowid AS candidate FROM {table} WHERE {table} MATCH ?)
                             CROSS JOIN requests ON requests.id = candidate{}",
                            checked.clause()
                        ),
                        values,
                    )
                }
            })?;
            Ok(capped(n, true))
        }
        TextPlan::Dense {
            index,
            query,
            pattern,
            ..
        } => {
            // The index's candidates, newest id first, and the backlog's rows, each checked;
            // stop once past the cap.
            let mut checked = sql.clone();
            TextPlan::like(&mut checked, pattern);
            let mut values = vec![
                Value::Text(query.clone()),
                Value::Integer(DENSE_COUNT_CANDIDATES as i64),
            ];
            values.extend(checked.values.iter().cloned());
            values.push(Value::Integer((Total::SEARCH_CAP + 1) as i64));
            let n = count_matches(format!("dense {pattern}"), pattern, &|with_backlog| {
                (
                    dense_count_sql(*index, &checked, with_backlog),
                    values.clone(),
                )
            })?;
            if n > Total::SEARCH_CAP {
                return Ok(capped(n, false));
            }
            // Under the cap: exact only if no candidate was left unread.
            let candidates = counts.candidates(conn, *index, query, DENSE_COUNT_CANDIDATES)?;
            Ok(capped(n, candidates <= DENSE_COUNT_CANDIDATES))
        }
        TextPlan::Short { .. } => {
            let (select, mut values) = plan.select("1", &sql, "DESC");
            values.push(Value::Integer((Total::SEARCH_CAP + 1) as i64));
            let n = count_rows(
                conn,
                &format!("SELECT count(*) FROM ({select} LIMIT ?)"),
                &values,
            )?;
            // Exact when the window held every row the other filters allow.
            let rows = counts::count(conn, counted(filter, Part::All))?;
            Ok(capped(n, rows <= SHORT_SEARCH_WINDOW))
        }
    }
}

/// Counts a dense search's matches among the index's newest candidates, and `with_backlog`
/// the rows not yet indexed. Its parameters: the index's query, how many candidates,
/// `checked`'s, the cap. CROSS JOIN keeps the candidates the outer loop: left to itself, the
/// planner walks the whole table to meet the backlog's rows.
fn dense_count_sql(index: SearchIndex, checked: &Conditions, with_backlog: bool) -> String {
    let table = index.table();
    let backlog = if with_backlog {
        " UNION ALL SELECT id FROM search_backlog"
    } else {
        ""
    };
    format!(
        "SELECT count(*) FROM (SELECT 1 FROM
             (SELECT id FROM (SELECT rowid AS id FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT ?){backlog}) AS candidates
             CROSS JOIN requests ON requests.id = candidates.id{} LIMIT ?)",
        checked.clause()
    )
}

/// The one number `sql` (a `SELECT count(*)`) answers.
fn count_rows(conn: &Connection, sql: &str, values: &[Value]) -> Result<u64, AppError> {
    let n: i64 = conn
        .prepare_cached(sql)?
        .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// How many `high` requests wait for someone to start on them.
pub fn count_urgent_waiting(conn: &Connection) -> Result<u64, AppError> {
    counts::count(
        conn,
        counted(&RequestFilter::default(), Part::UrgentWaiting),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;
    use crate::ids::{RequestId, Timestamp, UserId};
    use crate::taxonomy::Category;
    use rusqlite::params;

    fn plan_of(conn: &Connection, sql: &str, values: &[Value]) -> String {
        // As the server's connections plan: the same plan whatever is bound.
        crate::db::plan_once(conn).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    fn filters() -> Vec<RequestFilter> {
        let mut filters = vec![
            RequestFilter::default(),
            RequestFilter {
                owner: Some(UserId(1)),
                ..Default::default()
            },
            RequestFilter {
                owner: Some(UserId(1)),
                status: Some(Status::Pending),
                category: Some(Category::Plumbing),
                priority: Some(Priority::High),
                text: None,
            },
            RequestFilter {
                owner: Some(UserId(1)),
                status: Some(Status::Completed),
                priority: Some(Priority::Medium),
                ..Default::default()
            },
        ];
        for status in Status::ALL {
            filters.push(RequestFilter {
                status: Some(*status),
                ..Default::default()
            });
            for priority in Priority::ALL {
                filters.push(RequestFilter {
                    status: Some(*status),
                    priority: Some(*priority),
                    ..Default::default()
                });
            }
        }
        for priority in Priority::ALL {
            filters.push(RequestFilter {
                priority: Some(*priority),
                ..Default::default()
            });
        }
        for category in Category::ALL {
            filters.push(RequestFilter {
                category: Some(*category),
                ..Default::default()
            });
        }
        filters
    }

    #[test]
    fn a_search_asks_for_a_spread_of_its_trigrams() {
        assert_eq!(trigram_query("전등이"), "\"전등이\"");
        assert_eq!(
            trigram_query("a\"bcd"),
            "\"a\"\"b\" AND \"\"\"bc\" AND \"bcd\""
        );
        let long = "가나다라마바사아자차카타파하".repeat(3);
        let query = trigram_query(&long);
        assert_eq!(
            query.matches(" AND ").count(),
            QUERY_TRIGRAMS - 1,
            "{query}"
        );
        assert!(
            query.starts_with("\"가나다\"") && query.ends_with("\"타파하\""),
            "{query}"
        );
    }

    fn cursor() -> Cursor {
        Cursor {
            part: 0,
            created_at: Timestamp::now(),
            id: RequestId(7),
        }
    }

    /// With a million rows a page must walk an index in order, never sort the table: from
    /// the start, from a cursor either way, in every part of every order, under every filter.
    #[test]
    fn every_page_walks_an_index_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let seeks = [
            None,
            Some(Seek::Before(cursor())),
            Some(Seek::After(cursor())),
        ];
        let dense = |index, query: String| TextPlan::Dense {
            index,
            query,
            pattern: "%전등이%".into(),
            found: IndexCount {
                candidates: 0,
                backlog: 0,
                exact: false,
            },
        };
        let plans = [
            TextPlan::None,
            dense(SearchIndex::Trigrams, trigram_query("전등이")),
            dense(SearchIndex::Bigrams, search_index::bigram_query("전등")),
        ];
        for filter in filters() {
            for order in [Order::Newest, Order::ActionFirst] {
                for part in order.parts().iter().filter(|p| p.may_match(&filter)) {
                    for from in seeks {
                        for plan in &plans {
                            let ascending = matches!(from, Some(Seek::After(_)));
                            let (sql, mut values) = page_sql(&filter, *part, plan, from, ascending);
                            values.extend([Value::Integer(20), Value::Integer(0)]);
                            let plan = plan_of(&conn, &sql, &values);
                            let case = format!("{filter:?} {part:?} {from:?}: {plan}");
                            assert!(plan.contains("USING INDEX"), "{case}");
                            assert!(!plan.contains("TEMP B-TREE"), "{case}");
                            if filter.owner.is_some() {
                                // One owner's rows, never everyone's of a status or priority.
                                assert!(
                                    plan.contains("USING INDEX requests_owner_created"),
                                    "{case}"
                                );
                            }
                            if from.is_some() && filter == RequestFilter::default() {
                                // The cursor is a range on the index, not a filter on each row.
                                assert!(plan.starts_with("SEARCH"), "{case}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// A search with few candidates looks each one up by id instead of walking the list: the
    /// index's candidates and the rows not yet indexed.
    #[test]
    fn an_indexed_search_reads_its_candidates_not_the_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for (index, query) in [
            (SearchIndex::Trigrams, trigram_query("전등이")),
            (SearchIndex::Bigrams, search_index::bigram_query("전등")),
        ] {
            searches_by_id(&conn, index, &query);
        }
    }

    fn searches_by_id(conn: &Connection, index: SearchIndex, query: &str) {
        let indexed = TextPlan::Indexed {
            index,
            query: query.to_owned(),
            pattern: "%전등이%".into(),
            found: IndexCount {
                candidates: 0,
                backlog: 0,
                exact: false,
            },
        };
        for filter in filters() {
            let (sql, mut values) = page_sql(
                &filter,
                Part::All,
                &indexed,
                Some(Seek::Before(cursor())),
                false,
            );
            values.extend([Value::Integer(20), Value::Integer(0)]);
            let plan = plan_of(conn, &sql, &values);
            // The candidates first, then each request by its id; the table is never walked.
            let steps: Vec<&str> = plan.split(" | ").collect();
            for candidates in [
                format!("SCAN {} VIRTUAL TABLE INDEX", index.table()),
                "SCAN search_backlog".to_owned(),
            ] {
                let at = steps
                    .iter()
                    .position(|s| s.starts_with(candidates.as_str()));
                let then = at.and_then(|at| steps.get(at + 1));
                assert!(
                    then.is_some_and(|s| s.starts_with("SEARCH requests USING INTEGER PRIMARY KEY")),
                    "{filter:?}: {plan}"
                );
            }
            assert!(never_walks_the_table(&plan), "{filter:?}: {plan}");
            // And counting a dense search's matches.
            let mut checked = Conditions::of(&filter);
            TextPlan::like(&mut checked, "%전등이%");
            let mut values = vec![Value::Text(query.to_owned()), Value::Integer(100)];
            values.extend(checked.values.iter().cloned());
            values.push(Value::Integer(10));
            let plan = plan_of(conn, &dense_count_sql(index, &checked, true), &values);
            assert!(plan.contains("SCAN search_backlog"), "{filter:?}: {plan}");
            assert!(never_walks_the_table(&plan), "{filter:?}: {plan}");
            let plan = plan_of(conn, &dense_count_sql(index, &checked, false), &values);
            assert!(never_walks_the_table(&plan), "{filter:?}: {plan}");
        }
    }

    /// A page is read on the caller's thread only when its walk is short: not a long page
    /// nor a deep offset, nor filters no index holds exactly with few matches among many
    /// rows; a filter nothing matches reads nothing.
    #[test]
    fn only_short_walks_are_quick() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        conn.execute(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 300)
             INSERT INTO requests (user_id, description, status, category, priority, created_at, updated_at)
             SELECT 1, '문의 ' || i, 'pending', CASE i WHEN 7 THEN 'hvac' ELSE 'plumbing' END,
                    'medium', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM k",
            [],
        )
        .unwrap();
        let filter = |category: Option<Category>, priority: Option<Priority>| RequestFilter {
            category,
            priority,
            ..Default::default()
        };
        let read = |conn: &mut Connection, filter: &RequestFilter, window: Window| {
            list_if_quick(
                conn,
                &SearchCounts::default(),
                filter,
                Order::Newest,
                window,
            )
            .unwrap()
        };
        let everything = filter(None, None);
        assert!(read(&mut conn, &everything, Window::first(50)).is_some());
        assert!(read(&mut conn, &everything, Window::first(QUICK_LIMIT + 1)).is_none());
        let deep = Window {
            limit: 50,
            seek: Seek::Offset(QUICK_OFFSET + 1),
        };
        assert!(read(&mut conn, &everything, deep).is_none());
        let medium = Some(Priority::Medium);
        // Most rows match: the walk meets a page at once.
        let many = filter(Some(Category::Plumbing), medium);
        assert_eq!(
            read(&mut conn, &many, Window::first(50))
                .unwrap()
                .rows
                .len(),
            50
        );
        // One match in 300 rows: the walk may pass them all for it.
        let one = filter(Some(Category::Hvac), medium);
        assert!(read(&mut conn, &one, Window::first(50)).is_none());
        assert_eq!(
            fresh_list(&mut conn, &one, Order::Newest, Window::first(50))
                .unwrap()
                .rows
                .len(),
            1
        );
        // From a cursor, a filter no index holds exactly may walk far for its page.
        let page = read(&mut conn, &many, Window::first(10)).unwrap();
        let from = Window {
            limit: 10,
            seek: Seek::Before(page.next.unwrap()),
        };
        assert!(read(&mut conn, &many, from).is_none());
        assert!(read(&mut conn, &everything, from).is_some());
        let none = filter(Some(Category::Electrical), medium);
        let page = read(&mut conn, &none, Window::first(50)).unwrap();
        assert!(page.rows.is_empty());
        assert_eq!(page.total, Total::exact(0));
    }

    /// Stores a pending request of the first user with `text`, made now.
    fn add_text(conn: &Connection, text: &str) {
        conn.execute(
            "INSERT INTO requests (user_id, description, status, created_at, updated_at)
             VALUES (1, ?1, 'pending', ?2, ?2)",
            params![text, Timestamp::now()],
        )
        .unwrap();
    }

    /// A text under three characters changes the index of pairs alone: what a search
    /// remembered of it follows every change.
    #[test]
    fn remembered_counts_follow_texts_of_two_characters() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        add_text(&conn, "보일러 고장");
        index_backlog(&mut conn);
        let counts = SearchCounts::default();
        let filter = RequestFilter {
            text: Some("zq".into()),
            ..Default::default()
        };
        let total = |conn: &mut Connection| {
            list(conn, &counts, &filter, Order::Newest, Window::first(5))
                .unwrap()
                .total
        };
        assert_eq!(total(&mut conn), Total::exact(0));
        add_text(&conn, "zq");
        assert_eq!(total(&mut conn), Total::exact(1));
        index_backlog(&mut conn);
        assert_eq!(total(&mut conn), Total::exact(1), "indexed");
        conn.execute("DELETE FROM requests WHERE description = 'zq'", [])
            .unwrap();
        assert_eq!(total(&mut conn), Total::exact(0), "deleted");
    }

    /// A search's rows still waiting for the index are read from the backlog, each by id.
    #[test]
    fn rows_waiting_for_the_index_are_read_by_id() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let plan = plan_of(
            &conn,
            &waiting_rows_sql(),
            &[Value::Text("%보일러%".into())],
        );
        assert!(never_walks_the_table(&plan), "{plan}");
        assert!(plan.contains("search_backlog"), "{plan}");
    }

    /// Whether a query plan reads requests only by id, never along the table or an index.
    fn never_walks_the_table(plan: &str) -> bool {
        plan.split(" | ")
            .all(|step| step != "SCAN requests" && !step.starts_with("SCAN requests "))
    }

    /// Moves every row waiting for the search index into it; returns how many.
    fn index_backlog(conn: &mut Connection) -> u64 {
        let mut moved = 0;
        while let n @ 1.. = crate::db::search_index::index_some(conn).unwrap() {
            moved += n;
        }
        moved
    }

    /// [`list`] with nothing remembered from earlier searches.
    fn fresh_list(
        conn: &mut Connection,
        filter: &RequestFilter,
        order: Order,
        window: Window,
    ) -> Result<RequestPage, AppError> {
        list(conn, &SearchCounts::default(), filter, order, window)
    }

    fn user(conn: &Connection) {
        conn.execute(
            "INSERT INTO users (email, hashed_password, created_at, updated_at) VALUES ('r@example.com', 'x', '2024-01-01', '2024-01-01')",
            [],
        )
        .unwrap();
    }

    /// Paging through a list from the start, by offset or by cursor, gives every matching
    /// request once, in its order, however the pages fall across the order's parts; and the
    /// `after` cursors walk the same pages back.
    #[test]
    fn pages_follow_one_order_forwards_and_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        let priorities = [
            Some("high"),
            Some("medium"),
            None,
            Some("low"),
            Some("high"),
        ];
        let statuses = ["pending", "in_progress", "completed"];
        for n in 0..40 {
            conn.execute(
                "INSERT INTO requests (user_id, description, priority, status, created_at, updated_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?4)",
                params![
                    format!("요청 {n}"),
                    priorities[n % priorities.len()],
                    statuses[(n / 2) % statuses.len()],
                    // Some share a creation time: the id breaks the tie.
                    Timestamp(chrono::DateTime::from_timestamp(1_700_000_000 + (n / 3) as i64, 0).unwrap()),
                ],
            )
            .unwrap();
        }
        let rank = |r: &MaintenanceRequest| match (r.priority, r.status) {
            (Some(Priority::High), Status::Pending) => 0,
            (Some(Priority::High), Status::InProgress) => 1,
            _ => 2,
        };
        let ids = |rows: &[MaintenanceRequest]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        for filter in filters() {
            let all = fresh_list(&mut conn, &filter, Order::Newest, Window::first(1000)).unwrap();
            let mut by_sql: i64 = 0;
            {
                let sql = Conditions::of(&filter);
                let count = format!("SELECT count(*) FROM requests{}", sql.clause());
                by_sql = by_sql.max(
                    conn.query_row(&count, params_from_iter(sql.values.iter()), |r| r.get(0))
                        .unwrap(),
                );
            }
            assert_eq!(all.total, Total::exact(by_sql as u64), "{filter:?}");
            for order in [Order::Newest, Order::ActionFirst] {
                let mut expected = all.rows.clone();
                if order == Order::ActionFirst {
                    // Stable: within a part, the newest-first order of the plain list.
                    expected.sort_by_key(rank);
                }
                for limit in [1, 3, 7, 40] {
                    let mut by_offset = Vec::new();
                    let mut by_cursor = Vec::new();
                    let mut offset = 0;
                    let mut seek = Seek::Offset(0);
                    let mut pages = Vec::new();
                    loop {
                        let page = fresh_list(
                            &mut conn,
                            &filter,
                            order,
                            Window {
                                limit,
                                seek: Seek::Offset(offset),
                            },
                        )
                        .unwrap();
                        assert_eq!(page.total, all.total, "{filter:?}");
                        offset += page.rows.len() as u32;
                        let done = page.rows.is_empty();
                        by_offset.extend(page.rows);
                        if done {
                            break;
                        }
                    }
                    loop {
                        let page =
                            fresh_list(&mut conn, &filter, order, Window { limit, seek }).unwrap();
                        assert!(page.rows.len() <= limit as usize);
                        by_cursor.extend(page.rows.iter().cloned());
                        pages.push(ids(&page.rows));
                        match page.next {
                            Some(next) => seek = Seek::Before(next),
                            None => break,
                        }
                    }
                    let case = format!("{filter:?} {order:?}, {limit} a page");
                    assert_eq!(ids(&by_offset), ids(&expected), "{case}");
                    assert_eq!(ids(&by_cursor), ids(&expected), "{case}");
                    // And back again, from the last page, by the `prev` cursors.
                    let mut back = Vec::new();
                    let last =
                        fresh_list(&mut conn, &filter, order, Window { limit, seek }).unwrap();
                    let mut prev = last.prev;
                    while let Some(cursor) = prev {
                        let page = fresh_list(
                            &mut conn,
                            &filter,
                            order,
                            Window {
                                limit,
                                seek: Seek::After(cursor),
                            },
                        )
                        .unwrap();
                        back.push(ids(&page.rows));
                        prev = page.prev;
                    }
                    back.reverse();
                    pages.pop();
                    if !expected.is_empty() {
                        assert_eq!(back, pages, "{case}: the way back");
                    }
                }
            }
        }
    }

    fn like_scan(conn: &Connection, text: &str, filter: &RequestFilter) -> Vec<RequestId> {
        let mut sql = Conditions::of(filter);
        TextPlan::like(&mut sql, &crate::db::like_pattern(text));
        let query = format!(
            "SELECT id FROM requests{} ORDER BY created_at DESC, id DESC",
            sql.clause()
        );
        let mut stmt = conn.prepare(&query).unwrap();
        stmt.query_map(params_from_iter(sql.values.iter()), |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A text search finds exactly what a `LIKE` scan of description and location finds,
    /// by every plan: few candidates, many, and fewer than three characters.
    /// The newest time among rows that a later-id row was created before (migration 0012).
    fn out_of_order_by_definition(conn: &Connection) -> Option<String> {
        conn.query_row(
            "SELECT max(a.created_at) FROM requests a
             WHERE EXISTS (SELECT 1 FROM requests b WHERE b.id > a.id AND b.created_at < a.created_at)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn recorded_out_of_order(conn: &Connection) -> Option<String> {
        conn.query_row("SELECT out_of_order_until FROM request_order", [], |r| {
            r.get(0)
        })
        .optional()
        .unwrap()
    }

    #[test]
    fn a_search_reads_its_first_page_by_id_only_where_that_is_the_newest_page() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        let texts = [
            "보일러 고장",
            "보일러실 누수",
            "엘리베이터 멈춤",
            "Äbc 전등",
            "äbc 전등",
            "\u{212A}qz 전등",
            "Kqz 전등",
            "\u{17F}qz 누수",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let insert = |conn: &Connection, n: u64, at: i64| {
            conn.execute(
                "INSERT INTO requests (user_id, description, status, created_at, updated_at)
                 VALUES (1, ?1, 'pending', ?2, ?2)",
                params![
                    format!("{} {n}", texts[(n % texts.len() as u64) as usize]),
                    Timestamp(chrono::DateTime::from_timestamp(at, 0).unwrap()),
                ],
            )
            .unwrap();
        };
        let check = |conn: &mut Connection, phase: &str| {
            assert!(
                recorded_out_of_order(conn) >= out_of_order_by_definition(conn),
                "{phase}: the recorded time covers every row out of order"
            );
            for q in [
                "보일러",
                "엘리베이터",
                "보일러실 누",
                "äbc",
                "Äbc",
                "kqz",
                "KQZ",
                "sqz",
                "전등 1",
            ] {
                let filter = RequestFilter {
                    text: Some(q.to_owned()),
                    ..Default::default()
                };
                let expected = like_scan(conn, q, &filter);
                for limit in [1, 50] {
                    let page =
                        fresh_list(conn, &filter, Order::Newest, Window::first(limit)).unwrap();
                    let ids: Vec<RequestId> = page.rows.iter().map(|r| r.id).collect();
                    let want = expected.len().min(limit as usize);
                    assert_eq!(ids, expected[..want], "{phase}: {q:?} first {limit}");
                    assert_eq!(
                        page.total,
                        Total::exact(expected.len() as u64),
                        "{phase}: {q:?}"
                    );
                }
            }
        };
        // Created in id order: the walk stops after a page.
        for n in 0..600 {
            insert(&conn, n, 1_700_000_000 + n as i64 * 60);
        }
        assert_eq!(recorded_out_of_order(&conn), None);
        let tx = conn.transaction().unwrap();
        let TextPlan::Indexed {
            index,
            query,
            pattern,
            ..
        } = TextPlan::choose(&tx, &SearchCounts::default(), Some("보일러")).unwrap()
        else {
            panic!("an indexed plan");
        };
        assert!(
            newest_by_id(&tx, index, &query, &pattern, 51)
                .unwrap()
                .is_some()
        );
        drop(tx);
        check(&mut conn, "in order");
        // A clock stepped back an hour, then on.
        for n in 600..700 {
            insert(
                &conn,
                n,
                1_700_000_000 + 600 * 60 - 3_600 + (n as i64 - 600) * 60,
            );
        }
        assert!(recorded_out_of_order(&conn).is_some());
        check(&mut conn, "after a step back");
        // Rows imported with dates of their own, before and among the others.
        for n in 700..1_500 {
            let at = 1_600_000_000 + random(200_000_000) as i64;
            insert(&conn, n, at);
        }
        check(&mut conn, "after an import");
        // Rows moved in time, and the order check rebuilt from the rows.
        for _ in 0..50 {
            conn.execute(
                "UPDATE requests SET created_at = ?1 WHERE id = ?2",
                params![
                    Timestamp(
                        chrono::DateTime::from_timestamp(1_800_000_000 + random(1_000) as i64, 0)
                            .unwrap()
                    ),
                    1 + random(1_500) as i64
                ],
            )
            .unwrap();
        }
        check(&mut conn, "after moves in time");
        counts::rebuild(&conn).unwrap();
        assert_eq!(
            recorded_out_of_order(&conn),
            out_of_order_by_definition(&conn),
            "a rebuild finds the exact time"
        );
        check(&mut conn, "after a rebuild");
    }

    #[test]
    fn a_remembered_search_count_lasts_only_while_the_index_is_unchanged() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        let add = add_text;
        for n in 0..30 {
            add(&conn, &format!("보일러 고장 {n}"));
        }
        index_backlog(&mut conn);
        let counts = SearchCounts::default();
        // One trigram (counted from the index), and a longer text (each candidate checked).
        let totals = |conn: &mut Connection| {
            ["보일러", "보일러 고장"].map(|q| {
                let filter = RequestFilter {
                    text: Some(q.into()),
                    ..Default::default()
                };
                let page = list(conn, &counts, &filter, Order::Newest, Window::first(5)).unwrap();
                assert!(page.total.exact, "{q}");
                page.total.count
            })
        };
        assert_eq!(totals(&mut conn), [30, 30]);
        // What is remembered is what is answered while the index stays as it was...
        for (_, n) in counts.known.lock().unwrap().values_mut() {
            *n = 7;
        }
        assert_eq!(totals(&mut conn), [7, 7]);
        // ...and while rows wait to be indexed, the index's share is still what is
        // remembered and theirs is counted anew...
        let forget = || {
            for (_, n) in counts.known.lock().unwrap().values_mut() {
                *n = 7;
            }
        };
        add(&conn, "보일러 고장 새로");
        forget();
        assert_eq!(totals(&mut conn), [31, 8], "a row waiting to be indexed");
        // ...and each change to the index is counted afresh: a batch indexed, an edit or a
        // delete of an indexed row.
        index_backlog(&mut conn);
        assert_eq!(totals(&mut conn), [31, 31], "once indexed");
        conn.execute("DELETE FROM requests WHERE id = 1", [])
            .unwrap();
        assert_eq!(totals(&mut conn), [30, 30]);
        conn.execute(
            "UPDATE requests SET description = '온수기 고장' WHERE id = 2",
            [],
        )
        .unwrap();
        assert_eq!(totals(&mut conn), [29, 29], "an edit waiting to be indexed");
        index_backlog(&mut conn);
        assert_eq!(totals(&mut conn), [29, 29]);
        // A status change leaves the index and the texts as they were: the counts hold.
        conn.execute("UPDATE requests SET status = 'completed' WHERE id = 3", [])
            .unwrap();
        assert_eq!(totals(&mut conn), [29, 29]);
        // So does merging the index's segments: the same rows, stored otherwise.
        forget();
        let mut merged = false;
        while crate::db::search_index::merge_some(&mut conn).unwrap() {
            merged = true;
        }
        assert!(merged, "there was merging to do");
        assert_eq!(totals(&mut conn), [7, 7], "after merging");
    }

    /// Searches that want the same count at once make it once: the others wait for it.
    #[test]
    fn a_count_wanted_by_many_searches_at_once_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        migrate(&mut Connection::open(&path).unwrap()).unwrap();
        let counts = SearchCounts::default();
        let made = std::sync::atomic::AtomicU64::new(0);
        let together = std::sync::Barrier::new(8);
        let answers: Vec<u64> = std::thread::scope(|scope| {
            let searches: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let conn = Connection::open(&path).unwrap();
                        together.wait();
                        counts
                            .remember(&conn, "엘리베이터".into(), || {
                                made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(100));
                                Ok(42)
                            })
                            .unwrap()
                    })
                })
                .collect();
            searches.into_iter().map(|s| s.join().unwrap()).collect()
        });
        assert_eq!(answers, [42; 8]);
        assert_eq!(made.into_inner(), 1);
        assert!(
            counts.counting.lock().unwrap().is_empty(),
            "no lock left behind"
        );
        // Many searches, many texts, some counted and some found counted: no line is
        // left behind.
        std::thread::scope(|scope| {
            for thread in 0..8u64 {
                let (counts, path) = (&counts, &path);
                scope.spawn(move || {
                    let conn = Connection::open(path).unwrap();
                    for n in 0..300u64 {
                        let key = format!("text {}", (n * 7 + thread) % 50 + n / 10 * 50);
                        counts.remember(&conn, key, || Ok(n)).unwrap();
                    }
                });
            }
        });
        assert!(
            counts.counting.lock().unwrap().is_empty(),
            "lines left behind"
        );
        // A count that failed is not remembered: the next search counts again.
        let conn = Connection::open(&path).unwrap();
        let failed = counts.remember(&conn, "보일러".into(), || {
            Err(AppError::internal("busy"))
        });
        assert!(failed.is_err());
        assert_eq!(
            counts.remember(&conn, "보일러".into(), || Ok(3)).unwrap(),
            3
        );
    }

    /// A search that read another version of the content never waits for a count of an
    /// older one: each counts its own, side by side.
    #[test]
    fn searches_of_different_versions_count_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let mut setup = Connection::open(&path).unwrap();
        migrate(&mut setup).unwrap();
        // Readers beside a writer, as the server's connections are.
        setup.pragma_update(None, "journal_mode", "WAL").unwrap();
        let counts = SearchCounts::default();
        let older = Connection::open(&path).unwrap();
        older.execute_batch("BEGIN").unwrap();
        assert_eq!(search_index::version(&older).unwrap(), Some(0));
        let newer = Connection::open(&path).unwrap();
        newer.execute(search_index::RAISE_VERSION, []).unwrap();
        let (done, newer_done) = std::sync::mpsc::channel();
        let older_saw_newer = std::thread::scope(|scope| {
            let counts = &counts;
            let waiting = scope.spawn(move || {
                counts
                    .remember(&older, "보일러".into(), || {
                        // Counting until the other search, of the newer version, is done.
                        let seen = newer_done.recv_timeout(std::time::Duration::from_secs(10));
                        Ok(u64::from(seen.is_ok()))
                    })
                    .unwrap()
            });
            while counts.counting.lock().unwrap().is_empty() {
                std::thread::yield_now();
            }
            let n = counts.remember(&newer, "보일러".into(), || Ok(7)).unwrap();
            assert_eq!(n, 7);
            done.send(()).unwrap();
            waiting.join().unwrap()
        });
        assert_eq!(
            older_saw_newer, 1,
            "the newer search waited for the older count"
        );
    }

    #[test]
    fn searches_find_what_a_like_scan_finds() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        user(&conn);
        let texts = [
            ("욕실 천장에서 물이 새요", Some("101동 1203호")),
            ("전등이 깜빡여요", Some("관리사무소 앞")),
            ("Kitchen LIGHT flickers, 100% broken_now", None),
            ("say \"hello\" to the boiler", Some("B1 보일러실")),
            ("엘리베이터 문이 안 닫혀요", Some("102동")),
            ("복도 전등 교체 부탁드립니다", Some("101동 3층 복도")),
            ("첫 줄\n둘째 줄\tab\tc", Some("a\tb 창고")),
        ];
        let mut n = 0;
        // Enough of one text for the dense plan: more candidates than a search counts.
        for round in 0..(Total::SEARCH_CAP as usize / texts.len() + 20) {
            for (i, (description, location)) in texts.iter().enumerate() {
                n += 1;
                let description = if round % 7 == 0 {
                    format!("{description} {round} (접수)")
                } else {
                    format!("{description} (접수)")
                };
                conn.execute(
                    "INSERT INTO requests (user_id, description, location, status, category, created_at, updated_at)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?5)",
                    params![
                        description,
                        location,
                        Status::ALL[n % 3].as_str(),
                        Category::ALL[i % Category::ALL.len()].as_str(),
                        Timestamp(chrono::DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap()),
                    ],
                )
                .unwrap();
            }
        }
        // All but the newest rows indexed; then edits and deletes of rows in the index and
        // of rows still waiting for it.
        let waiting = 300;
        while crate::db::search_index::backlog(&conn).unwrap() > waiting {
            crate::db::search_index::index_some(&mut conn).unwrap();
        }
        let newest = n as i64;
        conn.execute(
            "UPDATE requests SET description = '보일러 고장 희귀' WHERE id = 5",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE requests SET location = '희귀 창고' WHERE id = ?1",
            [newest - 3],
        )
        .unwrap();
        conn.execute("DELETE FROM requests WHERE id IN (11, ?1)", [newest - 1])
            .unwrap();
        let queries = [
            "물이 새",
            "전등",
            "전",
            "light",
            "LIGHT",
            "100%",
            "broken_",
            "_",
            "%",
            "\"hello\"",
            "\"",
            "101동",
            "1203호",
            "희귀",
            "보일러 고장",
            "깜빡여요",
            "없는 말",
            "ab",
            "12",
            "3층 복도",
            "say \"h",
            "(접수)",
            // Two characters: the index of pairs, in every row (dense), at a text's end, in
            // a location, ASCII in either case; and pairs it cannot hold.
            "접수",
            "3호",
            "b1",
            "Li",
            "수)",
            "요 ",
            // Line breaks and tabs, as descriptions hold them.
            "줄\n둘",
            "a\tb",
            "\tc",
        ];
        for state in ["partly indexed", "all indexed"] {
            if state == "all indexed" {
                assert!(index_backlog(&mut conn) > 0);
            }
            search_like_a_scan(&mut conn, &queries, state);
        }
        // Two letters or digits are read from the index of pairs, not scanned.
        let plan = |q| TextPlan::choose(&conn, &SearchCounts::default(), Some(q)).unwrap();
        assert!(
            matches!(
                plan("3호"),
                TextPlan::Indexed {
                    index: SearchIndex::Bigrams,
                    ..
                }
            ),
            "{:?}",
            plan("3호")
        );
        assert!(
            matches!(
                plan("접수"),
                TextPlan::Dense {
                    index: SearchIndex::Bigrams,
                    ..
                }
            ),
            "{:?}",
            plan("접수")
        );
        assert!(matches!(plan("수)"), TextPlan::Short { .. }));
    }

    /// Every query of `queries`, under a few filters, finds what a `LIKE` scan finds, with the
    /// same count; and every plan was used.
    fn search_like_a_scan(conn: &mut Connection, queries: &[&str], state: &str) {
        let mut seen_plans = std::collections::BTreeSet::new();
        for &q in queries {
            for filter in [
                RequestFilter::default(),
                RequestFilter {
                    status: Some(Status::Pending),
                    ..Default::default()
                },
                RequestFilter {
                    category: Some(Category::Electrical),
                    ..Default::default()
                },
            ] {
                let filter = RequestFilter {
                    text: Some(q.to_owned()),
                    ..filter
                };
                let plan = TextPlan::choose(conn, &SearchCounts::default(), Some(q)).unwrap();
                seen_plans.insert(
                    format!("{plan:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
                let expected = like_scan(conn, q, &filter);
                let mut found = Vec::new();
                let mut seek = Seek::Offset(0);
                let first = loop {
                    let page =
                        fresh_list(conn, &filter, Order::Newest, Window { limit: 1000, seek })
                            .unwrap();
                    found.extend(page.rows.iter().map(|r| r.id));
                    match page.next {
                        Some(next) => seek = Seek::Before(next),
                        None => break page.total,
                    }
                };
                assert_eq!(found, expected, "{state}: {q:?} {filter:?}");
                let total = fresh_list(conn, &filter, Order::Newest, Window::first(1))
                    .unwrap()
                    .total;
                let _ = first;
                if expected.len() as u64 > Total::SEARCH_CAP {
                    assert_eq!(
                        total,
                        Total {
                            count: Total::SEARCH_CAP,
                            exact: false
                        },
                        "{state}: {q:?} {filter:?}"
                    );
                } else {
                    assert_eq!(
                        total,
                        Total::exact(expected.len() as u64),
                        "{state}: {q:?} {filter:?}"
                    );
                }
            }
        }
        assert_eq!(
            seen_plans.into_iter().collect::<Vec<_>>(),
            ["Dense", "Indexed", "Short"],
            "{state}: every plan was tried"
        );
    }

    /// The counters equal `count(*)` after any mix of creates, classifications, status
    /// changes, reassignments, deletes and an account's deletion (which cascades).
    #[test]
    fn the_counters_always_equal_a_count_of_the_rows() {
        use rand::{Rng, SeedableRng};
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut users = 0;
        let accounts = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
                .unwrap()
        };
        let pick = |rng: &mut rand::rngs::StdRng, all: &[&'static str]| -> Option<&'static str> {
            let i = rng.random_range(0..=all.len());
            all.get(i).copied()
        };
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        let categories: Vec<&str> = Category::ALL.iter().map(|s| s.as_str()).collect();
        let priorities: Vec<&str> = Priority::ALL.iter().map(|s| s.as_str()).collect();
        for step in 0..3000 {
            let op = rng.random_range(0..100);
            let any_request = "SELECT id FROM requests ORDER BY random() LIMIT 1";
            match op {
                _ if accounts(&conn) == 0 || op < 5 => {
                    users += 1;
                    conn.execute(
                        "INSERT INTO users (email, hashed_password, created_at, updated_at) VALUES (?1, 'x', 't', 't')",
                        [format!("u{users}@example.com")],
                    )
                    .unwrap();
                }
                5..50 => {
                    let status = statuses[rng.random_range(0..statuses.len())];
                    conn.execute(
                        "INSERT INTO requests (user_id, description, location, status, category, priority, created_at, updated_at)
                         VALUES ((SELECT id FROM users ORDER BY random() LIMIT 1), ?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                        params![
                            format!("요청 {step}"),
                            (step % 3 == 0).then(|| format!("{}동", step % 7)),
                            status,
                            pick(&mut rng, &categories),
                            pick(&mut rng, &priorities),
                            format!("2026-11-{:02}T00:00:00.000000Z", rng.random_range(1..=30)),
                        ],
                    )
                    .unwrap();
                }
                50..80 => {
                    let (column, all) = match op % 3 {
                        0 => ("status", &statuses),
                        1 => ("category", &categories),
                        _ => ("priority", &priorities),
                    };
                    let value = if column == "status" {
                        Some(all[rng.random_range(0..all.len())])
                    } else {
                        pick(&mut rng, all)
                    };
                    conn.execute(
                        &format!("UPDATE requests SET {column} = ?1 WHERE id = ({any_request})"),
                        [value],
                    )
                    .unwrap();
                }
                80..84 => {
                    conn.execute(&format!("UPDATE requests SET user_id = (SELECT id FROM users ORDER BY random() LIMIT 1), created_at = ?1 WHERE id = ({any_request})"),
                        [format!("2026-10-{:02}T00:00:00.000000Z", rng.random_range(1..=31))]).unwrap();
                }
                84..92 => {
                    conn.execute(
                        &format!("DELETE FROM requests WHERE id = ({any_request})"),
                        [],
                    )
                    .unwrap();
                }
                92..96 => {
                    // A text edited, in the search index or still waiting for it.
                    let (column, text) = if op % 2 == 0 {
                        ("description", format!("요청 고침 {step}"))
                    } else {
                        ("location", format!("{}동 요청 ", step % 5))
                    };
                    let text = (step % 3 != 0).then_some(text);
                    conn.execute(
                        &format!("UPDATE requests SET {column} = coalesce(?1, 'X') WHERE id = ({any_request})"),
                        [text],
                    )
                    .unwrap();
                }
                96..98 => {
                    crate::db::search_index::index_some(&mut conn).unwrap();
                }
                _ => {
                    conn.execute("DELETE FROM users WHERE id = (SELECT id FROM users ORDER BY random() LIMIT 1)", []).unwrap();
                }
            }
            if step % 50 == 0 || step > 2990 {
                assert_counters_match(&conn, step);
            }
        }
        // Everything indexed, the index holds exactly the rows' texts.
        index_backlog(&mut conn);
        assert_counters_match(&conn, 3000);
        conn.execute(
            "INSERT INTO requests_fts (requests_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    }

    fn assert_counters_match(conn: &Connection, step: usize) {
        let rows = |sql: &str| -> Vec<(String, i64)> {
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let pairs = [
            (
                "SELECT status || '/' || coalesce(category, '') || '/' || coalesce(priority, ''), count(*) FROM requests GROUP BY 1 ORDER BY 1",
                "SELECT status || '/' || category || '/' || priority, n FROM request_counts WHERE n != 0 ORDER BY 1",
            ),
            (
                "SELECT user_id || '/' || status || '/' || coalesce(category, '') || '/' || coalesce(priority, ''), count(*) FROM requests GROUP BY 1 ORDER BY 1",
                "SELECT user_id || '/' || status || '/' || category || '/' || priority, n FROM owner_request_counts WHERE n != 0 ORDER BY 1",
            ),
            (
                "SELECT substr(created_at, 1, 10), count(*) FROM requests GROUP BY 1 ORDER BY 1",
                "SELECT day, n FROM request_days WHERE n != 0 ORDER BY 1",
            ),
        ];
        for (truth, counters) in pairs {
            assert_eq!(rows(counters), rows(truth), "step {step}: {counters}");
        }
        // And what reads them agrees: every filter's count, and the stats.
        for filter in filters() {
            let sql = Conditions::of(&filter);
            let count: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM requests{}", sql.clause()),
                    params_from_iter(sql.values.iter()),
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                counts::count(conn, counted(&filter, Part::All)).unwrap(),
                count as u64,
                "step {step}: {filter:?}"
            );
        }
        let stats = counts::stats(conn).unwrap();
        let total: i64 = conn
            .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stats.total, total as u64, "step {step}");
        // What a search checks, the index's candidates and the rows not yet indexed, are
        // apart, and hold every row with the text.
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let indexed = "SELECT rowid FROM requests_fts WHERE requests_fts MATCH '\"요청 \"'";
        let fts = count(&format!("SELECT count(*) FROM ({indexed})"));
        let waiting = count(
            "SELECT count(*) FROM requests WHERE id IN (SELECT id FROM search_backlog)
             AND (description LIKE '%요청 %' OR location LIKE '%요청 %')",
        );
        let like = count(
            "SELECT count(*) FROM requests WHERE description LIKE '%요청 %' OR location LIKE '%요청 %'",
        );
        assert_eq!(fts + waiting, like, "step {step}: the search index");
        let both = count(&format!(
            "SELECT count(*) FROM search_backlog WHERE id IN ({indexed})"
        ));
        assert_eq!(both, 0, "step {step}: rows both indexed and waiting");
    }
}
