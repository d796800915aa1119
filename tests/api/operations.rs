//! Running it for real: backup and restore, create-admin, reclassify, check, /metrics, request
//! ids in the log, the Grafana dashboard.

use crate::binary::{maintenance, output_with_input, start};
use crate::classification::{app_with_llm, mock};
use crate::helpers::*;
use crate::mock_llm::{Behaviour, MockLlm};
use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs the binary on `database` with `args`, `input` on stdin, off the test's runtime (the
/// server under test shares it).
async fn run(database: &Path, args: &[&str], envs: &[(&str, &str)], input: &str) -> Output {
    let dir = database.parent().unwrap().to_path_buf();
    let mut command = maintenance(&dir);
    command
        .env("DATABASE_URL", database)
        .args(args)
        .envs(envs.iter().copied());
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || output_with_input(command, &input))
        .await
        .unwrap()
}

/// What a command that must succeed printed on stdout.
fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn integrity(path: &Path) -> String {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn request_ids(path: &Path) -> BTreeSet<i64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM requests").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A server on a seeded database of some size, so that a backup takes many steps.
async fn app_on_seeded_database(requests: u64, overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let seeded = maintenance(dir.path())
        .args(["seed-demo", "--requests", &requests.to_string()])
        .arg(db_path(&dir))
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    spawn_app_in(dir, overrides).await
}

/// A backup taken while requests keep being created holds every request acknowledged before
/// it began, passes the integrity check, and carries the photos and key beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_during_writes_holds_every_acknowledged_request_and_passes_its_check() {
    let app = Arc::new(app_on_seeded_database(20_000, &[]).await);
    let (id, token) = app.resident("writer@example.com").await;
    let first = app.submit(&token, "욕실 천장에서 물이 떨어져요").await;
    let photo = crate::photos::upload(
        &app,
        Some(&token),
        first["id"].as_i64().unwrap(),
        "leak.jpg",
        crate::photos::JPEG,
    )
    .await;
    assert_eq!(photo.status(), StatusCode::OK);
    let _ = id;
    // A photo still being written when the backup runs is not one the rows name.
    std::fs::write(
        app.dir
            .path()
            .join("maintenance.db.uploads")
            .join("half.partial"),
        b"half",
    )
    .unwrap();
    let acknowledged = Arc::new(Mutex::new(vec![first["id"].as_i64().unwrap()]));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for n in 0..4 {
        let (app, token, acknowledged, stop) = (
            app.clone(),
            token.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let created = app
                    .submit(&token, &format!("복도 전등 {n}-{i} 교체 요청"))
                    .await;
                acknowledged
                    .lock()
                    .unwrap()
                    .push(created["id"].as_i64().unwrap());
                i += 1;
            }
            i
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<i64> = acknowledged.lock().unwrap().clone();
    let target = app.dir.path().join("backups").join("nightly.db");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    let output = run(
        &app.db_path(),
        &["backup", target.to_str().unwrap()],
        &[],
        "",
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut written_during = 0;
    for writer in writers {
        written_during += writer.await.unwrap();
    }
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("integrity check ok"),
        "{}",
        stdout(&output)
    );
    assert!(written_during > 0, "the writers ran");
    let after: Vec<i64> = acknowledged.lock().unwrap().clone();
    assert!(
        after.len() > before.len(),
        "requests were created while the backup ran"
    );
    assert_eq!(integrity(&target), "ok");
    let copied = request_ids(&target);
    let missing: Vec<_> = before.iter().filter(|id| !copied.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing from it: {missing:?}"
    );
    assert!(copied.len() >= 20_001, "the seeded requests are there too");
    // The copy is a plain file, its photos and key beside it, all owner-only.
    assert!(!PathBuf::from(format!("{}-wal", target.display())).exists());
    let photos = std::fs::read_dir(format!("{}.uploads", target.display()))
        .unwrap()
        .count();
    assert_eq!(photos, 1, "the photo, and not the one half written");
    let key = PathBuf::from(format!("{}.secret", target.display()));
    assert_eq!(
        std::fs::read(&key).unwrap(),
        std::fs::read(app.dir.path().join("maintenance.db.secret")).unwrap()
    );
    #[cfg(unix)]
    for file in [&target, &key] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    // A second backup to the same name is refused and leaves the first as it was.
    let again = run(
        &app.db_path(),
        &["backup", target.to_str().unwrap()],
        &[],
        "",
    )
    .await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(request_ids(&target), copied);
}

/// A restore is refused while a server serves the database; once it has stopped, the backup
/// comes back (photos included), the replaced database is kept, and a server serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_waits_for_the_server_to_stop_then_brings_the_backup_back() {
    let app = spawn_app().await;
    let (_, token) = app.resident("restore@example.com").await;
    let kept = app.submit(&token, "현관 도어락이 고장났어요").await["id"]
        .as_i64()
        .unwrap();
    let uploaded =
        crate::photos::upload(&app, Some(&token), kept, "door.jpg", crate::photos::JPEG).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let backup = app.dir.path().join("before.db");
    let made = run(
        &app.db_path(),
        &["backup", backup.to_str().unwrap()],
        &[],
        "",
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let later = app.submit(&token, "엘리베이터가 멈췄어요").await["id"]
        .as_i64()
        .unwrap();

    let refused = run(
        &app.db_path(),
        &["restore", backup.to_str().unwrap()],
        &[],
        "",
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("another process is serving")
            && stderr(&refused).contains("stop it first"),
        "{}",
        stderr(&refused)
    );
    assert!(
        request_ids(&app.db_path()).contains(&later),
        "nothing was changed"
    );

    // A second server on the same database is refused the same way.
    let second = maintenance(app.dir.path())
        .env("DATABASE_URL", app.db_path())
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("another process is serving"),
        "{}",
        stderr(&second)
    );

    let dir = app.stop().await;
    let database = db_path(&dir);
    std::fs::remove_dir_all(dir.path().join("maintenance.db.uploads")).unwrap();
    let restored = run(&database, &["restore", backup.to_str().unwrap()], &[], "").await;
    assert!(restored.status.success(), "{}", stderr(&restored));
    let said = stdout(&restored);
    assert!(
        said.contains("with 1 photos") && said.contains("before-restore-"),
        "{said}"
    );
    let aside = moved_aside(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        request_ids(&dir.path().join(&aside[0])).contains(&later),
        "the replaced database is kept whole"
    );

    let app = spawn_app_in(dir, &[]).await;
    let token = app.token("restore@example.com", PASSWORD).await;
    assert_eq!(
        app.get(Some(&token), &format!("/api/requests/{kept}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(Some(&token), &format!("/api/requests/{later}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let image = app
        .get(Some(&token), &format!("/api/requests/{kept}/image"))
        .await;
    assert_eq!(
        image.status(),
        StatusCode::OK,
        "the photo came back with the database"
    );

    // What is not a backup of ours is refused before anything is touched.
    let stray = app.dir.path().join("stray.db");
    Connection::open(&stray)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let dir = app.stop().await;
    let refused = run(
        &db_path(&dir),
        &["restore", stray.to_str().unwrap()],
        &[],
        "",
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not a database of this program"),
        "{}",
        stderr(&refused)
    );
    assert!(request_ids(&db_path(&dir)).contains(&kept));
}

/// A second server on a database one serves is refused before it creates anything (here the
/// key file the first, with SECRET_KEY set, never needed), under another name of the file too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_is_refused_before_it_touches_anything_by_any_name() {
    let app = spawn_app_with(&[(
        "SECRET_KEY",
        "a-long-enough-secret-for-this-test-0123456789",
    )])
    .await;
    let key = app.dir.path().join("maintenance.db.secret");
    assert!(!key.exists());
    let linked = app.dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(app.db_path(), linked.join("other-name.db")).unwrap();
    let mut names = vec![app.db_path()];
    if cfg!(unix) {
        names.push(linked.join("other-name.db"));
    }
    for name in names {
        let second = maintenance(app.dir.path())
            .env("DATABASE_URL", &name)
            .env("PORT", "0")
            .output()
            .unwrap();
        assert!(!second.status.success(), "{}", name.display());
        assert!(
            stderr(&second).contains("another process is serving"),
            "{}: {}",
            name.display(),
            stderr(&second)
        );
        assert!(!key.exists(), "{}: nothing was created", name.display());
        assert!(
            !linked.join("other-name.db.lock").exists(),
            "one lock, beside the real file"
        );
    }
    app.stop().await;
}

/// The names of the databases restores moved aside in `dir`.
fn moved_aside(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.starts_with("maintenance.db.before-restore-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    names.sort();
    names
}

/// A backup whose latest changes are still in its `-wal` comes back with them; two restores
/// in one second keep both databases they replaced; a backup into a missing folder says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_the_backups_log_and_keeps_every_database_it_replaced() {
    let app = spawn_app().await;
    let (_, token) = app.resident("wal@example.com").await;
    let id = app.submit(&token, "현관 도어락이 고장났어요").await["id"]
        .as_i64()
        .unwrap();
    let dir = app.stop().await;
    let database = db_path(&dir);

    // A copy of a database taken with its log: the change below is in `-wal` only.
    let walled = dir.path().join("walled.db");
    {
        let conn = Connection::open(&database).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute(
            "UPDATE requests SET description = '로그에만 있는 설명' WHERE id = ?1",
            [id],
        )
        .unwrap();
        std::fs::copy(&database, &walled).unwrap();
        let log = std::fs::copy(
            dir.path().join("maintenance.db-wal"),
            dir.path().join("walled.db-wal"),
        )
        .unwrap();
        assert!(log > 0, "the change is in the log");
    }
    let description = |path: &Path| -> String {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT description FROM requests WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };

    for _ in 0..2 {
        let restored = run(&database, &["restore", walled.to_str().unwrap()], &[], "").await;
        assert!(restored.status.success(), "{}", stderr(&restored));
        assert!(
            stdout(&restored).contains("is kept (sessions and photo links stay valid)"),
            "the key in place stays, and the report says so: {}",
            stdout(&restored)
        );
    }
    assert_eq!(description(&database), "로그에만 있는 설명");
    assert_eq!(
        moved_aside(dir.path()).len(),
        2,
        "a second restore never overwrites the database the first moved aside: {:?}",
        moved_aside(dir.path())
    );

    let nowhere = dir.path().join("no-such-folder").join("b.db");
    let refused = run(&database, &["backup", nowhere.to_str().unwrap()], &[], "").await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("no-such-folder does not exist: create it first"),
        "{}",
        stderr(&refused)
    );
}

/// What a folder holds, by name.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A backup or restore that fails part way leaves nothing half done: no backup under the
/// names a rerun needs, no database swapped for one whose photos never came. A database
/// named through a symlink is restored into the file it names; a folder is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backup_or_restore_leaves_nothing_half_done() {
    let app = spawn_app().await;
    let (_, token) = app.resident("half@example.com").await;
    let first = app.submit(&token, "거실 전등이 깜빡거려요").await["id"]
        .as_i64()
        .unwrap();
    let photo =
        crate::photos::upload(&app, Some(&token), first, "p.jpg", crate::photos::JPEG).await;
    assert_eq!(photo.status(), StatusCode::OK);
    let dir = app.stop().await;
    let database = db_path(&dir);
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let good = backups.join("good.db");
    succeeded(&run(&database, &["backup", good.to_str().unwrap()], &[], "").await);

    // The key cannot be read (here: a folder in its place): the backup fails after the
    // database and photos are copied, and leaves none of them.
    let key = dir.path().join("maintenance.db.secret");
    let key_bytes = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    std::fs::create_dir(&key).unwrap();
    let before = names_in(&backups);
    let broken = backups.join("broken.db");
    let failed = run(&database, &["backup", broken.to_str().unwrap()], &[], "").await;
    assert!(!failed.status.success(), "{}", stdout(&failed));
    assert!(
        stderr(&failed).contains("maintenance.db.secret"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(names_in(&backups), before, "nothing left behind");
    std::fs::remove_dir(&key).unwrap();
    std::fs::write(&key, &key_bytes).unwrap();
    succeeded(&run(&database, &["backup", broken.to_str().unwrap()], &[], "").await);

    // A restore whose photos cannot be put in place (a file where their folder goes) fails
    // with the database it would have replaced still in place.
    let later = request_ids(&database).len();
    {
        let conn = Connection::open(&database).unwrap();
        conn.execute("DELETE FROM requests WHERE id = ?1", [first])
            .unwrap();
    }
    let uploads = dir.path().join("maintenance.db.uploads");
    let moved = dir.path().join("uploads.kept");
    std::fs::rename(&uploads, &moved).unwrap();
    std::fs::write(&uploads, b"not a folder").unwrap();
    let failed = run(&database, &["restore", good.to_str().unwrap()], &[], "").await;
    assert!(!failed.status.success(), "{}", stdout(&failed));
    assert!(
        moved_aside(dir.path()).is_empty(),
        "{:?}",
        moved_aside(dir.path())
    );
    assert_eq!(request_ids(&database).len(), later - 1);
    std::fs::remove_file(&uploads).unwrap();
    std::fs::rename(&moved, &uploads).unwrap();

    // Through a symlink: the link stays, the file it names is restored, and the photos and
    // key go beside the link's name, where a server given that name looks for them.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = elsewhere.join("link.db");
    std::os::unix::fs::symlink(&database, &link).unwrap();
    succeeded(&run(&link, &["restore", good.to_str().unwrap()], &[], "").await);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(request_ids(&database).len(), later);
    assert_eq!(moved_aside(dir.path()).len(), 1);
    assert_eq!(
        names_in(&elsewhere.join("link.db.uploads")),
        names_in(&backups.join("good.db.uploads"))
    );
    assert!(elsewhere.join("link.db.secret").is_file());

    // What interrupted runs left is removed by the next one; what a running one holds, one
    // just made (not locked yet), and a user's own file of a like name stay.
    let left = |name: &str| backups.join(name);
    let aged = |path: &Path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(120))
            .unwrap();
    };
    let dead = ".maintenance-backup-deadDEAD0123";
    std::fs::write(left(&format!("{dead}.partial")), b"half").unwrap();
    aged(&left(&format!("{dead}.partial")));
    std::fs::create_dir(left(&format!("{dead}.uploads"))).unwrap();
    std::fs::write(left(&format!("{dead}.secret")), b"k").unwrap();
    let live = left(".maintenance-backup-live01234567.partial");
    let running = std::fs::File::create(&live).unwrap();
    running.lock().unwrap();
    aged(&live);
    let fresh = left(".maintenance-backup-fresh0123456.partial");
    std::fs::write(&fresh, b"just made").unwrap();
    let users_own = left(".backup-notes.partial");
    std::fs::write(&users_own, b"mine").unwrap();
    aged(&users_own);
    let restore_left = dir.path().join(".maintenance-restore-deadDEAD0123.partial");
    std::fs::write(&restore_left, b"half").unwrap();
    aged(&restore_left);
    let cut_off = dir
        .path()
        .join("maintenance.db.uploads")
        .join(".copy-dead.partial");
    std::fs::write(&cut_off, b"half a photo").unwrap();
    succeeded(
        &run(
            &database,
            &["backup", left("later.db").to_str().unwrap()],
            &[],
            "",
        )
        .await,
    );
    for gone in ["partial", "uploads", "secret"] {
        assert!(!left(&format!("{dead}.{gone}")).exists(), "{gone} is left");
    }
    assert!(live.exists(), "a running backup's file stays");
    assert!(fresh.exists(), "a file just made stays");
    assert!(users_own.exists(), "a user's own file stays");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(left("later.db.uploads"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the photos folder is the owner's only");
    }
    drop(running);
    succeeded(&run(&database, &["restore", good.to_str().unwrap()], &[], "").await);
    assert!(!restore_left.exists());

    // A link to a database not there yet: the restored file appears where it points.
    let pointed = elsewhere.join("target");
    std::fs::create_dir(&pointed).unwrap();
    let dangling = elsewhere.join("new.db");
    std::os::unix::fs::symlink("target/new.db", &dangling).unwrap();
    succeeded(&run(&dangling, &["restore", good.to_str().unwrap()], &[], "").await);
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(request_ids(&pointed.join("new.db")).len(), later);

    // A log left without its database (the file moved by hand) is moved aside, never
    // replayed into the restored database; a journal an interrupted run left goes too.
    let log = dir.path().join("maintenance.db-wal");
    let stale_log = {
        let conn = Connection::open(&database).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute("UPDATE requests SET description = 'STALE-WAL'", [])
            .unwrap();
        std::fs::read(&log).unwrap()
    };
    std::fs::rename(&database, dir.path().join("moved-by-hand.db")).unwrap();
    std::fs::write(&log, &stale_log).unwrap();
    let journal = backups.join(".maintenance-backup-deadDEAD0123.partial-journal");
    std::fs::write(&journal, b"j").unwrap();
    std::fs::write(left(".maintenance-backup-deadDEAD0123.partial"), b"half").unwrap();
    aged(&left(".maintenance-backup-deadDEAD0123.partial"));
    // And one whose temporary file is already gone.
    let orphan = backups.join(".maintenance-backup-gone0123GONE.partial-journal");
    std::fs::write(&orphan, b"j").unwrap();
    aged(&orphan);
    succeeded(&run(&database, &["restore", good.to_str().unwrap()], &[], "").await);
    let stale: i64 = Connection::open(&database)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM requests WHERE description = 'STALE-WAL'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        stale, 0,
        "the old log was replayed into the restored database"
    );
    assert_eq!(request_ids(&database).len(), later);
    succeeded(
        &run(
            &database,
            &["backup", left("last.db").to_str().unwrap()],
            &[],
            "",
        )
        .await,
    );
    assert!(!journal.exists(), "an interrupted run's journal is left");
    assert!(!orphan.exists(), "a journal without its file is left");

    // A rollback journal left by a crash goes aside with the database it belongs to: it is
    // never rolled back into the restored one.
    let journal = dir.path().join("maintenance.db-journal");
    let hot = {
        let conn = Connection::open(&database).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        conn.pragma_update(None, "cache_size", 1).unwrap();
        conn.execute_batch("BEGIN; UPDATE requests SET description = 'HOT';")
            .unwrap();
        std::fs::read(&journal).unwrap()
    };
    std::fs::write(&journal, &hot).unwrap();
    succeeded(&run(&database, &["restore", good.to_str().unwrap()], &[], "").await);
    assert!(
        !journal.exists(),
        "the old journal is left beside the restored database"
    );
    let conn = Connection::open(&database).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(request_ids(&database).len(), later);
    assert!(!cut_off.exists());

    // A folder is not a database: refused, and left as it was.
    let refused = run(dir.path(), &["restore", good.to_str().unwrap()], &[], "").await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("is a folder"),
        "{}",
        stderr(&refused)
    );
    let refused = run(
        dir.path(),
        &["backup", backups.join("f.db").to_str().unwrap()],
        &[],
        "",
    )
    .await;
    assert!(
        stderr(&refused).contains("is a folder"),
        "{}",
        stderr(&refused)
    );
    assert!(database.is_file() && dir.path().is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_makes_a_staff_account_that_logs_in() {
    let app = spawn_app().await;
    let database = app.db_path();
    let made = run(
        &database,
        &["create-admin", "Manager@Example.com"],
        &[],
        "manager-password\n",
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        stdout(&made).contains("created admin manager@example.com"),
        "{}",
        stdout(&made)
    );
    let token = app.token("manager@example.com", "manager-password").await;
    assert_eq!(app.me(&token).await["role"], "admin");
    let staff = app.get(Some(&token), "/api/requests").await;
    assert_eq!(
        staff.status(),
        StatusCode::OK,
        "an admin sees every request"
    );

    let chief = run(
        &database,
        &["create-admin", "chief@localhost", "--role", "super_admin"],
        &[],
        "chief-password\n",
    )
    .await;
    assert!(chief.status.success(), "{}", stderr(&chief));
    let token = app.token("chief@localhost", "chief-password").await;
    assert_eq!(app.me(&token).await["role"], "super_admin");

    for (args, input, says) in [
        (
            vec!["create-admin", "manager@example.com"],
            "another-password\n",
            "already exists",
        ),
        (vec!["create-admin", "short@example.com"], "short\n", "8"),
        (
            vec!["create-admin", "not an email"],
            "long-enough-1\n",
            "not a valid email",
        ),
        (
            vec!["create-admin", "x@example.com", "--role", "user"],
            "long-enough-1\n",
            "invalid value",
        ),
        (
            vec!["create-admin", "empty@example.com"],
            "",
            "no password read: standard input was empty",
        ),
    ] {
        let refused = run(&database, &args, &[], input).await;
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            stderr(&refused).contains(says),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    let login = app.login_form("short@example.com", "short").await;
    assert_eq!(
        login.status(),
        StatusCode::UNAUTHORIZED,
        "nothing was created"
    );
    let missing = run(
        &app.dir.path().join("none.db"),
        &["create-admin", "a@b.co"],
        &[],
        "long-enough-1\n",
    )
    .await;
    assert!(!missing.status.success());
    assert!(
        !app.dir.path().join("none.db").exists(),
        "no database is created"
    );
}

/// (category, priority, method, status) of a request, read from the file.
fn labels_of(database: &Path, id: i64) -> (String, String, String, String) {
    let conn = Connection::open(database).unwrap();
    conn.query_row(
        "SELECT category, priority, classification_method, classification_status FROM requests WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

/// An admin labels request `id` by hand; returns its labels as stored.
async fn label_by_hand(app: &TestApp, admin: &str, id: i64) -> (String, String, String, String) {
    let manual = app
        .patch_json(
            Some(admin),
            &format!("/api/requests/{id}"),
            &json!({"category": "structural", "priority": "low"}),
        )
        .await;
    assert_eq!(manual.status(), StatusCode::OK);
    labels_of(&app.db_path(), id)
}

/// Waits until `ids` are classified by `method` (and done).
async fn classified_by(database: &Path, ids: &[i64], method: &str) {
    for _ in 0..200 {
        if ids.iter().all(|id| {
            let (_, _, by, status) = labels_of(database, *id);
            by == method && status == "done"
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "not every request was classified by {method}: {:?}",
        ids.iter()
            .map(|id| labels_of(database, *id))
            .collect::<Vec<_>>()
    );
}

/// Without an LLM, reclassify queues jobs that the running server answers offline: its
/// clients get each change live, in commit order with gap-free event ids, and a failed
/// classification is cleared even when the labels stay. With no server running it classifies
/// offline itself, and clients that reconnect get those changes too. Manual labels are never
/// touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclassify_is_answered_by_whoever_serves_and_reaches_clients_live() {
    let app = spawn_app_with(&[("QUEUE_SWEEP_MS", "50")]).await;
    let database = app.db_path();
    let (_, resident) = app.resident("reclassify@example.com").await;
    let admin = app.super_token().await;
    let mut ids = Vec::new();
    for text in [
        "화장실 변기가 막혔어요",
        "거실 전등이 깜빡거려요",
        "가스 냄새가 나요",
        "엘리베이터 버튼이 안 눌려요",
    ] {
        ids.push(app.submit(&resident, text).await["id"].as_i64().unwrap());
    }
    let offline_of_last = labels_of(&database, ids[3]);
    {
        // As an LLM might have answered (labels the offline rules never give these texts),
        // and a classification that failed.
        let conn = Connection::open(&database).unwrap();
        conn.execute(
            "UPDATE requests SET category = 'other', priority = 'low', classification_method = 'llm'
             WHERE id IN (?1, ?2)",
            [ids[0], ids[1]],
        )
        .unwrap();
        conn.execute(
            "UPDATE requests SET classification_status = 'failed' WHERE id = ?1",
            [ids[3]],
        )
        .unwrap();
    }
    let manual_label = label_by_hand(&app, &admin, ids[2]).await;
    assert_eq!(manual_label.2, "manual");

    let mut ws = crate::live::connect(&app, &admin, "").await;
    crate::live::settle().await;
    let unclassified = run(&database, &["reclassify", "--unclassified"], &[], "").await;
    assert!(unclassified.status.success(), "{}", stderr(&unclassified));
    assert!(
        stdout(&unclassified).contains("1 requests taken")
            && stdout(&unclassified).contains("The server running on this database"),
        "{}",
        stdout(&unclassified)
    );
    let event = crate::live::next(&mut ws).await;
    assert_eq!(event["type"], "request_classified");
    assert_eq!(event["data"]["id"].as_i64(), Some(ids[3]));
    assert_eq!(
        labels_of(&database, ids[3]),
        (
            offline_of_last.0.clone(),
            offline_of_last.1.clone(),
            "keyword".to_owned(),
            "done".to_owned()
        ),
        "the failed classification is cleared though its labels stay"
    );

    let all = run(&database, &["reclassify", "--all"], &[], "").await;
    assert!(all.status.success(), "{}", stderr(&all));
    assert!(
        stdout(&all).contains("3 requests taken")
            && stdout(&all).contains("3 classification jobs queued"),
        "{}",
        stdout(&all)
    );
    let live: Vec<Value> = vec![
        crate::live::next(&mut ws).await,
        crate::live::next(&mut ws).await,
        crate::live::next(&mut ws).await,
    ];
    let classified: Vec<i64> = live
        .iter()
        .map(|e| e["data"]["id"].as_i64().unwrap())
        .collect();
    // In the order the jobs were first queued: the one --unclassified queued comes first.
    assert_eq!(classified, [ids[3], ids[0], ids[1]], "{live:?}");
    let event_ids: Vec<i64> = live.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let first = event["id"].as_i64().unwrap();
    assert_eq!(
        event_ids,
        [first + 1, first + 2, first + 3],
        "gap-free, in commit order"
    );
    assert_eq!(labels_of(&database, ids[0]).0, "plumbing");
    assert_eq!(labels_of(&database, ids[1]).0, "electrical");
    assert_eq!(labels_of(&database, ids[0]).2, "keyword");
    assert_eq!(
        labels_of(&database, ids[2]),
        manual_label,
        "a manual label is never touched"
    );
    let history = app
        .get(Some(&admin), &format!("/api/requests/{}/history", ids[0]))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(history.to_string().contains("reclassified"), "{history}");

    // No server: the command classifies offline itself; a client resuming from the last
    // event it saw gets those changes once a server serves again.
    let last_seen = event_ids[2];
    let dir = app.stop().await;
    {
        let conn = Connection::open(db_path(&dir)).unwrap();
        conn.execute(
            "UPDATE requests SET priority = 'low', classification_method = 'llm' WHERE id = ?1",
            [ids[0]],
        )
        .unwrap();
    }
    let alone = run(
        &db_path(&dir),
        &["reclassify", "--since", "2000-01-01"],
        &[],
        "",
    )
    .await;
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert!(
        stdout(&alone)
            .contains("3 requests classified again by the offline classifier now; 1 changed"),
        "{}",
        stdout(&alone)
    );
    let app = spawn_app_in(dir, &[]).await;
    let admin = app.super_token().await;
    let mut ws = crate::live::connect(&app, &admin, &format!("since={last_seen}")).await;
    let replayed: Vec<Value> = vec![
        crate::live::next(&mut ws).await,
        crate::live::next(&mut ws).await,
        crate::live::next(&mut ws).await,
    ];
    assert_eq!(
        replayed
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [last_seen + 1, last_seen + 2, last_seen + 3]
    );
    let changed = replayed
        .iter()
        .find(|e| e["data"]["id"].as_i64() == Some(ids[0]))
        .expect("the change made with no server running is replayed");
    assert_eq!(changed["data"]["priority"], "medium");
    assert_eq!(labels_of(&app.db_path(), ids[2]), manual_label);

    let reclassify = |args: &'static [&'static str]| {
        let database = app.db_path();
        async move {
            let mut all = vec!["reclassify"];
            all.extend(args);
            run(&database, &all, &[], "").await
        }
    };
    let future = succeeded(&reclassify(&["--since", "2999-01-01"]).await);
    assert!(future.contains("0 requests"), "{future}");
    assert!(!reclassify(&[]).await.status.success());
    let bad_day = stderr(&reclassify(&["--since", "yesterday"]).await);
    assert!(bad_day.contains("2026-11-01"), "{bad_day}");
}

/// SQLite keeps no queue for its write lock: while the server settles the jobs a reclassify
/// queues, back to back, the command must still get its turn for every chunk it queues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclassify_of_many_requests_gets_the_write_lock_while_the_server_settles_them() {
    let app = app_on_seeded_database(30_000, &[("QUEUE_SWEEP_MS", "50")]).await;
    let database = app.db_path();
    for _ in 0..3 {
        let all = run(&database, &["reclassify", "--all"], &[], "").await;
        assert!(
            stdout(&all).contains("30000 requests taken"),
            "{}{}",
            stdout(&all),
            stderr(&all)
        );
    }
}

/// With an LLM, reclassify queues jobs the running server's workers answer; a manual label
/// is never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reclassify_with_an_llm_queues_jobs_for_the_servers_workers() {
    // The mock answers other/low, which the offline rules never give for these texts.
    let llm = mock(vec![]);
    let app = app_with_llm(&llm, &[]).await;
    let database = app.db_path();
    let (_, resident) = app.resident("reclassify@example.com").await;
    let admin = app.super_token().await;
    let mut ids = Vec::new();
    for text in [
        "화장실 변기가 막혔어요",
        "거실 전등이 깜빡거려요",
        "가스 냄새가 나요",
    ] {
        ids.push(app.submit(&resident, text).await["id"].as_i64().unwrap());
    }
    classified_by(&database, &ids, "llm").await;
    let manual_label = label_by_hand(&app, &admin, ids[2]).await;

    let calls = llm.calls();
    let base = llm.base_url();
    // The server has the LLM; the command's environment does not need it.
    let queued = run(&database, &["reclassify", "--since", "2000-01-01"], &[], "").await;
    assert!(queued.status.success(), "{}", stderr(&queued));
    assert!(
        stdout(&queued).contains("2 classification jobs queued"),
        "{}",
        stdout(&queued)
    );
    classified_by(&database, &ids[..2], "llm").await;
    assert!(
        llm.calls() > calls,
        "the server's workers asked the LLM again"
    );
    assert_eq!(labels_of(&database, ids[0]).0, "other");
    assert_eq!(
        labels_of(&database, ids[2]),
        manual_label,
        "a manual label is never touched"
    );

    // No server, an LLM configured: the jobs wait for the server's workers.
    let dir = app.stop().await;
    let waiting = run(
        &db_path(&dir),
        &["reclassify", "--all"],
        &[("GROQ_API_KEY", "test-key"), ("LLM_BASE_URL", &base)],
        "",
    )
    .await;
    assert!(waiting.status.success(), "{}", stderr(&waiting));
    assert!(
        stdout(&waiting).contains("its LLM workers take them when it starts"),
        "{}",
        stdout(&waiting)
    );
    assert_eq!(labels_of(&db_path(&dir), ids[0]).3, "pending");
    assert_eq!(labels_of(&db_path(&dir), ids[2]), manual_label);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_what_holds_and_fails_on_what_does_not() {
    let app = spawn_app().await;
    let database = app.db_path();
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let good = run(&database, &["check", "--serving"], &[("PORT", &port)], "").await;
    let report = stdout(&good);
    assert!(good.status.success(), "{report}{}", stderr(&good));
    for line in [
        "ok    configuration",
        "ok    database       quick_check ok",
        "ok    migrations",
        "ok    key            ",
        "ok    disk",
        "skip  llm",
        "ok    server",
    ] {
        assert!(report.contains(line), "{line:?} in\n{report}");
    }

    // An LLM that answers, one that fails, and --no-llm.
    let llm = MockLlm::start(vec![]);
    let base = llm.base_url();
    let with_llm = [
        ("GROQ_API_KEY", "test-key"),
        ("LLM_BASE_URL", base.as_str()),
        ("LLM_TIMEOUT_SECS", "2"),
    ];
    let answered = run(&database, &["check"], &with_llm, "").await;
    assert!(answered.status.success(), "{}", stdout(&answered));
    assert!(
        stdout(&answered).contains("ok    llm"),
        "{}",
        stdout(&answered)
    );
    assert_eq!(llm.calls(), 1, "one small call");
    llm.set_default(Behaviour::Status(500));
    let failed = run(&database, &["check"], &with_llm, "").await;
    assert!(!failed.status.success());
    assert!(stdout(&failed).contains("FAIL  llm"), "{}", stdout(&failed));
    let calls = llm.calls();
    let skipped = run(
        &database,
        &["check", "--no-llm", "--no-integrity"],
        &with_llm,
        "",
    )
    .await;
    assert!(skipped.status.success(), "{}", stdout(&skipped));
    assert_eq!(llm.calls(), calls, "--no-llm calls nothing");

    // No server at the port, no database, a damaged database.
    let dir = app.stop().await;
    let stopped = run(
        &db_path(&dir),
        &["check", "--serving"],
        &[("PORT", &port)],
        "",
    )
    .await;
    assert!(!stopped.status.success());
    assert!(
        stdout(&stopped).contains("FAIL  server"),
        "{}",
        stdout(&stopped)
    );
    // A stopped server's database is looked at without leaving a -wal or -shm beside it.
    let database = db_path(&dir);
    assert!(!dir.path().join("maintenance.db-wal").exists());
    let looked = run(&database, &["check", "--no-llm"], &[], "").await;
    assert!(looked.status.success(), "{}", stdout(&looked));
    for left in ["maintenance.db-wal", "maintenance.db-shm"] {
        assert!(!dir.path().join(left).exists(), "check left {left}");
    }
    // Another program's database, and the original system's, are not ours.
    let stray = dir.path().join("stray.db");
    Connection::open(&stray)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let foreign = run(&stray, &["check", "--no-llm"], &[], "").await;
    assert!(!foreign.status.success(), "{}", stdout(&foreign));
    assert!(
        stdout(&foreign).contains("FAIL  database       not a database of this program"),
        "{}",
        stdout(&foreign)
    );
    // A folder the server cannot write in (only testable without root's override).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = tempfile::tempdir().unwrap();
        let copy = locked.path().join("maintenance.db");
        std::fs::copy(&database, &copy).unwrap();
        std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        let root_writes_anyway = std::fs::write(locked.path().join("probe"), b"").is_ok();
        if !root_writes_anyway {
            let read_only = run(&copy, &["check", "--no-llm"], &[], "").await;
            assert!(!read_only.status.success(), "{}", stdout(&read_only));
            assert!(
                stdout(&read_only).contains("FAIL  disk           cannot write in"),
                "{}",
                stdout(&read_only)
            );
        }
        std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A signing key the server would refuse, or one other users could read; an empty file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("maintenance.db.secret");
        let kept = std::fs::read(&key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let readable = run(&database, &["check", "--no-llm"], &[], "").await;
        assert!(!readable.status.success(), "{}", stdout(&readable));
        assert!(
            stdout(&readable).contains("FAIL  key") && stdout(&readable).contains("chmod 600"),
            "{}",
            stdout(&readable)
        );
        std::fs::write(&key, b"abc").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let short = run(&database, &["check", "--no-llm"], &[], "").await;
        assert!(!short.status.success(), "{}", stdout(&short));
        assert!(stdout(&short).contains("too short"), "{}", stdout(&short));
        std::fs::write(&key, kept).unwrap();
        assert!(
            run(&database, &["check", "--no-llm"], &[], "")
                .await
                .status
                .success()
        );
    }
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let emptied = run(&empty, &["check", "--no-llm"], &[], "").await;
    assert!(!emptied.status.success(), "{}", stdout(&emptied));
    assert!(
        stdout(&emptied).contains("is an empty file"),
        "{}",
        stdout(&emptied)
    );
    let none = run(&dir.path().join("none.db"), &["check"], &[], "").await;
    assert!(!none.status.success());
    assert!(
        stdout(&none).contains("FAIL  database"),
        "{}",
        stdout(&none)
    );
    assert!(!dir.path().join("none.db").exists());
    let damaged = dir.path().join("damaged.db");
    std::fs::copy(db_path(&dir), &damaged).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    let page = 4096;
    for b in &mut bytes[page * 3..page * 3 + 200] {
        *b = 0x5a;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let broken = run(&damaged, &["check"], &[], "").await;
    assert!(!broken.status.success(), "{}", stdout(&broken));
    assert!(
        stdout(&broken).contains("FAIL  database"),
        "{}",
        stdout(&broken)
    );
}

/// Parses a scrape with a Prometheus text parser: (family, labels) → value (a histogram's
/// count of observations).
fn scrape_values(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    use openmetrics_parser::{PrometheusValue, prometheus::parse_prometheus};
    let exposition =
        parse_prometheus(text).unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    let mut values = HashMap::new();
    for (name, family) in &exposition.families {
        for sample in family.iter_samples() {
            let mut labels: Vec<(String, String)> = sample
                .get_labelset()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            let value = match &sample.value {
                PrometheusValue::Counter(c) => c.value.as_f64(),
                PrometheusValue::Gauge(v) | PrometheusValue::Unknown(v) => v.as_f64(),
                PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
                PrometheusValue::Summary(_) => f64::NAN,
            };
            values.insert((name.clone(), labels), value);
        }
    }
    values
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    labels
}

async fn metrics(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_traffic_and_parse_as_prometheus_text() {
    let app = spawn_app().await;
    let (_, token) = app.resident("metrics@example.com").await;
    let before = scrape_values(&metrics(&app).await);
    let route = labels(&[
        ("method", "GET"),
        ("route", "/api/requests/{id}"),
        ("status", "404"),
    ]);
    let created_route = labels(&[
        ("method", "POST"),
        ("route", "/api/requests"),
        ("status", "200"),
    ]);
    let count = |values: &HashMap<_, f64>, name: &str, l: &Vec<(String, String)>| {
        values
            .get(&(name.to_owned(), l.clone()))
            .copied()
            .unwrap_or(0.0)
    };
    for _ in 0..3 {
        app.get(Some(&token), "/api/requests/999999").await;
    }
    app.submit(&token, "주차장 조명이 나갔어요").await;
    let after = scrape_values(&metrics(&app).await);
    let name = "maintenance_http_requests_total";
    assert_eq!(
        count(&after, name, &route) - count(&before, name, &route),
        3.0,
        "by route template, not by path"
    );
    assert!(count(&after, name, &created_route) >= count(&before, name, &created_route) + 1.0);
    assert!(
        !after
            .keys()
            .any(|(_, l)| l.iter().any(|(_, v)| v.contains("999999"))),
        "no id makes a series"
    );
    let keyword = labels(&[("method", "keyword")]);
    assert!(
        count(&after, "maintenance_classifications_total", &keyword)
            > count(&before, "maintenance_classifications_total", &keyword)
    );
    let histogram = labels(&[("method", "POST"), ("route", "/api/requests")]);
    assert!(
        count(
            &after,
            "maintenance_http_request_duration_seconds",
            &histogram
        ) >= 1.0
    );
    assert!(count(&after, "maintenance_db_write_batch_size", &vec![]) >= 1.0);
    assert!(count(&after, "process_resident_memory_bytes", &vec![]) > 1_000_000.0);
    assert!(
        count(
            &after,
            "maintenance_db_pool_connections",
            &labels(&[("state", "idle")])
        ) >= 0.0
    );

    // An open socket is counted while it is open.
    let sockets = |v: &HashMap<_, f64>| count(v, "maintenance_websocket_connections", &vec![]);
    let url = format!(
        "{}/ws?token={token}",
        app.address.replace("http://", "ws://")
    );
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = scrape_values(&metrics(&app).await);
    assert!(sockets(&open) >= 1.0);
    drop(socket);

    // Not for anyone but this machine, and not through a proxy.
    for (header, value) in [
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-host", "maint.example.com"),
        ("via", "1.1 proxy"),
    ] {
        let proxied = app
            .client
            .get(app.url("/metrics"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), StatusCode::NOT_FOUND, "{header}");
    }
    let behind_proxy = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let refused = behind_proxy
        .client
        .get(behind_proxy.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::NOT_FOUND,
        "a trusted proxy's peer address is not this machine's own scrape"
    );
    let off = spawn_app_with(&[("METRICS", "off")]).await;
    let refused = off.client.get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_serves_them_on_their_own_listener_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_with(&[("METRICS_ADDR", &addr)]).await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        main.status(),
        StatusCode::NOT_FOUND,
        "never on the main port then"
    );
    let own = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let text = own.text().await.unwrap();
    assert!(text.contains("maintenance_http_requests_total"), "{text}");
    let other = app
        .client
        .get(format!("http://{addr}/api/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "only /metrics there");
    let dir = app.stop().await;
    assert!(
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .is_err(),
        "the metrics listener stops with the server"
    );
    drop(dir);

    // A METRICS_ADDR in use stops a first start before the default super admin is made, so
    // its password is shown on the start that succeeds, not lost with the one that failed.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let fresh = tempfile::tempdir().unwrap();
    let failed = maintenance(fresh.path())
        .env("PORT", "0")
        .env("METRICS_ADDR", &busy_addr)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("METRICS_ADDR"),
        "{}",
        stderr(&failed)
    );
    assert!(
        !stderr(&failed).contains("created the super admin"),
        "{}",
        stderr(&failed)
    );
    drop(busy);
    let mut command = maintenance(fresh.path());
    command.env("PORT", "0");
    let server = start(command);
    let mut said = server.log.join("\n");
    while !said.contains("set-password admin@localhost") {
        said.push_str(&server.rest.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    assert!(said.contains("password "), "{said}");
}

/// Every metric the dashboard queries is one the server exports, under that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_metrics_the_server_exports() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", Value::String(expr)) => out.push(expr.clone()),
                        _ => collect(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let names: BTreeSet<String> = exprs
        .iter()
        .flat_map(|expr| {
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("maintenance_") || word.starts_with("process_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    // A scrape after some traffic, so that the per-route series exist too.
    let app = spawn_app().await;
    let (_, token) = app.resident("grafana@example.com").await;
    app.submit(&token, "보일러가 안 돌아가요").await;
    let text = metrics(&app).await;
    let exported: BTreeSet<&str> = maintenance::telemetry::metrics::ALL
        .iter()
        .copied()
        .collect();
    for name in &names {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|b| exported.contains(b)))
            .unwrap_or(name);
        assert!(
            exported.contains(base),
            "the dashboard queries {name}, which the server does not export"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} is not in a scrape:\n{text}"
        );
    }
    for name in &exported {
        assert!(
            names.iter().any(|n| n.starts_with(name)),
            "the dashboard shows nothing of {name}"
        );
    }
}

/// `LOG_FORMAT=json`: one JSON object a line, and every line logged for one request carries
/// its id, a trusted proxy's or a new one, echoed in `X-Request-Id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_of_a_request_carries_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = maintenance(dir.path());
    command.envs([
        ("PORT", "0"),
        (
            "RUST_LOG",
            "debug,actix_server=warn,actix_http=warn,h2=warn,hyper=warn,reqwest=warn",
        ),
        ("LOG_FORMAT", "json"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("SUPER_ADMIN_EMAIL", SUPER_EMAIL),
        ("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD),
    ]);
    let mut server = start(command);
    // The start-up banner is for the operator's eyes, as text; every log line is JSON.
    for line in server.log.iter().filter(|l| l.starts_with('{')) {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            parsed["timestamp"].is_string() && parsed["level"].is_string(),
            "{line}"
        );
    }
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let login = client
        .post(format!("{base}/api/auth/login"))
        .header("x-request-id", "proxy-id-42")
        .form(&[("username", SUPER_EMAIL), ("password", SUPER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.headers()["x-request-id"],
        "proxy-id-42",
        "a trusted proxy's id is kept"
    );
    let refused = client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth("not-a-token")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let generated = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        generated.len() == 16 && generated.chars().all(|c| c.is_ascii_hexdigit()),
        "{generated}"
    );
    let (_, rest) = server.terminate();
    let lines: Vec<Value> = rest
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let id_of = |line: &Value| -> Option<String> {
        line["spans"]
            .as_array()?
            .iter()
            .find_map(|s| s["request_id"].as_str().map(str::to_owned))
    };
    let of = |id: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| id_of(l).as_deref() == Some(id))
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(of("proxy-id-42"), ["logged in", "request"], "{rest:#?}");
    assert_eq!(of(&generated), ["refused a token", "request"], "{rest:#?}");
    for line in &lines {
        let message = line["message"].as_str().unwrap_or_default();
        if ["logged in", "refused a token", "request"].contains(&message) {
            assert!(
                id_of(line).is_some(),
                "a line of a request without its id: {line}"
            );
        }
    }

    // The id is not taken from a client that is not a trusted proxy.
    let app = spawn_app().await;
    let direct = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "client-chosen")
        .send()
        .await
        .unwrap();
    assert_ne!(direct.headers()["x-request-id"], "client-chosen");
}

/// The shipped `maintenance.db.example` is a demo: both demo accounts log in, and it holds
/// requests of every category, priority and status over the 30 days before it was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_database_is_a_demo_both_demo_accounts_log_in_to() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("maintenance.db.example");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&example, db_path(&dir)).unwrap();
    let app = spawn_app_in(dir, &[]).await;
    let resident = app.token("resident@demo.local", "demo-resident").await;
    let mine = app.get(Some(&resident), "/api/my-requests?limit=5").await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert!(
        mine.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 5
    );
    let admin = app.token("admin@demo.local", "demo-admin").await;
    assert_eq!(app.me(&admin).await["role"], "super_admin");
    let stats: Value = app
        .get(Some(&admin), "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 300, "{stats}");
    for (field, values) in [
        (
            "by_category",
            &["electrical", "plumbing", "hvac", "structural", "other"][..],
        ),
        ("by_priority", &["high", "medium", "low"][..]),
        ("by_status", &["pending", "in_progress", "completed"][..]),
    ] {
        for value in values {
            assert!(
                stats[field][value].as_u64().unwrap_or(0) > 0,
                "{field}.{value} in {stats}"
            );
        }
    }
    // A fifth of the requests came with a photo, drawn for their category and compiled in,
    // so the one copied file shows them; a photo is served under the usual rules.
    let listed: Value = app
        .get(Some(&admin), "/api/requests?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let with_photo: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["image_url"].is_null())
        .collect();
    assert!((8..=40).contains(&with_photo.len()), "{}", with_photo.len());
    let shown = app
        .client
        .get(with_photo[0]["image_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["content-type"], "image/png");
    assert!(
        shown
            .bytes()
            .await
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    let id = with_photo[0]["id"].as_i64().unwrap();
    let stranger = app.resident("stranger@example.com").await.1;
    assert_eq!(
        app.get(Some(&stranger), &format!("/api/requests/{id}/image"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(Some(&admin), &format!("/api/requests/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    let conn = Connection::open(&example).unwrap();
    let (first, last): (String, String) = conn
        .query_row(
            "SELECT min(created_at), max(created_at) FROM requests",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let span = chrono::DateTime::parse_from_rfc3339(&last).unwrap()
        - chrono::DateTime::parse_from_rfc3339(&first).unwrap();
    assert!(
        span.num_days() >= 25 && span.num_days() <= 30,
        "{first} .. {last}"
    );
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "delete", "a plain file: `cp` takes all of it");
}

/// `maintenance --help` lists each subcommand on one line of its own.
#[test]
fn help_lists_every_subcommand_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = maintenance(dir.path()).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = stdout(&output);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let names: Vec<&str> = commands
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "serve",
            "migrate",
            "classify",
            "set-password",
            "import-legacy",
            "seed-demo",
            "backup",
            "restore",
            "create-admin",
            "reclassify",
            "check",
            "help"
        ],
        "{help}"
    );
    for line in &commands {
        assert!(line.chars().count() <= 100, "too long for one line: {line}");
    }
}

/// The systemd units in docs/ pass `systemd-analyze verify` with no complaint (where systemd's
/// tools are installed), pointed at the binary under test instead of /usr/local/bin.
#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: the units were not verified");
        return;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let units = tempfile::tempdir().unwrap();
    let names = [
        "maintenance.service",
        "maintenance-backup.service",
        "maintenance-backup.timer",
    ];
    for name in names {
        let text = std::fs::read_to_string(docs.join(name)).unwrap();
        assert!(
            !name.ends_with(".service") || text.contains("/usr/local/bin/maintenance"),
            "{name} runs the installed binary"
        );
        let text = text.replace(
            "/usr/local/bin/maintenance",
            env!("CARGO_BIN_EXE_maintenance"),
        );
        std::fs::write(units.path().join(name), text).unwrap();
    }
    let verified = std::process::Command::new("systemd-analyze")
        .current_dir(units.path())
        .arg("verify")
        .args(names.iter().map(|n| format!("./{n}")))
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&verified), stderr(&verified));
    assert!(
        verified.status.success() && said.trim().is_empty(),
        "{said}"
    );
}
