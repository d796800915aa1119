//! SQL for requests and their history.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::{
    Classification, HistoryEntry, MaintenanceRequest, NewRequest, RequestChanges, Scope,
    photo_path, task_id,
};
use crate::taxonomy::{
    Category, ClassificationMethod, ClassificationStatus, HistoryAction, Priority,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

pub(super) const REQUEST_COLUMNS: &str = "id, user_id, description, location, contact_info, category, priority, \
                               status, image_url, created_at, updated_at, classification_status, \
                               classification_method, classification_confidence, classified_at, \
                               image_file IS NOT NULL";

pub(super) fn request_from_row(row: &Row<'_>) -> rusqlite::Result<MaintenanceRequest> {
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
        .prepare_cached(&sql)?
        .query_row(params![id, scope.owner()], request_from_row)
        .optional()?)
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
    let sql = format!(
        "UPDATE requests SET status = ?2, category = ?3, priority = ?4, updated_at = ?5,
                    classification_method = CASE WHEN ?6 THEN 'manual' ELSE classification_method END,
                    classification_status = CASE WHEN ?6 THEN 'done' ELSE classification_status END,
                    classification_confidence = CASE WHEN ?6 THEN 1.0 ELSE classification_confidence END,
                    classified_at = CASE WHEN ?6 THEN ?5 ELSE classified_at END
         WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
    );
    let saved = tx.prepare_cached(&sql)?.query_row(
        params![
            id,
            updated.status,
            updated.category,
            updated.priority,
            now,
            manual
        ],
        request_from_row,
    )?;
    Ok(Some(saved))
}

/// Which requests `maintenance reclassify` takes; a manual classification is never among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclassify {
    All,
    /// Never classified, or whose classification failed.
    Unclassified,
    /// Created at or after this time.
    Since(Timestamp),
}

impl Reclassify {
    /// The condition on `requests` beyond the manual rule; `?1` is the earliest creation time.
    fn condition(self) -> &'static str {
        match self {
            Reclassify::All | Reclassify::Since(_) => "created_at >= ?1",
            Reclassify::Unclassified => {
                "created_at >= ?1 AND (classification_method IS NULL OR category IS NULL
                  OR priority IS NULL OR classification_status = 'failed')"
            }
        }
    }

    /// `?1`: every stored time sorts at or after the empty text.
    fn since(self) -> rusqlite::types::Value {
        match self {
            Reclassify::Since(t) => rusqlite::types::Value::Text(t.to_rfc3339()),
            _ => rusqlite::types::Value::Text(String::new()),
        }
    }
}

/// How many requests `which` takes.
pub fn count_to_reclassify(conn: &Connection, which: Reclassify) -> Result<u64, AppError> {
    let sql = format!(
        "SELECT count(*) FROM requests WHERE classification_method IS NOT 'manual' AND {}",
        which.condition()
    );
    Ok(conn.query_row(&sql, params![which.since()], |r| r.get::<_, i64>(0))? as u64)
}

/// The next `limit` requests that `which` takes, after id `after`.
pub fn next_to_reclassify(
    conn: &Connection,
    which: Reclassify,
    after: RequestId,
    limit: usize,
) -> Result<Vec<RequestId>, AppError> {
    let sql = format!(
        "SELECT id FROM requests
         WHERE classification_method IS NOT 'manual' AND {} AND id > ?2
         ORDER BY id LIMIT ?3",
        which.condition()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![which.since(), after, limit as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
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
        // A job queued just before the manual edit must not leave the request shown as
        // waiting for a classification: the admin's is final.
        tx.execute(
            "UPDATE requests SET classification_status = 'done'
             WHERE id = ?1 AND classification_status IS NOT 'done'",
            [id],
        )?;
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
            let sql = format!(
                "UPDATE requests SET category = ?2, priority = ?3, classification_status = 'done',
                            classification_method = ?4, classification_confidence = ?5,
                            classification_reason = ?6, classified_at = ?7, updated_at = ?7
                     WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
            );
            let saved = tx.prepare_cached(&sql)?.query_row(
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
            let saved = tx
                .prepare_cached(&format!(
                    "UPDATE requests SET classification_status = 'done', classified_at = ?2
                     WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
                ))?
                .query_row(params![id, now], request_from_row)?;
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
    let request = tx
        .prepare_cached(&format!(
            "UPDATE requests SET image_file = ?2, image_type = ?3, image_url = ?4, updated_at = ?5
             WHERE id = ?1 RETURNING {REQUEST_COLUMNS}"
        ))?
        .query_row(
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
