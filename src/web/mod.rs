//! The server-rendered pages, in Korean or English (see [`i18n`]). Forms work without
//! JavaScript: post, redirect, flash message. `static/app.js` only adds live updates.

mod account;
pub mod assets;
mod auth;
mod charts;
mod form;
pub mod i18n;
mod resident;
pub mod session;
mod staff;
pub mod views;

use crate::accounts::User;
use crate::errors::AppError;
use crate::routing::{self, Endpoint, at};
use crate::taxonomy::Role;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use i18n::{Arg, Labelled, Lang};
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
        at(M::GET, "/requests/{id}/delete", resident::confirm_delete),
        at(M::POST, "/requests/{id}/delete", resident::delete_request),
        at(M::GET, "/admin", staff::dashboard),
        at(M::GET, "/admin/requests/{id}", staff::show_request),
        at(M::POST, "/admin/requests/{id}", staff::update_request),
        at(M::GET, "/admin/users", staff::users),
        at(M::POST, "/admin/users/{id}/role", staff::change_role),
        at(
            M::GET,
            "/admin/users/{id}/delete",
            staff::confirm_delete_user,
        ),
        at(M::POST, "/admin/users/{id}/delete", staff::delete_user),
        at(M::POST, "/language", i18n::switch),
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
    /// The language of the page.
    pub lang: Lang,
    /// The building's name (`SITE_NAME`), in the title and the header.
    pub site_name: String,
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
            lang: visitor.lang,
            site_name: i18n::site_name(visitor.lang, &visitor.site_name),
            user: visitor.user.clone(),
            last_event: visitor.last_event,
            csrf: visitor.csrf.clone(),
            flash: visitor.flash.clone(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("favicon.svg"),
        }
    }

    /// For a page rendered without knowing the visitor (replaced by [`error_pages`]).
    fn anonymous(lang: Lang) -> Chrome {
        Chrome {
            lang,
            site_name: i18n::site_name(lang, crate::config::DEFAULT_SITE_NAME),
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

    /// The text `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// The text `key` with one argument.
    pub fn t1(&self, key: &str, name: &str, value: impl Arg) -> String {
        self.lang.t1(key, name, value)
    }

    /// The text `key` with two arguments.
    pub fn t2(&self, key: &str, n1: &str, v1: impl Arg, n2: &str, v2: impl Arg) -> String {
        self.lang.t2(key, n1, v1, n2, v2)
    }

    /// The text `key` with three arguments.
    #[allow(clippy::too_many_arguments)]
    pub fn t3(
        &self,
        key: &str,
        n1: &str,
        v1: impl Arg,
        n2: &str,
        v2: impl Arg,
        n3: &str,
        v3: impl Arg,
    ) -> String {
        self.lang.t3(key, n1, v1, n2, v2, n3, v3)
    }

    /// A status, category, priority or role as the page's language names it.
    pub fn label(&self, value: impl Labelled) -> String {
        self.lang.label(value)
    }

    /// The languages the footer's switch offers.
    pub fn languages(&self) -> &'static [Lang] {
        Lang::ALL
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
    // The page's language follows these.
    response.insert_header((header::VARY, "Accept-Language, Cookie"));
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
struct ErrorPage {
    chrome: Chrome,
    title: String,
    message: String,
}

impl PageError {
    /// The title and message of the error page in `lang`; None for a redirect to log in.
    fn page_text(&self, lang: Lang) -> Option<(String, String)> {
        match self {
            PageError::LoginRequired { .. } => None,
            PageError::BadCsrf => Some((lang.t("error-csrf-title"), lang.t("error-csrf-message"))),
            PageError::App(_) => Some(status_text(self.status_code(), lang)),
        }
    }

    /// Whether the error is shown as a page (not a redirect to log in).
    fn is_page(&self) -> bool {
        !matches!(self, PageError::LoginRequired { .. })
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            PageError::BadCsrf => StatusCode::FORBIDDEN,
            PageError::App(e) => e.status_code(),
        }
    }

    /// The error page for an anonymous visitor: [`error_pages`], which sees the request,
    /// renders it again with the visitor's own menu.
    fn error_response(&self) -> HttpResponse {
        let Some((title, message)) = self.page_text(Lang::default()) else {
            let next = match self {
                PageError::LoginRequired { next } => next.as_str(),
                _ => "/",
            };
            let to = format!("/login?next={}", encode_path(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        };
        if let PageError::App(AppError::Internal(cause) | AppError::Unavailable(cause)) = self {
            // The cause goes to the log; the page says nothing of it.
            tracing::error!(%cause, "page failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let PageError::App(AppError::TooManyRequests {
            retry_after_secs, ..
        }) = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        let fallback = title.clone();
        let page = ErrorPage {
            chrome: Chrome::anonymous(Lang::default()),
            title,
            message,
        };
        let html = page.render().unwrap_or(fallback);
        response.content_type("text/html; charset=utf-8").body(html)
    }
}

/// The title and message of an error page for `status` in `lang`.
fn status_text(status: StatusCode, lang: Lang) -> (String, String) {
    let (title, message) = match status.as_u16() {
        403 => ("error-forbidden-title", "error-forbidden-message"),
        404 => ("error-not-found-title", "error-not-found-message"),
        413 => ("error-too-large-title", "error-too-large-message"),
        429 => ("error-too-many-title", "error-too-many-message"),
        s if s >= 500 => ("error-server-title", "error-server-message"),
        _ => ("error-invalid-title", "error-invalid-message"),
    };
    (lang.t(title), lang.t(message))
}

/// Middleware: a page's error response (403, 404, 500...) rendered again for the visitor who
/// asked, with their own menu and the site's name, as every other page is.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let shown = match res.response().error() {
        None => false,
        Some(e) => match e.as_error::<PageError>() {
            Some(error) => error.is_page(),
            // A refusal before the handler ran (a form, path or query that cannot be read, a
            // body too large, a wrong method) on a page's path: a page too, not JSON.
            None => !crate::api::is_api_path(res.request().path()),
        },
    };
    if !shown {
        return Ok(res.map_into_left_body());
    }
    let (req, res) = res.into_parts();
    let status = res.status();
    let text = |lang: Lang| match res.error().and_then(|e| e.as_error::<PageError>()) {
        Some(error) => error.page_text(lang),
        None => Some(status_text(status, lang)),
    };
    // When even the visitor cannot be known (the database is down), the page has no menu,
    // in the language the request asks for.
    let chrome = match Visitor::extract(&req).await {
        Ok(visitor) => {
            let mut chrome = Chrome::new(&visitor);
            // A message waiting for the next page is kept for it.
            chrome.flash = None;
            chrome
        }
        Err(_) => Chrome::anonymous(Lang::of_request(&req)),
    };
    let Some((title, message)) = text(chrome.lang) else {
        return Ok(ServiceResponse::new(req, res).map_into_left_body());
    };
    let Ok(html) = (ErrorPage {
        chrome,
        title,
        message,
    })
    .render() else {
        return Ok(ServiceResponse::new(req, res).map_into_left_body());
    };
    let mut page = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            page.append_header((name.clone(), value.clone()));
        }
    }
    page.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    page.insert_header((header::VARY, "Accept-Language, Cookie"));
    Ok(ServiceResponse::new(req, page.body(html)).map_into_right_body())
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
    lang: Lang,
) -> Result<(views::RequestView, Vec<views::HistoryLine>), PageError> {
    let request = crate::requests::get(&state.db, user, id).await?;
    let history = crate::requests::history(&state.db, user, id).await?;
    Ok((
        request.into(),
        history
            .iter()
            .map(|entry| views::HistoryLine::new(entry, lang))
            .collect(),
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
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, PageError> {
    let wants_html = !req.path().starts_with("/api")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        Err(PageError::App(AppError::NotFound("Not Found".into())))
    } else {
        Ok(AppError::NotFound("Not Found".into()).error_response())
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
