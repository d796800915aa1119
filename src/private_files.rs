//! Files only the server's own account may read: the database and its WAL, photos, the key.
//!
//! Modes are set when a file is created, whatever the process umask allows.

use std::fs::OpenOptions;
use std::io::{self, ErrorKind};
use std::path::Path;

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

/// Creates the folder `path` (and missing parents) usable by its owner only (0700).
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}
