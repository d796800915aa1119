//! What the server does against misbehaving clients and caches: stalled bodies, connection
//! floods, malformed requests, password guessing, cached account data.

use crate::helpers::*;
use crate::pages::{browser, log_in};
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use std::time::Duration;

#[tokio::test]
async fn account_pages_and_json_are_never_stored_by_caches() {
    let app = spawn_app().await;
    let (_, token) = app.resident("private@example.com").await;
    for path in ["/api/auth/me", "/api/my-requests", "/api/requests/999"] {
        let response = app.get(Some(&token), path).await;
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store", "{path}");
    }
    let anonymous = app.get(None, "/api/auth/me").await;
    assert_eq!(anonymous.headers()[CACHE_CONTROL], "no-store");

    let client = browser();
    let home = log_in(&app, &client, "private@example.com", PASSWORD).await;
    let page = client.get(app.url(&home)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store", "{home}");
}

/// A login form sent through a proxy that says it forwarded `client`.
async fn login_via(app: &TestApp, client: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", client)
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_eleventh_wrong_password_for_one_account_is_429_whatever_address_it_comes_from() {
    let app = spawn_app_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "10"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    app.resident("victim@example.com").await;
    app.resident("bystander@example.com").await;
    for i in 0..10 {
        let response = login_via(
            &app,
            &format!("203.0.113.{i}"),
            "victim@example.com",
            "guess",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }

    let eleventh = login_via(&app, "198.51.100.7", "Victim@Example.com", "guess").await;
    assert!(eleventh.headers().contains_key("retry-after"));
    let detail = assert_error(eleventh, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(detail.contains("Too many"), "{detail}");
    let other = login_via(&app, "203.0.113.1", "bystander@example.com", "guess").await;
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "another account is not locked"
    );
}

#[tokio::test]
async fn successful_logins_do_not_count_as_failures() {
    let app = spawn_app_with(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", "3"),
        ("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "3"),
    ])
    .await;
    for _ in 0..8 {
        assert_eq!(
            app.login_form(SUPER_EMAIL, SUPER_PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    for _ in 0..3 {
        let wrong = app.login_form(SUPER_EMAIL, "wrong").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(
        app.login_form(SUPER_EMAIL, "wrong").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    for (trusted, limited) in [("10.0.0.0/8", true), ("127.0.0.1", false)] {
        let app = spawn_app_with(&[
            ("AUTH_RATE_LIMIT_PER_MINUTE", "3"),
            ("TRUSTED_PROXIES", trusted),
        ])
        .await;
        let mut statuses = Vec::new();
        for i in 0..4 {
            let email = format!("nobody{i}@example.com");
            let response = login_via(&app, &format!("203.0.113.{i}"), &email, "guess").await;
            statuses.push(response.status());
        }
        let fourth = if limited {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                fourth
            ],
            "peer 127.0.0.1 with TRUSTED_PROXIES={trusted}"
        );
    }
}

mod raw {
    //! HTTP/1.1 spoken by hand, for what no well-behaved client sends.
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    pub fn server(app: &crate::helpers::TestApp) -> SocketAddr {
        app.address.trim_start_matches("http://").parse().unwrap()
    }

    /// A connection to `server` from the local address `from` (any 127.x.y.z is loopback).
    pub async fn connect(from: &str, server: SocketAddr) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
            .unwrap();
        socket.connect(server).await.unwrap()
    }

    /// Sends `request` and reads what comes back until the server closes or `wait` passes;
    /// None when the server kept the connection open and silent all along.
    pub async fn exchange(
        stream: &mut TcpStream,
        request: &[u8],
        wait: Duration,
    ) -> Option<String> {
        // The server may close before reading it all; what it answered is what counts.
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        match tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await {
            Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
            Err(_) => None,
        }
    }

    /// One complete response on a connection that stays open (keep-alive).
    pub async fn answer_one(stream: &mut TcpStream, request: &[u8]) -> String {
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
                .await
                .expect("an answer")
                .unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if body.len() >= length {
                    return text;
                }
            }
        }
    }

    pub const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
    pub const HEALTH_AND_CLOSE: &[u8] =
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_the_connection_is_closed() {
    let app = spawn_app_with(&[("BODY_READ_TIMEOUT_SECS", "1")]).await;
    let mut stream = raw::connect("127.0.0.1", raw::server(&app)).await;
    let headers_only = b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n\
        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":";
    let answer = raw::exchange(&mut stream, headers_only, Duration::from_secs(5))
        .await
        .expect("the server gives up on the body and closes the connection");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains("\"detail\""), "{answer}");
}

#[tokio::test]
async fn a_body_trickled_just_inside_the_pause_limit_still_ends_in_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&[("BODY_READ_TIMEOUT_SECS", "2")]).await;
    let stream = raw::connect("127.0.0.1", raw::server(&app)).await;
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let _ = writer
            .write_all(
                b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/json\r\nContent-Length: 500\r\n\r\n",
            )
            .await;
        // A byte each second: never silent for the 2 s the pause limit allows.
        for _ in 0..20 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), reader.read_to_end(&mut answer)).await;
    trickle.abort();
    assert!(
        read.is_ok(),
        "the trickled body held the connection past its overall limit"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_over_the_cap_from_one_address_are_refused_while_others_are_served() {
    let app = spawn_app_with(&[("MAX_CONNECTIONS_PER_ADDRESS", "3")]).await;
    let server = raw::server(&app);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = raw::connect("127.0.0.1", server).await;
        let answer = raw::answer_one(&mut stream, raw::HEALTH).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(stream);
    }

    let mut extra = raw::connect("127.0.0.1", server).await;
    let refused = raw::exchange(&mut extra, raw::HEALTH_AND_CLOSE, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(
        !refused.contains(" 200 "),
        "the fourth connection was served: {refused}"
    );
    assert!(
        refused.is_empty() || refused.starts_with("HTTP/1.1 429"),
        "{refused}"
    );

    let mut elsewhere = raw::connect("127.0.0.2", server).await;
    let served = raw::exchange(
        &mut elsewhere,
        raw::HEALTH_AND_CLOSE,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");

    drop(held.pop());
    // The server notices the close asynchronously; ask until the place is free again.
    let mut again = String::new();
    for _ in 0..100 {
        let mut stream = raw::connect("127.0.0.1", server).await;
        again = raw::exchange(&mut stream, raw::HEALTH_AND_CLOSE, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        if again.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        again.starts_with("HTTP/1.1 200"),
        "a closed connection frees its place: {again}"
    );
}

#[tokio::test]
async fn malformed_requests_and_oversized_headers_are_answered_in_the_detail_shape() {
    let app = spawn_app().await;
    let server = raw::server(&app);
    let malformed: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ];
    let mut huge = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Filler: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let cases = [
        (malformed[0], "400"),
        (malformed[1], "400"),
        (&huge[..], "431"),
    ];
    for (request, status) in cases {
        let mut stream = raw::connect("127.0.0.1", server).await;
        let answer = raw::exchange(&mut stream, request, Duration::from_secs(5))
            .await
            .expect("answered and closed");
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
        assert!(
            answer.contains("content-type: application/json"),
            "{answer}"
        );
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).expect(body);
        assert!(json["detail"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn a_socket_the_client_closes_gets_the_closing_handshake_back() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let app = spawn_app().await;
    let (_, token) = app.resident("socket@example.com").await;
    let url = format!("{}/ws?token={token}", app.address.replacen("http", "ws", 1));
    // At once (while the server waits for a resume message) and once the socket is live.
    for pause in [Duration::ZERO, Duration::from_millis(700)] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        tokio::time::sleep(pause).await;
        let bye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        ws.send(Message::Close(Some(bye))).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(frame))) => return Ok(frame),
                    Some(Ok(_)) => continue,
                    other => return Err(format!("{other:?}")),
                }
            }
        })
        .await
        .expect("answered in time");
        let frame = answer.unwrap_or_else(|e| panic!("no close frame after {pause:?}: {e}"));
        assert_eq!(frame.map(|f| f.code), Some(CloseCode::Normal));
    }
}
