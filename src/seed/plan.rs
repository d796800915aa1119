//! What the demo is made of: its accounts, and each request drawn from its own generator.

use super::rng::Rng;
use super::timeline::{self, Clock};
use super::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Options, RESIDENT_EMAIL, RESIDENT_PASSWORD, SeedError, text,
};
use crate::classify;
use crate::db::seed::{DemoEvent, DemoRequest, DemoUser, StatusChange};
use crate::ids::{RequestId, UserId};
use crate::taxonomy::{Role, Status};

/// Seeds of the generator's streams: one per kind of thing drawn.
const REQUESTS: u64 = 0x5EED_0001;
const RESIDENTS: u64 = 0x5EED_0002;
const SALTS: u64 = 0x5EED_0003;
const STAFF_NAMES: u64 = 0x5EED_0004;
const HOMES: u64 = 0x5EED_0005;
const PHOTOS: u64 = 0x5EED_0006;
/// The share of requests written with a photo.
const PHOTO_SHARE: f64 = 0.2;

/// Residents who write far more than the others (the demo resident is the first).
const PROLIFIC: u64 = 10;
/// The share of all requests the prolific residents write between them.
const PROLIFIC_SHARE: f64 = 0.08;
/// The share the demo resident writes on top of its prolific share, so that even a small
/// demo (`maintenance.db.example`) shows its `resident@demo.local` a list of its own.
const DEMO_RESIDENT_SHARE: f64 = 0.03;
/// Staff accounts besides the super admin, who handle requests too.
pub const STAFF: u64 = 2;
/// Requests made together, and the moments of their lives the event log keeps.
pub struct Chunk {
    pub requests: Vec<DemoRequest>,
    pub events: Vec<DemoEvent>,
}

/// A request made, and the moments of its life (creation, status changes) with the status
/// each left.
struct Made {
    request: DemoRequest,
    moments: Vec<(i64, Status)>,
}

/// Everything the requests are drawn from.
pub struct Plan {
    pub requests: u64,
    /// Residents, the demo resident included.
    pub residents: u64,
    /// Where each resident lives.
    homes: Vec<String>,
    pub clock: Clock,
}

/// Ids: the super admin, then the other staff, then the demo resident and the other residents.
const ADMIN_ID: i64 = 1;
const FIRST_RESIDENT_ID: i64 = 2 + STAFF as i64;

impl Plan {
    pub fn new(options: &Options) -> Plan {
        // A resident writes about 40 requests over the span, the prolific ones thousands.
        // A small demo still has residents beyond the prolific few to spread the rest over.
        let residents = (options.requests / 40).clamp(PROLIFIC * 3, 25_000);
        Plan {
            requests: options.requests,
            residents,
            homes: (0..residents)
                .map(|n| text::home_of(&mut Rng::for_item(HOMES, n)))
                .collect(),
            clock: Clock::new(options.until, options.days),
        }
    }

    /// The accounts: the super admin, staff, the demo resident and the other residents, made
    /// some weeks before the first request.
    pub fn users(&self, cost: u32) -> Result<Vec<DemoUser>, SeedError> {
        let mut salts = Rng::for_item(SALTS, 0);
        let admin_hash = bcrypt::hash_with_salt(ADMIN_PASSWORD, cost, salts.bytes16())?.to_string();
        let resident_hash =
            bcrypt::hash_with_salt(RESIDENT_PASSWORD, cost, salts.bytes16())?.to_string();
        let joined = |rng: &mut Rng| {
            let before = timeline::days_us(30) + rng.below(timeline::days_us(60) as u64) as i64;
            timeline::rfc3339(self.clock.start_us() - before)
        };
        let mut users = Vec::with_capacity(self.residents as usize + 3);
        for n in 0..=STAFF as i64 {
            let mut rng = Rng::for_item(STAFF_NAMES, n as u64);
            let (email, role) = match n {
                0 => (ADMIN_EMAIL.to_owned(), Role::SuperAdmin),
                _ => (format!("staff{n}@demo.local"), Role::Admin),
            };
            users.push(DemoUser {
                id: UserId(ADMIN_ID + n),
                email,
                full_name: Some(text::name_of(&mut rng)),
                hashed_password: admin_hash.clone(),
                role,
                created_at: joined(&mut rng),
            });
        }
        for n in 0..self.residents {
            let mut rng = Rng::for_item(RESIDENTS, n);
            let email = match n {
                0 => RESIDENT_EMAIL.to_owned(),
                _ => format!("resident{:05}@demo.local", n + 1),
            };
            users.push(DemoUser {
                id: UserId(FIRST_RESIDENT_ID + n as i64),
                email,
                full_name: Some(text::name_of(&mut rng)),
                hashed_password: resident_hash.clone(),
                role: Role::User,
                created_at: joined(&mut rng),
            });
        }
        Ok(users)
    }

    /// Which resident (from 0) writes request `index`: the demo resident now and then, one of
    /// the prolific few a twelfth of the time, otherwise anyone, the earlier residents more often.
    fn author(&self, rng: &mut Rng) -> u64 {
        if rng.chance(DEMO_RESIDENT_SHARE) {
            return 0;
        }
        if rng.chance(PROLIFIC_SHARE) {
            return rng.below(PROLIFIC);
        }
        let others = self.residents - PROLIFIC;
        PROLIFIC + ((rng.unit().powf(1.6) * others as f64) as u64).min(others - 1)
    }

    /// Requests `indexes`, with the moments of their lives from `window_us` on.
    pub fn chunk(&self, indexes: std::ops::Range<u64>, window_us: i64) -> Chunk {
        let mut chunk = Chunk {
            requests: Vec::with_capacity((indexes.end - indexes.start) as usize),
            events: Vec::new(),
        };
        for index in indexes {
            let Made { request, moments } = self.request(index);
            chunk.events.extend(
                moments
                    .into_iter()
                    .filter(|(at_us, _)| *at_us >= window_us)
                    .map(|(at_us, status)| DemoEvent {
                        at_us,
                        request: request.id,
                        status,
                    }),
            );
            chunk.requests.push(request);
        }
        chunk
    }

    /// Request `index` (from 0), with the moments of its life.
    fn request(&self, index: u64) -> Made {
        let mut rng = Rng::for_item(REQUESTS, index);
        let created_us = self.clock.created_us(index, self.requests, rng.unit());
        let author = self.author(&mut rng);
        let home = &self.homes[author as usize];
        let written = text::write(&mut rng, home, timeline::month(created_us));
        let verdict = classify::offline(&written.description);
        let contact_info = rng
            .chance(0.25)
            .then(|| format!("010-0000-{:04}", rng.below(10_000)));
        let handling =
            timeline::handling(&mut rng, verdict.priority, created_us, self.clock.end_us());
        let staff = |rng: &mut Rng| UserId(ADMIN_ID + rng.below(STAFF + 1) as i64);
        let mut moments = vec![(created_us, Status::Pending)];
        let mut status_changes = Vec::new();
        let mut from = Status::Pending;
        for (at_us, to) in [
            (handling.started_us, Status::InProgress),
            (handling.completed_us, Status::Completed),
        ] {
            let Some(at_us) = at_us else { continue };
            moments.push((at_us, to));
            status_changes.push(StatusChange {
                from,
                to,
                actor: staff(&mut rng),
                at: timeline::rfc3339(at_us),
            });
            from = to;
        }
        let last_us = moments.last().map_or(created_us, |(at, _)| *at);
        let created_at = timeline::rfc3339(created_us);
        let updated_at = if last_us == created_us {
            created_at.clone()
        } else {
            timeline::rfc3339(last_us)
        };
        Made {
            request: DemoRequest {
                id: RequestId(index as i64 + 1),
                owner: UserId(FIRST_RESIDENT_ID + author as i64),
                description: written.description,
                location: written.location,
                contact_info,
                category: verdict.category,
                priority: verdict.priority,
                confidence: verdict.confidence,
                reason: verdict.reason,
                status: handling.status(),
                created_at,
                updated_at,
                // A stream of its own, so photos change nothing else the demo draws.
                photo: Rng::for_item(PHOTOS, index)
                    .chance(PHOTO_SHARE)
                    .then(|| crate::photos::demo_photo(verdict.category)),
                status_changes,
            },
            moments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use std::path::PathBuf;

    fn plan(requests: u64) -> Plan {
        Plan::new(&Options {
            path: PathBuf::new(),
            requests,
            days: 730,
            until: DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
                .unwrap()
                .to_utc(),
            bcrypt_cost: 4,
        })
    }

    #[test]
    fn a_request_is_the_same_whenever_it_is_made() {
        let plan = plan(10_000);
        let once = plan.request(1234);
        let again = plan.request(1234);
        assert_eq!(once.request, again.request);
        assert_ne!(plan.request(1235).request, once.request);
    }

    #[test]
    fn history_follows_the_status_and_ends_at_the_update() {
        let plan = plan(20_000);
        let mut statuses = std::collections::BTreeMap::new();
        for index in 0..20_000 {
            let Made { request, moments } = plan.request(index);
            let last = request.status_changes.last();
            assert_eq!(last.map_or(Status::Pending, |c| c.to), request.status);
            assert_eq!(
                last.map_or(&request.created_at, |c| &c.at),
                &request.updated_at
            );
            assert!(request.updated_at >= request.created_at);
            assert_eq!(moments.len(), request.status_changes.len() + 1);
            assert!(request.owner.0 >= FIRST_RESIDENT_ID);
            assert!(request.owner.0 < FIRST_RESIDENT_ID + plan.residents as i64);
            *statuses.entry(request.status).or_insert(0u32) += 1;
        }
        assert_eq!(statuses.len(), 3, "{statuses:?}");
        // Over two years most requests have long been done.
        assert!(statuses[&Status::Completed] > 18_000, "{statuses:?}");
    }

    #[test]
    fn a_few_residents_write_thousands_of_requests() {
        let plan = plan(1_000_000);
        let mut demo_resident = 0;
        for index in 0..100_000 {
            let mut rng = Rng::for_item(REQUESTS, index);
            let _ = rng.unit();
            demo_resident += u32::from(plan.author(&mut rng) == 0);
        }
        // 3 % of its own, and 0.8 % as one of the ten prolific residents: some 38,000 of a million.
        assert!((3_300..4_300).contains(&demo_resident), "{demo_resident}");
    }
}
