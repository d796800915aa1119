//! What happens to a TCP connection around actix-http: a cap on open connections per client
//! address, and the `{"detail"}` body on the 400 and 431 answers actix-http writes by itself
//! (malformed request line or headers, headers too large) before any middleware runs.

use crate::client_address::{self, TrustedProxies};
use actix_web::rt::net::TcpStream;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

type OpenCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// At most `per_address` open connections per client address (IPv6: per /64 network).
/// Trusted proxies are exempt: every client behind them shares their address.
#[derive(Clone)]
pub struct ConnectionLimit {
    per_address: usize,
    trusted: Arc<TrustedProxies>,
    open: OpenCounts,
}

/// Holds one connection's place in the count until the connection is dropped.
pub struct ConnectionSlot(Option<(OpenCounts, IpAddr)>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some((open, key)) = self.0.take() {
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = open.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

impl ConnectionLimit {
    /// `per_address` of 0 turns the cap off.
    pub fn new(per_address: usize, trusted: TrustedProxies) -> ConnectionLimit {
        ConnectionLimit {
            per_address,
            trusted: Arc::new(trusted),
            open: OpenCounts::default(),
        }
    }

    /// A place for one more connection from `peer`, or None when it has its share already.
    pub fn admit(&self, peer: IpAddr) -> Option<ConnectionSlot> {
        if self.per_address == 0 || self.trusted.contains(peer) {
            return Some(ConnectionSlot(None));
        }
        let key = client_address::network_of(peer);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot(Some((self.open.clone(), key))))
    }
}

/// What a refused connection is told before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
content-length: 56\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
{\"detail\":\"Too many open connections from your address\"}";

/// Tells a connection over the cap why it is being closed; the caller then drops it.
pub fn refuse(io: &TcpStream) {
    // Best effort: a fresh socket's send buffer is empty, so this does not block or fail.
    let _ = io.try_write(REFUSED);
}

/// A client connection: the socket, its place in the count, and the rewrite of actix-http's
/// own bodiless 400/431 answers into the API's `{"detail"}` shape.
pub struct ClientStream {
    io: TcpStream,
    _slot: ConnectionSlot,
    /// A replacement answer being written, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl ClientStream {
    pub fn new(io: TcpStream, slot: ConnectionSlot) -> ClientStream {
        ClientStream {
            io,
            _slot: slot,
            replacement: None,
        }
    }

    fn write_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.replacement {
            if *sent == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

/// The JSON answer to send instead of `head`, when `head` is one of the bodiless 400/431
/// answers actix-http writes for a request it could not parse. Every error a handler or
/// middleware returns has a body already (see `api::json_error_body`), so only those match.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let detail = if head.starts_with(b"HTTP/1.1 400 ") {
        "Malformed request"
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        "Request headers are too large"
    } else {
        return None;
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    let headers: Vec<&str> = lines.collect();
    let is_bodiless = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
        && !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type:"));
    if !is_bodiless || head.len() != end + 4 {
        return None;
    }
    let body = serde_json::json!({ "detail": detail }).to_string();
    let mut out = format!(
        "{status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(header);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.write_replacement(cx))?;
        if let Some(replacement) = replacement_for(buf) {
            // The original counts as written; flush and shutdown send the replacement.
            this.replacement = Some((replacement, 0));
            let _ = this.write_replacement(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.write_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.write_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_actix_https_bodiless_parse_errors_are_rewritten() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n";
        let rewritten = String::from_utf8(replacement_for(bare).unwrap()).unwrap();
        assert!(rewritten.starts_with("HTTP/1.1 431 "), "{rewritten}");
        assert!(rewritten.contains("content-type: application/json\r\n"));
        assert!(rewritten.contains("connection: close\r\n"));
        assert!(rewritten.ends_with("\r\n\r\n{\"detail\":\"Request headers are too large\"}"));
        let body = "{\"detail\":\"Request headers are too large\"}";
        assert!(rewritten.contains(&format!("content-length: {}\r\n", body.len())));

        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n{\"detail\":1}";
        assert!(replacement_for(with_body).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ok).is_none());
    }

    #[test]
    fn the_refusal_declares_its_length() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
    }

    #[test]
    fn each_address_gets_its_share_and_a_closed_connection_frees_its_place() {
        let limit = ConnectionLimit::new(2, TrustedProxies::parse("10.0.0.1").unwrap());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = limit.admit(a).unwrap();
        let _second = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none());
        assert!(limit.admit("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert!(limit.admit(a).is_some());
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| limit.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5, "a trusted proxy is not capped");
        assert!(
            ConnectionLimit::new(0, TrustedProxies::default())
                .admit(a)
                .is_some()
        );
    }
}
