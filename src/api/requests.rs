//! /api/requests, /api/my-requests and /api/stats.

use super::paged_json;
use crate::auth::{AuthUser, StaffUser};
use crate::errors::AppError;
use crate::ids::RequestId;
use crate::photos;
use crate::requests::{self, NewRequest, Page, RequestChanges, RequestFilter};
use crate::state::AppState;
use crate::taxonomy::{Category, Priority, Status};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
pub struct SubmitBody {
    description: String,
    location: Option<String>,
    contact_info: Option<String>,
    /// Accepted for compatibility with the original's clients; classification is always immediate.
    #[serde(rename = "use_async")]
    _use_async: Option<bool>,
}

pub async fn submit_request(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubmitBody>,
) -> Result<HttpResponse, AppError> {
    let new = NewRequest::parse(
        &body.description,
        body.location.as_deref(),
        body.contact_info.as_deref(),
    )?;
    let request = requests::submit(&state, &user, new).await?;
    Ok(HttpResponse::Created().json(request))
}

/// List parameters as sent; parsed here so each error names its field.
#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn parse_field<T: FromStr>(field: &str, value: Option<&str>) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    value
        .map(|v| {
            v.parse()
                .map_err(|e| AppError::invalid(field, format!("{field}: {e}")))
        })
        .transpose()
}

fn parse_int(field: &str, value: Option<&str>) -> Result<Option<i64>, AppError> {
    value
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| AppError::invalid(field, format!("{field} must be an integer")))
        })
        .transpose()
}

impl ListQuery {
    fn page(&self) -> Result<Page, AppError> {
        Page::parse(
            parse_int("limit", self.limit.as_deref())?,
            parse_int("offset", self.offset.as_deref())?,
        )
    }

    fn filter(&self) -> Result<RequestFilter, AppError> {
        Ok(RequestFilter {
            owner: None,
            status: parse_field::<Status>("status", self.status.as_deref())?,
            category: parse_field::<Category>("category", self.category.as_deref())?,
            priority: parse_field::<Priority>("priority", self.priority.as_deref())?,
            text: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
        })
    }
}

pub async fn list_all_requests(
    state: web::Data<AppState>,
    _staff: StaffUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (items, total) = requests::list(&state.db, query.filter()?, query.page()?).await?;
    Ok(paged_json(&items, total))
}

pub async fn list_my_requests(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = RequestFilter {
        owner: Some(user.id),
        ..query.filter()?
    };
    let (items, total) = requests::list(&state.db, filter, query.page()?).await?;
    Ok(paged_json(&items, total))
}

pub async fn show_request(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let request = requests::get(&state.db, &user, RequestId(*id)).await?;
    Ok(HttpResponse::Ok().json(request))
}

#[derive(Deserialize)]
pub struct UpdateBody {
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
}

pub async fn update_request(
    state: web::Data<AppState>,
    staff: StaffUser,
    id: web::Path<i64>,
    body: web::Json<UpdateBody>,
) -> Result<HttpResponse, AppError> {
    let changes = RequestChanges {
        status: parse_field("status", body.status.as_deref())?,
        category: parse_field("category", body.category.as_deref())?,
        priority: parse_field("priority", body.priority.as_deref())?,
    };
    let request = requests::update(&state, &staff, RequestId(*id), changes).await?;
    Ok(HttpResponse::Ok().json(request))
}

pub async fn delete_request(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    requests::delete(&state, &user, RequestId(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn show_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let history = requests::history(&state.db, &user, RequestId(*id)).await?;
    Ok(HttpResponse::Ok().json(history))
}

pub async fn show_stats(
    state: web::Data<AppState>,
    _staff: StaffUser,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(requests::stats(&state.db).await?))
}

pub async fn show_task_status(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let status = requests::task_status(&state.db, &user, RequestId(*id)).await?;
    Ok(HttpResponse::Ok().json(status))
}

pub async fn upload_photo(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let form = actix_multipart::Multipart::new(req.headers(), payload);
    let bytes = photos::field_bytes(form, "file", state.config.max_upload_bytes)
        .await?
        .ok_or_else(|| {
            AppError::invalid("file", "send the photo in a multipart field named file")
        })?;
    let request = photos::attach(&state, &user, RequestId(*id), bytes).await?;
    Ok(HttpResponse::Ok().json(request))
}

pub async fn show_photo(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let photo = photos::open(&state, &user, RequestId(*id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(photo.content_type)
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "private, max-age=3600",
        ))
        .no_chunking(photo.len)
        .streaming(tokio_util::io::ReaderStream::with_capacity(
            photo.file,
            64 * 1024,
        )))
}
