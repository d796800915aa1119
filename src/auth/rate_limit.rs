//! A per-address limit on login and registration attempts, against password guessing.

use crate::errors::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Allows a burst of attempts per client address, refilled evenly over a minute.
#[derive(Clone)]
pub struct AuthRateLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

/// Above this many tracked addresses, forget the ones whose allowance is full again.
const PRUNE_ABOVE: usize = 10_000;

impl AuthRateLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> AuthRateLimiter {
        let limiter =
            NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
        AuthRateLimiter { limiter }
    }

    /// Counts one attempt from `address`; a 429 with Retry-After when over the limit.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), AppError> {
        let (Some(limiter), Some(address)) = (&self.limiter, address) else {
            return Ok(());
        };
        if limiter.len() > PRUNE_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyRequests {
                detail: "Too many attempts; try again later".into(),
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }
}
