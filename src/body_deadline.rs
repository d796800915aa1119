//! A deadline on request bodies. actix-http times out a request's headers, not its body: a
//! client that announces a body and never sends it would hold its connection forever.
//! Each piece of a body must now arrive within `BODY_READ_TIMEOUT_SECS` of the previous one;
//! otherwise the request ends with 408 `{"detail"}` and the connection is closed.

use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;
use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The request body, failing once the client has been silent for `idle`.
/// The slowest average rate a body may arrive at: a body trickled a byte at a time, each
/// just inside the idle limit, must still end by `idle + length / MIN_BYTES_PER_SEC`.
const MIN_BYTES_PER_SEC: u64 = 16 * 1024;

struct DeadlinePayload {
    inner: Payload,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// When the whole body must have arrived, however steadily it trickles.
    overall: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.timer.as_mut().reset(Instant::now() + this.idle);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending
                if this.timer.as_mut().poll(cx).is_ready()
                    || this.overall.as_mut().poll(cx).is_ready() =>
            {
                this.expired.set(true);
                let timed_out = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body stopped arriving",
                );
                Poll::Ready(Some(Err(PayloadError::Io(timed_out))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether the request announces a body (WebSocket upgrades carry frames instead).
/// How long the whole body may take: the idle limit plus its length at the slowest rate
/// (a body of unknown length gets six idle periods).
fn overall_limit(req: &ServiceRequest, idle: Duration) -> Duration {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(length) => idle + Duration::from_secs(length / MIN_BYTES_PER_SEC),
        None => idle * 6,
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    if req.head().upgrade() {
        return false;
    }
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|len| len > 0)
}

/// Middleware: puts the deadline on the body, and answers 408 if the handler ran out of it.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let idle = req
        .app_data::<Data<AppState>>()
        .map(|state| Duration::from_secs(state.config.body_read_timeout_secs));
    let (Some(idle), true) = (idle, has_body(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let expired = Rc::new(Cell::new(false));
    let payload = DeadlinePayload {
        inner: req.take_payload(),
        idle,
        timer: Box::pin(tokio::time::sleep(idle)),
        overall: Box::pin(tokio::time::sleep(overall_limit(&req, idle))),
        expired: expired.clone(),
    };
    req.set_payload(Payload::from(
        Box::pin(payload) as actix_http::BoxedPayloadStream
    ));
    let response = next.call(req).await?;
    if !expired.get() {
        return Ok(response.map_into_boxed_body());
    }
    tracing::info!(path = %response.request().path(), "request body timed out");
    let (req, _) = response.into_parts();
    let timeout = HttpResponse::RequestTimeout()
        .force_close()
        .json(serde_json::json!({"detail": "The request body did not arrive in time"}));
    Ok(ServiceResponse::new(req, timeout))
}
