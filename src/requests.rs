//! Maintenance requests: the domain types and the operations handlers call.
//!
//! Input is validated here into typed values; access rules (who may see or
//! change what) are applied here and in the queries, never after loading.

use crate::accounts::User;
use crate::classify;
use crate::db::{self, Db};
use crate::errors::AppError;
use crate::events::Event;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::state::AppState;
use crate::taxonomy::{
    Category, ClassificationMethod, ClassificationStatus, HistoryAction, JobState, Priority, Role,
    Status,
};
use serde::Serialize;
use std::collections::BTreeMap;

pub const DESCRIPTION_MAX_CHARS: usize = 5000;
pub const SHORT_FIELD_MAX_CHARS: usize = 200;

/// A maintenance request as the API returns it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MaintenanceRequest {
    pub id: RequestId,
    pub user_id: UserId,
    pub description: String,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    /// None until classified; never a placeholder.
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub status: Status,
    /// The photo: for a photo stored here, an absolute URL signed to be fetched without a token
    /// until its `exp` (fetch the request again for a fresh one); a photo imported from the
    /// original system keeps the external URL it had; null without a photo.
    pub image_url: Option<String>,
    /// While an LLM refinement of the classification is queued or running, the id to poll
    /// `GET /api/requests/{id}/task-status` about (the original's Celery task id); null otherwise.
    pub task_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// `pending` while an LLM refinement is queued or running.
    pub classification_status: ClassificationStatus,
    /// Which engine decided the current category and priority; null for labels imported from
    /// the original system as they were.
    pub classification_method: Option<ClassificationMethod>,
    pub classification_confidence: Option<f64>,
    pub classified_at: Option<Timestamp>,
    /// Whether the photo is stored here (`image_url` is then this server's unsigned path,
    /// signed when an answer or a live event is sent: see [`crate::links`]).
    #[serde(skip)]
    pub local_photo: bool,
}

/// A validated submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub description: String,
    pub location: Option<String>,
    pub contact_info: Option<String>,
}

impl NewRequest {
    /// Trims and length-checks the submitted text; empty optional fields become None.
    pub fn parse(
        description: &str,
        location: Option<&str>,
        contact_info: Option<&str>,
    ) -> Result<NewRequest, AppError> {
        let description = description.trim();
        reject_control_characters("description", description)?;
        if description.is_empty() {
            return Err(AppError::invalid(
                "description",
                "description must not be empty",
            ));
        }
        if description.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(AppError::invalid(
                "description",
                format!("description must be at most {DESCRIPTION_MAX_CHARS} characters"),
            ));
        }
        Ok(NewRequest {
            description: description.to_owned(),
            location: optional_text("location", location)?,
            contact_info: optional_text("contact_info", contact_info)?,
        })
    }
}

fn optional_text(field: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    reject_control_characters(field, value)?;
    if value.chars().count() > SHORT_FIELD_MAX_CHARS {
        return Err(AppError::invalid(
            field,
            format!("{field} must be at most {SHORT_FIELD_MAX_CHARS} characters"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Refuses NUL and other control characters (line breaks and tabs are fine):
/// they have no place in a description and SQLite's length() stops at NUL.
pub fn reject_control_characters(field: &str, value: &str) -> Result<(), AppError> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// Which requests a user may see: staff see all, residents their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    OwnedBy(UserId),
}

impl Scope {
    pub fn of(user: &User) -> Scope {
        if user.role.is_staff() {
            Scope::All
        } else {
            Scope::OwnedBy(user.id)
        }
    }

    /// The owner to restrict a query to, if any.
    pub fn owner(self) -> Option<UserId> {
        match self {
            Scope::All => None,
            Scope::OwnedBy(id) => Some(id),
        }
    }
}

/// A window into a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    /// The most rows a client may ask one page for, and the default `LIST_DEFAULT_LIMIT`.
    pub const MAX_LIMIT: u32 = 1000;

    /// The highest `LIST_DEFAULT_LIMIT`: an installation still serving a client that never
    /// pages (the original system's frontend) may raise the default page past `MAX_LIMIT`.
    pub const MAX_DEFAULT_LIMIT: u32 = 100_000;

    /// The page a client asked for; `default_limit` rows when it sent no `limit`.
    pub fn parse(
        limit: Option<i64>,
        offset: Option<i64>,
        default_limit: u32,
    ) -> Result<Page, AppError> {
        let Some(limit) = limit else {
            return Ok(Page {
                limit: default_limit,
                offset: Page::parse_offset(offset)?,
            });
        };
        if !(1..=i64::from(Page::MAX_LIMIT)).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("limit must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        Ok(Page {
            limit: limit as u32,
            offset: Page::parse_offset(offset)?,
        })
    }

    fn parse_offset(offset: Option<i64>) -> Result<u32, AppError> {
        u32::try_from(offset.unwrap_or(0))
            .map_err(|_| AppError::invalid("offset", "offset must be between 0 and 4294967295"))
    }
}

/// Which requests a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub owner: Option<UserId>,
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Text that the description or the location must contain.
    pub text: Option<String>,
}

/// An admin's change to a request; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestChanges {
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
}

impl RequestChanges {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.category.is_none() && self.priority.is_none()
    }
}

/// One line of a request's history.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub request_id: RequestId,
    pub action: HistoryAction,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    /// Who made the change; None for the system or a since-deleted account.
    pub actor_id: Option<UserId>,
    pub created_at: Timestamp,
}

/// Counts for the dashboard; every known value is present.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Stats {
    pub total: u64,
    pub by_status: BTreeMap<Status, u64>,
    pub by_category: BTreeMap<Category, u64>,
    pub by_priority: BTreeMap<Priority, u64>,
}

/// Records a new request for `owner`, classified at once by the offline rules.
pub async fn submit(
    state: &AppState,
    owner: &User,
    new: NewRequest,
) -> Result<MaintenanceRequest, AppError> {
    state.submission_limiter.check(owner.id)?;
    // Classifying a long description is CPU work: keep it off the async threads.
    let (new, classification) = tokio::task::spawn_blocking(move || {
        let classification = classify::offline(&new.description);
        (new, classification)
    })
    .await
    .map_err(AppError::internal)?;
    let owner = owner.id;
    let refine = state.queue.refines();
    let request = state
        .db
        .write(&state.events, move |tx| {
            let request = db::requests::insert_request(tx, owner, &new, &classification, refine)?;
            Ok((request.clone(), vec![Event::NewRequest(request)]))
        })
        .await?;
    state.queue.enqueue(request.id);
    Ok(request)
}

/// One page of requests matching `filter`, newest first, and the total count.
pub async fn list(
    db: &Db,
    filter: RequestFilter,
    page: Page,
) -> Result<(Vec<MaintenanceRequest>, u64), AppError> {
    db.run(move |conn| db::requests::list_requests(conn, &filter, page))
        .await
}

/// One page of requests matching `filter` in the dashboard's order, what needs action first:
/// open `high` requests waiting, then those in progress, then the rest; each newest first.
/// And the total count.
pub async fn list_action_first(
    db: &Db,
    filter: RequestFilter,
    page: Page,
) -> Result<(Vec<MaintenanceRequest>, u64), AppError> {
    db.run(move |conn| db::requests::list_requests_action_first(conn, &filter, page))
        .await
}

/// How many `high` requests wait for someone to start on them.
pub async fn urgent_waiting(db: &Db) -> Result<u64, AppError> {
    db.run(|conn| db::requests::count_urgent_waiting(conn))
        .await
}

/// The request, if `viewer` may see it; otherwise 404 so its existence is not revealed.
pub async fn get(db: &Db, viewer: &User, id: RequestId) -> Result<MaintenanceRequest, AppError> {
    let scope = Scope::of(viewer);
    db.run(move |conn| db::requests::find_request(conn, id, scope))
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
    let request = state
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
            Ok((after, events))
        })
        .await?
        .ok_or_else(|| AppError::not_found("Request"))?;
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

/// The id of a request's refinement task. A request has at most one, ever, so the task is
/// named after the request.
pub fn task_id(request: RequestId) -> String {
    format!("classify-{request}")
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
    let job = db.run(move |conn| db::jobs::find(conn, id)).await?;
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
    db.run(move |conn| db::requests::history(conn, id, scope))
        .await?
        .ok_or_else(|| AppError::not_found("Request"))
}

/// Requests per day over the last `days` days (UTC), oldest first, every day present.
pub async fn per_day(db: &Db, days: u32) -> Result<Vec<(String, u64)>, AppError> {
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
    let first_day = first.format("%Y-%m-%d").to_string();
    let counts = db
        .run(move |conn| db::requests::per_day(conn, &first_day))
        .await?;
    Ok(first
        .iter_days()
        .take(days.max(1) as usize)
        .map(|day| {
            let day = day.format("%Y-%m-%d").to_string();
            let count = counts
                .iter()
                .find(|(d, _)| *d == day)
                .map_or(0, |(_, n)| *n);
            (day, count)
        })
        .collect())
}

/// Counts by status, category and priority.
pub async fn stats(db: &Db) -> Result<Stats, AppError> {
    db.run(db::requests::stats).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_is_trimmed_and_blank_optionals_become_none() {
        let new = NewRequest::parse("  물이 새요  ", Some("  "), Some(" 010-1234-5678 ")).unwrap();
        assert_eq!(new.description, "물이 새요");
        assert_eq!(new.location, None);
        assert_eq!(new.contact_info.as_deref(), Some("010-1234-5678"));
    }

    #[test]
    fn limits_are_counted_in_characters_not_bytes() {
        let korean = "가".repeat(DESCRIPTION_MAX_CHARS);
        assert!(NewRequest::parse(&korean, None, None).is_ok());
        let too_long = "가".repeat(DESCRIPTION_MAX_CHARS + 1);
        assert!(NewRequest::parse(&too_long, None, None).is_err());
        assert!(NewRequest::parse("x", Some(&"동".repeat(201)), None).is_err());
        assert!(NewRequest::parse("   ", None, None).is_err());
        assert!(NewRequest::parse("a\u{0}b", None, None).is_err());
        assert!(NewRequest::parse("ok", Some("1\u{7}층"), None).is_err());
        assert!(NewRequest::parse("줄바꿈\n\t있음", None, None).is_ok());
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            Page::parse(None, None, 1000).unwrap(),
            Page {
                limit: 1000,
                offset: 0
            }
        );
        assert_eq!(Page::parse(None, None, 20).unwrap().limit, 20);
        assert!(Page::parse(Some(0), None, 1000).is_err());
        assert!(Page::parse(Some(1001), None, 1000).is_err());
        assert_eq!(Page::parse(None, None, 50_000).unwrap().limit, 50_000);
        assert!(Page::parse(Some(50_000), None, 50_000).is_err());
        assert!(Page::parse(Some(200), Some(-1), 1000).is_err());
        assert_eq!(
            Page::parse(Some(1000), Some(7), 20).unwrap(),
            Page {
                limit: 1000,
                offset: 7
            }
        );
    }
}
