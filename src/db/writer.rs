//! The one writer: every write transaction of this process runs on one thread, with one
//! connection, a batch at a time (group commit).
//!
//! Callers queue changes on a bounded channel (a full channel makes them wait: back-pressure)
//! and wait for their answer. The writer takes whatever is waiting, up to [`MAX_BATCH`]
//! changes, opens one IMMEDIATE transaction and runs each change in its own savepoint: a
//! change that fails (or panics) is rolled back to its savepoint and answered with its
//! error, the others stay. It stores the events each change reports inside that change's
//! savepoint, commits once (one fsync for the whole batch with `synchronous=FULL`), publishes
//! the events in commit order and only then answers each caller: an answer means committed.
//!
//! One committer also means event ids are handed out, committed and published in one order,
//! with no lock between threads: the ids a subscriber sees are gap-free and increasing.

use super::{events, search_index};
use crate::errors::AppError;
use crate::model::{Event, Events, StoredEvent};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::{mpsc, oneshot};

/// The most changes one transaction takes; a longer queue is committed in several.
pub const MAX_BATCH: usize = 256;

/// Room in the writer's queue; a caller finding it full waits for room.
pub const QUEUE: usize = 1024;

/// A change the writer runs, and the caller waiting for its outcome.
pub(super) trait Change: Send {
    /// Runs the change inside the batch's transaction; returns the events it reports.
    fn apply(&mut self, tx: &Transaction<'_>) -> Result<Vec<Event>, AppError>;
    /// Where its events are published.
    fn events(&self) -> Option<&Events>;
    /// When the change was handed to the writer.
    fn queued_at(&self) -> std::time::Instant;
    /// Answers the caller: `Ok` once the batch is committed, or why it is not.
    fn answer(self: Box<Self>, outcome: Result<(), AppError>);
}

/// A change made from a closure; its value goes back to the caller after the commit.
pub(super) struct Pending<T, F> {
    work: Option<F>,
    value: Option<T>,
    events: Option<Events>,
    reply: oneshot::Sender<Result<T, AppError>>,
    queued_at: std::time::Instant,
}

impl<T, F> Pending<T, F> {
    pub(super) fn new(
        work: F,
        events: Option<Events>,
    ) -> (Pending<T, F>, oneshot::Receiver<Result<T, AppError>>) {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            work: Some(work),
            value: None,
            events,
            reply,
            queued_at: std::time::Instant::now(),
        };
        (pending, answer)
    }
}

impl<T, F> Change for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<(T, Vec<Event>), AppError> + Send,
{
    fn apply(&mut self, tx: &Transaction<'_>) -> Result<Vec<Event>, AppError> {
        let work = self
            .work
            .take()
            .ok_or_else(|| AppError::internal("a change was run twice"))?;
        let (value, events) = work(tx)?;
        self.value = Some(value);
        Ok(events)
    }

    fn events(&self) -> Option<&Events> {
        self.events.as_ref()
    }

    fn queued_at(&self) -> std::time::Instant {
        self.queued_at
    }

    fn answer(self: Box<Self>, outcome: Result<(), AppError>) {
        let Pending { value, reply, .. } = *self;
        let result = outcome.and_then(|()| {
            value.ok_or_else(|| AppError::internal("a committed change left no value"))
        });
        // A caller that stopped waiting (a timed-out health check) needs no answer.
        let _ = reply.send(result);
    }
}

/// What the writer's queue carries.
pub(super) enum Message {
    Change(Box<dyn Change>),
    /// Finish what is queued, checkpoint the write-ahead log, answer, and stop.
    Close(oneshot::Sender<Result<Checkpoint, AppError>>),
}

/// What `PRAGMA wal_checkpoint(TRUNCATE)` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Checkpoint {
    /// Whether readers kept it from finishing (0: it finished).
    pub busy: i64,
    /// Pages in the log, and pages moved into the database file.
    pub log: i64,
    pub moved: i64,
}

/// The writer thread and its queue. When the last handle goes, the queue closes and the
/// handle waits for the thread to finish what was queued and close its connection: a
/// command-line tool must not exit with it open (SQLite moves the write-ahead log into the
/// database file, and removes it, when the last connection closes).
pub(super) struct Handle {
    sender: mpsc::Sender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// The writer's queue.
    pub(super) fn queue(&self) -> &mpsc::Sender<Message> {
        &self.sender
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Dropping the real sender closes the queue; the thread then drains it and stops.
        drop(std::mem::replace(&mut self.sender, mpsc::channel(1).0));
        if let Some(thread) = self.thread.take()
            // A change that held the last handle is dropped on the writer thread itself.
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// Starts the writer thread on `conn`.
pub(super) fn start(conn: Connection) -> std::io::Result<Handle> {
    // Every statement any change runs stays prepared on this one connection.
    conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
    // Each savepoint keeps the pages it changes in a sub-journal; on disk (the default
    // past 64 KiB) that is a temporary file created, written page by page and removed for
    // every batch. In memory it is a copy, emptied as each batch ends.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(std::io::Error::other)?;
    // Only to wait for the queue with a time limit (see `next`).
    let clock = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let (sender, inbox) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("db-writer".into())
        .spawn(move || run(conn, inbox, &clock))?;
    Ok(Handle {
        sender,
        thread: Some(thread),
    })
}

/// Commits batches until every sender is gone, or [`Message::Close`] has arrived and what
/// was queued before it is done; indexes the search backlog in between.
fn run(mut conn: Connection, mut inbox: mpsc::Receiver<Message>, clock: &tokio::runtime::Runtime) {
    let mut closing = None;
    let mut batch: Vec<Box<dyn Change>> = Vec::with_capacity(MAX_BATCH);
    let mut upkeep = SearchUpkeep::read(&conn);
    while let Some(first) = next(&mut conn, &mut inbox, clock, &mut upkeep) {
        take(first, &mut batch, &mut closing, &mut inbox);
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(next) => take(next, &mut batch, &mut closing, &mut inbox),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, std::mem::take(&mut batch));
        upkeep.seen_own_writes(&conn);
        // Deletes and edits write segments of their own (the index's 'delete' entries), with
        // automerge off nothing else merges them; a merge with nothing to do writes nothing.
        upkeep.merging = true;
        if upkeep.backlog >= search_index::BACKLOG_BOUND {
            upkeep.step(&mut conn);
        }
    }
    if let Some(reply) = closing {
        let _ = reply.send(checkpoint(&conn));
    }
}

/// The next message; while the search index has upkeep left, each pause of
/// [`search_index::INDEX_WHEN_IDLE_FOR`] without one is used for a step of it. With none
/// left, the backlog is looked at again every [`search_index::BACKLOG_RECHECK`]: another
/// process (an import run beside the server) may have added to it.
fn next(
    conn: &mut Connection,
    inbox: &mut mpsc::Receiver<Message>,
    clock: &tokio::runtime::Runtime,
    upkeep: &mut SearchUpkeep,
) -> Option<Message> {
    let mut pause = search_index::INDEX_WHEN_IDLE_FOR;
    loop {
        let wait = if upkeep.pending() {
            pause
        } else {
            search_index::BACKLOG_RECHECK
        };
        // The timer is made inside the runtime: it needs its clock.
        match clock.block_on(async { tokio::time::timeout(wait, inbox.recv()).await }) {
            Ok(message) => return message,
            Err(_) if upkeep.pending() => {
                upkeep.step(conn);
                // Idle already: the next batch follows unless a change has come meanwhile.
                pause = std::time::Duration::ZERO;
            }
            Err(_) => {
                upkeep.recheck(conn);
                pause = std::time::Duration::ZERO;
            }
        }
    }
}

/// What the search index still needs, as the writer last saw: rows to index, then merging.
struct SearchUpkeep {
    backlog: u64,
    merging: bool,
    /// The indexes' content as last read, to tell when another process has written to them.
    version: Option<u64>,
}

impl SearchUpkeep {
    /// The backlog as stored; merging is due after indexing or any commit, so none is
    /// known at first.
    fn read(conn: &Connection) -> SearchUpkeep {
        let backlog = search_index::backlog(conn).unwrap_or_else(|error| {
            tracing::warn!(error = %error, "cannot read the search backlog");
            0
        });
        SearchUpkeep {
            backlog,
            merging: backlog > 0,
            version: search_index::version(conn).ok().flatten(),
        }
    }

    /// What another process may have done meanwhile: added to the backlog (an import), or
    /// deleted or edited indexed rows, which writes segments to merge.
    fn recheck(&mut self, conn: &Connection) {
        let now = SearchUpkeep::read(conn);
        let written = now.version != self.version;
        *self = SearchUpkeep {
            merging: now.merging || written,
            ..now
        };
    }

    /// After the writer's own commit or indexing: the backlog as it now is, and the indexes'
    /// content as this process left it, so that [`SearchUpkeep::recheck`] tells only another
    /// process's writes.
    fn seen_own_writes(&mut self, conn: &Connection) {
        let now = SearchUpkeep::read(conn);
        self.backlog = now.backlog;
        self.version = now.version;
    }

    fn pending(&self) -> bool {
        self.backlog > 0 || self.merging
    }

    /// Indexes a batch of the backlog, or once it is empty merges a few pages. On failure the
    /// rows stay in the backlog, still found by searches, and are tried again after the next
    /// commit; merging waits for the next commit.
    fn step(&mut self, conn: &mut Connection) {
        let began = std::time::Instant::now();
        if self.backlog > 0 {
            match search_index::index_some(conn) {
                Ok(moved) => {
                    tracing::trace!(
                        rows = moved,
                        micros = began.elapsed().as_micros() as u64,
                        "search backlog indexed"
                    );
                    self.seen_own_writes(conn);
                    self.merging = true;
                }
                Err(error) => {
                    tracing::warn!(error = %error, "the search backlog could not be indexed");
                    self.backlog = 0;
                }
            }
            return;
        }
        match search_index::merge_some(conn) {
            Ok(more) => {
                tracing::trace!(
                    micros = began.elapsed().as_micros() as u64,
                    more,
                    "search index merged"
                );
                self.merging = more;
            }
            Err(error) => {
                tracing::warn!(error = %error, "the search index could not be merged");
                self.merging = false;
            }
        }
    }
}

fn take(
    message: Message,
    batch: &mut Vec<Box<dyn Change>>,
    closing: &mut Option<oneshot::Sender<Result<Checkpoint, AppError>>>,
    inbox: &mut mpsc::Receiver<Message>,
) {
    match message {
        Message::Change(change) => batch.push(change),
        Message::Close(reply) => {
            // Nothing new is taken; what is already queued still runs.
            inbox.close();
            *closing = Some(reply);
        }
    }
}

/// Moves the write-ahead log into the database file and empties it; readers still open
/// (a socket's last query) are waited for, up to the busy timeout.
fn checkpoint(conn: &Connection) -> Result<Checkpoint, AppError> {
    Ok(
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok(Checkpoint {
                busy: row.get(0)?,
                log: row.get(1)?,
                moved: row.get(2)?,
            })
        })?,
    )
}

/// Runs `batch` in as few transactions as it takes (one, unless SQLite itself rolls one back
/// part-way), then publishes and answers.
fn commit_batch(conn: &mut Connection, batch: Vec<Box<dyn Change>>) {
    let mut waiting = batch.into_iter();
    while waiting.len() > 0 {
        let began = std::time::Instant::now();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                // Another process holds the write lock past the busy timeout, or the file
                // cannot be written: nothing in this batch can be.
                let error = AppError::from(e);
                tracing::warn!(error = %error, changes = waiting.len(), "a write batch could not start");
                for change in waiting {
                    change.answer(Err(copy(&error)));
                }
                return;
            }
        };
        let mut applied: Vec<(Box<dyn Change>, Vec<StoredEvent>)> = Vec::new();
        let mut aborted = None;
        let started = std::time::Instant::now();
        for mut change in waiting.by_ref() {
            ::metrics::histogram!(super::WRITE_WAIT_METRIC).record(
                started
                    .saturating_duration_since(change.queued_at())
                    .as_secs_f64(),
            );
            match in_savepoint(&tx, change.as_mut()) {
                Ok(stored) => applied.push((change, stored)),
                Err(error) => {
                    change.answer(Err(error));
                    if tx.is_autocommit() {
                        // SQLite rolled the whole transaction back (a full disk, an I/O
                        // error): the changes applied so far are gone with it.
                        aborted = Some(AppError::Unavailable(
                            "the write transaction was rolled back by the database".into(),
                        ));
                        break;
                    }
                }
            }
        }
        let committed = match aborted {
            Some(error) => Err(error),
            None => tx.commit().map_err(AppError::from),
        };
        match committed {
            Ok(()) => {
                ::metrics::histogram!(super::WRITE_BATCH_METRIC).record(applied.len() as f64);
                tracing::trace!(
                    changes = applied.len(),
                    micros = began.elapsed().as_micros() as u64,
                    "write batch committed"
                );
                for (change, stored) in &mut applied {
                    if let Some(events) = change.events() {
                        events.publish(std::mem::take(stored));
                    }
                }
                for (change, _) in applied {
                    change.answer(Ok(()));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, changes = applied.len(), "a write batch failed to commit");
                for (change, _) in applied {
                    change.answer(Err(copy(&error)));
                }
            }
        }
    }
}

/// Runs one change and stores its events inside a savepoint; on failure or panic, rolls back
/// to the savepoint, leaving the batch's other changes as they were.
fn in_savepoint(
    tx: &Transaction<'_>,
    change: &mut dyn Change,
) -> Result<Vec<StoredEvent>, AppError> {
    tx.prepare_cached("SAVEPOINT change")?.execute([])?;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let reported = change.apply(tx)?;
        reported
            .iter()
            .map(|event| events::insert(tx, event))
            .collect::<Result<Vec<_>, AppError>>()
    }));
    let outcome = outcome.unwrap_or_else(|panic| {
        let why = super::panic_message(&*panic);
        tracing::error!(panic = %why, "a change panicked; it was rolled back");
        Err(AppError::internal(format_args!("a change panicked: {why}")))
    });
    let released = outcome.and_then(|stored| {
        tx.prepare_cached("RELEASE change")?.execute([])?;
        Ok(stored)
    });
    if released.is_err() && !tx.is_autocommit() {
        tx.prepare_cached("ROLLBACK TO change")?.execute([])?;
        tx.prepare_cached("RELEASE change")?.execute([])?;
    }
    released
}

/// The same failure for another caller of the batch.
fn copy(error: &AppError) -> AppError {
    match error {
        AppError::Unavailable(why) => AppError::Unavailable(why.clone()),
        other => AppError::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, OpenMode, migrate};
    use crate::ids::{RequestId, UserId};
    use tokio::sync::oneshot::Receiver;

    /// A migrated database file with one account, and a connection to it.
    fn database(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection) {
        let path = dir.path().join("test.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at)
             VALUES ('r@example.com', 'x', 'user', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        (path, conn)
    }

    fn queue<T: Send + 'static>(
        inbox: &mpsc::Sender<Message>,
        events: &Events,
        work: impl FnOnce(&Transaction<'_>) -> Result<(T, Vec<Event>), AppError> + Send + 'static,
    ) -> Receiver<Result<T, AppError>> {
        let (pending, answer) = Pending::new(work, Some(events.clone()));
        if inbox.try_send(Message::Change(Box::new(pending))).is_err() {
            panic!("no room in the queue");
        }
        answer
    }

    fn test_clock() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    fn deleted(id: i64) -> Event {
        Event::RequestDeleted {
            id: RequestId(id),
            user_id: UserId(1),
        }
    }

    /// Appends `text` to the account's name: what a change leaves behind.
    fn mark(tx: &Transaction<'_>, text: &str) -> Result<(), AppError> {
        tx.execute(
            "UPDATE users SET full_name = coalesce(full_name, '') || ?1 WHERE id = 1",
            [text],
        )?;
        Ok(())
    }

    /// Changes queued before the writer starts all land in its first batch: one fails, one
    /// panics, and the others still commit, with their events gap-free and in order.
    #[test]
    fn a_failing_or_panicking_change_rolls_back_alone_and_the_rest_of_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let events = Events::new(16);
        let mut live = events.subscribe();
        let (inbox, receiver) = mpsc::channel(QUEUE);
        let first = queue(&inbox, &events, |tx| {
            mark(tx, "a")?;
            Ok((1, vec![deleted(1)]))
        });
        let failing = queue(&inbox, &events, |tx| {
            mark(tx, "b")?;
            tx.execute("DELETE FROM users", [])?;
            Err::<((), Vec<Event>), _>(AppError::Conflict("refused".into()))
        });
        let panicking = queue(
            &inbox,
            &events,
            |tx| -> Result<((), Vec<Event>), AppError> {
                mark(tx, "c")?;
                panic!("a bug in a change");
            },
        );
        let last = queue(&inbox, &events, |tx| {
            mark(tx, "d")?;
            Ok((4, vec![deleted(4), deleted(5)]))
        });
        drop(inbox);
        // Runs what is queued, then stops: the queue's last sender is gone.
        std::thread::spawn(move || run(conn, receiver, &test_clock()))
            .join()
            .unwrap();

        assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
        assert!(matches!(
            failing.blocking_recv().unwrap(),
            Err(AppError::Conflict(_))
        ));
        match panicking.blocking_recv().unwrap() {
            Err(AppError::Internal(why)) => assert!(why.contains("a bug in a change"), "{why}"),
            other => panic!("expected an internal error, got {other:?}"),
        }
        assert_eq!(last.blocking_recv().unwrap().unwrap(), 4);

        let check = Connection::open(&path).unwrap();
        let name: String = check
            .query_row("SELECT full_name FROM users WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            name, "ad",
            "only the failed and the panicked changes rolled back"
        );
        let stored: Vec<(i64, i64)> = check
            .prepare("SELECT id, request_id FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored, [(1, 1), (2, 4), (3, 5)]);
        let published: Vec<i64> = std::iter::from_fn(|| live.try_recv().ok())
            .map(|event| event.id)
            .collect();
        assert_eq!(
            published,
            [1, 2, 3],
            "published once committed, in commit order"
        );
    }

    /// Closing lets every change queued before it commit (more than one batch's worth), then
    /// checkpoints; a change sent after that is refused.
    #[test]
    fn closing_finishes_the_queue_then_checkpoints_and_refuses_later_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let events = Events::new(1);
        let writer = start(conn).unwrap();
        let inbox = writer.queue().clone();
        let answers: Vec<_> = (0..MAX_BATCH + 50)
            .map(|n| {
                queue(&inbox, &events, move |tx| {
                    mark(tx, "x")?;
                    Ok((n, Vec::new()))
                })
            })
            .collect();
        let (reply, closed) = oneshot::channel();
        if inbox.try_send(Message::Close(reply)).is_err() {
            panic!("no room in the queue");
        }
        let checkpoint = closed.blocking_recv().unwrap().unwrap();
        assert_eq!(checkpoint.busy, 0, "checkpointed");
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.blocking_recv().unwrap().unwrap(), n);
        }
        let (late, _) = Pending::new(|_: &Transaction<'_>| Ok(((), Vec::new())), None);
        assert!(
            inbox.try_send(Message::Change(Box::new(late))).is_err(),
            "the writer takes nothing after closing"
        );
        let wal = std::fs::metadata(dir.path().join("test.db-wal")).map_or(0, |m| m.len());
        assert_eq!(wal, 0, "the log was emptied into the database file");
        let check = Connection::open(&path).unwrap();
        let name: String = check
            .query_row("SELECT full_name FROM users WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name.len(), MAX_BATCH + 50);
    }

    /// The pool's connections cannot write, so no write can bypass the writer; the writer
    /// commits with `synchronous=FULL` and keeps its savepoints' journals in memory.
    #[tokio::test]
    async fn only_the_writer_writes_and_it_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 2, OpenMode::CreateIfMissing).unwrap();
        let bypass = db
            .run(|conn| Ok(conn.execute("DELETE FROM events", [])?))
            .await;
        assert!(bypass.is_err(), "a pooled connection wrote: {bypass:?}");
        let synchronous: i64 = db
            .change(|tx| Ok(tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
        let temp_store: i64 = db
            .change(|tx| Ok(tx.query_row("PRAGMA temp_store", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(temp_store, 2, "savepoint journals in memory");
        let written = db
            .change(|tx| Ok(tx.execute("DELETE FROM events", [])?))
            .await;
        assert!(written.is_ok(), "{written:?}");
        db.close().await.unwrap();
    }

    /// Inserts `n` requests of the account; returns the backlog of the search index after.
    fn insert_requests(tx: &Transaction<'_>, n: u64) -> Result<u64, AppError> {
        tx.execute(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
             INSERT INTO requests (user_id, description, status, created_at, updated_at)
             SELECT 1, '보일러 고장 ' || i, 'pending', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM k",
            [n as i64],
        )?;
        Ok(search_index::backlog(tx)?)
    }

    /// A backlog past its bound is indexed right after the commit that made it, even when
    /// changes keep coming: the batch after it sees a shorter backlog.
    #[test]
    fn a_long_search_backlog_is_indexed_without_waiting_for_a_pause() {
        let dir = tempfile::tempdir().unwrap();
        let (_path, conn) = database(&dir);
        let events = Events::new(16);
        let (inbox, receiver) = mpsc::channel(QUEUE);
        let bound = search_index::BACKLOG_BOUND;
        let first = queue(&inbox, &events, move |tx| {
            Ok((insert_requests(tx, bound + 10)?, Vec::new()))
        });
        // The rest of the first batch, so the last change is in the next one.
        for _ in 1..MAX_BATCH {
            queue(&inbox, &events, |_| Ok(((), Vec::new())));
        }
        let after = queue(&inbox, &events, |tx| {
            Ok((search_index::backlog(tx)?, Vec::new()))
        });
        drop(inbox);
        std::thread::spawn(move || run(conn, receiver, &test_clock()))
            .join()
            .unwrap();
        assert_eq!(first.blocking_recv().unwrap().unwrap(), bound + 10);
        assert_eq!(
            after.blocking_recv().unwrap().unwrap(),
            bound + 10 - search_index::INDEX_BATCH
        );
    }

    /// A pause with no change is used to index the whole backlog, then to merge the index's
    /// segments (one per batch) down to fewer than four a level.
    #[tokio::test]
    async fn the_search_backlog_is_indexed_when_the_writer_is_idle() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("test.db"), 2, OpenMode::CreateIfMissing).unwrap();
        db.change(|tx| {
            tx.execute(
                "INSERT INTO users (email, hashed_password, role, created_at, updated_at)
                 VALUES ('r@example.com', 'x', 'user', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                [],
            )?;
            insert_requests(tx, search_index::INDEX_BATCH * 5 + 5)
        })
        .await
        .unwrap();
        let backlog = || db.run(|conn| Ok(search_index::backlog(conn)?));
        let mut waited = 0;
        while backlog().await.unwrap() > 0 {
            waited += 1;
            assert!(waited < 500, "the backlog was never indexed");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let indexed: i64 = db
            .run(|conn| {
                Ok(conn.query_row(
                    "SELECT count(*) FROM requests_fts WHERE requests_fts MATCH '\"보일러\"'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(indexed as u64, search_index::INDEX_BATCH * 5 + 5);
        wait_until_merged(&db).await;
        db.close().await.unwrap();
    }

    /// A database of one resident's 100 requests, indexed and merged.
    async fn indexed_database(path: &std::path::Path) -> Db {
        let db = Db::open(path, 2, OpenMode::CreateIfMissing).unwrap();
        db.change(|tx| {
            tx.execute(
                "INSERT INTO users (email, hashed_password, role, created_at, updated_at)
                 VALUES ('r@example.com', 'x', 'user', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                [],
            )?;
            insert_requests(tx, 100)
        })
        .await
        .unwrap();
        wait_until_merged(&db).await;
        db
    }

    /// Waits until nothing waits to be indexed and no level holds four segments or more.
    async fn wait_until_merged(db: &Db) {
        let mut waited = 0;
        loop {
            let levels = db
                .run(|conn| Ok(search_index::tests::segments_per_level(conn)))
                .await
                .unwrap();
            let backlog = db
                .run(|conn| Ok(search_index::backlog(conn)?))
                .await
                .unwrap();
            if backlog == 0 && levels.iter().all(|&n| n < 4) {
                return;
            }
            waited += 1;
            assert!(waited < 600, "never merged: {levels:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Deletes write segments of their own (the index's 'delete' entries), one per commit:
    /// with no backlog to index, an idle writer still merges them.
    #[tokio::test]
    async fn segments_written_by_deletes_are_merged_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let db = indexed_database(&dir.path().join("test.db")).await;
        // Long enough for the writer to find nothing left to merge.
        tokio::time::sleep(search_index::INDEX_WHEN_IDLE_FOR * 10).await;
        // Back to back, so the writer is never idle between them.
        for id in 1..=12 {
            db.change(move |tx| Ok(tx.execute("DELETE FROM requests WHERE id = ?1", [id])?))
                .await
                .unwrap();
        }
        wait_until_merged(&db).await;
        db.close().await.unwrap();
    }

    /// Deletes by another process write segments too: an idle writer notices the index
    /// changed and merges them.
    #[tokio::test]
    async fn segments_written_by_another_process_are_merged_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let db = indexed_database(&path).await;
        // Past the writer's own last merge step and a recheck of the backlog.
        tokio::time::sleep(search_index::BACKLOG_RECHECK * 2).await;
        let other = Connection::open(&path).unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        for id in 1..=12 {
            other
                .execute("DELETE FROM requests WHERE id = ?1", [id])
                .unwrap();
        }
        drop(other);
        let levels = db
            .run(|conn| Ok(search_index::tests::segments_per_level(conn)))
            .await
            .unwrap();
        assert!(levels.iter().any(|&n| n >= 4));
        wait_until_merged(&db).await;
        db.close().await.unwrap();
    }

    /// The writer's own deletes are not taken for another process's: once it has merged
    /// after them, a recheck finds nothing to do. Another process's delete is noticed.
    #[test]
    fn a_recheck_tells_another_process_s_writes_from_the_writer_s_own() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO users (email, hashed_password, created_at, updated_at) VALUES ('r@example.com', 'x', 't', 't')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO requests (user_id, description, status, created_at, updated_at)
             VALUES (1, '보일러 고장', 'pending', 't', 't'), (1, '전등 고장', 'pending', 't', 't')",
            [],
        )
        .unwrap();
        let mut upkeep = SearchUpkeep::read(&conn);
        while upkeep.pending() {
            upkeep.step(&mut conn);
        }
        // A commit of the writer's own.
        conn.execute("DELETE FROM requests WHERE id = 1", [])
            .unwrap();
        upkeep.seen_own_writes(&conn);
        upkeep.merging = false;
        upkeep.recheck(&conn);
        assert!(!upkeep.pending(), "its own delete, already seen");
        // Another process's.
        conn.execute("DELETE FROM requests WHERE id = 2", [])
            .unwrap();
        upkeep.recheck(&conn);
        assert!(upkeep.merging, "a delete it did not make");
    }

    /// Rows another process adds to the backlog (an import beside the server) are indexed
    /// by an idle writer that has nothing else to do.
    #[tokio::test]
    async fn a_backlog_written_by_another_process_is_indexed_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let db = Db::open(&path, 2, OpenMode::CreateIfMissing).unwrap();
        let backlog = || db.run(|conn| Ok(search_index::backlog(conn)?));
        // The writer has indexed what there was and has gone idle.
        tokio::time::sleep(search_index::INDEX_WHEN_IDLE_FOR * 3).await;
        let mut other = Connection::open(&path).unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let tx = other.transaction().unwrap();
        tx.execute(
            "INSERT INTO users (email, hashed_password, role, created_at, updated_at)
             VALUES ('r@example.com', 'x', 'user', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        insert_requests(&tx, 50).unwrap();
        tx.commit().unwrap();
        drop(other);
        assert_eq!(backlog().await.unwrap(), 50);
        let mut waited = 0;
        while backlog().await.unwrap() > 0 {
            waited += 1;
            assert!(waited < 500, "the other process's rows were never indexed");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        db.close().await.unwrap();
    }
}
