//! /api/requests, /api/my-requests and /api/stats.

use super::list_url;
use crate::auth::{AuthUser, StaffUser};
use crate::config::Config;
use crate::errors::AppError;
use crate::idempotency::{self, IdempotencyKey};
use crate::ids::RequestId;
use crate::photos;
use crate::requests::{
    self, Cursor, MaintenanceRequest, NewRequest, Page, RequestChanges, RequestFilter, RequestPage,
    Scope, Seek, Window,
};
use crate::state::AppState;
use crate::taxonomy::{Category, Priority, Status};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub struct SubmitBody {
    /// What is wrong (trimmed; no control characters other than line breaks and tabs).
    #[schema(min_length = 1, max_length = 5000)]
    description: String,
    #[schema(max_length = 200)]
    location: Option<String>,
    #[schema(max_length = 200)]
    contact_info: Option<String>,
    /// Accepted for compatibility with the original's clients; classification is always immediate.
    #[serde(rename = "use_async")]
    _use_async: Option<bool>,
}

/// The id in `/api/requests/{id}/...`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RequestPath {
    /// The request's id.
    id: i64,
}

impl RequestPath {
    fn id(&self) -> RequestId {
        RequestId(self.id)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The request as the API answers with it: a photo stored here as a signed absolute link.
fn signed(req: &HttpRequest, state: &AppState, request: MaintenanceRequest) -> HttpResponse {
    HttpResponse::Ok().json(sign(req, state, request))
}

fn sign(
    req: &HttpRequest,
    state: &AppState,
    mut request: MaintenanceRequest,
) -> MaintenanceRequest {
    let base = crate::links::public_base(req, &state.config);
    state.photo_links.signer(&base, now()).sign(&mut request);
    request
}

/// One page of requests, their photos signed, with `X-Total-Count`, `X-Total-Count-Exact`
/// and `Link` (`rel="next"` and `rel="prev"`, by cursor).
fn signed_page(
    req: &HttpRequest,
    state: &AppState,
    query: &ListQuery,
    page: RequestPage,
) -> HttpResponse {
    let RequestPage {
        rows: mut items,
        total,
        next,
        prev,
    } = page;
    let base = crate::links::public_base(req, &state.config);
    let signer = state.photo_links.signer(&base, now());
    items.iter_mut().for_each(|request| signer.sign(request));
    let kept = query.kept();
    let mut links = Vec::new();
    for (rel, name, cursor) in [("next", "before", next), ("prev", "after", prev)] {
        if let Some(cursor) = cursor {
            let url = list_url(req, &state.config, &kept, (name, &cursor.to_string()));
            links.push(format!("<{url}>; rel=\"{rel}\""));
        }
    }
    let mut response = HttpResponse::Ok();
    response.insert_header(("X-Total-Count", total.count.to_string()));
    response.insert_header(("X-Total-Count-Exact", total.exact.to_string()));
    if !links.is_empty() {
        response.insert_header((actix_web::http::header::LINK, links.join(", ")));
    }
    // About what a row's JSON takes: its texts, and 450 bytes of names, timestamps and labels.
    let capacity = items
        .iter()
        .map(|r| {
            r.description.len()
                + r.location.as_ref().map_or(0, String::len)
                + r.contact_info.as_ref().map_or(0, String::len)
                + r.image_url.as_ref().map_or(0, String::len)
                + 450
        })
        .sum::<usize>()
        + 2;
    super::json_sized(response, &items, capacity)
}

#[utoipa::path(
    post,
    path = "/api/requests",
    tag = "requests",
    operation_id = "submit_request",
    summary = "Report a problem",
    description = "The request comes back already classified by the offline rules. With an LLM \
        configured, the LLM refines that in the background: `task_id` is then set, and \
        `GET /api/requests/{id}/task-status` tells when it is done. With an \
        `Idempotency-Key`, a retry by the same account within 24 hours gets the first answer back \
        (same status and body, `Idempotent-Replayed: true`) instead of creating another request.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[ -~]+$",
            description = "A key of the client's choosing (e.g. a UUID) per distinct submission; \
                reusing it with different fields is a 422"),
    ),
    request_body = SubmitBody,
    responses(
        (status = 200, description = "The new request (or, for a retried key, the first answer)",
            body = crate::requests::MaintenanceRequest,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is a retry's replayed answer"))),
        (status = 429, description = "Too many submissions", body = crate::errors::ErrorBody),
    )
)]
pub async fn submit_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubmitBody>,
) -> Result<HttpResponse, AppError> {
    let key = req
        .headers()
        .get(idempotency::HEADER)
        .map(|value| IdempotencyKey::parse(value.as_bytes()))
        .transpose()?;
    let new = NewRequest::parse(
        &body.description,
        body.location.as_deref(),
        body.contact_info.as_deref(),
    )?;
    // 200, not 201: the original's clients expect what it answered.
    let Some(key) = key else {
        let request = requests::submit(&state, &user, new).await?;
        return Ok(HttpResponse::Ok().json(request));
    };
    let submitted = idempotency::submit_once(&state, &user, new, key).await?;
    let mut response = HttpResponse::Ok();
    if submitted.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response
        .content_type("application/json")
        .body(submitted.body))
}

/// List parameters as sent; parsed here so each error names its field.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    #[param(value_type = Option<Category>)]
    category: Option<String>,
    #[param(value_type = Option<Priority>)]
    priority: Option<String>,
    /// Text in the description or location.
    q: Option<String>,
    /// Rows per page, 1 to 1000 (default `LIST_DEFAULT_LIMIT`, 1000 unless configured).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Rows to skip. Deep pages cost more the deeper they are: follow the `Link` header's
    /// cursors instead.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<String>,
    /// The page after this cursor (older rows): from the `Link` header's `rel="next"`.
    #[param(value_type = Option<String>, pattern = "^[0-9]+\\.[0-9]+\\.[0-9]+$")]
    before: Option<String>,
    /// The page before this cursor (newer rows): from the `Link` header's `rel="prev"`.
    #[param(value_type = Option<String>, pattern = "^[0-9]+\\.[0-9]+\\.[0-9]+$")]
    after: Option<String>,
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
    fn window(&self, config: &Config) -> Result<Window, AppError> {
        let page = Page::parse(
            parse_int("limit", self.limit.as_deref())?,
            parse_int("offset", self.offset.as_deref())?,
            config.list_default_limit,
        )?;
        let seek = match (&self.before, &self.after) {
            (Some(_), Some(_)) => {
                return Err(AppError::invalid(
                    "before",
                    "send before or after, not both",
                ));
            }
            (Some(cursor), None) => Seek::Before(Cursor::parse("before", cursor)?),
            (None, Some(cursor)) => Seek::After(Cursor::parse("after", cursor)?),
            (None, None) => Seek::Offset(page.offset),
        };
        if self.offset.is_some() && !matches!(seek, Seek::Offset(_)) {
            return Err(AppError::invalid(
                "offset",
                "send offset or a cursor (before, after), not both",
            ));
        }
        Ok(Window {
            limit: page.limit,
            seek,
        })
    }

    /// The parameters the next page's link keeps, as the caller sent them.
    fn kept(&self) -> Vec<(&'static str, &str)> {
        [
            ("status", &self.status),
            ("category", &self.category),
            ("priority", &self.priority),
            ("q", &self.q),
            ("limit", &self.limit),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
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

#[utoipa::path(
    get,
    path = "/api/requests",
    tag = "requests",
    operation_id = "list_all_requests",
    summary = "Every request, newest first (staff)",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of requests", body = Vec<crate::requests::MaintenanceRequest>,
            headers(
                ("X-Total-Count" = u64, description = "How many requests match, over all pages; for a `q` search, at most 10000"),
                ("X-Total-Count-Exact" = bool, description = "`false` when `X-Total-Count` is a lower bound: a `q` search with more than 10000 matches, or one of a single character (or two that are not both letters or digits), which reads only the newest 50000 requests matching the other filters"),
                ("Link" = String, description = "RFC 8288 links, same parameters: `rel=\"next\"` (older rows, `before=` a cursor) while rows remain after this page, and `rel=\"prev\"` (newer rows, `after=` a cursor) when it is not the first"),
            )),
        (status = 403, description = "Not staff", body = crate::errors::ErrorBody),
    )
)]
pub async fn list_all_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    _staff: StaffUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let window = query.window(&state.config)?;
    let page = requests::list(&state.db, query.filter()?, window).await?;
    Ok(signed_page(&req, &state, &query, page))
}

#[utoipa::path(
    get,
    path = "/api/my-requests",
    tag = "requests",
    operation_id = "list_my_requests",
    summary = "The caller's requests, newest first",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of requests", body = Vec<crate::requests::MaintenanceRequest>,
            headers(
                ("X-Total-Count" = u64, description = "How many requests match, over all pages; for a `q` search, at most 10000"),
                ("X-Total-Count-Exact" = bool, description = "`false` when `X-Total-Count` is a lower bound: a `q` search with more than 10000 matches, or one of a single character (or two that are not both letters or digits), which reads only the newest 50000 requests matching the other filters"),
                ("Link" = String, description = "RFC 8288 links, same parameters: `rel=\"next\"` (older rows, `before=` a cursor) while rows remain after this page, and `rel=\"prev\"` (newer rows, `after=` a cursor) when it is not the first"),
            )),
    )
)]
pub async fn list_my_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = RequestFilter {
        owner: Some(user.id),
        ..query.filter()?
    };
    let window = query.window(&state.config)?;
    let page = requests::list(&state.db, filter, window).await?;
    Ok(signed_page(&req, &state, &query, page))
}

#[utoipa::path(
    get,
    path = "/api/requests/{id}",
    tag = "requests",
    operation_id = "show_request",
    summary = "One request (owner or staff)",
    security(("bearer" = [])),
    params(RequestPath),
    responses(
        (status = 200, description = "The request", body = crate::requests::MaintenanceRequest),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn show_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RequestPath>,
) -> Result<HttpResponse, AppError> {
    let request = requests::get(&state.db, &user, path.id()).await?;
    Ok(signed(&req, &state, request))
}

/// The fields to change; at least one.
#[derive(Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct UpdateBody {
    #[schema(value_type = Option<Status>)]
    status: Option<String>,
    #[schema(value_type = Option<Category>)]
    category: Option<String>,
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/requests/{id}",
    tag = "requests",
    operation_id = "update_request",
    summary = "Change status, category or priority (staff)",
    security(("bearer" = [])),
    params(RequestPath),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The request as changed", body = crate::requests::MaintenanceRequest),
        (status = 403, description = "Not staff", body = crate::errors::ErrorBody),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn update_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: StaffUser,
    path: web::Path<RequestPath>,
    body: web::Json<UpdateBody>,
) -> Result<HttpResponse, AppError> {
    let changes = RequestChanges {
        status: parse_field("status", body.status.as_deref())?,
        category: parse_field("category", body.category.as_deref())?,
        priority: parse_field("priority", body.priority.as_deref())?,
    };
    let request = requests::update(&state, &staff, path.id(), changes).await?;
    Ok(signed(&req, &state, request))
}

/// The original's answer to a delete.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    #[schema(pattern = "^Request deleted successfully$")]
    message: &'static str,
}

#[utoipa::path(
    delete,
    path = "/api/requests/{id}",
    tag = "requests",
    operation_id = "delete_request",
    summary = "Delete a request (owner or staff)",
    security(("bearer" = [])),
    params(RequestPath),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 403, description = "A resident's request that is no longer pending", body = crate::errors::ErrorBody),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn delete_request(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RequestPath>,
) -> Result<HttpResponse, AppError> {
    requests::delete(&state, &user, path.id()).await?;
    Ok(HttpResponse::Ok().json(Deleted {
        message: "Request deleted successfully",
    }))
}

#[utoipa::path(
    get,
    path = "/api/requests/{id}/history",
    tag = "requests",
    operation_id = "show_history",
    summary = "Who changed what and when, oldest first",
    security(("bearer" = [])),
    params(RequestPath),
    responses(
        (status = 200, description = "The history", body = Vec<crate::requests::HistoryEntry>),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn show_history(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RequestPath>,
) -> Result<HttpResponse, AppError> {
    let history = requests::history(&state.db, &user, path.id()).await?;
    Ok(HttpResponse::Ok().json(history))
}

#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "requests",
    operation_id = "show_stats",
    summary = "Counts by status, category and priority (staff)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counts", body = crate::requests::Stats),
        (status = 403, description = "Not staff", body = crate::errors::ErrorBody),
    )
)]
pub async fn show_stats(
    state: web::Data<AppState>,
    _staff: StaffUser,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(requests::stats(&state.db).await?))
}

#[utoipa::path(
    get,
    path = "/api/requests/{id}/task-status",
    tag = "requests",
    operation_id = "show_task_status",
    summary = "Where the request's classification stands",
    security(("bearer" = [])),
    params(RequestPath),
    responses(
        (status = 200, description = "The task", body = crate::requests::TaskStatus),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn show_task_status(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RequestPath>,
) -> Result<HttpResponse, AppError> {
    let status = requests::task_status(&state.db, &user, path.id()).await?;
    Ok(HttpResponse::Ok().json(status))
}

/// The answer to an upload: the request, and the original system's confirmation.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    #[serde(flatten)]
    request: MaintenanceRequest,
    #[schema(pattern = "^Image uploaded successfully$")]
    message: &'static str,
}

/// The multipart form of an upload; only documents it, as the handler streams the parts.
#[derive(ToSchema)]
#[allow(dead_code)]
struct PhotoUpload {
    /// A JPEG, PNG, WebP or GIF image (judged by its bytes), up to `MAX_UPLOAD_MB`.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "/api/requests/{id}/upload",
    tag = "requests",
    operation_id = "upload_photo",
    summary = "Attach a photo (owner or staff)",
    security(("bearer" = [])),
    params(RequestPath),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The request with its `image_url`, and `message` as the original answered", body = Uploaded),
        (status = 404, description = "No such request, or not the caller's", body = crate::errors::ErrorBody),
    )
)]
pub async fn upload_photo(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RequestPath>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let form = crate::form_data::parser(req.headers(), payload)?;
    let bytes = photos::field_bytes(form, "file", state.config.max_upload_bytes)
        .await?
        .ok_or_else(|| {
            AppError::invalid("file", "send the photo in a multipart field named file")
        })?;
    let request = photos::attach(&state, &user, path.id(), bytes).await?;
    Ok(HttpResponse::Ok().json(Uploaded {
        request: sign(&req, &state, request),
        message: "Image uploaded successfully",
    }))
}

/// The signature of a photo link, as `image_url` carries it.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhotoLinkQuery {
    /// When the link expires (Unix seconds); with `sig`, instead of a token.
    #[param(value_type = Option<i64>)]
    exp: Option<String>,
    /// The link's signature; with `exp`, instead of a token.
    sig: Option<String>,
}

/// How long a private cache may keep a photo fetched with a token or session.
const PHOTO_MAX_AGE_SECS: i64 = 3600;

#[utoipa::path(
    get,
    path = "/api/requests/{id}/image",
    tag = "requests",
    operation_id = "show_photo",
    summary = "The request's photo",
    description = "Fetched with the owner's or staff's token (or page session), or without one through \
        the signed link in the request's `image_url` (`exp` and `sig`) until it expires. A link's \
        `exp` and `sig`, when present, decide alone: a token does not rescue a bad link.",
    security(("bearer" = []), ()),
    params(RequestPath, PhotoLinkQuery),
    responses(
        (status = 200, description = "The photo", content(
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/webp"),
            (Vec<u8> = "image/gif"),
        ), headers(("Cache-Control" = String, description = "`private`, for at most as long as the link stays valid"))),
        (status = 403, description = "A signed link that is expired, altered or malformed", body = crate::errors::ErrorBody),
        (status = 404, description = "No such request, not the caller's, or no photo", body = crate::errors::ErrorBody),
        (status = 422, description = "A query that cannot be read (`exp` or `sig` given twice, an id that is not a number)", body = crate::errors::ErrorBody),
    )
)]
pub async fn show_photo(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RequestPath>,
    link: web::Query<PhotoLinkQuery>,
) -> Result<HttpResponse, AppError> {
    let now = now();
    let (scope, max_age) = if link.exp.is_some() || link.sig.is_some() {
        let exp =
            state
                .photo_links
                .verify(path.id(), link.exp.as_deref(), link.sig.as_deref(), now)?;
        // The link was made for someone who may see the photo: it is the permission.
        (Scope::All, (exp - now).min(PHOTO_MAX_AGE_SECS))
    } else {
        let user = AuthUser::extract(&req).await?;
        (Scope::of(&user), PHOTO_MAX_AGE_SECS)
    };
    let photo = photos::open(&state, scope, path.id()).await?;
    let mut answer = HttpResponse::Ok();
    answer.content_type(photo.content_type).insert_header((
        actix_web::http::header::CACHE_CONTROL,
        format!("private, max-age={max_age}"),
    ));
    Ok(match photo.body {
        photos::PhotoBody::Stored(file) => answer
            .no_chunking(photo.len)
            .streaming(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)),
        photos::PhotoBody::Demo(bytes) => answer.body(bytes),
    })
}
