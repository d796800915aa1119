//! /api/auth: register, log in, who am I, change password.

use crate::accounts::{self, Registration};
use crate::auth::AuthUser;
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
    let access_token = state.tokens.issue(user.id).map_err(AppError::internal)?;
    tracing::info!(user_id = %user.id, "logged in");
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: state.tokens.lifetime_secs(),
    }))
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
    Ok(HttpResponse::NoContent().finish())
}
