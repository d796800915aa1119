//! A per-account limit on new requests: each one costs a classification and an LLM job, so
//! one account must not be able to flood the queue or the classifier.

use crate::errors::AppError;
use crate::ids::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Allows a burst of `per_minute` submissions per account, refilled evenly over a minute.
#[derive(Clone)]
pub struct SubmissionLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<UserId>>>,
}

/// Above this many tracked accounts, forget the ones whose allowance is full again.
const PRUNE_ABOVE: usize = 10_000;

impl SubmissionLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> SubmissionLimiter {
        let limiter =
            NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
        SubmissionLimiter { limiter }
    }

    /// Counts one submission by `account`; a 429 with Retry-After when over the limit.
    pub fn check(&self, account: UserId) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > PRUNE_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(&account).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyRequests {
                detail: "Too many requests submitted; try again shortly".into(),
                // Rounded up: a client that waits exactly this long is let through.
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_has_its_own_allowance_and_zero_turns_it_off() {
        let limiter = SubmissionLimiter::new(2);
        assert!(limiter.check(UserId(1)).is_ok());
        assert!(limiter.check(UserId(1)).is_ok());
        let refused = limiter.check(UserId(1)).unwrap_err();
        assert!(matches!(
            refused,
            AppError::TooManyRequests { retry_after_secs, .. } if (1..=30).contains(&retry_after_secs)
        ));
        assert!(limiter.check(UserId(2)).is_ok());
        let off = SubmissionLimiter::new(0);
        assert!((0..100).all(|_| off.check(UserId(1)).is_ok()));
    }
}
