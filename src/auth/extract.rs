//! Who is calling: extractors that make a handler's signature state who may call it.
//!
//! The token only names the user; the role is read from the database on every
//! request, so promotions, demotions and deletions apply to tokens already issued.

use crate::accounts::{self, User};
use crate::errors::AppError;
use crate::state::AppState;
use crate::taxonomy::Role;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
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

async fn authenticate(req: HttpRequest) -> Result<User, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state is not registered"))?;
    let token = bearer_token(&req)
        .or_else(|| session_cookie_for_safe_method(&req))
        .ok_or_else(|| AppError::Unauthorized("Not authenticated".into()))?;
    user_for_token(state, &token).await
}

/// The page session cookie, accepted only on GET and HEAD (a photo in an `<img>`): requests
/// that change something must come with a Bearer token or through a CSRF-checked form.
fn session_cookie_for_safe_method(req: &HttpRequest) -> Option<String> {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    safe.then(|| {
        req.cookie(super::SESSION_COOKIE)
            .map(|c| c.value().to_owned())
    })
    .flatten()
}

/// The account a token names, read fresh from the database; 401 when the token is bad or the account gone.
pub async fn user_for_token(state: &AppState, token: &str) -> Result<User, AppError> {
    let invalid = || AppError::Unauthorized("Could not validate credentials".into());
    let user_id = state.tokens.verify(token).map_err(|e| {
        tracing::debug!(error = %e, "refused a token");
        invalid()
    })?;
    accounts::find(&state.db, user_id)
        .await?
        .ok_or_else(invalid)
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
