//! Backups of a live database and their restore.
//!
//! A backup goes through SQLite's online backup API, so it is a consistent copy (one
//! committed state) made while the server keeps serving and writing. It is written to a
//! temporary file beside the target, checked with `PRAGMA integrity_check`, and only then
//! given its name: a backup that exists is a whole one. The photos and the signing key,
//! which live beside the database, are copied beside the backup under the same names.

use super::server_lock::{Holder, LockError, ServerLock, real_path};
use crate::private_files::{self, beside};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Pages copied per step: small enough for a progress bar to move.
const PAGES_PER_STEP: std::os::raw::c_int = 1024;
/// A step restarts from the start when another connection writes meanwhile; after this many
/// restarts the rest is copied in one step (one read transaction, which writers do not wait for).
const RESTARTS_BEFORE_ONE_STEP: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: name a new file (a backup never overwrites one)")]
    TargetExists(PathBuf),
    #[error("there is no database at {0}")]
    NoSource(PathBuf),
    #[error(
        "{0} is a folder, not a database file: name the file itself (DATABASE_URL=sqlite://folder/maintenance.db)"
    )]
    Folder(PathBuf),
    #[error("the folder {0} does not exist: create it first")]
    NoFolder(PathBuf),
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the integrity check of {path} failed: {report}")]
    Damaged { path: PathBuf, report: String },
    #[error("{path} is not a database of this program (no schema version): nothing was changed")]
    Foreign { path: PathBuf },
    #[error(
        "{backup} has schema version {found}, newer than this program's {known}: use a newer maintenance"
    )]
    Newer {
        backup: PathBuf,
        found: i64,
        known: usize,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("copying {from} into {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{cause}; putting the old files back failed too, so they are now: {stranded}")]
    PutBack {
        cause: Box<BackupError>,
        stranded: String,
    },
}

/// How far a backup has got, in database pages.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub copied: u64,
    pub total: u64,
}

/// What a backup or restore wrote.
#[derive(Debug)]
pub struct Copied {
    pub database: PathBuf,
    pub bytes: u64,
    pub photos: usize,
    /// The signing key file, when there was one.
    pub key: Option<PathBuf>,
    /// A restore that left the target's own key in place (the backup had another, or none).
    pub key_kept: Option<PathBuf>,
    /// The database a restore moved aside.
    pub replaced: Option<PathBuf>,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |source| BackupError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// A page copy's error could be either side's: both are named.
fn copying<'a>(from: &'a Path, to: &'a Path) -> impl Fn(rusqlite::Error) -> BackupError + 'a {
    move |source| BackupError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn key_path(database: &Path) -> PathBuf {
    beside(database, private_files::KEY)
}

fn photos_folder(database: &Path) -> PathBuf {
    beside(database, private_files::PHOTOS)
}

/// Copies the database at `source` to a new file `target`, then its photos to
/// `<target>.uploads/` and its key file to `<target>.secret`.
pub fn backup(
    source: &Path,
    target: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<Copied, BackupError> {
    for taken in [
        target.to_path_buf(),
        photos_folder(target),
        key_path(target),
    ] {
        if taken.try_exists().unwrap_or(true) {
            return Err(BackupError::TargetExists(taken));
        }
    }
    if source.is_dir() {
        return Err(BackupError::Folder(crate::db::absolute(source)));
    }
    if !source.is_file() {
        return Err(BackupError::NoSource(crate::db::absolute(source)));
    }
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(source))?;
    from.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite(source))?;
    let partial = partial_beside(target, BACKUP)?;
    remove_interrupted(partial.path(), BACKUP);
    // The photos and the key go to temporary names beside the target as well, and all three
    // get their names only once each is whole: a failed backup leaves nothing under them.
    let staged = Staged::beside(partial.path());
    {
        let mut to = Connection::open(partial.path()).map_err(sqlite(partial.path()))?;
        copy_pages(&from, &mut to, &mut progress).map_err(copying(source, partial.path()))?;
        // A backup is a plain file: no -wal beside it to forget when it is moved.
        plain_file(&to, partial.path())?;
        check_integrity(&to, target)?;
    }
    partial.as_file().sync_all().map_err(io(partial.path()))?;
    let bytes = partial
        .as_file()
        .metadata()
        .map_err(io(partial.path()))?
        .len();
    // After the copy: every photo the copied rows name was stored before it.
    let has_photos = photos_folder(source).is_dir();
    let photos = if has_photos {
        copy_folder(&photos_folder(source), &staged.photos)?
    } else {
        0
    };
    let key = copy_key(&key_path(source), &staged.key)?.is_some();
    if has_photos {
        rename_new(&staged.photos, &photos_folder(target))?;
    }
    let key = if key {
        rename_new(&staged.key, &key_path(target))?;
        Some(key_path(target))
    } else {
        None
    };
    partial
        .persist_noclobber(target)
        .map_err(|e| BackupError::Io {
            path: target.to_path_buf(),
            source: e.error,
        })?;
    Ok(Copied {
        database: target.to_path_buf(),
        bytes,
        photos,
        key,
        key_kept: None,
        replaced: None,
    })
}

/// The temporary names of a backup's photos and key: beside its temporary database file
/// (`.maintenance-backup-XXXX.partial`), as `.maintenance-backup-XXXX.uploads` and
/// `.maintenance-backup-XXXX.secret`. What is still under them when the backup ends (it
/// failed) is removed.
struct Staged {
    photos: PathBuf,
    key: PathBuf,
    /// SQLite's own files for the temporary database (a rollback journal while it was
    /// written, left when the write failed).
    journals: [PathBuf; 3],
}

impl Staged {
    fn beside(partial: &Path) -> Staged {
        Staged {
            photos: partial.with_extension("uploads"),
            key: partial.with_extension("secret"),
            journals: ["-journal", "-wal", "-shm"].map(|suffix| beside(partial, suffix)),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.photos);
        let _ = std::fs::remove_file(&self.key);
        for journal in &self.journals {
            let _ = std::fs::remove_file(journal);
        }
    }
}

/// A database's file and those SQLite keeps beside it, which belong with it.
const SIDE_FILES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// What a temporary database file is for: its names start `.maintenance-<kind>-`.
const BACKUP: &str = "backup";
const RESTORE: &str = "restore";
/// The random part of a temporary file's name.
const RANDOM_CHARS: usize = 12;
/// A temporary file younger than this is never taken for one an interrupted run left: it
/// may be one that was just made and is not locked yet.
const INTERRUPTED_AFTER: Duration = Duration::from_secs(60);

/// Whether `name` is one [`partial_beside`] makes for `kind`.
fn is_partial_name(name: &str, kind: &str) -> bool {
    name.strip_prefix(".maintenance-")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".partial"))
        .is_some_and(|random| {
            random.len() == RANDOM_CHARS && random.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// Removes what interrupted backups (or restores) left in the folder of `ours`: temporary
/// databases of `kind` that no running one holds (each holds a lock on its own), a minute
/// old at least, with their photos and key.
fn remove_interrupted(ours: &Path, kind: &str) {
    let folder = ours
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let mut path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // A journal whose temporary file is gone: it is taken for that file, which is then
        // unheld (no run holds a file that is not there).
        if let Some(file) = name.strip_suffix("-journal")
            && is_partial_name(file, kind)
        {
            path = path.with_file_name(file);
        } else if !is_partial_name(&name, kind) {
            continue;
        }
        if path == ours {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age >= INTERRUPTED_AFTER));
        let unheld = old
            && match std::fs::File::open(&path) {
                Ok(file) => file.try_lock().is_ok(),
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            };
        if unheld {
            tracing::info!(path = %path.display(), "removing what an interrupted run left");
            drop(Staged::beside(&path));
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes the photo copies (`.copy-*.partial`) an interrupted copy left in `folder`.
fn remove_copies_left(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".copy-") && name.ends_with(".partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Renames `from` to `to`, refusing to replace what is already there.
fn rename_new(from: &Path, to: &Path) -> Result<(), BackupError> {
    if to.try_exists().unwrap_or(true) {
        return Err(BackupError::TargetExists(to.to_path_buf()));
    }
    std::fs::rename(from, to).map_err(io(to))
}

fn write_key(file: &std::fs::File, key: &[u8]) -> std::io::Result<()> {
    let mut file = file;
    std::io::Write::write_all(&mut file, key)?;
    file.sync_all()
}

fn copy_pages(
    from: &Connection,
    to: &mut Connection,
    progress: &mut impl FnMut(Progress),
) -> rusqlite::Result<()> {
    let backup = Backup::new(from, to)?;
    let mut restarts = 0;
    let mut last_remaining = u64::MAX;
    loop {
        let pages = if restarts >= RESTARTS_BEFORE_ONE_STEP {
            -1
        } else {
            PAGES_PER_STEP
        };
        let step = backup.step(pages)?;
        let now = backup.progress();
        let (remaining, total) = (now.remaining.max(0) as u64, now.pagecount.max(0) as u64);
        if remaining > last_remaining {
            restarts += 1;
        }
        last_remaining = remaining;
        progress(Progress {
            copied: total.saturating_sub(remaining),
            total,
        });
        match step {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            // The busy timeout already waited; try again shortly.
            StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(50)),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Takes the copy out of WAL mode, so it is one file; SQLite answers with the mode it is
/// in, which is checked (a failed switch leaves it in WAL mode without an error).
fn plain_file(conn: &Connection, path: &Path) -> Result<(), BackupError> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(sqlite(path))?;
    if mode.eq_ignore_ascii_case("delete") {
        Ok(())
    } else {
        Err(BackupError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "the copy stayed in {mode} mode instead of becoming one plain file"
            )),
        })
    }
}

fn check_integrity(conn: &Connection, named: &Path) -> Result<(), BackupError> {
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(sqlite(named))?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sqlite(named))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlite(named))?;
    if lines == ["ok"] {
        Ok(())
    } else {
        Err(BackupError::Damaged {
            path: named.to_path_buf(),
            report: lines.into_iter().take(5).collect::<Vec<_>>().join("; "),
        })
    }
}

/// Copies the files of `from` (when it exists) into `to`, leaving files already there.
fn copy_folder(from: &Path, to: &Path) -> Result<usize, BackupError> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(from)(e)),
    };
    private_files::create_dir(to).map_err(io(to))?;
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(io(from))?;
        // A photo still being written (`*.partial`) is not one yet: the rows do not name it.
        if !entry.file_type().map_err(io(&entry.path()))?.is_file()
            || entry.path().extension().is_some_and(|e| e == "partial")
        {
            continue;
        }
        let dest = to.join(entry.file_name());
        if dest.exists() {
            continue;
        }
        let mut photo = match std::fs::File::open(entry.path()) {
            Ok(photo) => photo,
            // Deleted since the folder was listed (its request deleted, or the photo replaced):
            // the live server no longer has it either.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&entry.path())(e)),
        };
        // Under a temporary name until whole (`*.partial`, which nothing takes for a photo):
        // an interrupted copy never leaves a cut-off photo under the name the rows use.
        let mut copy = tempfile::Builder::new()
            .prefix(".copy-")
            .suffix(".partial")
            .tempfile_in(to)
            .map_err(io(to))?;
        std::io::copy(&mut photo, copy.as_file_mut()).map_err(io(&dest))?;
        copy.as_file().sync_all().map_err(io(&dest))?;
        copy.persist_noclobber(&dest)
            .map_err(|e| io(&dest)(e.error))?;
        copied += 1;
    }
    Ok(copied)
}

/// Copies the key file owner-only, when there is one.
fn copy_key(from: &Path, to: &Path) -> Result<Option<PathBuf>, BackupError> {
    let key = match std::fs::read(from) {
        Ok(key) => key,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(from)(e)),
    };
    let file = private_files::owner_only(std::fs::OpenOptions::new().write(true).create_new(true))
        .open(to)
        .map_err(io(to))?;
    write_key(&file, &key).map_err(io(to))?;
    Ok(Some(to.to_path_buf()))
}

/// A backup restore may take: a database of this application, from this version or an
/// older one, whole.
fn check_restorable(conn: &Connection, backup: &Path) -> Result<(), BackupError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite(backup))?;
    let ours: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'requests'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite(backup))?;
    if version == 0 || !ours {
        return Err(BackupError::Foreign {
            path: backup.to_path_buf(),
        });
    }
    if version as usize > crate::db::MIGRATIONS.len() {
        return Err(BackupError::Newer {
            backup: backup.to_path_buf(),
            found: version,
            known: crate::db::MIGRATIONS.len(),
        });
    }
    check_integrity(conn, backup)
}

/// Puts the backup at `backup` in place of the database at `database`, with its photos and
/// key file; refused while a server serves `database` (it holds [`ServerLock`]), and held
/// for the whole restore so none starts meanwhile. The database replaced is kept as
/// `<database>.before-restore-<time>`; photos already there stay (the restored rows name
/// only the backup's, which are copied in).
pub fn restore(backup: &Path, database: &Path) -> Result<Copied, BackupError> {
    if !backup.is_file() {
        return Err(BackupError::NoSource(crate::db::absolute(backup)));
    }
    // The database goes into the file itself, so a symlink to it stays a symlink, now to
    // the restored database (SQLite keeps its log beside that file too); the photos and the
    // key go where the server looks for them, beside the name it is given.
    let named = database;
    let database = &real_path(named);
    if database.is_dir() {
        return Err(BackupError::Folder(database.clone()));
    }
    let _lock = ServerLock::acquire(database, Holder::Restore)?;
    // With the lock held no other restore runs, and no server writes photos: temporaries
    // still here were left by one that was interrupted.
    remove_copies_left(&photos_folder(named));
    // One connection checks the backup and copies it.
    let from = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(backup))?;
    check_restorable(&from, backup)?;
    // Copied beside the database first, then renamed over it: the database is either the old
    // one or the whole backup, never half of each. Copied through SQLite, not as a file, so a
    // backup with a `-wal` beside it (one a server left, or a copy of a live file) comes back
    // whole: its log is part of what it holds.
    let incoming = partial_beside(database, RESTORE)?;
    let _journals = Staged::beside(incoming.path());
    remove_interrupted(incoming.path(), RESTORE);
    {
        let mut to = Connection::open(incoming.path()).map_err(sqlite(incoming.path()))?;
        copy_pages(&from, &mut to, &mut |_| {}).map_err(copying(backup, incoming.path()))?;
        plain_file(&to, incoming.path())?;
    }
    drop(from);
    incoming.as_file().sync_all().map_err(io(incoming.path()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(incoming.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(io(incoming.path()))?;
    }
    // The photos join the ones in place before the database changes: a restore that fails
    // here leaves the old database with a few more files beside it, never the backup's rows
    // without their photos.
    let photos = copy_folder(&photos_folder(backup), &photos_folder(named))?;
    // The key in place signs the sessions and links handed out now; a backup's older key would
    // end them, so an existing one stays (and the report says so).
    let (key, key_kept) = if key_path(named).exists() {
        (None, Some(key_path(named)))
    } else {
        (copy_key(&key_path(backup), &key_path(named))?, None)
    };
    // The old database and its log (or rollback journal) go aside together. A log there without its database
    // (the file moved by hand, or a crash) goes aside too: it belongs to the old database and
    // would be replayed into the restored one.
    let aside = unused_aside(database);
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    // Whatever was moved goes back where it was, so a failed restore changes nothing; what
    // cannot be put back is named in the error, with where it is now.
    // The database goes back first, then its logs; at the first that cannot, those already
    // back return beside it, so a database and its log are never apart.
    let put_back = |moved: &[(PathBuf, PathBuf)], cause: BackupError| -> BackupError {
        let mut back: Vec<&(PathBuf, PathBuf)> = Vec::new();
        for pair in moved {
            if std::fs::rename(&pair.1, &pair.0).is_err() {
                for (from, to) in back.iter().rev() {
                    let _ = std::fs::rename(from, to);
                }
                // Every file of the old database, moved or not yet, where it is now.
                let now: Vec<String> = SIDE_FILES
                    .iter()
                    .filter_map(|suffix| {
                        let (live, set_aside) = (beside(database, suffix), beside(&aside, suffix));
                        let at = [&set_aside, &live].into_iter().find(|p| p.exists())?;
                        Some(format!("{} at {}", live.display(), at.display()))
                    })
                    .collect();
                return BackupError::PutBack {
                    cause: Box::new(cause),
                    stranded: now.join(", "),
                };
            }
            back.push(pair);
        }
        cause
    };
    for suffix in SIDE_FILES {
        let from = beside(database, suffix);
        if from.exists() {
            let to = beside(&aside, suffix);
            if let Err(e) = std::fs::rename(&from, &to) {
                return Err(put_back(&moved, io(&from)(e)));
            }
            moved.push((from, to));
        }
    }
    let replaced = moved
        .iter()
        .any(|(from, _)| from == database)
        .then(|| aside.clone());
    if replaced.is_none() && !moved.is_empty() {
        tracing::warn!(
            log = %moved[0].1.display(),
            "a log was left without its database: moved aside, not replayed into the restored one"
        );
    }
    let bytes = incoming
        .as_file()
        .metadata()
        .map_err(io(incoming.path()))?
        .len();
    if let Err(e) = incoming.persist(database) {
        return Err(put_back(&moved, io(database)(e.error)));
    }
    Ok(Copied {
        database: database.to_path_buf(),
        bytes,
        photos,
        key,
        key_kept,
        replaced,
    })
}

/// A new temporary file in `target`'s folder, to be renamed to `target` once whole. A missing
/// folder is named as such, not by the temporary file's name.
fn partial_beside(target: &Path, kind: &str) -> Result<tempfile::NamedTempFile, BackupError> {
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(BackupError::NoFolder(crate::db::absolute(folder)));
    }
    let partial = tempfile::Builder::new()
        .prefix(&format!(".maintenance-{kind}-"))
        .rand_bytes(RANDOM_CHARS)
        .suffix(".partial")
        .tempfile_in(folder)
        .map_err(io(folder))?;
    // Held while the run lasts: another that finds the file unheld knows it was interrupted.
    partial
        .as_file()
        .try_lock()
        .map_err(|e| io(partial.path())(e.into()))?;
    Ok(partial)
}

/// `<database>.before-restore-<time>`, with a counter when two restores share a second, so a
/// database moved aside is never overwritten by the next one. (Restores hold the server lock,
/// so no two choose at once.)
fn unused_aside(database: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut aside = beside(database, &format!(".before-restore-{stamp}"));
    let mut n = 1;
    while aside.try_exists().unwrap_or(true)
        || ["-wal", "-shm", "-journal"]
            .iter()
            .any(|suffix| beside(&aside, suffix).exists())
    {
        n += 1;
        aside = beside(database, &format!(".before-restore-{stamp}-{n}"));
    }
    aside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_it_makes_are_taken_for_its_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let made = partial_beside(&dir.path().join("b.db"), BACKUP).unwrap();
        let name = made
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(is_partial_name(&name, BACKUP), "{name}");
        assert!(!is_partial_name(&name, RESTORE), "{name}");
        for other in [
            ".backup-notes.partial",
            ".maintenance-backup-short.partial",
            ".maintenance-backup-0123456789ab.partial.bak",
            ".maintenance-backup-0123456789a!.partial",
            "maintenance-backup-0123456789ab.partial",
        ] {
            assert!(!is_partial_name(other, BACKUP), "{other}");
        }
        // Made and locked at once: another run cannot take it.
        let again = std::fs::File::open(made.path()).unwrap();
        assert!(again.try_lock().is_err());
    }
}
