//! "내 정보" (`/account`: name, password, sessions) and forgotten passwords
//! (`/password-reset`: a link by mail, or from a super admin when no mail is configured).

use super::session::{CsrfForm, Visitor, redirect, set_flash};
use super::{Chrome, PageError, check_csrf, render, require_user};
use crate::accounts::{self, User};
use crate::auth::{SessionKind, reset, sessions};
use crate::errors::AppError;
use crate::ids::UserId;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// A session as the account page lists it.
struct SessionLine {
    kind: String,
    kind_code: &'static str,
    created: String,
    expires: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage<'a> {
    chrome: Chrome,
    user: &'a User,
    joined: String,
    full_name: String,
    sessions: Vec<SessionLine>,
    name_error: Option<String>,
    password_error: Option<String>,
}

/// What the account page shows besides the account: a name as typed, and one error.
#[derive(Default)]
struct Shown {
    typed_name: Option<String>,
    name_error: Option<String>,
    password_error: Option<String>,
}

async fn account_page(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let sessions = sessions::list(&state.db, user.id, visitor.session.as_deref())
        .await?
        .into_iter()
        .map(|s| SessionLine {
            kind: match s.kind {
                SessionKind::Api => visitor.lang.t("session-kind-api"),
                SessionKind::Page => visitor.lang.t("session-kind-page"),
            },
            kind_code: s.kind.as_str(),
            created: visitor.lang.datetime(s.created_at),
            expires: visitor.lang.datetime(s.expires_at),
            current: s.current,
        })
        .collect();
    let page = AccountPage {
        chrome: Chrome::new(visitor),
        user,
        joined: visitor.lang.datetime(user.created_at),
        full_name: shown
            .typed_name
            .unwrap_or_else(|| user.full_name.clone().unwrap_or_default()),
        sessions,
        name_error: shown.name_error,
        password_error: shown.password_error,
    };
    render(visitor, status, &page)
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    account_page(&state, &visitor, user, StatusCode::OK, Shown::default()).await
}

#[derive(Deserialize)]
pub struct NameForm {
    full_name: Option<String>,
    csrf_token: String,
}

pub async fn rename(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<NameForm>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    match accounts::rename(&state.db, user.id, form.full_name.as_deref()).await {
        Ok(_) => Ok(redirect(
            "/account",
            Some(&visitor.lang.t("flash-name-saved")),
        )),
        Err(AppError::Validation { .. }) => {
            let shown = Shown {
                typed_name: form.into_inner().full_name,
                name_error: Some(visitor.lang.t("account-bad-name")),
                ..Shown::default()
            };
            account_page(
                &state,
                &visitor,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                shown,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    /// The new password typed again; when sent, it must match.
    new_password_confirm: Option<String>,
    csrf_token: String,
}

/// Changes the password (every session of the account ends), then logs this browser in
/// again on a new session.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let user = require_user(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    state.auth_limiter.check_password_change(&req)?;
    let form = form.into_inner();
    let lang = visitor.lang;
    let refused = |status, message: String| {
        let shown = Shown {
            password_error: Some(message),
            ..Shown::default()
        };
        account_page(&state, &visitor, user, status, shown)
    };
    if form
        .new_password_confirm
        .as_ref()
        .is_some_and(|c| *c != form.new_password)
    {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang.t("password-confirm-differs"),
        )
        .await;
    }
    match accounts::change_password(&state, user, form.current_password, form.new_password).await {
        Ok(()) => {
            let begun = sessions::LoginBegun::now();
            let mut response =
                super::auth::start_session(&state, &visitor, user, Some("/account"), begun).await?;
            set_flash(&mut response, &lang.t("flash-password-changed"));
            Ok(response)
        }
        Err(AppError::Forbidden(_)) => {
            refused(StatusCode::FORBIDDEN, lang.t("account-wrong-password")).await
        }
        Err(AppError::Validation { .. }) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, lang.t("password-rule")).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account/reset_request.html")]
struct ResetRequestPage<'a> {
    chrome: Chrome,
    /// Mail can be sent: the form; otherwise, ask the office.
    mail: bool,
    minutes: i64,
    email: &'a str,
    error: Option<String>,
}

pub async fn reset_form(
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, PageError> {
    let page = ResetRequestPage {
        chrome: Chrome::new(&visitor),
        mail: state.mailer.is_enabled(),
        minutes: reset::LINK_MINUTES,
        email: "",
        error: None,
    };
    render(&visitor, StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ResetRequestForm {
    email: String,
    csrf_token: String,
}

/// Asks for a link by mail. The answer is the same, and as quick, whether or not the
/// address has an account: the lookup and the mail happen after it, in the background.
pub async fn request_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<ResetRequestForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&visitor, &form.csrf_token)?;
    state.auth_limiter.check_password_reset(&req)?;
    if !state.mailer.is_enabled() {
        return Ok(redirect(
            "/password-reset",
            Some(&visitor.lang.t("flash-reset-ask-the-office")),
        ));
    }
    let Ok(email) = accounts::normalize_email(&form.email) else {
        let page = ResetRequestPage {
            chrome: Chrome::new(&visitor),
            mail: true,
            minutes: reset::LINK_MINUTES,
            email: &form.email,
            error: Some(visitor.lang.t("reset-bad-email")),
        };
        return render(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    // Configuration requires PUBLIC_URL with SMTP: the link never comes from the request.
    let Some(base) = state.config.public_url.clone() else {
        return Err(AppError::internal("mail is on without PUBLIC_URL").into());
    };
    reset::request_by_mail(&state, email, base, visitor.lang);
    // The same answer whether or not the address has an account.
    Ok(redirect(
        "/password-reset",
        Some(&visitor.lang.t("flash-reset-link-sent")),
    ))
}

#[derive(Template)]
#[template(path = "account/reset_new.html")]
struct NewPasswordPage<'a> {
    chrome: Chrome,
    /// None: the link does not work (unknown, used or expired).
    token: Option<&'a str>,
    email: &'a str,
    minutes: i64,
    error: Option<String>,
}

fn new_password_page(
    visitor: &Visitor,
    status: StatusCode,
    link: Option<(&str, &User)>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let page = NewPasswordPage {
        chrome: Chrome::new(visitor),
        token: link.map(|(token, _)| token),
        email: link.map_or("", |(_, user)| user.email.as_str()),
        minutes: reset::LINK_MINUTES,
        error,
    };
    // The address holds the token; the site-wide `Referrer-Policy: same-origin` keeps it from
    // other sites (`no-referrer` would make the browser send `Origin: null` with the form,
    // which the cross-origin check refuses).
    render(visitor, status, &page)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The page a reset link opens: a form for the new password while the link works.
pub async fn new_password_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = query.token.as_deref().unwrap_or_default();
    match reset::account_for(&state, token).await? {
        Some(user) => new_password_page(&visitor, StatusCode::OK, Some((token, &user)), None),
        None => new_password_page(&visitor, StatusCode::BAD_REQUEST, None, None),
    }
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    token: String,
    new_password: String,
    new_password_confirm: Option<String>,
    csrf_token: String,
}

/// Sets the new password through a link: the link is used up, every session of the account
/// ends, and the visitor is sent to log in with it.
pub async fn set_new_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: super::form::PageForm<NewPasswordForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&visitor, &form.csrf_token)?;
    state.auth_limiter.check_password_change(&req)?;
    let form = form.into_inner();
    let Some(user) = reset::account_for(&state, &form.token).await? else {
        return new_password_page(&visitor, StatusCode::BAD_REQUEST, None, None);
    };
    let lang = visitor.lang;
    let refused = |message: String| {
        new_password_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((&form.token, &user)),
            Some(message),
        )
    };
    if form
        .new_password_confirm
        .as_ref()
        .is_some_and(|c| *c != form.new_password)
    {
        return refused(lang.t("password-confirm-differs"));
    }
    match reset::complete(&state, &form.token, form.new_password.clone()).await {
        Ok(Some(_)) => Ok(redirect(
            "/login",
            Some(&visitor.lang.t("flash-new-password-saved")),
        )),
        Ok(None) => new_password_page(&visitor, StatusCode::BAD_REQUEST, None, None),
        Err(AppError::Validation { .. }) => refused(lang.t("password-rule")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account/reset_link.html")]
struct IssuedLinkPage<'a> {
    chrome: Chrome,
    email: &'a str,
    url: &'a str,
    expires: String,
}

/// A super admin issues a one-time link for an account and sees it once, to hand over.
pub async fn issue_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    form: super::form::PageForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let me = super::staff::require_super(&visitor, &req)?;
    check_csrf(&visitor, &form.csrf_token)?;
    let base = crate::links::public_base(&req, &state.config);
    let issued = reset::issue(&state, me, UserId(*id), &base).await?;
    let page = IssuedLinkPage {
        chrome: Chrome::new(&visitor),
        email: &issued.user.email,
        url: &issued.url,
        expires: visitor.lang.datetime(issued.expires_at),
    };
    render(&visitor, StatusCode::OK, &page)
}
