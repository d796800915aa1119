//! Authentication: password hashing, tokens, the signing key, and who is calling.

pub mod extract;
pub mod jwt;
pub mod origin;
pub mod password;
pub mod rate_limit;
pub mod reset;
pub mod secret;
pub mod sessions;

pub use extract::{AuthUser, StaffUser, SuperAdminUser};
pub use jwt::TokenKeys;
pub use password::Passwords;
pub use rate_limit::{AuthLimits, AuthRateLimiter};

pub use sessions::{Session, SessionInfo, SessionKind};

/// The cookie pages keep their session token in over plain HTTP.
pub const SESSION_COOKIE: &str = "session";
/// The same over HTTPS: the `__Host-` prefix makes browsers refuse it unless it is Secure,
/// has no Domain and covers the whole site, so a sibling subdomain cannot plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-session";

/// Whether cookies must be Secure (and `__Host-` named): served over HTTPS, directly or
/// behind a proxy saying so, or configured.
pub fn secure_cookies(req: &actix_web::HttpRequest, config: &crate::config::Config) -> bool {
    config.cookie_secure || req.connection_info().scheme() == "https"
}

/// The session cookie's name for a request.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie of a request. Over HTTPS only the `__Host-` cookie counts, so a
/// plain `session` cookie planted by a sibling site is never read.
pub fn session_cookie_value(
    req: &actix_web::HttpRequest,
    config: &crate::config::Config,
) -> Option<String> {
    req.cookie(session_cookie_name(secure_cookies(req, config)))
        .map(|c| c.value().to_owned())
}
