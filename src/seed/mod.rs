//! `maintenance seed-demo`: a new database full of realistic requests, for showing the product
//! and for measuring it at scale.
//!
//! Everything is drawn from a seeded generator, each request from its own ([`rng::Rng`]), so
//! the same options give the same database, byte for byte, however many threads make it.
//! Threads write the requests' text and classify it; one thread stores them, in order, in one
//! transaction with prepared statements.

mod plan;
pub mod rng;
pub mod text;
pub mod timeline;

use crate::db::counts::Tally;
use crate::db::migrate::MigrateError;
use crate::db::seed::{self as sql, DemoEvent};
use crate::errors::AppError;
use crate::private_files::{self, FileIdentity};
use chrono::{DateTime, Utc};
use plan::{Chunk, Plan};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The demo resident's address and password (documented in the README).
pub const RESIDENT_EMAIL: &str = "resident@demo.local";
pub const RESIDENT_PASSWORD: &str = "demo-resident";
/// The demo super admin's address and password (documented in the README).
pub const ADMIN_EMAIL: &str = "admin@demo.local";
pub const ADMIN_PASSWORD: &str = "demo-admin";
/// The event log holds the changes of this last stretch of the demo.
const EVENT_WINDOW_DAYS: i64 = 1;
/// Requests made and written as one unit of work.
const CHUNK: u64 = 4_096;
/// What to make.
#[derive(Debug, Clone)]
pub struct Options {
    /// The new database file; an existing file is refused.
    pub path: PathBuf,
    pub requests: u64,
    /// How many days before `until` the requests spread over.
    pub days: u32,
    /// The demo's "now": the newest request is a little older.
    pub until: DateTime<Utc>,
    /// bcrypt cost of the demo passwords.
    pub bcrypt_cost: u32,
}

/// Why no demo database was made.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{} already exists; seed-demo only creates a new database (left it untouched)", .0.display())]
    Exists(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the demo database: {0}")]
    Migrate(#[from] MigrateError),
    #[error("cannot write the demo database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot write the demo database: {0}")]
    App(#[from] AppError),
    #[error("cannot hash the demo passwords: {0}")]
    Hash(#[from] bcrypt::BcryptError),
    #[error("cannot write the demo database to disk: {0}")]
    Sync(std::io::Error),
    #[error("cannot switch the demo database to the write-ahead log (it stayed in {0} mode)")]
    Journal(String),
    #[error("{error}; the partly written {path} could not be removed ({reason})")]
    Kept {
        error: Box<SeedError>,
        path: String,
        reason: String,
    },
}

/// What was made, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub path: PathBuf,
    pub requests: u64,
    pub history: u64,
    pub events: u64,
    pub residents: u64,
    pub staff: u64,
    /// Writing the requests (and their history and events); the passwords' hashing aside.
    pub writing: Duration,
    pub total: Duration,
}

impl Summary {
    /// Requests written per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.writing.as_secs_f64().max(1e-9)
    }

    /// The lines `seed-demo` prints.
    pub fn render(&self) -> String {
        format!(
            "created {path}: {requests} requests ({history} history entries, {events} events), \
             {residents} residents and {staff} staff, in {total:.1} s ({rate:.0} requests/s)\n\
             log in as {RESIDENT_EMAIL} (password {RESIDENT_PASSWORD}) or {ADMIN_EMAIL} \
             (password {ADMIN_PASSWORD}); the other residents share the resident's password. \
             A demo database is for showing the product: never put real data in it.\n",
            path = crate::db::shell_word(&crate::db::absolute(&self.path)),
            requests = self.requests,
            history = self.history,
            events = self.events,
            residents = self.residents,
            staff = self.staff,
            total = self.total.as_secs_f64(),
            rate = self.rate(),
        )
    }
}

/// Told how far the writing has come.
pub trait Progress: Sync {
    fn start(&self, total: u64);
    fn advance(&self, done: u64);
    fn finish(&self);
}

/// Progress as a log line at every tenth.
pub struct LogProgress {
    total: std::sync::atomic::AtomicU64,
    tenths: std::sync::atomic::AtomicU64,
}

impl LogProgress {
    pub fn new() -> LogProgress {
        LogProgress {
            total: 0.into(),
            tenths: 0.into(),
        }
    }
}

impl Default for LogProgress {
    fn default() -> Self {
        LogProgress::new()
    }
}

impl Progress for LogProgress {
    fn start(&self, total: u64) {
        self.total
            .store(total, std::sync::atomic::Ordering::Relaxed);
    }
    fn advance(&self, done: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let total = self.total.load(Relaxed).max(1);
        let tenths = done * 10 / total;
        if tenths > self.tenths.swap(tenths, Relaxed) {
            tracing::info!(done, total, "seeding: {}%", tenths * 10);
        }
    }
    fn finish(&self) {}
}

/// Makes the demo database described by `options`. A file already at its path is refused and
/// left as it was; after a failure, the file this run created is removed again.
pub fn run(options: &Options, progress: &dyn Progress) -> Result<Summary, SeedError> {
    let path = &options.path;
    // O_EXCL: a file, folder or link already there is not ours to fill.
    let created = private_files::create_new(path)
        .map_err(|source| SeedError::Create {
            path: crate::db::shell_word(path),
            source,
        })?
        .ok_or_else(|| SeedError::Exists(path.clone()))?;
    let outcome = seed_into(options, progress);
    if let Err(error) = outcome {
        return Err(match remove_created(path, created) {
            Ok(()) => error,
            Err(reason) => SeedError::Kept {
                error: Box::new(error),
                path: crate::db::shell_word(path),
                reason,
            },
        });
    }
    outcome
}

fn seed_into(options: &Options, progress: &dyn Progress) -> Result<Summary, SeedError> {
    let started = Instant::now();
    let plan = Plan::new(options);
    let users = plan.users(options.bcrypt_cost)?;
    let mut conn = sql::open(&options.path)?;
    let writing = Instant::now();
    let tx = conn.transaction()?;
    sql::insert_users(&tx, &users)?;
    progress.start(plan.requests);
    let indexes = sql::drop_indexes(&tx, &["requests"])?;
    let (history, mut events, tally) = write_requests(&tx, &plan, progress)?;
    progress.finish();
    tracing::info!(
        "seeding: building the indexes, the counters, the search index and the event log"
    );
    sql::create_indexes(&tx, &indexes)?;
    tally.store(&tx)?;
    events.sort_unstable();
    sql::insert_events(&tx, &events)?;
    tx.commit()?;
    let writing = writing.elapsed();
    let mode = sql::finish(&conn)?;
    drop(conn);
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SeedError::Journal(mode));
    }
    std::fs::File::open(&options.path)
        .and_then(|file| file.sync_all())
        .map_err(SeedError::Sync)?;
    Ok(Summary {
        path: options.path.clone(),
        requests: plan.requests,
        history,
        events: events.len() as u64,
        residents: plan.residents,
        staff: 1 + plan::STAFF,
        writing,
        total: started.elapsed(),
    })
}

/// Makes the requests on worker threads, chunk by chunk, and stores them in order on this
/// one; returns how many history entries were written, the moments the event log keeps, and
/// the counts of what was written.
fn write_requests(
    tx: &rusqlite::Transaction<'_>,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<(u64, Vec<DemoEvent>, Tally), SeedError> {
    let chunks = plan.requests.div_ceil(CHUNK);
    // One generator a core: the writer waits for them only when it has caught up.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8)) as u64;
    let mut writer = sql::RequestWriter::new(tx);
    let window_us = plan.clock.end_us() - timeline::days_us(EVENT_WINDOW_DAYS);
    std::thread::scope(|scope| {
        let receivers: Vec<mpsc::Receiver<Chunk>> = (0..workers)
            .map(|worker| {
                let (sender, receiver) = mpsc::sync_channel(2);
                scope.spawn(move || {
                    for chunk in (worker..chunks).step_by(workers as usize) {
                        let first = chunk * CHUNK;
                        let last = (first + CHUNK).min(plan.requests);
                        // The writer stopped (it failed): nothing more to make.
                        if sender.send(plan.chunk(first..last, window_us)).is_err() {
                            break;
                        }
                    }
                });
                receiver
            })
            .collect();
        let mut history = 0u64;
        let mut events = Vec::new();
        let mut done = 0u64;
        let mut tally = Tally::default();
        for chunk in 0..chunks {
            let Ok(made) = receivers[(chunk % workers) as usize].recv() else {
                return Err(AppError::internal("a generator thread stopped").into());
            };
            history += writer.insert(&made.requests)? as u64;
            for r in &made.requests {
                tally.add(
                    r.owner,
                    r.status,
                    Some(r.category),
                    Some(r.priority),
                    &r.created_at,
                );
            }
            events.extend(made.events);
            done += made.requests.len() as u64;
            progress.advance(done);
        }
        Ok((history, events, tally))
    })
}
/// After a failure: removes the file this run created (with the journal SQLite may have left
/// beside it), unless another file has taken its name meanwhile.
fn remove_created(path: &Path, identity: FileIdentity) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("it could not be checked ({e})")),
        Ok(metadata) if !metadata.is_file() || FileIdentity::of(&metadata) != identity => {
            return Err("another file has taken its name meanwhile".to_owned());
        }
        Ok(_) => {}
    }
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(format!("it could not be removed ({e})"));
            }
            _ => {}
        }
    }
    Ok(())
}
