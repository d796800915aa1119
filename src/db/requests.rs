//! SQL for requests and their history.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::{
    Classification, HistoryEntry, MaintenanceRequest, NewRequest, Page, RequestChanges,
    RequestFilter, Scope, Stats, photo_path, task_id,
};
use crate::taxonomy::{
    Category, ClassificationMethod, ClassificationStatus, HistoryAction, Priority, Status,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};
use std::collections::BTreeMap;

const REQUEST_COLUMNS: &str = "id, user_id, description, location, contact_info, category, priority, \
                               status, image_url, created_at, updated_at, classification_status, \
                               classification_method, classification_confidence, classified_at, \
                               image_file IS NOT NULL";

fn request_from_row(row: &Row<'_>) -> rusqlite::Result<MaintenanceRequest> {
    let id = row.get(0)?;
    let classification_status = row.get(11)?;
    Ok(MaintenanceRequest {
        id,
        user_id: row.get(1)?,
        description: row.get(2)?,
        location: row.get(3)?,
        contact_info: row.get(4)?,
        category: row.get(5)?,
        priority: row.get(6)?,
        status: row.get(7)?,
        image_url: row.get(8)?,
        // A pending classification is one with a refinement job queued or running.
        task_id: (classification_status == ClassificationStatus::Pending).then(|| task_id(id)),
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        classification_status,
        classification_method: row.get(12)?,
        classification_confidence: row.get(13)?,
        classified_at: row.get(14)?,
        local_photo: row.get(15)?,
    })
}

struct Change<'a> {
    action: HistoryAction,
    field: Option<&'a str>,
    old_value: Option<&'a str>,
    new_value: Option<&'a str>,
}

fn record_history(
    tx: &Transaction<'_>,
    request: RequestId,
    actor: Option<UserId>,
    change: Change<'_>,
    at: Timestamp,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO request_history (request_id, actor_id, action, field, old_value, new_value, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![request, actor, change.action, change.field, change.old_value, change.new_value, at])?;
    Ok(())
}

/// The 'created' history entry of a request brought in by the legacy import.
pub(super) fn record_created(
    tx: &Transaction<'_>,
    request: RequestId,
    owner: UserId,
    at: Timestamp,
) -> rusqlite::Result<()> {
    let created = Change {
        action: HistoryAction::Created,
        field: None,
        old_value: None,
        new_value: None,
    };
    record_history(tx, request, Some(owner), created, at)
}

/// Stores a new request with its first classification and its 'created' history entry,
/// and, when `refine` is set, a queued job to refine the classification; all in one transaction.
pub fn insert_request(
    tx: &Transaction<'_>,
    owner: UserId,
    new: &NewRequest,
    classification: &Classification,
    refine: bool,
) -> Result<MaintenanceRequest, AppError> {
    let now = Timestamp::now();
    let status = if refine {
        ClassificationStatus::Pending
    } else {
        ClassificationStatus::Done
    };
    // Cached: the writer runs this statement for every submission.
    let request = tx
        .prepare_cached(&format!(
            "INSERT INTO requests (user_id, description, location, contact_info, category, priority,
                                   status, created_at, updated_at, classification_status,
                                   classification_method, classification_confidence, classification_reason,
                                   classified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?8, ?9, ?10, ?11, ?7) RETURNING {REQUEST_COLUMNS}"
        ))?
        .query_row(
            params![
                owner,
                new.description,
                new.location,
                new.contact_info,
                classification.category,
                classification.priority,
                now,
                status,
                classification.method,
                classification.confidence,
                classification.reason,
            ],
            request_from_row,
        )?;
    if refine {
        super::jobs::insert_job(tx, request.id, now)?;
    }
    let created = Change {
        action: HistoryAction::Created,
        field: None,
        old_value: None,
        new_value: None,
    };
    record_history(tx, request.id, Some(owner), created, now)?;
    Ok(request)
}

/// The request with this id, if it is within `scope`.
pub fn find_request(
    conn: &Connection,
    id: RequestId,
    scope: Scope,
) -> Result<Option<MaintenanceRequest>, AppError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)"
    );
    Ok(conn
        .query_row(&sql, params![id, scope.owner()], request_from_row)
        .optional()?)
}

/// The WHERE clause and its parameters for a list filter.
fn filter_clause(filter: &RequestFilter) -> (String, Vec<Value>) {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(owner) = filter.owner {
        conditions.push("user_id = ?");
        values.push(Value::Integer(owner.0));
    }
    let enums = [
        ("status = ?", filter.status.map(Status::as_str)),
        ("category = ?", filter.category.map(Category::as_str)),
        ("priority = ?", filter.priority.map(Priority::as_str)),
    ];
    for (condition, value) in enums {
        if let Some(value) = value {
            conditions.push(condition);
            values.push(Value::Text(value.to_owned()));
        }
    }
    if let Some(text) = &filter.text {
        conditions.push("(description LIKE ? ESCAPE '\\' OR location LIKE ? ESCAPE '\\')");
        let pattern = super::like_pattern(text);
        values.push(Value::Text(pattern.clone()));
        values.push(Value::Text(pattern));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, values)
}

/// One page of the requests matching `filter`, newest first, and how many match in all
/// (read in one transaction, so the count agrees with the page).
pub fn list_requests(
    conn: &mut Connection,
    filter: &RequestFilter,
    page: Page,
) -> Result<(Vec<MaintenanceRequest>, u64), AppError> {
    let tx = conn.transaction()?;
    let (clause, mut values) = filter_clause(filter);
    let total: i64 = tx
        .prepare_cached(&format!("SELECT count(*) FROM requests{clause}"))?
        .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
    values.push(Value::Integer(page.limit.into()));
    values.push(Value::Integer(page.offset.into()));
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    );
    let rows = tx
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values.iter()), request_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok((rows, total as u64))
}

/// The parts of the dashboard's order, in turn: open `high` requests waiting, those in
/// progress, then the rest. Each is read newest first along an index, so a page of the
/// dashboard costs about the same at a million rows as at a hundred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    UrgentWaiting,
    UrgentInProgress,
    Rest,
}

impl Part {
    const ALL: [Part; 3] = [Part::UrgentWaiting, Part::UrgentInProgress, Part::Rest];

    /// The part's condition and its parameters.
    fn condition(self) -> (&'static str, Vec<Value>) {
        let text = |s: &str| Value::Text(s.to_owned());
        let high = text(Priority::High.as_str());
        let (pending, started) = (
            text(Status::Pending.as_str()),
            text(Status::InProgress.as_str()),
        );
        match self {
            Part::UrgentWaiting => ("priority = ? AND status = ?", vec![high, pending]),
            Part::UrgentInProgress => ("priority = ? AND status = ?", vec![high, started]),
            // `IS NOT`: a request not classified yet (NULL priority) belongs here too.
            Part::Rest => (
                "(priority IS NOT ? OR status NOT IN (?, ?))",
                vec![high, pending, started],
            ),
        }
    }

    /// Whether any request matching `filter` can be in this part.
    fn may_match(self, filter: &RequestFilter) -> bool {
        let urgent = |status: Status| {
            filter.priority.is_none_or(|p| p == Priority::High)
                && filter.status.is_none_or(|s| s == status)
        };
        match self {
            Part::UrgentWaiting => urgent(Status::Pending),
            Part::UrgentInProgress => urgent(Status::InProgress),
            Part::Rest => {
                filter.priority != Some(Priority::High)
                    || !matches!(filter.status, Some(Status::Pending | Status::InProgress))
            }
        }
    }

    /// The WHERE clause of `filter` narrowed to this part, and its parameters.
    fn clause(self, filter: &RequestFilter) -> (String, Vec<Value>) {
        let (clause, mut values) = filter_clause(filter);
        let (condition, more) = self.condition();
        values.extend(more);
        let clause = if clause.is_empty() {
            format!(" WHERE {condition}")
        } else {
            format!("{clause} AND {condition}")
        };
        (clause, values)
    }
}

/// One page of the requests matching `filter` in the dashboard's order (open `high` ones
/// first: waiting, then in progress; then the rest; each part newest first), and how many
/// match in all, read in one transaction.
pub fn list_requests_action_first(
    conn: &mut Connection,
    filter: &RequestFilter,
    page: Page,
) -> Result<(Vec<MaintenanceRequest>, u64), AppError> {
    let tx = conn.transaction()?;
    let (clause, values) = filter_clause(filter);
    let total: i64 = tx
        .prepare_cached(&format!("SELECT count(*) FROM requests{clause}"))?
        .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
    let mut rows = Vec::new();
    // Rows of earlier parts still to pass over before the page starts.
    let mut skip = u64::from(page.offset);
    for part in Part::ALL {
        let room = u64::from(page.limit).saturating_sub(rows.len() as u64);
        if room == 0 {
            break;
        }
        if !part.may_match(filter) {
            continue;
        }
        let (clause, mut values) = part.clause(filter);
        if skip > 0 && part != Part::Rest {
            let in_part: i64 = tx
                .prepare_cached(&format!("SELECT count(*) FROM requests{clause}"))?
                .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
            if in_part as u64 <= skip {
                skip -= in_part as u64;
                continue;
            }
        }
        values.push(Value::Integer(room as i64));
        values.push(Value::Integer(skip as i64));
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        let found = tx
            .prepare_cached(&sql)?
            .query_map(params_from_iter(values.iter()), request_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.extend(found);
        skip = 0;
    }
    tx.commit()?;
    Ok((rows, total as u64))
}

/// How many `high` requests are waiting for someone to start on them.
pub fn count_urgent_waiting(conn: &Connection) -> Result<u64, AppError> {
    let (clause, values) = Part::UrgentWaiting.clause(&RequestFilter::default());
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM requests{clause}"))?
        .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
    Ok(n as u64)
}

/// Applies `changes`, writing one history entry per field that really changed.
/// None when the request does not exist.
pub fn update_request(
    tx: &Transaction<'_>,
    id: RequestId,
    changes: &RequestChanges,
    actor: UserId,
) -> Result<Option<MaintenanceRequest>, AppError> {
    let Some(current) = find_request(tx, id, Scope::All)? else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let mut updated = current.clone();
    if let Some(status) = changes.status.filter(|s| *s != current.status) {
        updated.status = status;
        let change = Change {
            action: HistoryAction::StatusChanged,
            field: Some("status"),
            old_value: Some(current.status.as_str()),
            new_value: Some(status.as_str()),
        };
        record_history(tx, id, Some(actor), change, now)?;
    }
    if let Some(category) = changes.category.filter(|c| Some(*c) != current.category) {
        updated.category = Some(category);
        let change = Change {
            action: HistoryAction::Reclassified,
            field: Some("category"),
            old_value: current.category.map(Category::as_str),
            new_value: Some(category.as_str()),
        };
        record_history(tx, id, Some(actor), change, now)?;
    }
    if let Some(priority) = changes.priority.filter(|p| Some(*p) != current.priority) {
        updated.priority = Some(priority);
        let change = Change {
            action: HistoryAction::Reclassified,
            field: Some("priority"),
            old_value: current.priority.map(Priority::as_str),
            new_value: Some(priority.as_str()),
        };
        record_history(tx, id, Some(actor), change, now)?;
    }
    if updated == current {
        return Ok(Some(current));
    }
    // An admin's choice of category or priority is final: the LLM never overwrites it.
    let manual = updated.category != current.category || updated.priority != current.priority;
    let saved = tx.query_row(
        &format!(
            "UPDATE requests SET status = ?2, category = ?3, priority = ?4, updated_at = ?5,
                    classification_method = CASE WHEN ?6 THEN 'manual' ELSE classification_method END,
                    classification_status = CASE WHEN ?6 THEN 'done' ELSE classification_status END,
                    classification_confidence = CASE WHEN ?6 THEN 1.0 ELSE classification_confidence END,
                    classified_at = CASE WHEN ?6 THEN ?5 ELSE classified_at END
             WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
        ),
        params![id, updated.status, updated.category, updated.priority, now, manual],
        request_from_row,
    )?;
    Ok(Some(saved))
}

/// What became of a refinement when it was saved.
#[derive(Debug)]
pub enum Refined {
    /// The LLM's answer replaced the provisional one (or confirmed it).
    Applied(MaintenanceRequest),
    /// The offline answer stands; the request is marked classified.
    KeptOffline(MaintenanceRequest),
    /// An admin set category or priority meanwhile; nothing was changed.
    Manual,
    /// The request was deleted meanwhile.
    Gone,
}

/// Saves the outcome of a refinement job: the LLM's answer if there is one, unless an admin
/// has chosen by hand; records a history entry for a change; finishes the job. One transaction,
/// so a concurrent manual edit either lands before (and wins) or after (and overwrites).
pub fn finish_refinement(
    tx: &Transaction<'_>,
    id: RequestId,
    answer: Option<&Classification>,
    error: Option<&str>,
) -> Result<Refined, AppError> {
    let now = Timestamp::now();
    super::jobs::finish_job(tx, id, error, now)?;
    let Some(current) = find_request(tx, id, Scope::All)? else {
        return Ok(Refined::Gone);
    };
    if current.classification_method == Some(ClassificationMethod::Manual) {
        return Ok(Refined::Manual);
    }
    let outcome = match answer {
        Some(answer) => {
            for (field, old, new) in [
                (
                    "category",
                    current.category.map(Category::as_str),
                    answer.category.as_str(),
                ),
                (
                    "priority",
                    current.priority.map(Priority::as_str),
                    answer.priority.as_str(),
                ),
            ] {
                if old != Some(new) {
                    let change = Change {
                        action: HistoryAction::Reclassified,
                        field: Some(field),
                        old_value: old,
                        new_value: Some(new),
                    };
                    record_history(tx, id, None, change, now)?;
                }
            }
            let saved = tx.query_row(
                &format!(
                    "UPDATE requests SET category = ?2, priority = ?3, classification_status = 'done',
                            classification_method = ?4, classification_confidence = ?5,
                            classification_reason = ?6, classified_at = ?7, updated_at = ?7
                     WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
                ),
                params![
                    id,
                    answer.category,
                    answer.priority,
                    answer.method,
                    answer.confidence,
                    answer.reason,
                    now
                ],
                request_from_row,
            )?;
            Refined::Applied(saved)
        }
        None => {
            let saved = tx.query_row(
                &format!(
                    "UPDATE requests SET classification_status = 'done', classified_at = ?2
                     WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
                ),
                params![id, now],
                request_from_row,
            )?;
            Refined::KeptOffline(saved)
        }
    };
    Ok(outcome)
}

/// A stored photo: its file name in the uploads folder and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub file: String,
    pub content_type: String,
}

/// The photo of a request within `scope`: Ok(None) when the request is not visible,
/// Ok(Some(None)) when it has no photo.
pub fn photo(
    conn: &Connection,
    id: RequestId,
    scope: Scope,
) -> Result<Option<Option<Photo>>, AppError> {
    let found = conn
        .query_row(
            "SELECT image_file, image_type FROM requests WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
            params![id, scope.owner()],
            |row| Ok((row.get::<_, Option<String>>(0)?, row.get::<_, Option<String>>(1)?)),
        )
        .optional()?;
    Ok(found.map(|(file, content_type)| {
        file.zip(content_type)
            .map(|(file, content_type)| Photo { file, content_type })
    }))
}

/// Attaches a photo to a request within `scope`; returns the request and the photo it replaced.
pub fn set_photo(
    tx: &Transaction<'_>,
    id: RequestId,
    scope: Scope,
    photo: &Photo,
) -> Result<Option<(MaintenanceRequest, Option<Photo>)>, AppError> {
    let Some(previous) = self::photo(tx, id, scope)? else {
        return Ok(None);
    };
    let request = tx.query_row(
        &format!(
            "UPDATE requests SET image_file = ?2, image_type = ?3, image_url = ?4, updated_at = ?5
             WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
        ),
        params![
            id,
            photo.file,
            photo.content_type,
            photo_path(id),
            Timestamp::now()
        ],
        request_from_row,
    )?;
    Ok(Some((request, previous)))
}

/// Deletes the request if it is within `scope`, recording who did it. Returns its owner, or None when absent.
pub fn delete_request(
    tx: &Transaction<'_>,
    id: RequestId,
    scope: Scope,
    actor: UserId,
) -> Result<Option<(UserId, Option<String>)>, AppError> {
    let deleted: Option<(UserId, Option<String>)> = tx
        .query_row(
            "DELETE FROM requests WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2) RETURNING user_id, image_file",
            params![id, scope.owner()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((owner, image_file)) = deleted else {
        return Ok(None);
    };
    // The request's earlier events carry its description and contact details: they go with
    // it, and the `request_deleted` event the caller records is all the log keeps.
    tx.prepare_cached("DELETE FROM events WHERE request_id = ?1")?
        .execute([id])?;
    let change = Change {
        action: HistoryAction::Deleted,
        field: None,
        old_value: None,
        new_value: None,
    };
    record_history(tx, id, Some(actor), change, Timestamp::now())?;
    Ok(Some((owner, image_file)))
}

/// The history of a request within `scope`, oldest first; None when it is not visible.
pub fn history(
    conn: &mut Connection,
    id: RequestId,
    scope: Scope,
) -> Result<Option<Vec<HistoryEntry>>, AppError> {
    if find_request(conn, id, scope)?.is_none() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, request_id, action, field, old_value, new_value, actor_id, created_at
         FROM request_history WHERE request_id = ?1 ORDER BY id",
    )?;
    let entries = stmt
        .query_map([id], |row| {
            Ok(HistoryEntry {
                id: row.get(0)?,
                request_id: row.get(1)?,
                action: row.get(2)?,
                field: row.get(3)?,
                old_value: row.get(4)?,
                new_value: row.get(5)?,
                actor_id: row.get(6)?,
                created_at: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(entries))
}

fn count_by<K: Ord + Copy + rusqlite::types::FromSql>(
    conn: &Connection,
    column: &str,
    all: &[K],
) -> Result<BTreeMap<K, u64>, AppError> {
    let mut counts: BTreeMap<K, u64> = all.iter().map(|k| (*k, 0)).collect();
    let sql = format!(
        "SELECT {column}, count(*) FROM requests WHERE {column} IS NOT NULL GROUP BY {column}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, K>(0)?, row.get::<_, i64>(1)?)))?;
    for row in rows {
        let (key, count) = row?;
        counts.insert(key, count as u64);
    }
    Ok(counts)
}

/// Requests created on each UTC day from `first_day` (YYYY-MM-DD) on; days without any are absent.
pub fn per_day(conn: &Connection, first_day: &str) -> Result<Vec<(String, u64)>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT substr(created_at, 1, 10) AS day, count(*) FROM requests WHERE created_at >= ?1
         GROUP BY day ORDER BY day",
    )?;
    let rows = stmt
        .query_map([first_day], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Counts by status, category and priority, every known value present.
pub fn stats(conn: &mut Connection) -> Result<Stats, AppError> {
    // One read transaction so the four counts agree with each other.
    let tx = conn.transaction()?;
    let stats = Stats {
        total: tx.query_row("SELECT count(*) FROM requests", [], |r| r.get::<_, i64>(0))? as u64,
        by_status: count_by(&tx, "status", Status::ALL)?,
        by_category: count_by(&tx, "category", Category::ALL)?,
        by_priority: count_by(&tx, "priority", Priority::ALL)?,
    };
    tx.commit()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;

    fn plan(conn: &Connection, sql: &str, values: &[Value]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    /// With a million rows a list must walk an index in order, never sort the table.
    #[test]
    fn list_queries_walk_an_index_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let filters = [
            RequestFilter::default(),
            RequestFilter {
                owner: Some(UserId(1)),
                ..Default::default()
            },
            RequestFilter {
                status: Some(Status::Pending),
                ..Default::default()
            },
            RequestFilter {
                category: Some(Category::Hvac),
                ..Default::default()
            },
            RequestFilter {
                priority: Some(Priority::High),
                ..Default::default()
            },
            RequestFilter {
                text: Some("전등".into()),
                ..Default::default()
            },
            RequestFilter {
                owner: Some(UserId(1)),
                status: Some(Status::Pending),
                category: Some(Category::Plumbing),
                priority: Some(Priority::High),
                text: Some("물".into()),
            },
        ];
        for filter in filters {
            let (clause, mut values) = filter_clause(&filter);
            values.push(Value::Integer(Page::MAX_LIMIT.into()));
            values.push(Value::Integer(0));
            let sql = format!(
                "SELECT {REQUEST_COLUMNS} FROM requests{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            );
            let plan = plan(&conn, &sql, &values);
            assert!(plan.contains("USING INDEX"), "{filter:?}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
    }

    fn filters() -> Vec<RequestFilter> {
        let mut filters = vec![
            RequestFilter::default(),
            RequestFilter {
                text: Some("전등".into()),
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

    /// Each part of the dashboard's order, under every filter, walks an index without sorting,
    /// and counting the waiting urgent requests reads the index alone.
    #[test]
    fn the_dashboard_order_walks_indexes_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for filter in filters() {
            for part in Part::ALL.into_iter().filter(|p| p.may_match(&filter)) {
                let (clause, mut values) = part.clause(&filter);
                values.push(Value::Integer(20));
                values.push(Value::Integer(0));
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
                );
                let plan = plan(&conn, &sql, &values);
                assert!(plan.contains("USING INDEX"), "{part:?} {filter:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{part:?} {filter:?}: {plan}");
                if part != Part::Rest && filter == RequestFilter::default() {
                    assert!(
                        plan.contains("requests_priority_status_created"),
                        "{part:?}: {plan}"
                    );
                }
            }
        }
        let (clause, values) = Part::UrgentWaiting.clause(&RequestFilter::default());
        let plan = plan(
            &conn,
            &format!("SELECT count(*) FROM requests{clause}"),
            &values,
        );
        assert!(plan.contains("COVERING INDEX"), "{plan}");
    }

    /// Paging through the dashboard gives every matching request once, in its order, however
    /// the pages fall across its parts.
    #[test]
    fn dashboard_pages_follow_one_order_across_its_parts() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, created_at, updated_at) VALUES ('r@example.com', 'x', '2024-01-01', '2024-01-01')",
            [],
        )
        .unwrap();
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
                    format!("2024-01-01T00:00:{:02}.000000Z", n / 3),
                ],
            )
            .unwrap();
        }
        let rank = |r: &MaintenanceRequest| match (r.priority, r.status) {
            (Some(Priority::High), Status::Pending) => 0,
            (Some(Priority::High), Status::InProgress) => 1,
            _ => 2,
        };
        for filter in filters().into_iter().filter(|f| f.text.is_none()) {
            let (all, total) = list_requests(
                &mut conn,
                &filter,
                Page {
                    limit: 1000,
                    offset: 0,
                },
            )
            .unwrap();
            let mut expected = all.clone();
            // Stable: within a part, the newest-first order of the plain list.
            expected.sort_by_key(rank);
            for limit in [1, 3, 7, 40] {
                let mut paged = Vec::new();
                let mut offset = 0;
                loop {
                    let (rows, count) =
                        list_requests_action_first(&mut conn, &filter, Page { limit, offset })
                            .unwrap();
                    assert_eq!(count, total, "{filter:?}");
                    if rows.is_empty() {
                        break;
                    }
                    assert!(rows.len() <= limit as usize);
                    offset += rows.len() as u32;
                    paged.extend(rows);
                }
                let ids =
                    |rows: &[MaintenanceRequest]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
                assert_eq!(ids(&paged), ids(&expected), "{filter:?}, {limit} a page");
            }
        }
        assert_eq!(
            count_urgent_waiting(&conn).unwrap(),
            expected_urgent(&mut conn)
        );
    }

    fn expected_urgent(conn: &mut Connection) -> u64 {
        let filter = RequestFilter {
            status: Some(Status::Pending),
            priority: Some(Priority::High),
            ..Default::default()
        };
        list_requests(
            conn,
            &filter,
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .unwrap()
        .1
    }
}
