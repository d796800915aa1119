//! Maintenance requests: the operations handlers call.
//!
//! Input is validated into typed values at the edge ([`NewRequest::parse`], in
//! [`crate::model`]); access rules (who may see or change what) are applied here and in
//! the queries, never after loading.

use crate::classify;
use crate::db::{self, Db};
use crate::errors::AppError;
use crate::ids::RequestId;
use crate::model::{Event, User};
use crate::state::AppState;
use crate::taxonomy::{
    Category, ClassificationMethod, ClassificationStatus, JobState, Priority, Role, Status,
};
use serde::Serialize;

pub use crate::model::{
    Cursor, DESCRIPTION_MAX_CHARS, HistoryEntry, MaintenanceRequest, NewRequest, Page,
    RequestChanges, RequestFilter, RequestPage, SHORT_FIELD_MAX_CHARS, Scope, Seek, Stats, Total,
    Window, reject_control_characters, task_id,
};

/// Descriptions up to this size are classified on the async thread: a few microseconds,
/// less than handing the work to the blocking pool and back (up to 5,000 characters go there).
const CLASSIFY_IN_PLACE_BYTES: usize = 600;

/// Records a new request for `owner`, classified at once by the offline rules.
pub async fn submit(
    state: &AppState,
    owner: &User,
    new: NewRequest,
) -> Result<MaintenanceRequest, AppError> {
    state.submission_limiter.check(owner.id)?;
    let (new, classification) = if new.description.len() <= CLASSIFY_IN_PLACE_BYTES {
        let classification = classify::offline(&new.description);
        (new, classification)
    } else {
        // Classifying a long description is CPU work: keep it off the async threads.
        tokio::task::spawn_blocking(move || {
            let classification = classify::offline(&new.description);
            (new, classification)
        })
        .await
        .map_err(AppError::internal)?
    };
    let owner = owner.id;
    let refine = state.queue.refines();
    let request = state
        .db
        .write(&state.events, move |tx| {
            let request = db::requests::insert_request(tx, owner, &new, &classification, refine)?;
            Ok((request.clone(), vec![Event::NewRequest(request)]))
        })
        .await?;
    crate::telemetry::metrics::classified(ClassificationMethod::Keyword);
    state.queue.enqueue(request.id);
    Ok(request)
}

/// One page of requests matching `filter`, newest first, the total count and the cursors
/// of the pages on either side.
pub async fn list(db: &Db, filter: RequestFilter, window: Window) -> Result<RequestPage, AppError> {
    page(db, filter, db::lists::Order::Newest, window).await
}

/// One page of requests matching `filter` in the dashboard's order, what needs action first:
/// open `high` requests waiting, then those in progress, then the rest; each newest first.
pub async fn list_action_first(
    db: &Db,
    filter: RequestFilter,
    window: Window,
) -> Result<RequestPage, AppError> {
    page(db, filter, db::lists::Order::ActionFirst, window).await
}

async fn page(
    db: &Db,
    filter: RequestFilter,
    order: db::lists::Order,
    window: Window,
) -> Result<RequestPage, AppError> {
    // A search that scans rows waits for its turn before it takes a connection.
    let _turn = match db::lists::is_short_search(filter.text.as_deref()) {
        true => Some(db.short_search_turn().await?),
        false => None,
    };
    let counts = db.search_counts();
    if db::lists::is_quick(&filter, &window) {
        let (counts, filter) = (counts.clone(), filter.clone());
        let page = db
            .read(move |conn| db::lists::list_if_quick(conn, &counts, &filter, order, window))
            .await?;
        if let Some(page) = page {
            return Ok(page);
        }
    }
    db.run(move |conn| db::lists::list(conn, &counts, &filter, order, window))
        .await
}

/// The request, if `viewer` may see it; otherwise 404 so its existence is not revealed.
pub async fn get(db: &Db, viewer: &User, id: RequestId) -> Result<MaintenanceRequest, AppError> {
    let scope = Scope::of(viewer);
    db.read(move |conn| db::requests::find_request(conn, id, scope))
        .await?
        .ok_or_else(|| AppError::not_found("Request"))
}

/// Applies an admin's changes, recording each in the history.
pub async fn update(
    state: &AppState,
    actor: &User,
    id: RequestId,
    changes: RequestChanges,
) -> Result<MaintenanceRequest, AppError> {
    if changes.is_empty() {
        return Err(AppError::unprocessable(
            "nothing to update: give at least one of status, category, priority",
        ));
    }
    let actor = actor.id;
    let (after, relabelled) = state
        .db
        .write(&state.events, move |tx| {
            let before = db::requests::find_request(tx, id, Scope::All)?;
            let after = db::requests::update_request(tx, id, &changes, actor)?;
            // An update that changes nothing tells nobody anything.
            let events = match &after {
                Some(request) if before.as_ref() != Some(request) => {
                    vec![Event::RequestUpdated(request.clone())]
                }
                _ => Vec::new(),
            };
            let relabelled = before.zip(after.as_ref()).is_some_and(|(before, after)| {
                (before.category, before.priority) != (after.category, after.priority)
            });
            Ok(((after, relabelled), events))
        })
        .await?;
    let request = after.ok_or_else(|| AppError::not_found("Request"))?;
    if relabelled {
        crate::telemetry::metrics::classified(ClassificationMethod::Manual);
    }
    Ok(request)
}

/// Whether `role` may delete a request in `status`: residents may withdraw theirs only until
/// work starts; staff may delete any.
pub fn may_delete(role: Role, status: Status) -> bool {
    role.is_staff() || status == Status::Pending
}

/// Deletes a request its owner (while pending) or an admin names.
pub async fn delete(state: &AppState, actor: &User, id: RequestId) -> Result<(), AppError> {
    let scope = Scope::of(actor);
    let role = actor.role;
    let actor = actor.id;
    let (_, photo) = state
        .db
        .write(&state.events, move |tx| {
            // Checked in the transaction, so work cannot start between the check and the delete.
            if let Some(request) = db::requests::find_request(tx, id, scope)?
                && !may_delete(role, request.status)
            {
                return Err(AppError::Forbidden(format!(
                    "only pending requests can be withdrawn; this one is {}",
                    request.status.as_str()
                )));
            }
            let deleted = db::requests::delete_request(tx, id, scope, actor)?;
            let events = deleted
                .iter()
                .map(|(user_id, _)| Event::RequestDeleted {
                    id,
                    user_id: *user_id,
                })
                .collect();
            Ok((deleted, events))
        })
        .await?
        .ok_or_else(|| AppError::not_found("Request"))?;
    // The row is gone; its photo goes with it.
    if let Some(file) = photo {
        crate::photos::remove(state, file).await;
    }
    Ok(())
}

/// The original system's task view of a request's classification.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TaskStatus {
    /// The request's refinement task; null when none was ever queued (no LLM configured).
    pub task_id: Option<String>,
    /// `PENDING`, `STARTED`, `SUCCESS` or `FAILURE`, as the original's Celery states.
    #[schema(schema_with = crate::api::openapi::celery_state)]
    pub status: &'static str,
    pub result: Option<TaskResult>,
}

/// The classification a finished task produced.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TaskResult {
    pub request_id: RequestId,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub method: Option<ClassificationMethod>,
    pub confidence: Option<f64>,
}

/// Where the classification of a request the viewer may see stands.
pub async fn task_status(db: &Db, viewer: &User, id: RequestId) -> Result<TaskStatus, AppError> {
    let request = get(db, viewer, id).await?;
    let job = db.read(move |conn| db::jobs::find(conn, id)).await?;
    let status = match (&job, request.classification_status) {
        (_, ClassificationStatus::Failed) => "FAILURE",
        (Some(job), _) => match job.state {
            JobState::Queued => "PENDING",
            JobState::Running => "STARTED",
            JobState::Done => "SUCCESS",
            JobState::Failed => "FAILURE",
        },
        (None, _) => "SUCCESS",
    };
    let result = (status == "SUCCESS" || status == "FAILURE").then_some(TaskResult {
        request_id: request.id,
        category: request.category,
        priority: request.priority,
        method: request.classification_method,
        confidence: request.classification_confidence,
    });
    Ok(TaskStatus {
        task_id: job.map(|_| task_id(id)),
        status,
        result,
    })
}

/// The request's history, oldest first, for its owner or an admin.
pub async fn history(db: &Db, viewer: &User, id: RequestId) -> Result<Vec<HistoryEntry>, AppError> {
    let scope = Scope::of(viewer);
    db.read(move |conn| db::requests::history(conn, id, scope))
        .await?
        .ok_or_else(|| AppError::not_found("Request"))
}

/// What the dashboard shows beside its list: the counts, how many urgent requests wait, and
/// the requests of each of the last `days` days (UTC), oldest first, every day present.
#[derive(Debug)]
pub struct Overview {
    pub stats: Stats,
    pub urgent: u64,
    pub days: Vec<(String, u64)>,
}

/// The [`Overview`], read from one snapshot in one transaction.
pub async fn overview(db: &Db, days: u32) -> Result<Overview, AppError> {
    let days = days.max(1);
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Duration::days(i64::from(days) - 1);
    let first_day = first.format("%Y-%m-%d").to_string();
    let (stats, urgent, counts) = db
        .read(move |conn| {
            db::read_transaction(conn, |conn| {
                Ok((
                    db::counts::stats(conn)?,
                    db::lists::count_urgent_waiting(conn)?,
                    db::counts::per_day(conn, &first_day)?,
                ))
            })
        })
        .await?;
    let days = first
        .iter_days()
        .take(days as usize)
        .map(|day| {
            let day = day.format("%Y-%m-%d").to_string();
            let count = counts
                .iter()
                .find(|(d, _)| *d == day)
                .map_or(0, |(_, n)| *n);
            (day, count)
        })
        .collect();
    Ok(Overview {
        stats,
        urgent,
        days,
    })
}

/// Counts by status, category and priority.
pub async fn stats(db: &Db) -> Result<Stats, AppError> {
    db.read(|conn| db::counts::stats(conn)).await
}
