//! One error type for the whole crate, mapped to HTTP in exactly one place.
//!
//! The JSON body keeps the original system's shape: `{"detail": "..."}`; a
//! validation error may add `fields`, the names of the inputs at fault.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{detail}")]
    Validation { detail: String, fields: Vec<String> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A registration for an address that has an account: 400, as the original answered.
    #[error("Email already registered")]
    EmailTaken,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 422 about one input field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        AppError::Validation {
            detail: detail.into(),
            fields: vec![field.to_owned()],
        }
    }

    /// A 422 not tied to one field (malformed body, empty update).
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        AppError::Validation {
            detail: detail.into(),
            fields: Vec::new(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    /// Wraps an unexpected failure; its text is logged, never sent to the client.
    pub fn internal(source: impl std::fmt::Display) -> Self {
        AppError::Internal(source.to_string())
    }
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// What went wrong, for a person to read.
    detail: &'a str,
    /// The inputs at fault, on some 422s.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fields: &'a [String],
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::EmailTaken => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (detail, fields): (String, &[String]) = match self {
            AppError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                ("Internal server error".into(), &[])
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "service unavailable");
                (
                    "Service temporarily unavailable, try again shortly".into(),
                    &[],
                )
            }
            AppError::Validation { detail, fields } => (detail.clone(), fields),
            other => (other.to_string(), &[]),
        };
        let mut response = HttpResponse::build(status);
        match self {
            AppError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            AppError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(ErrorBody {
            detail: &detail,
            fields,
        })
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Unavailable(format!("database pool: {e}"))
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                AppError::Unavailable(format!("database busy: {e}"))
            }
            _ => AppError::internal(format_args!("database: {e}")),
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(format_args!("blocking task: {e}"))
    }
}
