//! When demo requests were made and handled: more by day than by night, on weekdays than at
//! weekends, in winter and summer than in spring and autumn, and more in recent months as the
//! portfolio grew; staff start and finish sooner the more urgent a request is.

use super::rng::Rng;
use crate::taxonomy::{Priority, Status};
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;
/// Korea's offset from UTC: the residents' day and night.
const KST_US: i64 = 9 * HOUR_US;

/// How often requests arrive in each hour of the day (Korean time), relative to each other.
const BY_HOUR: [f64; 24] = [
    0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.35, 0.70, 1.00, 1.10, 1.10, 1.00, //
    0.90, 1.00, 1.05, 1.00, 0.95, 1.00, 1.10, 1.20, 1.15, 0.95, 0.70, 0.45,
];

/// The span of a demo and how requests spread over it: the share of all requests created up
/// to the start of each hour.
#[derive(Debug, Clone)]
pub struct Clock {
    start_us: i64,
    end_us: i64,
    /// `cumulative[h]`: the share of requests before hour `h`; the last entry is 1.
    cumulative: Vec<f64>,
}

impl Clock {
    /// The `days` before `end`.
    pub fn new(end: DateTime<Utc>, days: u32) -> Clock {
        let end_us = end.timestamp_micros();
        let hours = i64::from(days) * 24;
        let start_us = end_us - hours * HOUR_US;
        let mut cumulative = Vec::with_capacity(hours as usize + 1);
        let mut total = 0.0;
        cumulative.push(0.0);
        for hour in 0..hours {
            total += weight(start_us + hour * HOUR_US, hour as f64 / hours as f64);
            cumulative.push(total);
        }
        for share in &mut cumulative {
            *share /= total;
        }
        Clock {
            start_us,
            end_us,
            cumulative,
        }
    }

    /// The first moment of the demo, in Unix microseconds.
    pub fn start_us(&self) -> i64 {
        self.start_us
    }

    /// The last moment of the demo (its "now"), in Unix microseconds.
    pub fn end_us(&self) -> i64 {
        self.end_us
    }

    /// When request `index` of `count` was created. Later indexes are never earlier, so ids
    /// follow creation time as they do in a running server; `jitter` (in `[0, 1)`) keeps
    /// the spacing from being regular.
    pub fn created_us(&self, index: u64, count: u64, jitter: f64) -> i64 {
        // Within 0.4 of a request's share either side: the order of indexes is kept.
        let share = (index as f64 + 0.5 + (jitter - 0.5) * 0.8) / count.max(1) as f64;
        let hour = self.cumulative.partition_point(|&c| c <= share).max(1) - 1;
        let hour = hour.min(self.cumulative.len() - 2);
        let (low, high) = (self.cumulative[hour], self.cumulative[hour + 1]);
        let within = if high > low {
            ((share - low) / (high - low)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let at = self.start_us + hour as i64 * HOUR_US + (within * HOUR_US as f64) as i64;
        at.min(self.end_us)
    }
}

/// How busy the hour starting at `at_us` is; `progress` is how far into the demo it lies.
fn weight(at_us: i64, progress: f64) -> f64 {
    let Some(local) = DateTime::from_timestamp_micros(at_us + KST_US) else {
        return 1.0;
    };
    let by_day = match local.weekday().num_days_from_monday() {
        5 => 0.8,
        6 => 0.65,
        _ => 1.05,
    };
    // Peaks in January (heating) and July (cooling, rain), lows in April and October.
    let day_of_year = f64::from(local.ordinal0());
    let season = 1.0 + 0.18 * (4.0 * std::f64::consts::PI * (day_of_year - 15.0) / 365.0).cos();
    let growth = 0.75 + 0.5 * progress;
    BY_HOUR[local.hour() as usize] * by_day * season * growth
}

/// The month (1 to 12) at `at_us`, in Korean time: what the weather is like.
pub fn month(at_us: i64) -> u32 {
    DateTime::from_timestamp_micros(at_us + KST_US).map_or(1, |t| t.month())
}

/// When staff started on a request and when they finished it, as far as happened by `end_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handling {
    pub started_us: Option<i64>,
    pub completed_us: Option<i64>,
}

impl Handling {
    /// The status these moments leave the request in.
    pub fn status(self) -> Status {
        match (self.started_us, self.completed_us) {
            (_, Some(_)) => Status::Completed,
            (Some(_), None) => Status::InProgress,
            (None, None) => Status::Pending,
        }
    }
}

/// How a request created at `created_us` with `priority` was handled up to `end_us`. Urgent
/// requests are started within hours, others within days; a few are forgotten for good.
pub fn handling(rng: &mut Rng, priority: Priority, created_us: i64, end_us: i64) -> Handling {
    let (start_mean_h, work_mean_h) = match priority {
        Priority::High => (1.5, 5.0),
        Priority::Medium => (30.0, 40.0),
        Priority::Low => (110.0, 90.0),
    };
    let forgotten = rng.chance(0.003);
    let stalled = rng.chance(0.004);
    // At least a few minutes pass before anyone reacts.
    let started = created_us + hours_us(0.1 + rng.exponential(start_mean_h));
    let completed = started + hours_us(0.2 + rng.exponential(work_mean_h));
    let started_us = (!forgotten && started <= end_us).then_some(started);
    let completed_us = started_us
        .filter(|_| !stalled && completed <= end_us)
        .map(|_| completed);
    Handling {
        started_us,
        completed_us,
    }
}

/// `hours` in microseconds.
fn hours_us(hours: f64) -> i64 {
    (hours * HOUR_US as f64) as i64
}

/// `at_us` (Unix microseconds) as the database stores times: RFC 3339 in UTC with microseconds.
pub fn rfc3339(at_us: i64) -> String {
    DateTime::from_timestamp_micros(at_us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A day in microseconds, for callers that place things in days.
pub const fn days_us(days: i64) -> i64 {
    days * DAY_US
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        let end = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .to_utc();
        Clock::new(end, 730)
    }

    #[test]
    fn creation_times_never_go_back_and_fill_the_whole_span() {
        let clock = clock();
        let count = 50_000;
        let mut rng = Rng::for_item(1, 1);
        let mut last = i64::MIN;
        for index in 0..count {
            let at = clock.created_us(index, count, rng.unit());
            assert!(at >= last, "request {index} is earlier than the one before");
            assert!((clock.start_us()..=clock.end_us()).contains(&at));
            last = at;
        }
        let first = clock.created_us(0, count, 0.0);
        assert!(first - clock.start_us() < days_us(1));
        assert!(clock.end_us() - last < days_us(1));
    }

    #[test]
    fn nights_are_quieter_than_days() {
        let clock = clock();
        let count = 100_000;
        let mut by_hour = [0u32; 24];
        for index in 0..count {
            let at = clock.created_us(index, count, 0.5);
            let local = DateTime::from_timestamp_micros(at + KST_US).unwrap();
            by_hour[local.hour() as usize] += 1;
        }
        assert!(by_hour[3] * 5 < by_hour[10], "{by_hour:?}");
    }

    #[test]
    fn handling_never_ends_before_it_starts_or_after_the_end() {
        let mut rng = Rng::for_item(2, 2);
        let end = 1_000 * HOUR_US;
        let mut statuses = std::collections::BTreeSet::new();
        for n in 0..10_000 {
            let created = n * HOUR_US / 10;
            let priority = Priority::ALL[(n % 3) as usize];
            let handling = handling(&mut rng, priority, created, end);
            if let Some(started) = handling.started_us {
                assert!(started > created && started <= end);
            }
            if let Some(completed) = handling.completed_us {
                assert!(handling.started_us.is_some_and(|s| completed > s) && completed <= end);
            }
            statuses.insert(handling.status());
        }
        assert_eq!(statuses.len(), 3, "every status occurs");
    }

    #[test]
    fn times_are_written_as_the_database_stores_them() {
        assert_eq!(
            rfc3339(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
    }
}
