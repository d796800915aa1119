//! Logging: tracing to stderr, filtered by RUST_LOG (default [`DEFAULT_FILTER`]).
//!
//! stdout is kept free for command output such as `maintenance classify`. At the default
//! level the log holds start-up, shutdown, warnings, errors and slow requests; every request
//! and the whole configuration are at DEBUG.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The filter when RUST_LOG is unset: INFO, without actix-server's own start and stop lines
/// (they repeat ours and would land below the start-up banner).
pub const DEFAULT_FILTER: &str = "info,actix_server=warn";

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
