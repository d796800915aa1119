//! Authentication: password hashing, tokens, the signing key, and who is calling.

pub mod extract;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod secret;

pub use extract::{AuthUser, StaffUser, SuperAdminUser};
pub use jwt::TokenKeys;
pub use password::Passwords;
pub use rate_limit::AuthRateLimiter;

/// The cookie pages keep their session token in (the same JWT API clients send as Bearer).
pub const SESSION_COOKIE: &str = "session";
