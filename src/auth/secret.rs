//! The token signing key: from `SECRET_KEY`, or generated once and kept beside the database.

use crate::config::Secret;
use crate::private_files::owner_only;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

/// Reads the key file at `path`, creating it with a fresh random 256-bit key
/// (readable by the owner only) when it does not exist yet.
pub fn load_or_create(path: &Path) -> std::io::Result<Secret> {
    match owner_only(OpenOptions::new().write(true).create_new(true)).open(path) {
        Ok(mut file) => {
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            let encoded = hex::encode(key);
            file.write_all(encoded.as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
            Ok(Secret::new(encoded))
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e),
    }
}

fn read(path: &Path) -> std::io::Result<Secret> {
    let key = inspect(path)?;
    if key.open_to_others {
        // Anyone who can read it can sign tokens for any account: owner-only again, at once.
        #[cfg(unix)]
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        tracing::warn!(
            path = %path.display(),
            "the token signing key was readable by other users: it is owner-only now; if they were not trusted, delete it (a new one is made at the next start, and every session ends)"
        );
    }
    Ok(key.secret)
}

/// An existing key file, as read.
pub struct KeyFile {
    pub secret: Secret,
    /// Whether its group or others may read or write it.
    pub open_to_others: bool,
}

/// Reads an existing key file without changing it: refused when it is too short to sign with.
pub fn inspect(path: &Path) -> std::io::Result<KeyFile> {
    let text = std::fs::read_to_string(path)?;
    let key = text.trim();
    if key.len() < 32 {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "it is too short; delete it to generate a new one (existing tokens stop working)",
        ));
    }
    #[cfg(unix)]
    let open_to_others = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)?.permissions().mode() & 0o077 != 0
    };
    #[cfg(not(unix))]
    let open_to_others = false;
    Ok(KeyFile {
        secret: Secret::new(key),
        open_to_others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db.secret");
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_could_read_is_made_owner_only_when_it_is_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db.secret");
        let made = load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(inspect(&path).unwrap().open_to_others);
        assert_eq!(load_or_create(&path).unwrap(), made);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!inspect(&path).unwrap().open_to_others);
    }

    #[test]
    fn two_installations_get_different_keys() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(&dir.path().join("a.secret")).unwrap();
        let b = load_or_create(&dir.path().join("b.secret")).unwrap();
        assert_ne!(a, b);
    }
}
