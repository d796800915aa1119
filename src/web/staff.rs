//! Admins' pages: the dashboard, one request, and (super admins) the accounts.

use super::charts;
use super::session::{CsrfForm, Visitor, redirect};
use super::views::{HistoryLine, ListPager, Pager, RequestView};
use super::{Chrome, PageError, check_csrf, render, request_with_history, require_staff};
use crate::accounts::{self, User};
use crate::errors::AppError;
use crate::ids::{RequestId, UserId};
use crate::requests::{self, RequestChanges, RequestFilter, Stats};
use crate::state::AppState;
use crate::taxonomy::{Category, Priority, Role, Status};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "staff/dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    stats: Stats,
    /// Open `high` requests nobody has started on.
    urgent: u64,
    category_chart: String,
    priority_chart: String,
    day_chart: String,
    statuses: &'static [Status],
    categories: &'static [Category],
    priorities: &'static [Priority],
    filter: RequestFilter,
    q: String,
    /// The filters as a query string prefix for the pager links.
    query: String,
    requests: Vec<RequestView>,
    pager: ListPager,
}

/// Filters as sent by the form; an empty or unknown value means "all".
#[derive(Deserialize)]
pub struct DashboardQuery {
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    q: Option<String>,
    page: Option<u32>,
    before: Option<String>,
    after: Option<String>,
}

fn pick<T: std::str::FromStr>(value: Option<&str>) -> Option<T> {
    value.filter(|v| !v.is_empty()).and_then(|v| v.parse().ok())
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Dashboard {
    fn status_is(&self, s: &Status) -> bool {
        self.filter.status == Some(*s)
    }
    fn category_is(&self, c: &Category) -> bool {
        self.filter.category == Some(*c)
    }
    fn priority_is(&self, p: &Priority) -> bool {
        self.filter.priority == Some(*p)
    }
}

pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    require_staff(&visitor, &req)?;
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let filter = RequestFilter {
        owner: None,
        status: pick(query.status.as_deref()),
        category: pick(query.category.as_deref()),
        priority: pick(query.priority.as_deref()),
        text: Some(q.clone()).filter(|q| !q.is_empty()),
    };
    let window = ListPager::window(query.page, query.before.as_deref(), query.after.as_deref())?;
    let found = requests::list_action_first(&state.db, filter.clone(), window).await?;
    let requests::Overview {
        stats,
        urgent,
        days,
    } = requests::overview(&state.db, 30).await?;
    let lang = visitor.lang;
    let categories: Vec<(&str, String, u64)> = stats
        .by_category
        .iter()
        .map(|(c, n)| (c.as_str(), lang.label(c), *n))
        .collect();
    let priorities: Vec<(&str, String, u64)> = stats
        .by_priority
        .iter()
        .map(|(p, n)| (p.as_str(), lang.label(p), *n))
        .collect();
    let mut query_string = String::new();
    for (name, value) in [
        ("status", filter.status.map(Status::as_str)),
        ("category", filter.category.map(Category::as_str)),
        ("priority", filter.priority.map(Priority::as_str)),
        ("q", filter.text.as_deref()),
    ] {
        if let Some(value) = value {
            query_string.push_str(&format!("{name}={}&", encode(value)));
        }
    }
    let page = Dashboard {
        chrome: Chrome::new(&visitor),
        category_chart: charts::bars(&lang.t("chart-by-category"), "chart-category", &categories),
        priority_chart: charts::bars(&lang.t("chart-by-priority"), "chart-priority", &priorities),
        day_chart: charts::per_day(&lang.t("chart-per-day"), &days, |n| {
            lang.t1("chart-day-count", "count", n)
        }),
        stats,
        urgent,
        statuses: Status::ALL,
        categories: Category::ALL,
        priorities: Priority::ALL,
        filter,
        q,
        query: query_string,
        pager: ListPager::new(&found),
        requests: found.rows.into_iter().map(RequestView::from).collect(),
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "staff/request.html")]
struct RequestPage {
    chrome: Chrome,
    r: RequestView,
    history: Vec<HistoryLine>,
    statuses: &'static [Status],
    categories: &'static [Category],
    priorities: &'static [Priority],
}

impl RequestPage {
    fn status_is(&self, s: &Status) -> bool {
        self.r.status == *s
    }
    fn category_is(&self, c: &Category) -> bool {
        self.r.category == Some(*c)
    }
    fn priority_is(&self, p: &Priority) -> bool {
        self.r.priority == Some(*p)
    }
    fn category_was(&self) -> &'static str {
        self.r.category.map_or("", Category::as_str)
    }
    fn priority_was(&self) -> &'static str {
        self.r.priority.map_or("", Priority::as_str)
    }
}

pub async fn show_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let user = require_staff(&visitor, &req)?;
    let (r, history) = request_with_history(&state, user, RequestId(*id), visitor.lang).await?;
    let page = RequestPage {
        chrome: Chrome::new(&visitor),
        r,
        history,
        statuses: Status::ALL,
        categories: Category::ALL,
        priorities: Priority::ALL,
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct UpdateForm {
    csrf_token: String,
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    /// The values the form was rendered with (hidden fields): only a field the admin changed
    /// is applied, so a refinement that arrived meanwhile is neither reverted nor made manual.
    status_was: Option<String>,
    category_was: Option<String>,
    priority_was: Option<String>,
}

fn parse_or_422<T: std::str::FromStr>(value: Option<&str>) -> Result<Option<T>, AppError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| AppError::unprocessable(format!("unknown value '{v}'")))
        })
        .transpose()
}

/// The field's new value if the admin changed it: it differs from the value the form was
/// rendered with (or, for a form without that, from the current one) and from the current one.
fn edited<T: std::str::FromStr + PartialEq + Copy>(
    submitted: Option<String>,
    rendered: Option<String>,
    current: Option<T>,
) -> Result<Option<T>, AppError> {
    let Some(new) = parse_or_422::<T>(submitted.as_deref())? else {
        return Ok(None);
    };
    let before = match rendered {
        Some(rendered) => rendered.parse().ok(),
        None => current,
    };
    Ok((Some(new) != before && Some(new) != current).then_some(new))
}

pub async fn update_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    form: super::form::PageForm<UpdateForm>,
) -> Result<HttpResponse, PageError> {
    let user = require_staff(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    let current = requests::get(&state.db, user, RequestId(*id)).await?;
    let form = form.into_inner();
    let changes = RequestChanges {
        status: edited(form.status, form.status_was, Some(current.status))?,
        category: edited(form.category, form.category_was, current.category)?,
        priority: edited(form.priority, form.priority_was, current.priority)?,
    };
    let to = format!("/admin/requests/{}", *id);
    if changes.is_empty() {
        return Ok(redirect(&to, Some(&visitor.lang.t("flash-no-changes"))));
    }
    requests::update(&state, user, RequestId(*id), changes).await?;
    Ok(redirect(&to, Some(&visitor.lang.t("flash-saved"))))
}

#[derive(Template)]
#[template(path = "staff/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    me: UserId,
    roles: &'static [Role],
    /// The search as typed.
    q: String,
    /// The search as a query string prefix for the pager links.
    query: String,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    page: Option<u32>,
}

pub(super) fn require_super<'a>(
    visitor: &'a Visitor,
    req: &HttpRequest,
) -> Result<&'a User, PageError> {
    let user = require_staff(visitor, req)?;
    if user.role == Role::SuperAdmin {
        Ok(user)
    } else {
        Err(AppError::Forbidden("super admins only".into()).into())
    }
}

pub async fn users(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, PageError> {
    let me = require_super(&visitor, &req)?.id;
    let page = query.page.unwrap_or(1).max(1);
    // Control characters are no part of an address or a name (a NUL would end SQLite's
    // pattern early and match every account).
    let q: String = query
        .q
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    let text = Some(q.clone()).filter(|q| !q.is_empty());
    let query = text
        .as_deref()
        .map(|q| format!("q={}&", encode(q)))
        .unwrap_or_default();
    let (users, total) = accounts::search(&state.db, text, Pager::window(page)).await?;
    let page = UsersPage {
        chrome: Chrome::new(&visitor),
        users,
        me,
        roles: Role::ALL,
        q,
        query,
        pager: Pager::new(page, total),
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "staff/delete_user.html")]
struct ConfirmDeleteUserPage {
    chrome: Chrome,
    user: User,
    /// The account's requests, deleted with it.
    requests: u64,
}

/// What a super admin is told when they try to delete their own account.
fn not_yourself(visitor: &Visitor) -> HttpResponse {
    redirect("/admin/users", Some(&visitor.lang.t("flash-not-yourself")))
}

/// Asks before deleting an account (the page shown without JavaScript; with it, a dialog
/// on the users page asks and posts the same form).
pub async fn confirm_delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let me = require_super(&visitor, &req)?;
    let target = UserId(*id);
    if target == me.id {
        return Ok(not_yourself(&visitor));
    }
    let user = accounts::find(&state.db, target)
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    let theirs = RequestFilter {
        owner: Some(target),
        ..RequestFilter::default()
    };
    let requests = requests::list(&state.db, theirs, Pager::window(1).into())
        .await?
        .total
        .count;
    let page = ConfirmDeleteUserPage {
        chrome: Chrome::new(&visitor),
        user,
        requests,
    };
    render(&visitor, StatusCode::OK, &page)
}

pub async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    form: super::form::PageForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let me = require_super(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    let target = UserId(*id);
    if target == me.id {
        return Ok(not_yourself(&visitor));
    }
    let user = accounts::find(&state.db, target)
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    match accounts::delete(&state, me, target).await {
        Ok(()) => {}
        // The last super admin stays (another super admin demoted meanwhile).
        Err(AppError::BadRequest(_)) => {
            return Ok(redirect(
                "/admin/users",
                Some(&visitor.lang.t("flash-last-super-admin")),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(redirect(
        "/admin/users",
        Some(
            &visitor
                .lang
                .t1("flash-user-deleted", "email", user.email.as_str()),
        ),
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf_token: String,
    role: String,
}

pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    form: super::form::PageForm<RoleForm>,
) -> Result<HttpResponse, PageError> {
    let me = require_super(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| AppError::unprocessable(format!("unknown role '{}'", form.role)))?;
    let user = accounts::change_role(&state, me, UserId(*id), role)
        .await?
        .user;
    let lang = visitor.lang;
    Ok(redirect(
        "/admin/users",
        Some(&lang.t2(
            "flash-role-changed",
            "email",
            user.email.as_str(),
            "role",
            lang.label(role),
        )),
    ))
}
