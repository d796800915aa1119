//! Logging and metrics.
//!
//! Logs: tracing to stderr, filtered by RUST_LOG (default [`DEFAULT_FILTER`]), as text or,
//! with `LOG_FORMAT=json`, one JSON object a line. stdout is kept free for command output
//! such as `maintenance classify`. At the default level the log holds start-up, shutdown,
//! warnings, errors and slow requests; every request and the whole configuration are at DEBUG.
//! Every line logged while a request is handled carries its id ([`requests`]).

pub mod metrics;
pub mod requests;

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The filter when RUST_LOG is unset: INFO, without actix-server's own start and stop lines
/// (they repeat ours and would land below the start-up banner).
pub const DEFAULT_FILTER: &str = "info,actix_server=warn";

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line of text per event (the default).
    Text,
    /// For log shippers: one JSON object per line, the request's span fields included.
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: unset, `text` or `json`.
    pub fn from_env() -> Result<LogFormat, String> {
        LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())
    }

    pub fn parse(raw: Option<&str>) -> Result<LogFormat, String> {
        match raw.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) => Err(format!(
                "invalid configuration (LOG_FORMAT):\n  LOG_FORMAT: expected text or json, got '{v}'"
            )),
        }
    }
}

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Its fallback report uses eprintln!, which panics once stderr is closed
        // (a log collector restarting must not take the server down with it).
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_format_is_text_json_or_refused() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some(" ")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("JSON")), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        let refused = LogFormat::parse(Some("yaml")).unwrap_err();
        assert!(
            refused.contains("LOG_FORMAT") && refused.contains("yaml"),
            "{refused}"
        );
    }
}
