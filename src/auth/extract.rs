//! Who is calling: extractors that make a handler's signature state who may call it.
//!
//! The token names a session; the session and the account's role are read from the
//! database on every request, so logouts, promotions, demotions and deletions apply to
//! tokens already issued.

use super::sessions::{self, Session, SessionKind};
use crate::accounts::User;
use crate::errors::AppError;
use crate::state::AppState;
use crate::taxonomy::Role;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use std::ops::Deref;

/// Any logged-in user.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

/// An admin or super admin.
#[derive(Debug, Clone)]
pub struct StaffUser(pub User);

/// A super admin.
#[derive(Debug, Clone)]
pub struct SuperAdminUser(pub User);

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The session a request presents, kept in its extensions for handlers that need it (logout).
async fn authenticate(req: HttpRequest) -> Result<User, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state is not registered"))?;
    let (token, kind) = bearer_token(&req)
        .map(|t| (t, SessionKind::Api))
        .or_else(|| session_cookie_for_safe_method(&req, state).map(|t| (t, SessionKind::Page)))
        .ok_or_else(|| AppError::Unauthorized("Not authenticated".into()))?;
    let session = sessions::resolve(state, &token, kind).await?;
    let user = session.user.clone();
    req.extensions_mut().insert(session);
    Ok(user)
}

/// The session an authenticated request came with (after `AuthUser` and friends ran).
pub fn current_session(req: &HttpRequest) -> Option<Session> {
    req.extensions().get::<Session>().cloned()
}

/// The page session cookie, accepted only on GET and HEAD (a photo in an `<img>`): requests
/// that change something must come with a Bearer token or through a CSRF-checked form.
fn session_cookie_for_safe_method(req: &HttpRequest, state: &AppState) -> Option<String> {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    safe.then(|| super::session_cookie_value(req, &state.config))
        .flatten()
}

/// Authenticates, then admits the user only if `allowed` accepts their role.
fn admit<T: 'static>(
    req: &HttpRequest,
    allowed: fn(Role) -> bool,
    wrap: fn(User) -> T,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    let req = req.clone();
    Box::pin(async move {
        let user = authenticate(req).await?;
        if allowed(user.role) {
            Ok(wrap(user))
        } else {
            Err(AppError::Forbidden("Not enough permissions".into()))
        }
    })
}

macro_rules! role_extractor {
    ($name:ident, $allowed:expr) => {
        impl FromRequest for $name {
            type Error = AppError;
            type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                admit(req, $allowed, $name)
            }
        }

        impl Deref for $name {
            type Target = User;
            fn deref(&self) -> &User {
                &self.0
            }
        }
    };
}

role_extractor!(AuthUser, |_| true);
role_extractor!(StaffUser, Role::is_staff);
role_extractor!(SuperAdminUser, |role| role == Role::SuperAdmin);
