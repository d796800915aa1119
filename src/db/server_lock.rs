//! Which process serves a database: the server holds an exclusive lock on `<database>.lock`
//! while it runs, so a second server, or a restore, on the same file is refused instead of
//! pulling the file out from under it. The kernel drops the lock when the process ends,
//! however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// `<database>.lock`, beside the database.
pub fn lock_path(database: &Path) -> PathBuf {
    crate::private_files::beside(database, crate::private_files::LOCK)
}

/// The file a path names, through any symlink (of the file or of a folder above it), so
/// that two names of one database share one lock. A file not there yet is resolved through
/// its folder, and a link to a file not there yet through what the link names.
pub fn real_path(database: &Path) -> PathBuf {
    real_path_within(database, 40)
}

fn real_path_within(database: &Path, links_left: u32) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(database) {
        return real;
    }
    if links_left > 0
        && let Ok(named) = std::fs::read_link(database)
    {
        let named = match database.parent() {
            Some(folder) if named.is_relative() => folder.join(named),
            _ => named,
        };
        return real_path_within(&named, links_left - 1);
    }
    let folder = database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(folder), database.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => database.to_path_buf(),
    }
}

/// What a process holds the lock for, written in the lock file for the message another
/// process shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Serve,
    Restore,
    /// `maintenance reclassify` classifying offline itself, with no server running.
    Reclassify,
}

impl Holder {
    const ALL: [Holder; 3] = [Holder::Serve, Holder::Restore, Holder::Reclassify];

    fn word(self) -> &'static str {
        match self {
            Holder::Serve => "serve",
            Holder::Restore => "restore",
            Holder::Reclassify => "reclassify",
        }
    }

    /// "another process is ... {database}: ...", by what the holder does.
    fn doing(self) -> (&'static str, &'static str) {
        match self {
            Holder::Serve => ("serving", "stop it first"),
            Holder::Restore => ("restoring a backup into", "wait for it to finish"),
            Holder::Reclassify => ("reclassifying", "wait for it to finish"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another process is {doing} {database}{holder}: {advice}")]
    Held {
        database: PathBuf,
        holder: String,
        doing: &'static str,
        advice: &'static str,
    },
    #[error("the folder {0} does not exist: create it first")]
    NoFolder(PathBuf),
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while this process serves (or restores) the database.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
    path: PathBuf,
    /// Whether this process made the lock file (and so may remove it on [`ServerLock::discard`]).
    created: bool,
}

impl ServerLock {
    /// Takes the lock, or says that another process holds it (with its process id).
    pub fn acquire(database: &Path, purpose: Holder) -> Result<ServerLock, LockError> {
        let path = lock_path(&real_path(database));
        if let Some(folder) = path.parent()
            && !folder.as_os_str().is_empty()
            && !folder.is_dir()
        {
            return Err(LockError::NoFolder(crate::db::absolute(folder)));
        }
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let created = !path.try_exists().unwrap_or(true);
        let mut file = crate::private_files::owner_only(
            OpenOptions::new().read(true).write(true).create(true),
        )
        .truncate(false)
        .open(&path)
        .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut written = String::new();
                let _ = file.read_to_string(&mut written);
                let mut words = written.split_whitespace();
                let pid = words.next().unwrap_or_default();
                let other = words
                    .next()
                    .and_then(|w| Holder::ALL.into_iter().find(|h| h.word() == w))
                    .unwrap_or(Holder::Serve);
                let (doing, advice) = other.doing();
                return Err(LockError::Held {
                    database: crate::db::absolute(database),
                    holder: if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {pid})")
                    },
                    doing,
                    advice,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the message another process shows.
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{} {}", std::process::id(), purpose.word()).map_err(io)?;
        Ok(ServerLock {
            _file: file,
            path,
            created,
        })
    }

    /// Lets go of a lock taken for a start that then failed, removing the lock file if this
    /// process made it: a database refused as not ours (the original system's) is left with
    /// nothing new beside it.
    pub fn discard(self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        assert_eq!(lock_path(&db), dir.path().join("m.db.lock"));
        let first = ServerLock::acquire(&db, Holder::Serve).unwrap();
        let refused = ServerLock::acquire(&db, Holder::Serve)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(&format!("process {}", std::process::id()))
                && refused.contains("m.db"),
            "{refused}"
        );
        drop(first);
        let restoring = ServerLock::acquire(&db, Holder::Restore).unwrap();
        let refused = ServerLock::acquire(&db, Holder::Serve)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("is restoring a backup into") && refused.contains("wait for it"),
            "{refused}"
        );
        drop(restoring);
        ServerLock::acquire(&db, Holder::Serve).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_file_not_there_yet_resolves_to_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("data");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("m.db");
        std::os::unix::fs::symlink("data/m.db", &link).unwrap();
        assert_eq!(
            real_path(&link),
            std::fs::canonicalize(&real).unwrap().join("m.db")
        );
        let looped = dir.path().join("loop.db");
        std::os::unix::fs::symlink("loop.db", &looped).unwrap();
        assert_eq!(
            real_path(&looped),
            std::fs::canonicalize(dir.path()).unwrap().join("loop.db")
        );
    }

    #[cfg(unix)]
    #[test]
    fn another_name_for_the_same_database_is_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("data");
        std::fs::create_dir(&real).unwrap();
        let db = real.join("m.db");
        std::fs::write(&db, b"").unwrap();
        let file_link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&db, &file_link).unwrap();
        let folder_link = dir.path().join("current");
        std::os::unix::fs::symlink(&real, &folder_link).unwrap();
        let _held = ServerLock::acquire(&file_link, Holder::Serve).unwrap();
        assert!(
            ServerLock::acquire(&db, Holder::Serve).is_err(),
            "the file's own name"
        );
        assert!(
            ServerLock::acquire(&folder_link.join("m.db"), Holder::Serve).is_err(),
            "through a linked folder"
        );
        assert!(real.join("m.db.lock").exists());
        assert!(!dir.path().join("link.db.lock").exists());
    }

    #[test]
    fn a_discarded_lock_removes_only_a_file_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        ServerLock::acquire(&db, Holder::Serve).unwrap().discard();
        assert!(!lock_path(&db).exists());
        drop(ServerLock::acquire(&db, Holder::Serve).unwrap());
        assert!(lock_path(&db).exists());
        ServerLock::acquire(&db, Holder::Serve).unwrap().discard();
        assert!(lock_path(&db).exists(), "one left by an earlier run stays");
    }
}
