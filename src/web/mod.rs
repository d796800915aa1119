//! The server-rendered pages (Korean UI). Forms work without JavaScript: post, redirect,
//! flash message. `static/app.js` only adds live updates.

mod account;
pub mod assets;
mod auth;
mod charts;
mod resident;
pub mod session;
mod staff;
pub mod views;

use crate::accounts::User;
use crate::errors::AppError;
use crate::routing::{self, Endpoint, at};
use crate::taxonomy::Role;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use session::Visitor;

/// Every page route, in matching order (`/requests/new` before `/requests/{id}`). Add a route
/// here and give it a rule in the access test (tests/api/access.rs), which fails for any route
/// listed here without one.
fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        at(M::GET, "/", auth::landing),
        at(M::GET, "/login", auth::login_form),
        at(M::POST, "/login", auth::login),
        at(M::GET, "/register", auth::register_form),
        at(M::POST, "/register", auth::register),
        at(M::POST, "/logout", auth::logout),
        at(M::POST, "/logout-everywhere", auth::logout_everywhere),
        at(M::GET, "/account", account::show),
        at(M::POST, "/account/name", account::rename),
        at(M::POST, "/account/password", account::change_password),
        at(M::GET, "/password-reset", account::reset_form),
        at(M::POST, "/password-reset", account::request_reset),
        at(M::GET, "/password-reset/new", account::new_password_form),
        at(M::POST, "/password-reset/new", account::set_new_password),
        at(M::GET, "/requests/new", resident::new_request_form),
        at(M::POST, "/requests/new", resident::submit_request),
        at(M::GET, "/my-requests", resident::my_requests),
        at(M::GET, "/requests/{id}", resident::show_request),
        at(M::POST, "/requests/{id}/delete", resident::delete_request),
        at(M::GET, "/admin", staff::dashboard),
        at(M::GET, "/admin/requests/{id}", staff::show_request),
        at(M::POST, "/admin/requests/{id}", staff::update_request),
        at(M::GET, "/admin/users", staff::users),
        at(M::POST, "/admin/users/{id}/role", staff::change_role),
        at(M::POST, "/admin/users/{id}/reset-link", account::issue_link),
        at(M::GET, "/static/{file}", assets::serve),
    ]
}

/// Mounts every page route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routing::register(cfg, endpoints());
}

/// The (method, path pattern) of every page route.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routing::table(endpoints())
}

/// What the layout needs on every page.
pub struct Chrome {
    pub user: Option<User>,
    pub last_event: i64,
    pub csrf: String,
    pub flash: Option<String>,
    pub css: String,
    pub js: String,
    pub icon: String,
}

impl Chrome {
    pub fn new(visitor: &Visitor) -> Chrome {
        Chrome {
            user: visitor.user.clone(),
            last_event: visitor.last_event,
            csrf: visitor.csrf.clone(),
            flash: visitor.flash.clone(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("favicon.svg"),
        }
    }

    fn anonymous() -> Chrome {
        Chrome {
            user: None,
            last_event: 0,
            csrf: String::new(),
            flash: None,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("favicon.svg"),
        }
    }

    pub fn is_super(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.role == Role::SuperAdmin)
    }

    /// Whether the page script should connect for live updates.
    pub fn live(&self) -> bool {
        self.user.is_some()
    }
}

/// Renders a page with the visitor's cookies.
pub fn render(
    visitor: &Visitor,
    status: StatusCode,
    page: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError::App(AppError::internal(e)))?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    visitor.cookies(&mut response);
    Ok(response.body(html))
}

/// A page request that failed: shown as a page in the same layout, or a redirect to log in.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("login required")]
    LoginRequired { next: String },
    #[error("the form's security token did not match")]
    BadCsrf,
    #[error(transparent)]
    App(#[from] AppError),
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            PageError::BadCsrf => StatusCode::FORBIDDEN,
            PageError::App(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::LoginRequired { next } = self {
            let to = format!("/login?next={}", encode_path(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        }
        let status = self.status_code();
        if let PageError::App(AppError::Internal(cause) | AppError::Unavailable(cause)) = self {
            // The cause goes to the log; the page says nothing of it.
            tracing::error!(%cause, "page failed");
        }
        let (title, message) = match (self, status.as_u16()) {
            (PageError::BadCsrf, _) => (
                "요청을 확인할 수 없습니다",
                "보안 토큰이 맞지 않습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
            ),
            (_, 403) => (
                "접근 권한이 없습니다",
                "이 페이지는 관리자만 볼 수 있습니다.",
            ),
            (_, 404) => (
                "페이지를 찾을 수 없습니다",
                "주소가 바뀌었거나 삭제된 요청일 수 있습니다.",
            ),
            (_, 413) => ("파일이 너무 큽니다", "더 작은 사진을 올려 주세요."),
            (_, 429) => (
                "잠시 후 다시 시도해 주세요",
                "짧은 시간에 너무 많은 시도가 있었습니다.",
            ),
            (_, s) if s >= 500 => (
                "일시적인 문제가 생겼습니다",
                "잠시 후 다시 시도해 주세요. 문제가 계속되면 관리사무소에 알려 주세요.",
            ),
            _ => ("요청을 처리할 수 없습니다", "입력한 내용을 확인해 주세요."),
        };
        let page = ErrorPage {
            chrome: Chrome::anonymous(),
            title,
            message,
        };
        let html = page.render().unwrap_or_else(|_| title.to_owned());
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

/// The logged-in user, or a redirect to the login page that comes back here.
pub fn require_user<'a>(visitor: &'a Visitor, req: &HttpRequest) -> Result<&'a User, PageError> {
    visitor
        .user
        .as_ref()
        .ok_or_else(|| PageError::LoginRequired {
            next: req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned(),
        })
}

/// An admin or super admin; residents get the 403 page.
pub fn require_staff<'a>(visitor: &'a Visitor, req: &HttpRequest) -> Result<&'a User, PageError> {
    let user = require_user(visitor, req)?;
    if user.role.is_staff() {
        Ok(user)
    } else {
        Err(AppError::Forbidden("staff only".into()).into())
    }
}

/// A request the user may see, with its history, as the detail pages show them (404 otherwise).
pub async fn request_with_history(
    state: &crate::state::AppState,
    user: &User,
    id: crate::ids::RequestId,
) -> Result<(views::RequestView, Vec<views::HistoryLine>), PageError> {
    let request = crate::requests::get(&state.db, user, id).await?;
    let history = crate::requests::history(&state.db, user, id).await?;
    Ok((
        request.into(),
        history.iter().map(views::HistoryLine::from).collect(),
    ))
}

/// Refuses a form whose CSRF token does not match the visitor's cookie.
pub fn check_csrf(visitor: &Visitor, submitted: &str) -> Result<(), PageError> {
    if visitor.csrf_matches(submitted) {
        Ok(())
    } else {
        Err(PageError::BadCsrf)
    }
}

/// Only a local path is followed after login: a single `/`, then a path character, and only
/// visible ASCII throughout. Browsers drop tabs and line breaks (`/\t/host` becomes `//host`,
/// another site), and a line break cannot go in a `Location` header at all.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    let rest = next.strip_prefix('/')?;
    let visible = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let leads_elsewhere = rest.starts_with('/') || starts_with_encoded(rest, b"/\\");
    (visible && !leads_elsewhere && !encodes_a_control_character(next)).then(|| next.to_owned())
}

/// Whether `text` begins with one of `bytes` percent-encoded.
fn starts_with_encoded(text: &str, bytes: &[u8]) -> bool {
    decode_escape(text.as_bytes()).is_some_and(|b| bytes.contains(&b))
}

/// Whether `text` holds a percent-encoded control character (`%09`, `%0d`, `%7f`...).
fn encodes_a_control_character(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| decode_escape(&bytes[i..]).is_some_and(|b| b.is_ascii_control()))
}

/// The byte of a `%XX` escape at the start of `bytes`.
fn decode_escape(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [b'%', high, low, ..] => {
            let hex = |d: u8| char::from(d).to_digit(16);
            Some((hex(*high)? * 16 + hex(*low)?) as u8)
        }
        _ => None,
    }
}

fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Unknown routes: a page for browsers, `{"detail"}` for API clients.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let wants_html = !req.path().starts_with("/api")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        PageError::App(AppError::NotFound("Not Found".into())).error_response()
    } else {
        AppError::NotFound("Not Found".into()).error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/my-requests?page=2")).as_deref(),
            Some("/my-requests?page=2")
        );
        assert_eq!(safe_next(Some("/")).as_deref(), Some("/"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "evil",
            "/\\evil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/%2f/evil.example",
            "/x%0D%0ASet-Cookie:a=b",
            "/x\r\ny",
            "/%7F",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }
}
