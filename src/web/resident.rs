//! Residents' pages: submit a request, list mine, follow one.

use super::session::{CsrfForm, Visitor, redirect};
use super::views::{HistoryLine, ListPager, RequestView};
use super::{Chrome, PageError, check_csrf, render, request_with_history, require_user};
use crate::accounts::User;
use crate::errors::AppError;
use crate::ids::RequestId;
use crate::photos;
use crate::requests::{self, NewRequest, RequestFilter};
use crate::state::AppState;
use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "requests/new.html")]
struct NewRequestPage {
    chrome: Chrome,
    error: Option<String>,
    description: String,
    location: String,
    contact_info: String,
    max_mb: usize,
    /// What to do when it cannot wait for a form (`EMERGENCY_TEXT`).
    emergency: String,
}

impl NewRequestPage {
    fn blank(visitor: &Visitor, state: &AppState) -> NewRequestPage {
        NewRequestPage {
            chrome: Chrome::new(visitor),
            error: None,
            description: String::new(),
            location: String::new(),
            contact_info: String::new(),
            max_mb: state.config.max_upload_bytes / (1024 * 1024),
            emergency: super::i18n::emergency_text(visitor.lang, &state.config.emergency_text),
        }
    }
}

pub async fn new_request_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, PageError> {
    require_user(&visitor, &req)?;
    render(
        &visitor,
        StatusCode::OK,
        &NewRequestPage::blank(&visitor, &state),
    )
}

/// The fields of the new-request form.
#[derive(Default)]
struct Submission {
    csrf_token: String,
    description: String,
    location: String,
    contact_info: String,
    photo: Option<Vec<u8>>,
}

/// Text fields of a form are small; anything longer is refused as the API refuses bodies.
const TEXT_FIELD_LIMIT: usize = 64 * 1024;

async fn read_submission(mut form: Multipart, max_photo: usize) -> Result<Submission, AppError> {
    let mut submission = Submission::default();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(photos::multipart_error)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photo" {
            let bytes = photos::read_field(&mut field, max_photo).await?;
            submission.photo = Some(bytes).filter(|b| !b.is_empty());
            continue;
        }
        let bytes = photos::read_field(&mut field, TEXT_FIELD_LIMIT).await?;
        let text = String::from_utf8(bytes)
            .map_err(|_| AppError::unprocessable("form fields must be UTF-8 text"))?;
        match name.as_str() {
            "csrf_token" => submission.csrf_token = text,
            "description" => submission.description = text,
            "location" => submission.location = text,
            "contact_info" => submission.contact_info = text,
            _ => {}
        }
    }
    Ok(submission)
}

pub async fn submit_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    let form = crate::form_data::parser(req.headers(), payload)?;
    let submission = read_submission(form, state.config.max_upload_bytes).await?;
    check_csrf(&visitor, &submission.csrf_token)?;
    let refuse = |status: StatusCode, message: &str| {
        let page = NewRequestPage {
            error: Some(message.to_owned()),
            description: submission.description.clone(),
            location: submission.location.clone(),
            contact_info: submission.contact_info.clone(),
            ..NewRequestPage::blank(&visitor, &state)
        };
        render(&visitor, status, &page)
    };
    let new = match NewRequest::parse(
        &submission.description,
        Some(&submission.location),
        Some(&submission.contact_info),
    ) {
        Ok(new) => new,
        Err(_) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                &visitor.lang.t("new-request-invalid"),
            );
        }
    };
    if submission
        .photo
        .as_deref()
        .is_some_and(|p| photos::sniff(p).is_none())
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &visitor.lang.t("new-request-bad-photo"),
        );
    }
    let request = match requests::submit(&state, user, new).await {
        Err(AppError::TooManyRequests {
            retry_after_secs, ..
        }) => {
            let message = visitor
                .lang
                .t1("new-request-too-often", "seconds", retry_after_secs);
            let mut page = refuse(StatusCode::TOO_MANY_REQUESTS, &message)?;
            page.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after_secs),
            );
            return Ok(page);
        }
        other => other?,
    };
    if let Some(photo) = submission.photo {
        photos::attach(&state, user, request.id, photo).await?;
    }
    Ok(redirect(
        &format!("/requests/{}", request.id),
        Some(&visitor.lang.t("flash-request-submitted")),
    ))
}

#[derive(Template)]
#[template(path = "requests/list.html")]
struct MyRequestsPage {
    chrome: Chrome,
    requests: Vec<RequestView>,
    pager: ListPager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<u32>,
    before: Option<String>,
    after: Option<String>,
}

pub async fn my_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    let window = ListPager::window(query.page, query.before.as_deref(), query.after.as_deref())?;
    let filter = RequestFilter {
        owner: Some(user.id),
        ..RequestFilter::default()
    };
    let found = requests::list(&state.db, filter, window).await?;
    let pager = ListPager::new(&found);
    let page = MyRequestsPage {
        chrome: Chrome::new(&visitor),
        requests: found.rows.into_iter().map(RequestView::from).collect(),
        pager,
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "requests/detail.html")]
struct DetailPage {
    chrome: Chrome,
    r: RequestView,
    history: Vec<HistoryLine>,
    can_delete: bool,
}

pub async fn show_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    let (r, history) = request_with_history(&state, user, RequestId(*id), visitor.lang).await?;
    let can_delete = requests::may_delete(user.role, r.status);
    let page = DetailPage {
        chrome: Chrome::new(&visitor),
        r,
        history,
        can_delete,
    };
    render(&visitor, StatusCode::OK, &page)
}

/// What a resident is told when work on a request started before they could withdraw it:
/// back to the request's page with a message.
fn too_late_to_delete(visitor: &Visitor, user: &User, id: RequestId) -> HttpResponse {
    redirect(
        &request_page(user, id),
        Some(&visitor.lang.t("flash-too-late-to-delete")),
    )
}

/// Where a request's own page is for `user`.
fn request_page(user: &User, id: RequestId) -> String {
    if user.role.is_staff() {
        format!("/admin/requests/{id}")
    } else {
        format!("/requests/{id}")
    }
}

#[derive(Template)]
#[template(path = "requests/delete.html")]
struct ConfirmDeletePage {
    chrome: Chrome,
    r: RequestView,
    /// Back to the request's page.
    cancel: String,
}

/// Asks before deleting (the page shown without JavaScript; with it, a dialog on the
/// request's page asks the same and posts the same form).
pub async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    let id = RequestId(*id);
    let request = requests::get(&state.db, user, id).await?;
    if !requests::may_delete(user.role, request.status) {
        return Ok(too_late_to_delete(&visitor, user, id));
    }
    let page = ConfirmDeletePage {
        chrome: Chrome::new(&visitor),
        r: request.into(),
        cancel: request_page(user, id),
    };
    render(&visitor, StatusCode::OK, &page)
}

pub async fn delete_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    form: super::form::PageForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    let id = RequestId(*id);
    match requests::delete(&state, user, id).await {
        Ok(()) => {}
        // Work started after the page with the button was shown.
        Err(AppError::Forbidden(_)) => {
            return Ok(too_late_to_delete(&visitor, user, id));
        }
        Err(e) => return Err(e.into()),
    }
    let back = if user.role.is_staff() {
        "/admin"
    } else {
        "/my-requests"
    };
    Ok(redirect(
        back,
        Some(&visitor.lang.t("flash-request-deleted")),
    ))
}
