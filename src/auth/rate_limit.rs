//! Limits against password guessing: attempts per client address (IPv6 by /64 network),
//! and failed logins per address and per account, each over the last minute.
//!
//! A login takes a slot before the password is checked (so concurrent guesses cannot all slip
//! through) and gives it back when the password was right: only failures count.

use crate::client_address::{self, TrustedProxies};
use crate::errors::AppError;
use actix_web::HttpRequest;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Above this many tracked keys, forget the ones with nothing in the last minute.
const PRUNE_ABOVE: usize = 10_000;

/// Account names are kept at most this long (an email address is at most 254 bytes).
const ACCOUNT_KEY_BYTES: usize = 254;

/// At most `limit` events per key in any minute.
struct Window<K> {
    limit: usize,
    events: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    fn new(limit: u32) -> Option<Arc<Window<K>>> {
        (limit > 0).then(|| {
            Arc::new(Window {
                limit: limit as usize,
                events: Mutex::new(HashMap::new()),
            })
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, VecDeque<Instant>>> {
        // A panic elsewhere while holding the lock leaves counts that are still usable.
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event for `key` at `now`, or says how long until one is allowed.
    fn take(&self, key: &K, now: Instant) -> Result<Instant, Duration> {
        let mut events = self.lock();
        if events.len() > PRUNE_ABOVE {
            events.retain(|_, stamps| stamps.back().is_some_and(|t| now - *t < WINDOW));
        }
        let stamps = events.entry(key.clone()).or_default();
        while stamps.front().is_some_and(|t| now - *t >= WINDOW) {
            stamps.pop_front();
        }
        if stamps.len() >= self.limit {
            let oldest = stamps.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now - oldest));
        }
        stamps.push_back(now);
        Ok(now)
    }

    /// Forgets the event taken at `stamp`.
    fn give_back(&self, key: &K, stamp: Instant) {
        let mut events = self.lock();
        if let Some(stamps) = events.get_mut(key) {
            if let Some(i) = stamps.iter().rposition(|t| *t == stamp) {
                stamps.remove(i);
            }
            if stamps.is_empty() {
                events.remove(key);
            }
        }
    }
}

fn too_many(wait: Duration) -> AppError {
    AppError::TooManyRequests {
        detail: "Too many attempts; try again later".into(),
        retry_after_secs: wait.as_secs().max(1),
    }
}

fn account_key(account: &str) -> String {
    let mut key = account.trim().to_lowercase();
    if key.len() > ACCOUNT_KEY_BYTES {
        let mut end = ACCOUNT_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// The authentication limits, shared by every worker.
#[derive(Clone)]
pub struct AuthRateLimiter {
    per_address: Option<Arc<Window<IpAddr>>>,
    per_account: Option<Arc<Window<String>>>,
    trusted: Arc<TrustedProxies>,
}

impl AuthRateLimiter {
    /// `per_address` attempts per address and `per_account` failed logins per account each
    /// minute; 0 turns that limit off.
    pub fn new(per_address: u32, per_account: u32, trusted: TrustedProxies) -> AuthRateLimiter {
        AuthRateLimiter {
            per_address: Window::new(per_address),
            per_account: Window::new(per_account),
            trusted: Arc::new(trusted),
        }
    }

    /// Counts one attempt (registration, password change) from the request's client.
    pub fn check(&self, req: &HttpRequest) -> Result<(), AppError> {
        let (Some(window), Some(address)) = (&self.per_address, self.client(req)) else {
            return Ok(());
        };
        window
            .take(&address, Instant::now())
            .map(drop)
            .map_err(too_many)
    }

    /// Takes a failure slot for a login to `account`; call [`LoginAttempt::succeeded`] when the
    /// password was right. A 429 with Retry-After when the address or the account is over.
    pub fn begin_login(&self, req: &HttpRequest, account: &str) -> Result<LoginAttempt, AppError> {
        let now = Instant::now();
        let mut attempt = LoginAttempt {
            address: None,
            account: None,
            stamp: now,
        };
        if let (Some(window), Some(address)) = (&self.per_address, self.client(req)) {
            window.take(&address, now).map_err(too_many)?;
            attempt.address = Some((window.clone(), address));
        }
        if let Some(window) = &self.per_account {
            let key = account_key(account);
            if let Err(wait) = window.take(&key, now) {
                attempt.release();
                return Err(too_many(wait));
            }
            attempt.account = Some((window.clone(), key));
        }
        Ok(attempt)
    }

    fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        client_address::of_request(req, &self.trusted).map(client_address::network_of)
    }
}

/// A login in progress: counted as a failure unless it [`succeeded`](Self::succeeded).
#[must_use]
pub struct LoginAttempt {
    address: Option<(Arc<Window<IpAddr>>, IpAddr)>,
    account: Option<(Arc<Window<String>>, String)>,
    stamp: Instant,
}

impl LoginAttempt {
    /// The password was right: this attempt does not count against anyone.
    pub fn succeeded(self) {
        self.release();
    }

    fn release(&self) {
        if let Some((window, key)) = &self.address {
            window.give_back(key, self.stamp);
        }
        if let Some((window, key)) = &self.account {
            window.give_back(key, self.stamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_per_minute_then_says_how_long_to_wait() {
        let window = Window::new(2).unwrap();
        let start = Instant::now();
        assert!(window.take(&"k", start).is_ok());
        assert!(window.take(&"k", start + Duration::from_secs(10)).is_ok());
        let wait = window
            .take(&"k", start + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(window.take(&"other", start).is_ok(), "keys are separate");
        assert!(window.take(&"k", start + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn a_given_back_event_does_not_count() {
        let window = Window::new(1).unwrap();
        let now = Instant::now();
        let stamp = window.take(&"k", now).unwrap();
        window.give_back(&"k", stamp);
        assert!(window.take(&"k", now).is_ok());
        assert!(window.take(&"k", now).is_err());
        assert!(Window::<&str>::new(0).is_none(), "0 turns the limit off");
    }

    #[test]
    fn account_names_are_counted_case_blind_and_bounded() {
        assert_eq!(account_key(" Boss@Example.COM "), "boss@example.com");
        assert_eq!(account_key(&"é".repeat(500)).len(), 254);
    }
}
