//! The plain data the layers above pass around: requests, their history, accounts, events,
//! filters and pages.
//!
//! The layers read top-down: handlers (`api`, `web`) call the domain operations
//! (`requests`, `accounts`, `queue`, ...), which call the database layer (`db`), and every
//! one of them uses the types here. This module depends on no layer above it, and `db`
//! depends on none of the domain modules: the test below keeps it so.

pub mod classification;
pub mod event;
pub mod legacy;
pub mod list;
pub mod request;
pub mod user;

pub use classification::Classification;
pub use event::{Event, Events, StoredEvent};
pub use list::{Cursor, Page, RequestFilter, RequestPage, Scope, Seek, Stats, Total, Window};
pub use request::{
    DESCRIPTION_MAX_CHARS, HistoryEntry, MaintenanceRequest, NewRequest, RequestChanges,
    SHORT_FIELD_MAX_CHARS, photo_path, reject_control_characters, task_id,
};
pub use user::User;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The crate's modules that the code under `src/dir` names (`crate::NAME`), with the line
    /// of each; a file's tests (from its `#[cfg(test)]` on) are not part of its layer.
    fn crate_modules_used(dir: &str) -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().take_while(|l| l.trim() != "#[cfg(test)]") {
                    let mut rest = line;
                    while let Some(at) = rest.find("crate::") {
                        rest = &rest[at + "crate::".len()..];
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        found.push((name, format!("{}: {}", path.display(), line.trim())));
                    }
                }
            }
        }
        found
    }

    fn assert_uses_only(dir: &str, allowed: &[&str]) {
        let outside: Vec<String> = crate_modules_used(dir)
            .into_iter()
            .filter(|(module, _)| !allowed.contains(&module.as_str()))
            .map(|(_, line)| line)
            .collect();
        assert!(
            outside.is_empty(),
            "src/{dir} may use only crate::{{{}}}; found:\n{}",
            allowed.join(", "),
            outside.join("\n")
        );
    }

    /// The model is the bottom layer: value types, enums, ids and the error type only.
    #[test]
    fn the_model_uses_no_layer_above_it() {
        assert_uses_only("model", &["model", "ids", "taxonomy", "errors"]);
    }

    /// The database layer sits below the domain operations (`requests`, `accounts`,
    /// `events`, `queue`, `legacy_import`, ...), which call it: it must never use them back.
    #[test]
    fn the_database_layer_uses_no_domain_module() {
        assert_uses_only(
            "db",
            &["db", "model", "ids", "taxonomy", "errors", "private_files"],
        );
    }

    /// The scan does find the crate paths a file names, so a pass means something.
    #[test]
    fn the_layer_check_finds_crate_paths() {
        let used = crate_modules_used("db");
        assert!(used.iter().any(|(module, _)| module == "model"), "{used:?}");
    }
}
