//! Files only the server's own account may read: the database and its WAL, photos, the key.
//!
//! Modes are set when a file is created, whatever the process umask allows.

use std::fs::OpenOptions;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

/// The photo folder beside a database: `<database>.uploads/`.
pub const PHOTOS: &str = ".uploads";
/// The generated signing key beside a database: `<database>.secret`.
pub const KEY: &str = ".secret";
/// The lock a serving process holds: `<database>.lock`.
pub const LOCK: &str = ".lock";

/// The file `<database file name><suffix>` in the database's folder.
pub fn beside(database: &Path, suffix: &str) -> PathBuf {
    let mut name = database
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "maintenance.db".into());
    name.push(suffix);
    database.with_file_name(name)
}

/// Options that create a file readable and writable by its owner only (0600).
pub fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Creates an empty owner-only file at `path` unless one exists; an existing file keeps its mode.
pub fn create_if_missing(path: &Path) -> io::Result<()> {
    match owner_only(OpenOptions::new().write(true).create_new(true)).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// What tells one file apart from another that later takes its name: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    #[cfg(unix)]
    device: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileIdentity {
    /// The identity of the file `metadata` describes.
    pub fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileIdentity {
                device: metadata.dev(),
                inode: metadata.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            FileIdentity {}
        }
    }
}

/// Creates an empty owner-only file at `path` with `O_EXCL`: `Some` with the file's identity
/// when this call created it, `None` when anything already had that name (a file, a folder,
/// even a dangling symbolic link), which is then left exactly as it was.
pub fn create_new(path: &Path) -> io::Result<Option<FileIdentity>> {
    match owner_only(OpenOptions::new().write(true).create_new(true)).open(path) {
        Ok(file) => Ok(Some(FileIdentity::of(&file.metadata()?))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the folder `path` (and missing parents) usable by its owner only (0700).
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_call_that_creates_a_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let first = create_new(&path)
            .unwrap()
            .expect("the first call creates it");
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(FileIdentity::of(&metadata), first);
        assert_eq!(metadata.len(), 0);
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777,
            0o600
        );

        // Whatever holds the name already is not ours, and is left as it was.
        std::fs::write(&path, b"someone else's").unwrap();
        assert_eq!(create_new(&path).unwrap(), None);
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
        #[cfg(unix)]
        {
            let link = dir.path().join("dangling.db");
            std::os::unix::fs::symlink(dir.path().join("nowhere.db"), &link).unwrap();
            assert_eq!(create_new(&link).unwrap(), None);
            assert!(!dir.path().join("nowhere.db").exists());
        }
        assert_eq!(create_new(dir.path()).unwrap(), None, "a folder");
        assert!(create_new(&dir.path().join("no/such/dir.db")).is_err());
    }
}
