//! What every handler can reach.

use crate::auth::{AuthRateLimiter, Passwords, TokenKeys};
use crate::config::Config;
use crate::db::Db;
use crate::events::Events;
use crate::ids::UserId;
use crate::links::PhotoLinks;
use crate::queue::ClassifyQueue;
use crate::submission_limit::SubmissionLimiter;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Tells long-lived connections that an account changed (role, deletion, sessions ended),
/// so they recheck it at once without asking the database on every event.
#[derive(Clone)]
pub struct AccountChanges {
    changed: broadcast::Sender<UserId>,
}

impl Default for AccountChanges {
    fn default() -> AccountChanges {
        AccountChanges {
            changed: broadcast::channel(1024).0,
        }
    }
}

impl AccountChanges {
    pub fn record(&self, account: UserId) {
        let _ = self.changed.send(account);
    }
    /// The accounts changed from now on; a receiver that lags must recheck its own.
    pub fn subscribe(&self) -> broadcast::Receiver<UserId> {
        self.changed.subscribe()
    }
}

/// Shared application state, built once in startup.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: TokenKeys,
    /// Signs and checks the photo links in `image_url`.
    pub photo_links: PhotoLinks,
    pub passwords: Passwords,
    pub auth_limiter: AuthRateLimiter,
    pub queue: ClassifyQueue,
    pub submission_limiter: SubmissionLimiter,
    pub events: Events,
    pub account_changes: AccountChanges,
    /// Sends mail (password reset links); off without `SMTP_URL`.
    pub mailer: crate::mail::Mailer,
    /// The LLM client the queue uses, when one is configured (its circuit's state is a metric).
    pub llm: Option<crate::classify::llm::LlmClient>,
    /// Becomes true when the server begins to shut down.
    pub shutdown: watch::Receiver<bool>,
}
