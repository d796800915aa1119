//! A circuit breaker over whole calls: after enough consecutive failures, stop calling for a while.
//!
//! Closed: every call goes through. Open: calls are refused until the cooldown ends. Half-open:
//! after the cooldown exactly one trial call goes through; its success closes the circuit, its
//! failure opens it again for another cooldown. The lock is never held across an await.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Counts consecutive failed calls and refuses calls while open.
pub(super) struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    /// Set while the circuit is open (or half-open once this instant has passed).
    open_until: Option<Instant>,
    /// The half-open trial call is under way; everyone else is still refused.
    trial_in_flight: bool,
}

/// Leave to make one call; report how it went. Dropping it unreported (a cancelled call) frees the
/// half-open trial slot, so a cancelled trial cannot keep the circuit shut for good.
pub(super) struct CallPermit<'a> {
    breaker: &'a CircuitBreaker,
    is_trial: bool,
    reported: bool,
}

impl CircuitBreaker {
    /// `threshold` 0 turns the breaker off: every call is allowed.
    pub(super) fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold,
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    /// A permit when a call may go ahead now, None while the circuit is open.
    pub(super) fn try_call(&self, now: Instant) -> Option<CallPermit<'_>> {
        let mut state = self.lock();
        let is_trial = match state.open_until {
            None => false,
            Some(until) if now < until || state.trial_in_flight => return None,
            Some(_) => {
                state.trial_in_flight = true;
                true
            }
        };
        Some(CallPermit {
            breaker: self,
            is_trial,
            reported: false,
        })
    }

    /// True unless the circuit is open (or half-open with its trial call under way).
    pub(super) fn is_available(&self, now: Instant) -> bool {
        let state = self.lock();
        match state.open_until {
            None => true,
            Some(until) => now >= until && !state.trial_in_flight,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is a few plain stores.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CallPermit<'_> {
    /// The call succeeded: close the circuit and forget earlier failures.
    pub(super) fn succeeded(mut self) {
        self.reported = true;
        let mut state = self.breaker.lock();
        if state.open_until.is_some() {
            tracing::info!("LLM circuit closed: the trial call succeeded");
        }
        *state = State::default();
    }

    /// The call failed: count it, and open the circuit at the threshold or when the trial failed.
    pub(super) fn failed(mut self, now: Instant) {
        self.reported = true;
        let breaker = self.breaker;
        if breaker.threshold == 0 {
            return;
        }
        let mut state = breaker.lock();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if self.is_trial || state.consecutive_failures >= breaker.threshold {
            let was_open = state.open_until.is_some();
            state.open_until = Some(now + breaker.cooldown);
            state.trial_in_flight = false;
            if !was_open || self.is_trial {
                tracing::warn!(
                    consecutive_failures = state.consecutive_failures,
                    cooldown_ms = breaker.cooldown.as_millis() as u64,
                    "LLM circuit opened"
                );
            }
        }
    }
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        if self.is_trial && !self.reported {
            self.breaker.lock().trial_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    fn fail(breaker: &CircuitBreaker, now: Instant) {
        breaker.try_call(now).expect("call allowed").failed(now);
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let breaker = CircuitBreaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        fail(&breaker, t0);
        fail(&breaker, t0);
        assert!(breaker.is_available(t0));
        fail(&breaker, t0);
        assert!(!breaker.is_available(t0));
        assert!(breaker.try_call(t0 + COOLDOWN / 2).is_none());
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, COOLDOWN);
        let t0 = Instant::now();
        fail(&breaker, t0);
        breaker.try_call(t0).unwrap().succeeded();
        fail(&breaker, t0);
        assert!(breaker.try_call(t0).is_some());
    }

    #[test]
    fn after_the_cooldown_one_trial_goes_through_and_its_success_closes() {
        let breaker = CircuitBreaker::new(1, COOLDOWN);
        let t0 = Instant::now();
        fail(&breaker, t0);
        let later = t0 + COOLDOWN;
        assert!(breaker.is_available(later));
        let trial = breaker.try_call(later).expect("trial allowed");
        assert!(
            breaker.try_call(later).is_none(),
            "only one trial at a time"
        );
        assert!(!breaker.is_available(later));
        trial.succeeded();
        assert!(breaker.try_call(later).is_some());
        assert!(breaker.try_call(later).is_some());
    }

    #[test]
    fn a_failed_trial_reopens_for_another_cooldown() {
        let breaker = CircuitBreaker::new(3, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&breaker, t0);
        }
        let later = t0 + COOLDOWN;
        fail(&breaker, later);
        assert!(breaker.try_call(later + COOLDOWN / 2).is_none());
        assert!(breaker.try_call(later + COOLDOWN).is_some());
    }

    #[test]
    fn a_cancelled_trial_frees_the_slot() {
        let breaker = CircuitBreaker::new(1, COOLDOWN);
        let t0 = Instant::now();
        fail(&breaker, t0);
        drop(breaker.try_call(t0 + COOLDOWN).expect("trial"));
        assert!(breaker.try_call(t0 + COOLDOWN).is_some());
    }

    #[test]
    fn threshold_zero_never_opens() {
        let breaker = CircuitBreaker::new(0, COOLDOWN);
        let t0 = Instant::now();
        for _ in 0..10 {
            fail(&breaker, t0);
        }
        assert!(breaker.is_available(t0));
    }
}
