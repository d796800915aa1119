//! SQL for the classification job queue.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::taxonomy::JobState;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

/// After this many attempts that could not be saved, a job is given up.
pub const MAX_ATTEMPTS: i64 = 3;

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub request_id: RequestId,
    pub state: JobState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Queues a refinement job for a request (inside the transaction that creates it).
pub fn insert_job(
    tx: &Transaction<'_>,
    request: RequestId,
    now: Timestamp,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO classification_jobs (request_id, state, created_at, updated_at) VALUES (?1, 'queued', ?2, ?2)",
        params![request, now],
    )?;
    Ok(())
}

/// A job taken by a worker: the request, whose it is, and the text to classify.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub request: RequestId,
    pub owner: UserId,
    pub description: String,
    /// When the job was queued (RFC 3339 as stored), for the queue's latency metric.
    pub queued_at: String,
}

/// Marks the queued jobs among `requests` as running and returns them with their owners and
/// descriptions. A job already claimed (a duplicate in the channel) is skipped.
pub fn claim(tx: &Connection, requests: &[RequestId]) -> Result<Vec<ClaimedJob>, AppError> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (2..requests.len() + 2).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "UPDATE classification_jobs SET state = 'running', attempts = attempts + 1, started_at = ?1, updated_at = ?1
         WHERE state = 'queued' AND request_id IN ({})
         RETURNING request_id,
                   (SELECT user_id FROM requests WHERE id = request_id),
                   (SELECT description FROM requests WHERE id = request_id),
                   created_at",
        placeholders.join(", ")
    );
    let mut values: Vec<Value> = vec![Value::Text(Timestamp::now().to_rfc3339())];
    values.extend(requests.iter().map(|id| Value::Integer(id.0)));
    let claimed = tx
        .prepare(&sql)?
        .query_map(params_from_iter(values.iter()), |row| {
            Ok((
                row.get::<_, RequestId>(0)?,
                row.get::<_, Option<UserId>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(claimed
        .into_iter()
        .filter_map(|(request, owner, description, queued_at)| {
            Some(ClaimedJob {
                request,
                owner: owner?,
                description: description?,
                queued_at,
            })
        })
        .collect())
}

/// Marks a request's job done, noting why the LLM's answer was not used, if it was not.
pub fn finish_job(
    tx: &Transaction<'_>,
    request: RequestId,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE classification_jobs SET state = 'done', last_error = ?2, finished_at = ?3, updated_at = ?3
         WHERE request_id = ?1",
        params![request, error, now],
    )?;
    Ok(())
}

/// Puts a job whose result could not be saved back in the queue, or gives it up after
/// [`MAX_ATTEMPTS`] (the offline classification then stands and the request says `failed`).
pub fn release(tx: &Connection, request: RequestId, error: &str) -> Result<JobState, AppError> {
    let now = Timestamp::now();
    let state: Option<JobState> = tx
        .prepare_cached(
            "UPDATE classification_jobs
             SET state = CASE WHEN attempts >= ?3 THEN 'failed' ELSE 'queued' END,
                 last_error = ?2, updated_at = ?4
             WHERE request_id = ?1 RETURNING state",
        )?
        .query_row(params![request, error, MAX_ATTEMPTS, now], |row| row.get(0))
        .optional()?;
    if state == Some(JobState::Failed) {
        tx.execute(
            "UPDATE requests SET classification_status = 'failed' WHERE id = ?1 AND classification_status = 'pending'",
            [request],
        )?;
    }
    Ok(state.unwrap_or(JobState::Done))
}

/// At start-up: jobs left running by a crash or kill are queued again. Returns how many wait.
pub fn requeue_unfinished(conn: &Connection) -> Result<usize, AppError> {
    conn.execute(
        "UPDATE classification_jobs SET state = 'queued', updated_at = ?1 WHERE state = 'running'",
        [Timestamp::now()],
    )?;
    Ok(conn.query_row(
        "SELECT count(*) FROM classification_jobs WHERE state = 'queued'",
        [],
        |r| r.get::<_, i64>(0),
    )? as usize)
}

/// The requests of the oldest unfinished jobs (queued, or left running by a previous run).
pub fn unfinished_requests(conn: &Connection, limit: usize) -> Result<Vec<RequestId>, AppError> {
    oldest_requests(conn, "state IN ('queued', 'running')", limit)
}

/// The oldest queued jobs' requests, to feed into the channel.
pub fn queued(conn: &Connection, limit: usize) -> Result<Vec<RequestId>, AppError> {
    oldest_requests(conn, "state = 'queued'", limit)
}

/// The requests of the oldest `limit` jobs matching `condition` (a fixed SQL condition).
fn oldest_requests(
    conn: &Connection,
    condition: &str,
    limit: usize,
) -> Result<Vec<RequestId>, AppError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT request_id FROM classification_jobs WHERE {condition} ORDER BY id LIMIT ?1"
    ))?;
    let ids = stmt
        .query_map([limit as i64], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

/// The job of a request, if it has one.
pub fn find(conn: &Connection, request: RequestId) -> Result<Option<Job>, AppError> {
    Ok(conn
        .prepare_cached("SELECT id, request_id, state, attempts, last_error FROM classification_jobs WHERE request_id = ?1")?
        .query_row([request],
            |row| {
                Ok(Job {
                    id: row.get(0)?,
                    request_id: row.get(1)?,
                    state: row.get(2)?,
                    attempts: row.get(3)?,
                    last_error: row.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Queues a request's job again (`maintenance reclassify`) unless one is queued or running
/// already; the request shows as pending until a worker has answered. Returns whether it
/// was queued now.
pub fn requeue(tx: &Transaction<'_>, request: RequestId, now: Timestamp) -> Result<bool, AppError> {
    // The manual rule is checked here, in the write, not only when the requests were chosen:
    // an admin may classify one by hand in between.
    let queued = tx.execute(
        "INSERT INTO classification_jobs (request_id, state, created_at, updated_at)
         SELECT id, 'queued', ?2, ?2 FROM requests
         WHERE id = ?1 AND classification_method IS NOT 'manual'
         ON CONFLICT (request_id) DO UPDATE SET
             state = 'queued', attempts = 0, last_error = NULL, created_at = ?2, updated_at = ?2,
             started_at = NULL, finished_at = NULL
         WHERE state NOT IN ('queued', 'running')",
        params![request, now],
    )? > 0;
    if queued {
        tx.execute(
            "UPDATE requests SET classification_status = 'pending' WHERE id = ?1",
            [request],
        )?;
    }
    Ok(queued)
}

/// How many jobs wait for a worker (read from the state index).
pub fn queued_count(conn: &Connection) -> Result<u64, AppError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM classification_jobs WHERE state = 'queued'",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// How many jobs are not finished (queued or running).
pub fn unfinished(conn: &Connection) -> Result<usize, AppError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM classification_jobs WHERE state IN ('queued', 'running')",
        [],
        |r| r.get::<_, i64>(0),
    )? as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;
    use crate::db::requests::{
        Refined, find_request, finish_refinement, insert_request, update_request,
    };
    use crate::model::{Classification, NewRequest, RequestChanges, Scope};
    use crate::taxonomy::{Category, ClassificationStatus, Priority, Role};

    fn status(tx: &Transaction<'_>, id: RequestId) -> ClassificationStatus {
        find_request(tx, id, Scope::All)
            .unwrap()
            .unwrap()
            .classification_status
    }

    /// An admin's label set between the choice of requests and their queueing, or between the
    /// queueing and the worker's answer, is final: nothing is queued for it, and it never stays
    /// shown as waiting for a classification.
    #[test]
    fn a_manual_label_is_never_queued_again_nor_left_pending() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        let owner = crate::db::users::insert_user(&tx, "r@example.com", None, "x", Role::User)
            .unwrap()
            .id;
        let new = NewRequest::parse("전등이 나갔어요", None, None).unwrap();
        let answer = crate::classify::offline(&new.description);
        let request = insert_request(&tx, owner, &new, &answer, true).unwrap().id;
        let manual = RequestChanges {
            status: None,
            category: Some(Category::Structural),
            priority: Some(Priority::Low),
        };

        // Queued first, then labelled by hand: the worker's answer leaves it done.
        update_request(&tx, request, &manual, owner).unwrap();
        tx.execute(
            "UPDATE requests SET classification_status = 'pending' WHERE id = ?1",
            [request],
        )
        .unwrap();
        let llm = Classification {
            method: crate::taxonomy::ClassificationMethod::Llm,
            ..answer
        };
        assert!(matches!(
            finish_refinement(&tx, request, Some(&llm), None).unwrap(),
            Refined::Manual
        ));
        assert_eq!(status(&tx, request), ClassificationStatus::Done);

        // Labelled by hand, then reclassify reaches it: nothing is queued.
        assert!(!requeue(&tx, request, Timestamp::now()).unwrap());
        assert_eq!(status(&tx, request), ClassificationStatus::Done);
        assert_eq!(
            find(&tx, request).unwrap().map(|j| j.state),
            Some(JobState::Done)
        );
    }
}
