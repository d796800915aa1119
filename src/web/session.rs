//! Page sessions: the session cookie (HttpOnly, SameSite=Lax, `__Host-` over HTTPS), the
//! CSRF token every form carries, and flash messages shown once after a redirect.
//!
//! A CSRF token is an HMAC, under a key only this server holds, of the visitor's session id
//! (or, before logging in, of a random pre-session cookie). A cookie that another site
//! manages to plant (another port, a sibling subdomain) comes without a valid token, and a
//! token copied from one session is worth nothing in another. Forms are also refused when
//! the browser says they were sent by a page of another origin.

use super::i18n::Lang;
use crate::accounts::User;
use crate::auth::{SessionKind, origin, secure_cookies, session_cookie_name, sessions};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use futures_util::future::LocalBoxFuture;

pub const FLASH_COOKIE: &str = "flash";
/// The pre-session cookie that anonymous forms (log in, register) bind their token to.
const CSRF_COOKIE: &str = "csrf";
const SECURE_CSRF_COOKIE: &str = "__Host-csrf";

/// A form that carries nothing but its CSRF token (log out, delete).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf_token: String,
}

/// What every page knows about the visitor.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The building's name, as configured (`SITE_NAME`).
    pub site_name: String,
    pub user: Option<User>,
    /// The id of the visitor's page session, when logged in.
    pub session: Option<String>,
    /// The CSRF token to put in forms.
    pub csrf: String,
    /// A pre-session nonce to set as a cookie with this response.
    new_nonce: Option<String>,
    /// The browser said this request came from a page of another origin.
    cross_origin: bool,
    pub flash: Option<String>,
    pub secure: bool,
    /// The newest event id when the page was built: the page script resumes from it.
    pub last_event: i64,
    /// The language the pages speak to this visitor.
    pub lang: Lang,
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
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
            let secure = secure_cookies(&req, &state.config);
            let session = match req.cookie(session_cookie_name(secure)) {
                Some(cookie) => sessions::resolve(state, cookie.value(), SessionKind::Page)
                    .await
                    .ok(),
                None => None,
            };
            let (csrf_binding, new_nonce) = match &session {
                Some(session) => (format!("session:{}", session.id), None),
                None => {
                    let existing = req
                        .cookie(csrf_cookie_name(secure))
                        .map(|c| c.value().to_owned())
                        .filter(|v| v.len() >= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
                    match existing {
                        Some(nonce) => (format!("anonymous:{nonce}"), None),
                        None => {
                            let nonce = random_token();
                            (format!("anonymous:{nonce}"), Some(nonce))
                        }
                    }
                }
            };
            // A message waits for the next page the visitor opens, not for a copy of the
            // page the page script fetches to stay current.
            let flash = req
                .cookie(FLASH_COOKIE)
                .filter(|_| is_navigation(&req))
                .and_then(|c| urlencoding_decode(c.value()))
                .filter(|f| !f.is_empty());
            let last_event = match &session {
                Some(_) => state
                    .db
                    .read(|conn| crate::db::events::bounds(conn))
                    .await
                    .map(|(_, latest)| latest)
                    .unwrap_or(0),
                None => 0,
            };
            Ok(Visitor {
                site_name: state.config.site_name.clone(),
                lang: Lang::of_request(&req),
                last_event,
                user: session.as_ref().map(|s| s.user.clone()),
                session: session.map(|s| s.id),
                csrf: state.tokens.csrf_token(&csrf_binding),
                new_nonce,
                cross_origin: origin::is_cross_origin(&req, &state.config),
                flash,
                secure,
            })
        })
    }
}

/// Whether the browser is opening the page (or, without `Sec-Fetch-Mode`, may be): a
/// script's `fetch` says `cors` or `same-origin`.
fn is_navigation(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-mode")
        .is_none_or(|mode| mode.as_bytes() == b"navigate")
}

impl Visitor {
    /// Adds the cookies this visit needs: a new pre-session nonce, and clearing a shown flash message.
    pub fn cookies(&self, response: &mut HttpResponseBuilder) {
        if let Some(nonce) = &self.new_nonce {
            response.cookie(
                Cookie::build(csrf_cookie_name(self.secure), nonce.clone())
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

    /// Whether a submitted form may act for this visitor: its token is the one made for this
    /// visitor's session (or pre-session cookie), and no other origin sent it.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        // `csrf` was made from the binding with the server's key: comparing is verifying.
        self.new_nonce.is_none()
            && !self.cross_origin
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                self.csrf.as_bytes(),
                submitted.as_bytes(),
            )
            .is_ok()
    }
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
    Cookie::build(session_cookie_name(secure), token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(lifetime_secs))
        .finish()
}

/// Clears the session cookie.
pub fn end_session(secure: bool) -> Cookie<'static> {
    let mut cookie = expired(session_cookie_name(secure));
    cookie.set_secure(secure);
    cookie
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
}
