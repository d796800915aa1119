//! How long to wait between attempts: the provider's Retry-After, or a jittered exponential backoff.

use rand::Rng;
use std::time::{Duration, SystemTime};

/// The first retry waits about this long; each later one twice as long as the one before.
const BACKOFF_BASE: Duration = Duration::from_millis(250);

/// `BACKOFF_BASE * 2^attempt`, spread ±50% so that workers that failed together do not retry together.
pub(super) fn backoff(attempt: u32) -> Duration {
    let nominal = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(8));
    nominal.mul_f64(rand::rng().random_range(0.5..=1.5))
}

/// A Retry-After value, either delay-seconds or an HTTP-date; None when it is neither.
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // HTTP-date's preferred form (IMF-fixdate, "Wed, 21 Oct 2015 07:28:00 GMT") is valid RFC 2822.
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at);
    // A date already past means "now".
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 0..4 {
            let nominal = BACKOFF_BASE * 2u32.pow(attempt);
            for _ in 0..50 {
                let wait = backoff(attempt);
                assert!(wait >= nominal / 2 && wait <= nominal * 3 / 2, "{wait:?}");
            }
        }
        assert!(backoff(1000) <= BACKOFF_BASE * 256 * 3 / 2);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
