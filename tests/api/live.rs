//! Live updates over WebSocket, as a client sees them.

use crate::classification::{app_with_llm, mock};
use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/ws?{query}", app.address.replacen("http", "ws", 1))
}

pub async fn connect(app: &TestApp, token: &str, extra: &str) -> Ws {
    let (ws, response) =
        tokio_tungstenite::connect_async(ws_url(app, &format!("token={token}&{extra}")))
            .await
            .expect("upgrade");
    assert_eq!(response.status(), 101);
    ws
}

/// The next text frame as JSON (pings and pongs are skipped).
pub async fn next(ws: &mut Ws) -> Value {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).unwrap_or(json!(text.as_str()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event in time")
}

/// Asserts that no text frame arrives for a while.
pub async fn quiet(ws: &mut Ws, wait: Duration) {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    };
    if let Ok(frame) = tokio::time::timeout(wait, read).await {
        panic!("expected nothing, got {frame:?}");
    }
}

/// The close frame the server sends, skipping whatever came before it.
pub async fn close_frame(ws: &mut Ws) -> Option<CloseFrame> {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("closed in time")
}

/// A WebSocket client that never answers a ping: the upgrade written by hand on a socket.
async fn silent_client(app: &TestApp, token: &str) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(host).await.unwrap();
    let upgrade = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(upgrade.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// Reads the server's frames on a [`silent_client`] until its close frame; its reason.
async fn raw_close_reason(tcp: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let (first, second) = (tcp.read_u8().await.unwrap(), tcp.read_u8().await.unwrap());
            let len = match second & 0x7f {
                126 => u64::from(tcp.read_u16().await.unwrap()),
                127 => tcp.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0; len as usize];
            tcp.read_exact(&mut payload).await.unwrap();
            if first & 0x0f == 0x8 {
                return String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("closed in time")
}

/// Waits past the server's short wait for a `resume` message, so the socket is live.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn anonymous_and_bad_credentials_are_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let (_, token) = app.resident("r@example.com").await;
    let cases = [
        (ws_url(&app, ""), 401),
        (ws_url(&app, "token=not.a.token"), 401),
        (ws_url(&app, &format!("token={token}&since=-4")), 422),
        (ws_url(&app, &format!("token={token}&since=abc")), 422),
    ];
    for (url, status) in cases {
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status, "{url}");
            }
            other => panic!("{url}: expected an HTTP refusal, got {other:?}"),
        }
    }
    // A plain GET without the upgrade headers is a clear 400.
    assert_error(
        app.get(Some(&token), "/ws").await,
        reqwest::StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn a_bearer_header_authenticates_too() {
    let app = spawn_app().await;
    let (_, token) = app.resident("r@example.com").await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url(
            &app, "",
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade with a bearer token");
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(next(&mut ws).await, json!("pong"));
}

#[tokio::test]
async fn owners_and_admins_follow_a_request_and_other_residents_see_nothing_of_it() {
    let llm = mock(vec![]);
    let app = app_with_llm(&llm, &[]).await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let mut owner_ws = connect(&app, &owner, "").await;
    let mut admin_ws = connect(&app, &admin, "").await;
    let mut other_ws = connect(&app, &other, "").await;
    settle().await;

    let request = app.submit(&owner, "전등이 깜빡입니다").await;
    let path = format!("/api/requests/{}", request["id"]);
    for ws in [&mut owner_ws, &mut admin_ws] {
        let created = next(ws).await;
        assert_eq!(created["type"], "new_request");
        assert_eq!(created["data"], request);
        let classified = next(ws).await;
        assert_eq!(classified["type"], "request_classified");
        assert_eq!(classified["data"]["classification_method"], "llm");
        assert!(classified["id"].as_i64() > created["id"].as_i64());
    }
    app.patch_json(Some(&admin), &path, &json!({"status": "in_progress"}))
        .await;
    for ws in [&mut owner_ws, &mut admin_ws] {
        let updated = next(ws).await;
        assert_eq!(updated["type"], "request_updated");
        assert_eq!(updated["data"]["status"], "in_progress");
    }
    // The other resident's first event is about their own request: nothing came before it.
    let theirs = app.submit(&other, "창문이 안 닫혀요").await;
    let first = next(&mut other_ws).await;
    assert_eq!(
        (first["type"].as_str(), &first["data"]["id"]),
        (Some("new_request"), &theirs["id"])
    );
    let second = next(&mut other_ws).await;
    assert_eq!(
        (second["type"].as_str(), &second["data"]["id"]),
        (Some("request_classified"), &theirs["id"])
    );

    app.delete(Some(&admin), &path).await;
    let deleted = next(&mut owner_ws).await;
    assert_eq!(deleted["type"], "request_deleted");
    assert_eq!(deleted["data"]["id"], request["id"]);
    quiet(&mut other_ws, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn reconnecting_with_since_delivers_exactly_the_missed_events_in_order() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let mut ws = connect(&app, &owner, "").await;
    settle().await;
    let request = app.submit(&owner, "전등이 깜빡입니다").await;
    let seen = next(&mut ws).await["id"].as_i64().unwrap();
    ws.close(None).await.unwrap();

    let path = format!("/api/requests/{}", request["id"]);
    for change in [
        json!({"status": "in_progress"}),
        json!({"priority": "high"}),
        json!({"status": "completed"}),
    ] {
        assert_eq!(
            app.patch_json(Some(&admin), &path, &change).await.status(),
            200
        );
    }
    let mut ws = connect(&app, &owner, &format!("since={seen}")).await;
    let missed = [
        next(&mut ws).await,
        next(&mut ws).await,
        next(&mut ws).await,
    ];
    let ids: Vec<i64> = missed.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [seen + 1, seen + 2, seen + 3]);
    assert!(missed.iter().all(|e| e["type"] == "request_updated"));
    assert_eq!(missed[2]["data"]["status"], "completed");
    quiet(&mut ws, Duration::from_millis(300)).await;

    // The same through a first `resume` message instead of the query.
    let mut ws = connect(&app, &owner, "").await;
    ws.send(Message::text(
        json!({"type": "resume", "since": seen + 1}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["id"].as_i64(), Some(seen + 2));
    assert_eq!(next(&mut ws).await["id"].as_i64(), Some(seen + 3));
    quiet(&mut ws, Duration::from_millis(300)).await;
}

/// Requests keep arriving while a client replays what it missed: the replay and the live
/// stream must join with no gap and no repeat.
#[tokio::test]
async fn replay_and_live_events_join_without_gap_or_repeat_under_concurrent_writes() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("admin@example.com").await;
    let (_, resident) = app.resident("r@example.com").await;
    for n in 0..20 {
        app.submit(&resident, &format!("{n}번 전등이 깜빡입니다"))
            .await;
    }
    let writer = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/requests"),
            resident.clone(),
        );
        tokio::spawn(async move {
            for n in 0..60 {
                let body = json!({"description": format!("동시 요청 {n}")});
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let mut ws = connect(&app, &admin, "since=0").await;
    let mut ids = Vec::new();
    while ids.len() < 80 {
        ids.push(next(&mut ws).await["id"].as_i64().unwrap());
    }
    writer.await.unwrap();
    let expected: Vec<i64> = (1..=80).collect();
    assert_eq!(ids, expected, "every event once, in order");
    quiet(&mut ws, Duration::from_millis(300)).await;
}

/// Creates sent all at once are committed together by the one writer (group commit): every
/// one answered 200 is stored, and the live events arrive once each, with gap-free ids, in
/// the order the requests were committed (their ids).
#[tokio::test]
async fn concurrent_creates_all_commit_and_their_events_arrive_in_commit_order() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("admin@example.com").await;
    let mut residents = Vec::new();
    for n in 0..5 {
        residents.push(app.resident(&format!("r{n}@example.com")).await.1);
    }
    let mut ws = connect(&app, &admin, "").await;
    settle().await;

    let app = &app;
    let creates = residents.iter().flat_map(|token| {
        (0..20).map(move |n| async move {
            let body = json!({"description": format!("{n}층 복도 전등이 나갔어요")});
            let response = app.post_json(Some(token), "/api/requests", &body).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        })
    });
    let mut created: Vec<i64> = futures_util::future::join_all(creates).await;
    created.sort_unstable();
    created.dedup();
    assert_eq!(created.len(), 100, "one request per create");

    let mut events = Vec::new();
    while events.len() < 100 {
        let event = next(&mut ws).await;
        assert_eq!(event["type"], "new_request");
        events.push((
            event["id"].as_i64().unwrap(),
            event["data"]["id"].as_i64().unwrap(),
        ));
    }
    quiet(&mut ws, Duration::from_millis(300)).await;
    let first = events[0].0;
    let ids: Vec<i64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (first..first + 100).collect::<Vec<_>>(),
        "gap-free, in order"
    );
    let requests: Vec<i64> = events.iter().map(|(_, request)| *request).collect();
    assert_eq!(
        requests, created,
        "each request once, in the order of its commit"
    );

    let listed = app.get(Some(&admin), "/api/requests?limit=1000").await;
    assert_eq!(listed.headers()["x-total-count"], "100");
}

/// A client that stops reading is closed with a reason naming where to resume; the others
/// keep receiving everything.
#[tokio::test]
async fn a_slow_consumer_is_closed_and_the_others_keep_receiving() {
    let app = spawn_app_with(&[("WS_BUFFER", "8"), ("WS_SEND_TIMEOUT_SECS", "1")]).await;
    let (_, admin) = app.admin("admin@example.com").await;
    let (_, resident) = app.resident("r@example.com").await;

    // A small receive buffer on the slow client so the server's sends back up quickly.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    socket.connect(&address.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream.set_nonblocking(true).unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(
        ws_url(&app, &format!("token={admin}")),
        TcpStream::from_std(stream).unwrap(),
    )
    .await
    .unwrap();
    let mut fast = connect(&app, &admin, "").await;
    settle().await;

    // Enough data (about 5 MB) to fill the kernel's socket buffers on both sides.
    let total = 400;
    let reader = tokio::spawn(async move {
        let mut received = 0;
        while received < total {
            if next(&mut fast).await["type"] == "new_request" {
                received += 1;
            }
        }
        received
    });
    let long = "배관 점검 부탁드립니다 ".repeat(400);
    for n in 0..total {
        let description: String = format!("{n} {long}").chars().take(5000).collect();
        app.submit(&resident, &description).await;
    }
    assert_eq!(
        reader.await.unwrap(),
        total,
        "the fast client got every event"
    );

    // The slow client finds, after whatever it had buffered, a close frame telling it where to resume.
    let drain = async {
        let mut events = 0;
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(_))) => events += 1,
                Some(Ok(Message::Close(Some(frame)))) => return (events, Some(frame)),
                Some(Ok(_)) => {}
                _ => return (events, None),
            }
        }
    };
    let (events, close) = tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .expect("closed in time");
    assert!(
        events < total,
        "the slow client cannot have received everything ({events})"
    );
    let close = close.expect("a close frame with a reason");
    assert_eq!(close.code, CloseCode::Policy);
    assert!(close.reason.contains("since="), "{}", close.reason);
}

#[tokio::test]
async fn text_ping_gets_pong_and_a_silent_client_is_dropped() {
    let app = spawn_app_with(&[
        ("WS_PING_INTERVAL_SECS", "1"),
        ("WS_PONG_TIMEOUT_SECS", "2"),
    ])
    .await;
    let (_, token) = app.resident("r@example.com").await;
    let mut alive = connect(&app, &token, "").await;
    alive.send(Message::text("ping")).await.unwrap();
    assert_eq!(next(&mut alive).await, json!("pong"));

    // A client library answers pings whenever it reads, so the silent client is a socket
    // with the handshake done by hand, which never does.
    let mut silent = silent_client(&app, &token).await;
    let keep_alive = async {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(3500);
        while tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(100), alive.next()).await;
        }
        alive
    };
    let (mut alive, ()) = tokio::join!(keep_alive, tokio::time::sleep(Duration::from_millis(3500)));
    let reason = raw_close_reason(&mut silent).await;
    assert!(reason.contains("ping"), "{reason}");
    alive.send(Message::text("ping")).await.unwrap();
    assert_eq!(
        next(&mut alive).await,
        json!("pong"),
        "the answering client is still connected"
    );
}

#[tokio::test]
async fn resuming_from_before_the_retained_events_asks_for_a_resync() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("admin@example.com").await;
    for n in 0..5 {
        app.submit(&admin, &format!("{n}번 전등")).await;
    }
    // Pruning removed the first three events.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute("DELETE FROM events WHERE id <= 3", [])
        .unwrap();
    let mut ws = connect(&app, &admin, "since=1").await;
    assert_eq!(next(&mut ws).await, json!({"type": "resync"}));
    app.submit(&admin, "새 요청").await;
    assert_eq!(
        next(&mut ws).await["id"].as_i64(),
        Some(6),
        "then live events"
    );

    let mut current = connect(&app, &admin, "since=4").await;
    assert_eq!(
        next(&mut current).await["id"].as_i64(),
        Some(5),
        "nothing pruned after 4: a normal replay"
    );
    let mut future = connect(&app, &admin, "since=999").await;
    assert_eq!(next(&mut future).await, json!({"type": "resync"}));
}

#[tokio::test]
async fn a_role_change_closes_the_accounts_sockets_and_the_next_login_sees_by_the_new_role() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    let (id, staff) = app.resident("soon-staff@example.com").await;
    let (_, resident) = app.resident("r@example.com").await;
    let mut ws = connect(&app, &staff, "").await;
    settle().await;
    app.submit(&resident, "보일러가 고장났어요").await;
    quiet(&mut ws, Duration::from_millis(300)).await;

    // No event needed: the change itself closes the socket.
    app.set_role(&root, id, "admin").await;
    let closed = close_frame(&mut ws).await;
    assert!(closed.is_some_and(|f| f.reason.contains("session ended")));
    let staff = app.token("soon-staff@example.com", PASSWORD).await;
    let mut ws = connect(&app, &staff, "").await;
    settle().await;
    let request = app.submit(&resident, "변기가 막혔어요").await;
    assert_eq!(
        next(&mut ws).await["data"]["id"],
        request["id"],
        "promoted: sees everyone's requests"
    );

    app.delete(Some(&root), &format!("/api/admin/users/{id}"))
        .await;
    let closed = close_frame(&mut ws).await;
    assert!(closed.is_some_and(|f| f.reason.contains("session ended")));
}

#[tokio::test]
async fn shutting_down_closes_sockets_with_going_away() {
    let app = spawn_app().await;
    let (_, token) = app.resident("r@example.com").await;
    let mut ws = connect(&app, &token, "").await;
    settle().await;
    let stopping = tokio::spawn(async move {
        app.stop().await;
    });
    let frame = close_frame(&mut ws).await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Away);
    stopping.await.unwrap();
}
