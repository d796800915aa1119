//! /api/auth: register, log in, who am I, change password.

use crate::accounts::User;
use crate::accounts::{self, Registration};
use crate::auth::extract::current_session;
use crate::auth::{AuthUser, SessionKind, sessions};
use crate::errors::AppError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct RegisterBody {
    email: String,
    password: String,
    full_name: Option<String>,
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, AppError> {
    state.auth_limiter.check(&req)?;
    let body = body.into_inner();
    let registration = Registration::parse(&body.email, body.password, body.full_name.as_deref())?;
    let user = accounts::register(&state.db, &state.passwords, registration).await?;
    Ok(HttpResponse::Created().json(user))
}

/// The original's OAuth2 password form (`username`, `password`) or JSON `{email, password}`.
#[derive(Deserialize)]
struct LoginBody {
    #[serde(alias = "email")]
    username: String,
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
}

fn parse_login(req: &HttpRequest, body: &[u8]) -> Result<LoginBody, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| AppError::unprocessable(format!("invalid login form: {e}")))
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(body)
            .map_err(|e| AppError::unprocessable(format!("invalid JSON body: {e}")))
    } else {
        Err(AppError::UnsupportedMediaType(
            "send the login as application/x-www-form-urlencoded (username, password) or application/json (email, password)"
                .into(),
        ))
    }
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let login = parse_login(&req, &body)?;
    let attempt = state.auth_limiter.begin_login(&req, &login.username)?;
    let user = accounts::authenticate(&state.db, &state.passwords, &login.username, login.password)
        .await?;
    attempt.succeeded();
    tracing::info!(user_id = %user.id, "logged in");
    issue_token(&state, &user).await
}

/// A new API session for `user`, answered as the original's token response.
async fn issue_token(state: &AppState, user: &User) -> Result<HttpResponse, AppError> {
    let issued = sessions::start(
        state,
        user.id,
        SessionKind::Api,
        state.tokens.lifetime_secs(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: issued.token,
        token_type: "bearer",
        expires_in: issued.lifetime_secs,
    }))
}

/// Ends the session of the token this request carries; the token stops working at once.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    if let Some(session) = current_session(&req) {
        sessions::end(&state, user.id, &session.id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller's account, this one included.
pub async fn logout_everywhere(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    accounts::end_all_sessions(&state, user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user.0)
}

#[derive(Deserialize)]
pub struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, AppError> {
    state.auth_limiter.check(&req)?;
    let body = body.into_inner();
    accounts::change_password(
        &state.db,
        &state.passwords,
        &user,
        body.current_password,
        body.new_password,
    )
    .await?;
    // Every session of the account ended with the old password, this one too: the caller
    // carries on with the new token in the answer.
    state.account_changes.record(user.id);
    issue_token(&state, &user).await
}
