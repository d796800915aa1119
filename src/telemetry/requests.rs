//! Each HTTP request: its id, its log line and its metrics.
//!
//! The id is the `X-Request-Id` a trusted proxy sent (so the proxy's log and ours share it)
//! or a new one; it is echoed in the response and carried by every log line written while
//! the request is handled, on the async workers and on the blocking pool alike.

use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a proxy.
const MAX_ID_LEN: usize = 128;

/// An id a proxy may hand us: printable ASCII of the kinds ids are made of, no spaces, so it
/// cannot forge a log line or a header.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// A new id: 16 random hex digits.
fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The request's id: the proxy's when it comes from one in `TRUSTED_PROXIES` and is
/// acceptable, otherwise a new one (a client cannot choose what our log calls its request).
fn request_id(req: &ServiceRequest) -> String {
    let from_proxy = req
        .app_data::<web::Data<AppState>>()
        .zip(req.peer_addr())
        .is_some_and(|(state, peer)| {
            state
                .config
                .trusted_proxies
                .contains(crate::client_address::canonical(peer.ip()))
        });
    from_proxy
        .then(|| req.headers().get(&REQUEST_ID))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(new_id, str::to_owned)
}

/// Gives the request its id and span, then logs and counts it once answered: its method,
/// path (never the query, which may carry a token), status and duration; at DEBUG, at INFO
/// when it took `slow` or longer, at ERROR for a 5xx.
pub async fn observe(
    slow: Duration,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let method = req.method().clone();
    let path = req.path().to_owned();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    super::metrics::http_request(method.as_str(), &route, status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let _entered = span.enter();
    let micros = elapsed.as_micros() as u64;
    if status >= 500 {
        tracing::error!(%method, %path, status, micros, "request");
    } else if elapsed >= slow {
        tracing::info!(%method, %path, status, micros, "slow request");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_of_modest_length_are_taken_from_a_proxy() {
        assert!(acceptable("req-1f2e3d"));
        assert!(acceptable(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!acceptable(""));
        assert!(!acceptable("two words"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable("quote\"d"));
        assert!(!acceptable(&"a".repeat(MAX_ID_LEN + 1)));
        assert_eq!(new_id().len(), 16);
        assert_ne!(new_id(), new_id());
    }
}
