//! Page sessions: the session cookie (HttpOnly, SameSite=Lax), the CSRF token every form
//! carries (double-submit: a cookie and a hidden field that must match), and flash messages
//! shown once after a redirect.

use crate::accounts::User;
use crate::auth::extract::user_for_token;
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use futures_util::future::LocalBoxFuture;

pub use crate::auth::SESSION_COOKIE;
pub const CSRF_COOKIE: &str = "csrf";
pub const FLASH_COOKIE: &str = "flash";

/// A form that carries nothing but its CSRF token (log out, delete).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf_token: String,
}

/// What every page knows about the visitor.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub user: Option<User>,
    /// The CSRF token to put in forms.
    pub csrf: String,
    /// Whether the CSRF cookie must be set with this response.
    pub csrf_is_new: bool,
    pub flash: Option<String>,
    pub secure: bool,
    /// The newest event id when the page was built: the page script resumes from it.
    pub last_event: i64,
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// Whether cookies must be Secure: served over HTTPS (directly or behind a proxy saying so) or configured.
fn is_secure(req: &HttpRequest, state: &AppState) -> bool {
    state.config.cookie_secure || req.connection_info().scheme() == "https"
}

impl FromRequest for Visitor {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| actix_web::error::ErrorInternalServerError("state"))?;
            let user = match req.cookie(SESSION_COOKIE) {
                Some(cookie) => user_for_token(state, cookie.value()).await.ok(),
                None => None,
            };
            let existing = req
                .cookie(CSRF_COOKIE)
                .map(|c| c.value().to_owned())
                .filter(|v| v.len() >= 32);
            let flash = req
                .cookie(FLASH_COOKIE)
                .and_then(|c| urlencoding_decode(c.value()))
                .filter(|f| !f.is_empty());
            let last_event = match &user {
                Some(_) => state
                    .db
                    .run(|conn| crate::db::events::bounds(conn))
                    .await
                    .map(|(_, latest)| latest)
                    .unwrap_or(0),
                None => 0,
            };
            Ok(Visitor {
                last_event,
                user,
                csrf_is_new: existing.is_none(),
                csrf: existing.unwrap_or_else(random_token),
                flash,
                secure: is_secure(&req, state),
            })
        })
    }
}

impl Visitor {
    /// Adds the cookies this visit needs: a new CSRF token, and clearing a shown flash message.
    pub fn cookies(&self, response: &mut HttpResponseBuilder) {
        if self.csrf_is_new {
            response.cookie(
                Cookie::build(CSRF_COOKIE, self.csrf.clone())
                    .path("/")
                    .http_only(true)
                    .secure(self.secure)
                    .same_site(SameSite::Strict)
                    .finish(),
            );
        }
        if self.flash.is_some() {
            response.cookie(expired(FLASH_COOKIE));
        }
    }

    /// Whether the form's token matches this visitor's CSRF cookie.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        !self.csrf_is_new && constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn expired(name: &str) -> Cookie<'static> {
    Cookie::build(name.to_owned(), "")
        .path("/")
        .max_age(CookieDuration::ZERO)
        .finish()
}

/// A 303 redirect after a form, optionally with a message for the next page.
pub fn redirect(to: &str, flash: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, to.to_owned()));
    if let Some(message) = flash {
        response.cookie(
            Cookie::build(FLASH_COOKIE, urlencoding_encode(message))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .finish(),
        );
    }
    response.finish()
}

/// Adds a message for the next page to a response.
pub fn set_flash(response: &mut HttpResponse, message: &str) {
    let cookie = Cookie::build(FLASH_COOKIE, urlencoding_encode(message))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    let _ = response.add_cookie(&cookie);
}

/// The session cookie for a freshly logged-in user.
pub fn session_cookie(token: String, lifetime_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(lifetime_secs))
        .finish()
}

/// Clears the session cookie.
pub fn end_session() -> Cookie<'static> {
    expired(SESSION_COOKIE)
}

/// Percent-encodes a flash message for a cookie value.
fn urlencoding_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn urlencoding_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_messages_survive_the_cookie_round_trip() {
        let message = "요청이 접수되었습니다; 감사합니다!";
        assert_eq!(
            urlencoding_decode(&urlencoding_encode(message)).as_deref(),
            Some(message)
        );
        assert_eq!(urlencoding_decode("%zz"), None);
    }

    #[test]
    fn tokens_compare_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
