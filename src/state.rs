//! What every handler can reach.

use crate::auth::{AuthRateLimiter, Passwords, TokenKeys};
use crate::config::Config;
use crate::db::Db;
use crate::events::Events;
use crate::queue::ClassifyQueue;
use std::sync::Arc;

/// Shared application state, built once in startup.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: TokenKeys,
    pub passwords: Passwords,
    pub auth_limiter: AuthRateLimiter,
    pub queue: ClassifyQueue,
    pub events: Events,
}
