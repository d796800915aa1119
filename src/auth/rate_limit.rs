//! Limits against password guessing and sign-up floods, each over the last minute:
//!
//! - every login attempt per client address (IPv6 by /64 network), as the original counted;
//! - every registration per client address;
//! - password changes, password reset requests and failed logins per client address;
//! - failed logins per account, from any address.
//!
//! A login takes its failure slots before the password is checked (so concurrent guesses
//! cannot all slip through) and gives them back when the password was right.

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

/// How many events of each kind a minute allows; 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Login attempts per client address, successful or not.
    pub logins_per_address: u32,
    /// Registrations per client address.
    pub registrations_per_address: u32,
    /// Password changes and failed logins per client address.
    pub attempts_per_address: u32,
    /// Failed logins per account, from any address.
    pub failures_per_account: u32,
}

/// The authentication limits, shared by every worker.
#[derive(Clone)]
pub struct AuthRateLimiter {
    logins: Option<Arc<Window<IpAddr>>>,
    registrations: Option<Arc<Window<IpAddr>>>,
    per_address: Option<Arc<Window<IpAddr>>>,
    per_account: Option<Arc<Window<String>>>,
    trusted: Arc<TrustedProxies>,
}

impl AuthRateLimiter {
    pub fn new(limits: AuthLimits, trusted: TrustedProxies) -> AuthRateLimiter {
        AuthRateLimiter {
            logins: Window::new(limits.logins_per_address),
            registrations: Window::new(limits.registrations_per_address),
            per_address: Window::new(limits.attempts_per_address),
            per_account: Window::new(limits.failures_per_account),
            trusted: Arc::new(trusted),
        }
    }

    /// Counts one registration from the request's client.
    pub fn check_registration(&self, req: &HttpRequest) -> Result<(), AppError> {
        self.count(&self.registrations, req)
    }

    /// Counts one password change from the request's client.
    pub fn check_password_change(&self, req: &HttpRequest) -> Result<(), AppError> {
        self.count(&self.per_address, req)
    }

    /// Counts one request for a password reset link from the request's client (in the same
    /// window as password changes).
    pub fn check_password_reset(&self, req: &HttpRequest) -> Result<(), AppError> {
        self.count(&self.per_address, req)
    }

    fn count(
        &self,
        window: &Option<Arc<Window<IpAddr>>>,
        req: &HttpRequest,
    ) -> Result<(), AppError> {
        let (Some(window), Some(address)) = (window, self.client(req)) else {
            return Ok(());
        };
        window
            .take(&address, Instant::now())
            .map(drop)
            .map_err(too_many)
    }

    /// Counts a login attempt to `account` and takes its failure slots; call
    /// [`LoginAttempt::succeeded`] when the password was right. A 429 with Retry-After when
    /// the address has used up its attempts or its failures, or the account its failures;
    /// a refused attempt counts against nothing.
    pub fn begin_login(&self, req: &HttpRequest, account: &str) -> Result<LoginAttempt, AppError> {
        let now = Instant::now();
        let mut attempt = LoginAttempt {
            attempt: None,
            address: None,
            account: None,
            stamp: now,
        };
        let client = self.client(req);
        if let (Some(window), Some(address)) = (&self.logins, client) {
            window.take(&address, now).map_err(too_many)?;
            attempt.attempt = Some((window.clone(), address));
        }
        if let (Some(window), Some(address)) = (&self.per_address, client) {
            if let Err(wait) = window.take(&address, now) {
                attempt.refused();
                return Err(too_many(wait));
            }
            attempt.address = Some((window.clone(), address));
        }
        if let Some(window) = &self.per_account {
            let key = account_key(account);
            if let Err(wait) = window.take(&key, now) {
                attempt.refused();
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

/// A login in progress: its failure slots count unless it [`succeeded`](Self::succeeded);
/// the attempt itself counts either way.
#[must_use]
pub struct LoginAttempt {
    attempt: Option<(Arc<Window<IpAddr>>, IpAddr)>,
    address: Option<(Arc<Window<IpAddr>>, IpAddr)>,
    account: Option<(Arc<Window<String>>, String)>,
    stamp: Instant,
}

impl LoginAttempt {
    /// The password was right: this attempt is no failure, though it was an attempt.
    pub fn succeeded(self) {
        self.release_failures();
    }

    /// A 429 refused the attempt before the password was checked: it counts as nothing.
    fn refused(&self) {
        if let Some((window, key)) = &self.attempt {
            window.give_back(key, self.stamp);
        }
        self.release_failures();
    }

    fn release_failures(&self) {
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

    fn request_from(address: &str) -> HttpRequest {
        actix_web::test::TestRequest::default()
            .peer_addr(format!("{address}:4711").parse().unwrap())
            .to_http_request()
    }

    fn limits(logins: u32, attempts: u32, failures: u32) -> AuthLimits {
        AuthLimits {
            logins_per_address: logins,
            registrations_per_address: 0,
            attempts_per_address: attempts,
            failures_per_account: failures,
        }
    }

    #[test]
    fn every_login_counts_per_address_but_only_failures_count_otherwise() {
        let limiter = AuthRateLimiter::new(limits(2, 0, 5), TrustedProxies::default());
        let here = request_from("192.0.2.1");
        limiter
            .begin_login(&here, "a@example.com")
            .unwrap()
            .succeeded();
        drop(limiter.begin_login(&here, "a@example.com").unwrap());
        assert!(limiter.begin_login(&here, "b@example.com").is_err());
        assert!(
            limiter
                .begin_login(&request_from("192.0.2.2"), "a@example.com")
                .is_ok(),
            "another client has its own attempts"
        );
    }

    #[test]
    fn a_refused_login_counts_against_nothing() {
        let limiter = AuthRateLimiter::new(limits(3, 0, 1), TrustedProxies::default());
        let here = request_from("192.0.2.1");
        drop(limiter.begin_login(&here, "a@example.com").unwrap());
        // The account's one failure is used: refused, and not counted as an attempt.
        for _ in 0..3 {
            assert!(limiter.begin_login(&here, "a@example.com").is_err());
        }
        limiter
            .begin_login(&here, "b@example.com")
            .unwrap()
            .succeeded();
        limiter
            .begin_login(&here, "c@example.com")
            .unwrap()
            .succeeded();
        assert!(limiter.begin_login(&here, "d@example.com").is_err());
    }

    #[test]
    fn account_names_are_counted_case_blind_and_bounded() {
        assert_eq!(account_key(" Boss@Example.COM "), "boss@example.com");
        assert_eq!(account_key(&"é".repeat(500)).len(), 254);
    }
}
