//! The SQLite database: a pool of connections and every SQL statement the product runs.
//!
//! Handlers never see a connection: they call the domain functions built on [`Db::run`]
//! (reads, on the blocking pool, on connections that cannot write) and on [`Db::write`] and
//! [`Db::change`] (every write, on the one writer thread: see [`writer`]).

pub mod backup;
pub mod counts;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod legacy;
pub mod lists;
pub mod migrate;
pub mod password_resets;
pub mod requests;
pub mod search_index;
pub mod seed;
pub mod server_lock;
pub mod sessions;
pub mod users;
pub mod writer;

use crate::errors::AppError;
use crate::model::{Event, Events};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction};
use std::path::Path;
use std::time::Duration;

pub use migrate::{MIGRATIONS, MigrateError, migrate};

type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How long a read waits for a pooled connection (or a short search for its turn) before
/// the answer is 503.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// How long the writer waits for SQLite's lock (held by another process: a command-line
/// tool) before the batch fails with 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A cheaply cloned handle to the database: the readers' pool and the writer's queue.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    writer: std::sync::Arc<writer::Handle>,
    search_counts: std::sync::Arc<lists::SearchCounts>,
    short_searches: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database at {path}: {source}")]
    Pool { path: String, source: r2d2::Error },
    #[error("cannot create the database file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("cannot start the database writer for {path}: {source}")]
    Writer {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot migrate the database at {path}: {source}")]
    Migrate { path: String, source: MigrateError },
    #[error("{}", legacy_advice(path))]
    Legacy { path: std::path::PathBuf },
    /// [`OpenMode::Existing`] and no file there; `path` is absolute.
    #[error("there is no database at {}", path.display())]
    Missing { path: std::path::PathBuf },
}

/// Whether [`Db::open`] may create the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create an empty database when none exists (the server, `migrate --create`).
    CreateIfMissing,
    /// Refuse a path where no file exists: a command run from the wrong directory must not
    /// start a new, empty database there.
    Existing,
}

/// `path` made absolute against the working directory (not resolving symlinks), for messages.
pub fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// SQLite's reason, without the path rusqlite appends to it (the message names it already).
fn without_path(error: &rusqlite::Error, path: &str) -> String {
    let text = error.to_string();
    text.strip_suffix(path)
        .and_then(|t| t.strip_suffix(": "))
        .map_or(text.clone(), str::to_owned)
}

/// What to do with the original system's database: import it into a new file.
fn legacy_advice(path: &Path) -> String {
    let fresh = path.with_file_name("maintenance-new.db");
    format!(
        "{path} is the original (Python) system's database; it was left untouched. This program keeps \
         its data in a new file and imports the old one into it: run\n  \
         DATABASE_URL={fresh} maintenance import-legacy {path}\n\
         (add --dry-run first to see what it would do), then start the server with that DATABASE_URL",
        path = shell_word(path),
        fresh = shell_word(&fresh),
    )
}

/// A path as one shell word: quoted when it holds anything but plain path characters.
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ':'))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// How long each change waited for its write transaction to begin (the writer's queue and
/// SQLite's write lock): a histogram in seconds, recorded by the writer, exported at /metrics.
pub const WRITE_WAIT_METRIC: &str = "maintenance_db_write_wait_seconds";
/// Changes committed per write transaction: a histogram, recorded by the writer.
pub const WRITE_BATCH_METRIC: &str = "maintenance_db_write_batch_size";

/// Prepared statements each connection keeps: every query the program makes, with room.
pub(crate) const STATEMENT_CACHE: usize = 128;

/// The pragmas every connection gets: WAL so readers never wait for the writer,
/// foreign keys (off by default in SQLite), a busy timeout instead of instant
/// SQLITE_BUSY, and FULL sync: each commit reaches the disk before it is acknowledged, so
/// an answered change survives a power loss, not only a crash of this process (NORMAL
/// would lose the last commits then). The writer commits a whole batch at once, so the
/// sync is paid once per batch rather than once per change.
fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    plan_once(conn)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Makes a prepared statement's plan independent of the values bound to it. Otherwise
/// SQLite reads a bound `LIMIT` (and a bound `LIKE` pattern) while planning, and marks the
/// statement to be parsed and planned again whenever that parameter is bound anew: every
/// cached list query was then prepared afresh on every call. No plan here depends on those
/// values (the plan tests run with this setting too).
pub(crate) fn plan_once(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// A pooled connection: as [`configure`], and unable to write, so that every write goes
/// through the writer (one left here would fail, not bypass it).
fn configure_reader(conn: &mut Connection) -> rusqlite::Result<()> {
    configure(conn)?;
    // A page reads a session, the event log's bounds, counters, a list and its counts: more
    // statements than rusqlite's default 16, which were then parsed again on every page.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "query_only", true)
}

impl Db {
    /// Opens the database file (creating it when `mode` allows and it is missing) and applies
    /// pending migrations.
    pub fn open(path: &Path, max_connections: u32, mode: OpenMode) -> Result<Db, OpenError> {
        let display = path.display().to_string();
        // SQLite must not create the file either, should it vanish meanwhile.
        let mut flags = OpenFlags::default();
        match mode {
            OpenMode::CreateIfMissing => {
                // Created owner-only before SQLite opens it: SQLite gives its -wal and -shm
                // files the database file's mode, so they are private too.
                crate::private_files::create_if_missing(path).map_err(|source| {
                    OpenError::Create {
                        path: display.clone(),
                        source,
                    }
                })?
            }
            OpenMode::Existing => {
                if !path.try_exists().unwrap_or(true) {
                    return Err(OpenError::Missing {
                        path: absolute(path),
                    });
                }
                flags.remove(OpenFlags::SQLITE_OPEN_CREATE);
            }
        }
        // Migrate on one connection first: switching a new file to WAL needs the
        // lock that the pool's connections, opened in parallel, would fight over.
        let mut first = Connection::open_with_flags(path, flags).map_err(|e| OpenError::Open {
            path: display.clone(),
            reason: without_path(&e, &display),
        })?;
        // A database another program made is refused before anything (even WAL) touches it.
        migrate::refuse_foreign(&first).map_err(|source| match source {
            MigrateError::Legacy => OpenError::Legacy {
                path: path.to_path_buf(),
            },
            source => OpenError::Migrate {
                path: display.clone(),
                source,
            },
        })?;
        configure(&mut first).map_err(|e| OpenError::Migrate {
            path: display.clone(),
            source: e.into(),
        })?;
        migrate(&mut first).map_err(|source| OpenError::Migrate {
            path: display.clone(),
            source,
        })?;
        // The first connection becomes the writer's.
        let writer = writer::start(first).map_err(|source| OpenError::Writer {
            path: display.clone(),
            source,
        })?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(flags)
            .with_init(configure_reader);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .connection_timeout(POOL_WAIT)
            // A connection to a local file does not go stale; the check would parse and run
            // a `SELECT 1` on every checkout, every read.
            .test_on_check_out(false)
            .build(manager)
            .map_err(|source| OpenError::Pool {
                path: display.clone(),
                source,
            })?;
        Ok(Db {
            pool,
            writer: std::sync::Arc::new(writer),
            search_counts: Default::default(),
            short_searches: std::sync::Arc::new(tokio::sync::Semaphore::new(
                (max_connections as usize / 4).max(1),
            )),
        })
    }

    /// The reader pool's connections in use and idle, for the metrics.
    pub fn pool_use(&self) -> (u32, u32) {
        let state = self.pool.state();
        (
            state.connections - state.idle_connections,
            state.idle_connections,
        )
    }

    /// What this database's searches have counted, for [`lists::list`].
    pub fn search_counts(&self) -> std::sync::Arc<lists::SearchCounts> {
        self.search_counts.clone()
    }

    /// A turn to run a search that scans rows ([`lists::is_short_search`]): a quarter of the
    /// pool's connections at most, so a burst of them leaves the rest to everyone else.
    /// Waits as long as the pool would for a connection, then answers 503.
    pub async fn short_search_turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        match tokio::time::timeout(POOL_WAIT, self.short_searches.clone().acquire_owned()).await {
            Ok(turn) => turn.map_err(AppError::internal),
            Err(_) => Err(AppError::Unavailable(
                "no turn for a short search: too many at once".into(),
            )),
        }
    }

    /// Runs `work` with a pooled connection on the blocking thread pool. The connection
    /// reads only: writes go through [`Db::write`] or [`Db::change`]. For reads that may
    /// take long: a text search, a deep offset, anything that may scan.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        // The request's span goes along, so what `work` logs carries the request's id.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            read_on(&mut *pool.get()?, work)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `work`, a read that costs what a page costs (an index seek and a few dozen rows,
    /// well under a millisecond), on a pooled connection right here on the caller's thread.
    /// Handing it to the blocking pool as [`Db::run`] does costs two thread switches, about
    /// as much as the read itself. With no connection free it goes to [`Db::run`] instead,
    /// so the caller's thread never waits for one; a panic in `work` is its error, as there.
    pub async fn read<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        match self.pool.try_get() {
            Some(mut conn) => read_on(&mut conn, work),
            None => self.run(work).await,
        }
    }

    /// Runs a change on the writer, in the next batch's transaction (in a savepoint of its
    /// own), stores the events it reports in that same transaction, and once the batch is
    /// committed publishes them in commit order and returns the change's value. An error
    /// (or a panic) rolls back this change only.
    pub async fn write<T, F>(&self, events: &Events, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<(T, Vec<Event>), AppError> + Send + 'static,
    {
        self.submit(work, Some(events.clone())).await
    }

    /// [`Db::write`] for a change no live client hears of: sessions, accounts, job states,
    /// pruning.
    pub async fn change<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, AppError> + Send + 'static,
    {
        self.submit(
            move |tx: &Transaction<'_>| Ok((work(tx)?, Vec::new())),
            None,
        )
        .await
    }

    async fn submit<T, F>(&self, work: F, events: Option<Events>) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<(T, Vec<Event>), AppError> + Send + 'static,
    {
        let (pending, answer) = writer::Pending::new(work, events);
        self.writer
            .queue()
            .send(writer::Message::Change(Box::new(pending)))
            .await
            .map_err(|_| closed())?;
        answer
            .await
            .map_err(|_| AppError::internal("the writer stopped before answering"))?
    }

    /// Whether a write could start now: the writer runs an empty change, waiting at most
    /// `wait` (for the changes queued before it, and for SQLite's write lock should another
    /// process hold it). For the health check.
    pub async fn can_write(&self, wait: Duration) -> Result<(), AppError> {
        match tokio::time::timeout(wait, self.change(|_| Ok(()))).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AppError::Unavailable(format!(
                "no write transaction could start within {} ms",
                wait.as_millis()
            ))),
        }
    }

    /// Lets the writer finish every change queued so far, then moves every committed change
    /// from the write-ahead log into the database file and empties the log (`PRAGMA
    /// wal_checkpoint(TRUNCATE)`), and stops the writer: later writes fail with 503. For a
    /// clean stop, once nothing writes any more: afterwards the database file alone holds
    /// everything, whether or not other handles close before the process exits.
    pub async fn close(self) -> Result<(), AppError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .queue()
            .send(writer::Message::Close(reply))
            .await
            .map_err(|_| closed())?;
        let writer::Checkpoint { busy, log, moved } = answer
            .await
            .map_err(|_| AppError::internal("the writer stopped before checkpointing"))??;
        if busy != 0 {
            return Err(AppError::Unavailable(format!(
                "the write-ahead log could not be checkpointed ({moved} of {log} pages moved): \
                 the database is still in use; its -wal file holds the rest and is replayed at \
                 the next start"
            )));
        }
        Ok(())
    }

    /// Runs `work` on the calling thread with a pooled connection that may write, bypassing
    /// the writer: only for a command-line tool that makes one large transaction of its own
    /// (the import), in a process where nothing else writes.
    pub fn run_now<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut conn = self.pool.get()?;
        conn.pragma_update(None, "query_only", false)?;
        let outcome = work(&mut conn);
        conn.pragma_update(None, "query_only", true)?;
        outcome
    }
}

/// What a panic said, for the log.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs a read on `conn` and ends a transaction it left open; a panic in it is logged and
/// answered as an internal error.
fn read_on<T>(
    conn: &mut Connection,
    work: impl FnOnce(&mut Connection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)));
    end_read(conn);
    outcome.unwrap_or_else(|panic| {
        let why = panic_message(&*panic);
        tracing::error!(panic = %why, "a database read panicked");
        Err(AppError::internal(format_args!(
            "a database read panicked: {why}"
        )))
    })
}

/// Runs `work` in one read transaction: what it reads comes from one snapshot, and the read
/// lock on the write-ahead log is taken once, not once for each statement. BEGIN and COMMIT
/// are prepared once per connection. Any error, the commit's too, rolls it back (a panic
/// leaves that to [`end_read`]).
pub(crate) fn read_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let outcome = work(conn).and_then(|value| {
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(value)
    });
    if outcome.is_err() {
        end_read(conn);
    }
    outcome
}

/// Ends a read transaction that `work` left open (a panic, an early return), before the
/// connection goes back to the pool: kept open, it would pin its snapshot, and the
/// write-ahead log could never be checkpointed past it.
fn end_read(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        tracing::warn!(error = %error, "a read transaction could not be ended");
    }
}

/// The writer has stopped: the database was closed.
fn closed() -> AppError {
    AppError::Unavailable("the database is closed".into())
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Searches that scan rows take a quarter of the pool at most: while they hold every
    /// turn, another waits for one and the other connections still serve everything else.
    #[tokio::test]
    async fn short_searches_take_a_quarter_of_the_pool_at_most() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 8, OpenMode::CreateIfMissing).unwrap();
        let turns = [
            db.short_search_turn().await.unwrap(),
            db.short_search_turn().await.unwrap(),
        ];
        let third = tokio::time::timeout(Duration::from_millis(100), db.short_search_turn()).await;
        assert!(third.is_err(), "a third turn was given while two were held");
        let others: Vec<i64> = six_reads_at_once(&db).await;
        assert_eq!(others, vec![1; 6], "the other connections answered");
        drop(turns);
        let _turn = tokio::time::timeout(Duration::from_secs(5), db.short_search_turn())
            .await
            .expect("a turn once one is given back")
            .unwrap();
    }

    /// A cached statement with a bound LIMIT and OFFSET (every list page) is planned once:
    /// binding other values does not make SQLite parse and plan it again.
    #[tokio::test]
    async fn a_page_query_is_planned_once_whatever_page_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 1, OpenMode::CreateIfMissing).unwrap();
        let sql = "SELECT id FROM requests WHERE description LIKE ?1 ORDER BY created_at DESC LIMIT ?2 OFFSET ?3";
        let replanned = db
            .read(move |conn| {
                for (limit, offset) in [(50, 0), (20, 0), (50, 100), (1, 7)] {
                    let mut stmt = conn.prepare_cached(sql)?;
                    stmt.query_map(rusqlite::params!["%누수%", limit, offset], |r| {
                        r.get::<_, i64>(0)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                }
                Ok(conn
                    .prepare_cached(sql)?
                    .get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(replanned, 0);
    }

    /// A page's statements stay prepared on a pooled connection from one page to the next,
    /// even with more of them than rusqlite keeps by default.
    #[tokio::test]
    async fn a_pooled_connection_keeps_every_statement_a_page_reads_prepared() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 1, OpenMode::CreateIfMissing).unwrap();
        let runs = db
            .read(|conn| {
                for _page in 0..3 {
                    events::bounds(conn)?;
                    for n in 0..40 {
                        conn.prepare_cached(&format!("SELECT {n}"))?
                            .query_row([], |r| r.get::<_, i64>(0))?;
                    }
                }
                Ok(conn
                    .prepare_cached("SELECT min(id) FROM events")?
                    .get_status(rusqlite::StatementStatus::Run))
            })
            .await
            .unwrap();
        assert_eq!(runs, 3, "prepared once, run on each page");
    }

    /// A quick read runs on the caller's thread; a panic in it is an error, not a crash.
    #[tokio::test]
    async fn a_quick_read_runs_here_and_its_panic_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 2, OpenMode::CreateIfMissing).unwrap();
        let here = std::thread::current().id();
        let ran_on = db.read(|_| Ok(std::thread::current().id())).await.unwrap();
        assert_eq!(ran_on, here);
        let panicked = db
            .read(|conn| -> Result<(), AppError> {
                conn.execute_batch("BEGIN")?;
                panic!("a bug in a read")
            })
            .await;
        assert!(
            matches!(panicked, Err(AppError::Internal(_))),
            "{panicked:?}"
        );
        // The connection it held is usable again, outside any transaction.
        let autocommit = db.read(|conn| Ok(conn.is_autocommit())).await.unwrap();
        assert!(autocommit);
    }

    /// A read transaction sees one snapshot, and ends either way: committed, or rolled back
    /// on an error.
    #[test]
    fn a_read_transaction_ends_on_success_and_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        drop(Db::open(&path, 1, OpenMode::CreateIfMissing).unwrap());
        let reader = Connection::open(&path).unwrap();
        let writer = Connection::open(&path).unwrap();
        let users = |conn: &Connection| -> Result<i64, AppError> {
            Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
        };
        let (before, during) = read_transaction(&reader, |conn| {
            let before = users(conn)?;
            writer
                .execute(
                    "INSERT INTO users (email, hashed_password, created_at, updated_at)
                     VALUES ('r@example.com', 'x', 't', 't')",
                    [],
                )
                .unwrap();
            Ok((before, users(conn)?))
        })
        .unwrap();
        assert_eq!(before, during, "one snapshot");
        assert!(reader.is_autocommit());
        assert_eq!(users(&reader).unwrap(), before + 1);
        let failed: Result<(), AppError> =
            read_transaction(&reader, |_| Err(AppError::not_found("request")));
        assert!(failed.is_err());
        assert!(reader.is_autocommit(), "rolled back");
    }

    /// With every connection taken, a quick read waits on the blocking pool, not here.
    #[tokio::test]
    async fn a_quick_read_with_no_connection_free_waits_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 2, OpenMode::CreateIfMissing).unwrap();
        let held = [db.pool.get().unwrap(), db.pool.get().unwrap()];
        let here = std::thread::current().id();
        let read = tokio::spawn({
            let db = db.clone();
            async move { db.read(|_| Ok(std::thread::current().id())).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!read.is_finished(), "it ran with no connection free");
        drop(held);
        let ran_on = read.await.unwrap().unwrap();
        assert_ne!(ran_on, here);
    }

    /// Six reads at once, each holding its connection until all six have one.
    async fn six_reads_at_once(db: &Db) -> Vec<i64> {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let reads: Vec<_> = (0..6)
            .map(|_| {
                let (db, barrier) = (db.clone(), barrier.clone());
                tokio::spawn(async move {
                    db.run(move |conn| {
                        barrier.wait();
                        Ok(conn.query_row("SELECT 1", [], |r| r.get(0))?)
                    })
                    .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for read in reads {
            let answer = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("six connections at once");
            answers.push(answer.unwrap().unwrap());
        }
        answers
    }
}
