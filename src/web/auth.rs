//! Landing, log in, register, log out.

use super::i18n::Lang;
use super::session::{CsrfForm, Visitor, end_session, redirect, session_cookie};
use super::{Chrome, PageError, check_csrf, render, safe_next};
use crate::accounts::{self, Registration, User};
use crate::auth::{SessionKind, sessions};
use crate::errors::AppError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    chrome: Chrome,
    /// What to do when it cannot wait for a form (`EMERGENCY_TEXT`).
    emergency: String,
}

pub async fn landing(
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, PageError> {
    render(
        &visitor,
        StatusCode::OK,
        &Landing {
            chrome: Chrome::new(&visitor),
            emergency: super::i18n::emergency_text(visitor.lang, &state.config.emergency_text),
        },
    )
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    email: String,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    visitor: Visitor,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let page = LoginPage {
        chrome: Chrome::new(&visitor),
        error: None,
        email: String::new(),
        next: safe_next(query.next.as_deref()).unwrap_or_default(),
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

/// Where a user lands after logging in: staff on the dashboard, residents on their requests.
fn home_of(user: &User) -> &'static str {
    if user.role.is_staff() {
        "/admin"
    } else {
        "/my-requests"
    }
}

/// Logs `user` in: a new page session and its cookie, then on to `next` or their home page.
pub(super) async fn start_session(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    next: Option<&str>,
    begun: sessions::LoginBegun,
) -> Result<HttpResponse, PageError> {
    let lifetime = state.config.session_hours * 3600;
    let issued = sessions::start(state, user.id, SessionKind::Page, lifetime, begun).await?;
    let to = safe_next(next).unwrap_or_else(|| home_of(user).to_owned());
    let mut response = redirect(&to, None);
    response
        .add_cookie(&session_cookie(issued.token, lifetime, visitor.secure))
        .map_err(AppError::internal)?;
    Ok(response)
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&visitor, &form.csrf_token)?;
    let form = form.into_inner();
    let attempt = state.auth_limiter.begin_login(&req, &form.email)?;
    let begun = sessions::LoginBegun::now();
    match accounts::authenticate(&state.db, &state.passwords, &form.email, form.password).await {
        Ok(user) => {
            attempt.succeeded();
            start_session(&state, &visitor, &user, form.next.as_deref(), begun).await
        }
        Err(AppError::Unauthorized(_)) => {
            let page = LoginPage {
                chrome: Chrome::new(&visitor),
                error: Some(visitor.lang.t("login-failed")),
                email: form.email,
                next: safe_next(form.next.as_deref()).unwrap_or_default(),
            };
            render(&visitor, StatusCode::UNAUTHORIZED, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    chrome: Chrome,
    error: Option<String>,
    email: String,
    full_name: String,
}

pub async fn register_form(visitor: Visitor) -> Result<HttpResponse, PageError> {
    let page = RegisterPage {
        chrome: Chrome::new(&visitor),
        error: None,
        email: String::new(),
        full_name: String::new(),
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RegisterForm {
    email: String,
    password: String,
    full_name: Option<String>,
    csrf_token: String,
}

/// The message for a refused registration, in the visitor's language.
fn registration_problem(lang: Lang, error: &AppError) -> String {
    match error {
        AppError::Validation { fields, .. } if fields.iter().any(|f| f == "email") => {
            lang.t("register-bad-email")
        }
        AppError::Validation { fields, .. } if fields.iter().any(|f| f == "password") => {
            lang.t("register-bad-password")
        }
        AppError::EmailTaken => lang.t("register-email-taken"),
        _ => lang.t("register-invalid"),
    }
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&visitor, &form.csrf_token)?;
    state.auth_limiter.check_registration(&req)?;
    let form = form.into_inner();
    let attempt = match Registration::parse(&form.email, form.password, form.full_name.as_deref()) {
        Ok(registration) => accounts::register(&state.db, &state.passwords, registration).await,
        Err(e) => Err(e),
    };
    match attempt {
        Ok(user) => {
            let mut response =
                start_session(&state, &visitor, &user, None, sessions::LoginBegun::now()).await?;
            super::session::set_flash(&mut response, &visitor.lang.t("flash-welcome"));
            Ok(response)
        }
        Err(e @ (AppError::Validation { .. } | AppError::EmailTaken)) => {
            let status = if matches!(e, AppError::EmailTaken) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = RegisterPage {
                chrome: Chrome::new(&visitor),
                error: Some(registration_problem(visitor.lang, &e)),
                email: form.email,
                full_name: form.full_name.unwrap_or_default(),
            };
            render(&visitor, status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends this browser's session.
pub async fn logout(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&visitor, &form.csrf_token)?;
    if let (Some(session), Some(user)) = (&visitor.session, &visitor.user) {
        sessions::end(&state, user.id, session).await?;
    }
    logged_out(&visitor, &visitor.lang.t("flash-logged-out"))
}

/// Ends every session of the account: other browsers, phones and API tokens too.
pub async fn logout_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let user = super::require_user(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    accounts::end_all_sessions(&state, user.id).await?;
    logged_out(&visitor, &visitor.lang.t("flash-logged-out-everywhere"))
}

fn logged_out(visitor: &Visitor, message: &str) -> Result<HttpResponse, PageError> {
    let mut response = redirect("/", Some(message));
    response
        .add_cookie(&end_session(visitor.secure))
        .map_err(AppError::internal)?;
    Ok(response)
}
