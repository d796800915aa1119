//! /api/auth: register, log in, who am I (and a new name), sessions, change password.

use crate::accounts::User;
use crate::accounts::{self, Registration};
use crate::auth::extract::current_session;
use crate::auth::{AuthUser, SessionKind, sessions};
use crate::errors::AppError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    /// An address whose domain has a dot.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 8 to 72 bytes (UTF-8); longer is refused, never truncated.
    #[schema(min_length = 8, max_length = 72)]
    password: String,
    #[schema(max_length = 100)]
    full_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    operation_id = "register",
    summary = "Create a resident account",
    security(()),
    request_body = RegisterBody,
    responses(
        (status = 200, description = "The new account", body = crate::accounts::User),
        (status = 400, description = "The email is taken (`Email already registered`)", body = crate::errors::ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = crate::errors::ErrorBody),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, AppError> {
    state.auth_limiter.check_registration(&req)?;
    let body = body.into_inner();
    let registration = Registration::parse(&body.email, body.password, body.full_name.as_deref())?;
    let user = accounts::register(&state.db, &state.passwords, registration).await?;
    // 200, not 201: the original's clients expect what it answered.
    Ok(HttpResponse::Ok().json(user))
}

/// The original's OAuth2 password form (`username`, `password`) or JSON `{email, password}`.
#[derive(Deserialize, ToSchema)]
struct LoginBody {
    /// The account's email (JSON may call it `email`).
    #[serde(alias = "email")]
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    #[schema(pattern = "^bearer$")]
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
}

/// The login fields from the body, whichever way the client encoded them.
async fn parse_login(req: &HttpRequest, body: web::Bytes) -> Result<LoginBody, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| AppError::unprocessable(format!("invalid login form: {e}")))
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::unprocessable(format!("invalid JSON body: {e}")))
    } else if content_type.starts_with("multipart/form-data") {
        multipart_login(req, body).await
    } else {
        Err(AppError::UnsupportedMediaType(
            "send the login as application/x-www-form-urlencoded or multipart/form-data \
             (username, password) or application/json (email, password)"
                .into(),
        ))
    }
}

/// A browser's `FormData` (the original's login page sends one): the `username` and
/// `password` parts; any other part (`grant_type`, `scope`, `client_id`...) is ignored, as
/// the original's OAuth2 form ignored it. The body was already read within the size limit.
async fn multipart_login(req: &HttpRequest, body: web::Bytes) -> Result<LoginBody, AppError> {
    use futures_util::StreamExt;
    let malformed = |e: actix_multipart::MultipartError| {
        AppError::unprocessable(format!("invalid login form: {e}"))
    };
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut form = crate::form_data::parser(req.headers(), stream)?;
    let (mut username, mut password) = (None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        let slot = match field.name() {
            Some("username") => Some(&mut username),
            Some("password") => Some(&mut password),
            _ => None,
        };
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            value.extend_from_slice(&chunk.map_err(malformed)?);
        }
        let Some(slot) = slot else { continue };
        let name = field.name().unwrap_or_default().to_owned();
        if slot.is_some() {
            return Err(AppError::invalid(
                &name,
                format!("invalid login form: duplicate field `{name}`"),
            ));
        }
        let text = String::from_utf8(value).map_err(|_| {
            AppError::invalid(
                &name,
                format!("invalid login form: `{name}` is not UTF-8 text"),
            )
        })?;
        *slot = Some(text);
    }
    let missing =
        |name: &str| AppError::invalid(name, format!("invalid login form: missing field `{name}`"));
    Ok(LoginBody {
        username: username.ok_or_else(|| missing("username"))?,
        password: password.ok_or_else(|| missing("password"))?,
    })
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    operation_id = "login",
    summary = "Log in for an access token",
    description = "The OAuth2 password form of the original system: form fields `username` (the email) and \
        `password`, urlencoded or as multipart/form-data (a browser's `FormData`); other fields such as \
        `grant_type` and `scope` are ignored. JSON `{\"email\", \"password\"}` works too.",
    security(()),
    request_body(content(
        (LoginBody = "application/x-www-form-urlencoded"),
        (LoginBody = "multipart/form-data"),
        (LoginBody = "application/json"),
    )),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = crate::errors::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 429, description = "Too many attempts from this address", body = crate::errors::ErrorBody),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let login = parse_login(&req, body).await?;
    let begun = sessions::LoginBegun::now();
    let attempt = state.auth_limiter.begin_login(&req, &login.username)?;
    let user = accounts::authenticate(&state.db, &state.passwords, &login.username, login.password)
        .await?;
    attempt.succeeded();
    tracing::info!(user_id = %user.id, "logged in");
    issue_token(&state, &user, begun).await
}

/// A new API session for `user`, answered as the original's token response.
async fn issue_token(
    state: &AppState,
    user: &User,
    begun: sessions::LoginBegun,
) -> Result<HttpResponse, AppError> {
    let issued = sessions::start(
        state,
        user.id,
        SessionKind::Api,
        state.tokens.lifetime_secs(),
        begun,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: issued.token,
        token_type: "bearer",
        expires_in: issued.lifetime_secs,
    }))
}

#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    operation_id = "logout",
    summary = "End this token's session",
    security(("bearer" = [])),
    responses((status = 204, description = "The token no longer works"))
)]
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

#[utoipa::path(
    post,
    path = "/api/auth/logout-everywhere",
    tag = "auth",
    operation_id = "logout_everywhere",
    summary = "End every session of the caller's account",
    description = "API tokens and page sessions alike; open live sockets close.",
    security(("bearer" = [])),
    responses((status = 204, description = "No token or page session of the account works any more"))
)]
/// Ends every session of the caller's account, this one included.
pub async fn logout_everywhere(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    accounts::end_all_sessions(&state, user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    operation_id = "me",
    summary = "The current account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's account", body = crate::accounts::User))
)]
pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user.0)
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileBody {
    /// The new name, up to 100 characters (trimmed); `null` or blank clears it.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true, max_length = 100)]
    full_name: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/auth/me",
    tag = "auth",
    operation_id = "update_me",
    summary = "Change the caller's name",
    security(("bearer" = [])),
    request_body = ProfileBody,
    responses((status = 200, description = "The account with its new name", body = crate::accounts::User))
)]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ProfileBody>,
) -> Result<HttpResponse, AppError> {
    let user = accounts::rename(&state.db, user.id, body.full_name.as_deref()).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    operation_id = "list_sessions",
    summary = "The caller's account's live sessions",
    description = "API tokens and page logins that have not ended or expired, newest first; `current` marks \
        the one this request came with. End them all with `POST /api/auth/logout-everywhere`.",
    security(("bearer" = [])),
    responses((status = 200, description = "The live sessions", body = Vec<crate::auth::SessionInfo>))
)]
pub async fn list_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    let current = current_session(&req).map(|s| s.id);
    let sessions = sessions::list(&state.db, user.id, current.as_deref()).await?;
    Ok(HttpResponse::Ok().json(sessions))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    current_password: String,
    /// 8 to 72 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 72)]
    new_password: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/change-password",
    tag = "auth",
    operation_id = "change_password",
    summary = "Change the caller's password",
    security(("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Changed: every session of the account ended, this one too; a new token", body = TokenResponse),
        (status = 403, description = "The current password is wrong", body = crate::errors::ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = crate::errors::ErrorBody),
    )
)]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, AppError> {
    state.auth_limiter.check_password_change(&req)?;
    let body = body.into_inner();
    accounts::change_password(&state, &user, body.current_password, body.new_password).await?;
    // Every session of the account ended with the old password, this one too: the caller
    // carries on with the new token in the answer.
    issue_token(&state, &user, sessions::LoginBegun::now()).await
}
