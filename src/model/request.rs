//! A maintenance request, its submission, an admin's change, and its history.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::taxonomy::{
    Category, ClassificationMethod, ClassificationStatus, HistoryAction, Priority, Status,
};
use serde::Serialize;

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
    /// signed when an answer or a live event is sent: see the `links` module).
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

/// The id of a request's refinement task. A request has at most one, ever, so the task is
/// named after the request.
pub fn task_id(request: RequestId) -> String {
    format!("classify-{request}")
}

/// The path of a request's photo on this server, as `image_url` stores it.
pub fn photo_path(id: RequestId) -> String {
    format!("/api/requests/{id}/image")
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
}
