//! Logging: tracing to stderr, filtered by RUST_LOG (default `info`).
//!
//! stdout is kept free for command output such as `maintenance classify`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // Its fallback report uses eprintln!, which panics once stderr is closed
        // (a log collector restarting must not take the server down with it).
        .log_internal_errors(false)
        .try_init();
}
