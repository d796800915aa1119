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

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another process is serving {database}{holder}: stop it first")]
    Held { database: PathBuf, holder: String },
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
}

impl ServerLock {
    /// Takes the lock, or says that another process holds it (with its process id).
    pub fn acquire(database: &Path) -> Result<ServerLock, LockError> {
        let path = lock_path(database);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = crate::private_files::owner_only(
            OpenOptions::new().read(true).write(true).create(true),
        )
        .truncate(false)
        .open(&path)
        .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Held {
                    database: crate::db::absolute(database),
                    holder: if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {pid})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the message another process shows.
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(ServerLock { _file: file })
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
        let first = ServerLock::acquire(&db).unwrap();
        let refused = ServerLock::acquire(&db).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("process {}", std::process::id()))
                && refused.contains("m.db"),
            "{refused}"
        );
        drop(first);
        ServerLock::acquire(&db).unwrap();
    }
}
