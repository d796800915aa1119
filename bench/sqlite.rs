//! The SQLite ceiling: how fast SQLite alone stores request-shaped rows on this machine, with
//! the project's schema (its indexes and triggers) and pragmas (WAL, synchronous FULL, foreign
//! keys), one row per transaction and in batches. No HTTP, no classification: what any write
//! path of the server can at best approach.
//!
//! Run: `cargo bench --bench sqlite` (`SQLITE_BENCH_SECS=1` for a short run). `bench/run`
//! reads its `rows per transaction` lines.

use rusqlite::{Connection, TransactionBehavior, params};
use std::time::{Duration, Instant};

fn open(path: &std::path::Path) -> Connection {
    let mut conn = Connection::open(path).expect("open");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("synchronous");
    conn.pragma_update(None, "foreign_keys", "ON")
        .expect("foreign keys");
    maintenance::db::migrate(&mut conn).expect("migrate");
    conn.execute(
        "INSERT INTO users (id, email, hashed_password, role, created_at, updated_at)
         VALUES (1, 'resident@example.com', 'x', 'user', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')",
        [],
    )
    .expect("user");
    conn
}

/// Rows stored per second, `batch` rows a transaction, for `run`.
fn measure(conn: &mut Connection, batch: usize, run: Duration) -> (f64, u64) {
    let started = Instant::now();
    let mut rows = 0u64;
    while started.elapsed() < run {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO requests (user_id, description, location, category, priority, status,
                                           created_at, updated_at, classification_status,
                                           classification_method, classification_confidence,
                                           classification_reason, classified_at)
                     VALUES (1, ?1, '101동 1203호', 'plumbing', 'high', 'pending', ?2, ?2, 'done',
                             'keyword', 0.9, 'plumbing: 배관, 물', ?2)",
                )
                .expect("prepare");
            for _ in 0..batch {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                let description =
                    format!("욕실 천장에서 물이 떨어져요. 윗집 배관 문제 같아요. #{rows}");
                insert.execute(params![description, now]).expect("insert");
                rows += 1;
            }
        }
        tx.commit().expect("commit");
    }
    (rows as f64 / started.elapsed().as_secs_f64(), rows)
}

fn main() {
    let secs: u64 = std::env::var("SQLITE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = open(&dir.path().join("ceiling.db"));
    println!(
        "SQLite {}, WAL, synchronous FULL, the project's schema",
        rusqlite::version()
    );
    for batch in [1, 10, 100, 1000] {
        let (rate, rows) = measure(&mut conn, batch, Duration::from_secs(secs));
        println!("rows per transaction: {batch:>4}, {rate:.0} rows/s ({rows} rows in {secs} s)");
    }
}
