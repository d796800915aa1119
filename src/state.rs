//! What every handler can reach.

use crate::auth::{AuthRateLimiter, Passwords, TokenKeys};
use crate::config::Config;
use crate::db::Db;
use crate::events::Events;
use crate::queue::ClassifyQueue;
use crate::submission_limit::SubmissionLimiter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// Counts changes to accounts (roles, deletions), so long-lived connections notice them
/// at their next event without asking the database each time.
#[derive(Clone, Default)]
pub struct AccountChanges(Arc<AtomicU64>);

impl AccountChanges {
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Shared application state, built once in startup.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: TokenKeys,
    pub passwords: Passwords,
    pub auth_limiter: AuthRateLimiter,
    pub queue: ClassifyQueue,
    pub submission_limiter: SubmissionLimiter,
    pub events: Events,
    pub account_changes: AccountChanges,
    /// Becomes true when the server begins to shut down.
    pub shutdown: watch::Receiver<bool>,
}
