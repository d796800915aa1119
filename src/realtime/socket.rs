//! `GET /ws`: authenticated, scoped, resumable live updates.
//!
//! Authentication happens before the upgrade. The socket subscribes to live
//! events *before* it reads any missed event from the database, so nothing
//! committed in between is lost; live events whose id it has already sent are
//! skipped, so nothing is repeated. A resident sees only events about their own
//! requests; staff see all. A socket that falls too far behind is closed with a
//! reason naming the id to resume from, so one slow phone never holds up others.

use crate::auth::extract::bearer_token;
use crate::auth::{SessionKind, origin, session_cookie_value, sessions};
use crate::config::LiveConfig;
use crate::db;
use crate::errors::AppError;
use crate::events::StoredEvent;
use crate::ids::UserId;
use crate::state::AppState;
use crate::telemetry::metrics::{self, OpenSocket};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::Instrument;

/// How long a new socket without `?since=` waits for a `{"type": "resume"}` first message.
const RESUME_WAIT: Duration = Duration::from_millis(500);
/// How long a closing socket waits for room to send its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(30);
/// Missed events are read from the database this many at a time.
const REPLAY_PAGE: usize = 500;

#[derive(Deserialize)]
pub struct ConnectQuery {
    token: Option<String>,
    since: Option<String>,
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    since: Option<i64>,
}

pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<ConnectQuery>,
) -> Result<HttpResponse, AppError> {
    // A token in the query or a Bearer header is an API session; the page cookie is a page
    // session, which the browser attaches on its own: such a socket must come from our own
    // origin, or a page elsewhere could read everything through a logged-in browser.
    let (token, kind) = match query.token.clone().or_else(|| bearer_token(&req)) {
        Some(token) => (token, SessionKind::Api),
        None => {
            let token = session_cookie_value(&req, &state.config)
                .ok_or_else(|| AppError::Unauthorized("Not authenticated".into()))?;
            if origin::is_cross_origin(&req, &state.config) {
                return Err(AppError::Forbidden(
                    "WebSocket from another origin refused".into(),
                ));
            }
            (token, SessionKind::Page)
        }
    };
    let session = sessions::resolve(&state, &token, kind).await?;
    let user = session.user.clone();
    let since =
        match query.since.as_deref() {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                AppError::invalid("since", "since must be a non-negative event id")
            })?),
        };
    // Subscribe before anything is read from the database: see the module comment.
    let events = state.events.subscribe();
    let (response, ws_session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| AppError::BadRequest(format!("expected a WebSocket upgrade: {e}")))?;
    let socket = LiveSocket {
        photo_base: crate::links::public_base(&req, &state.config),
        state: state.into_inner(),
        user: user.id,
        staff: user.role.is_staff(),
        login: session.id,
        kind,
        expires_at: session.expires_at,
        last_id: 0,
        session: ws_session,
        _open: OpenSocket::count(),
    };
    // The socket's log lines carry the id of the request that opened it.
    actix_web::rt::spawn(
        socket
            .run(stream, events, since)
            .instrument(tracing::Span::current()),
    );
    Ok(response)
}

struct LiveSocket {
    state: Arc<AppState>,
    user: UserId,
    staff: bool,
    /// The login session the socket was opened with: when it ends or expires, the socket closes.
    login: String,
    kind: SessionKind,
    /// Unix seconds.
    expires_at: i64,
    /// The newest event id sent or passed over; anything at or below it is not sent again.
    last_id: i64,
    session: Session,
    /// Where photo links sent on this socket point: `PUBLIC_URL`, or the upgrade's own host.
    photo_base: String,
    /// Counts the socket among the open ones while it lives.
    _open: OpenSocket,
}

/// Why a socket stops.
enum Stop {
    /// The client left, or the connection broke.
    Gone,
    Close(CloseCode, String),
}

impl Stop {
    /// The client closed: answer with its own code, as the closing handshake asks.
    fn answering(reason: Option<CloseReason>) -> Stop {
        Stop::Close(reason.map_or(CloseCode::Normal, |r| r.code), String::new())
    }

    fn malformed() -> Stop {
        Stop::Close(CloseCode::Protocol, "malformed frame".into())
    }
}

impl LiveSocket {
    fn settings(&self) -> &LiveConfig {
        &self.state.config.live
    }

    async fn run(
        mut self,
        mut stream: MessageStream,
        mut events: broadcast::Receiver<Arc<StoredEvent>>,
        since: Option<i64>,
    ) {
        // Subscribed before the replay, so a change during it is not missed.
        let mut account_changes = self.state.account_changes.subscribe();
        let stop = match self.start(&mut stream, since).await {
            Ok(()) => {
                self.live(&mut stream, &mut events, &mut account_changes)
                    .await
            }
            Err(stop) => stop,
        };
        // Stop holding a place in the event stream while waiting to say goodbye.
        drop(events);
        if let Stop::Close(code, reason) = stop {
            tracing::debug!(user_id = %self.user, %reason, "closing a live socket");
            let close = self.session.close(Some(CloseReason {
                code,
                description: Some(reason),
            }));
            // A slow client gets a while to read its way to the close frame, then is dropped.
            let _ = tokio::time::timeout(CLOSE_WAIT, close).await;
        }
    }

    /// Sends what the client missed: after `?since=`, or after the `since` of a first `resume` message.
    async fn start(&mut self, stream: &mut MessageStream, since: Option<i64>) -> Result<(), Stop> {
        // Read before waiting for a resume message: events committed during the wait are
        // then above `latest`, and reach a client that does not resume as live events.
        let (oldest, latest) = self.read(|conn| db::events::bounds(conn)).await?;
        let since = match since {
            Some(since) => Some(since),
            None => match tokio::time::timeout(RESUME_WAIT, stream.recv()).await {
                Err(_) => None,
                Ok(None) => return Err(Stop::Gone),
                Ok(Some(Err(_))) => return Err(Stop::malformed()),
                Ok(Some(Ok(message))) => self.first_message(message).await?,
            },
        };
        let Some(since) = since else {
            self.last_id = latest;
            return Ok(());
        };
        // Events after `since` were pruned, or `since` comes from another installation.
        let pruned =
            oldest.is_some_and(|oldest| since + 1 < oldest) || (oldest.is_none() && since < latest);
        if pruned || since > latest {
            self.last_id = latest;
            return self.send(r#"{"type":"resync"}"#.into()).await;
        }
        self.last_id = since;
        loop {
            let (after, owner) = (self.last_id, (!self.staff).then_some(self.user));
            let page = self
                .read(move |conn| db::events::after(conn, after, owner, REPLAY_PAGE))
                .await?;
            let done = page.len() < REPLAY_PAGE;
            for event in page {
                self.last_id = event.id;
                self.send(self.frame_of(&event)).await?;
                metrics::events_delivered(1);
            }
            if done {
                return Ok(());
            }
        }
    }

    async fn first_message(&mut self, message: Message) -> Result<Option<i64>, Stop> {
        match message {
            Message::Text(text) => {
                if let Ok(ClientMessage {
                    kind,
                    since: Some(since),
                }) = serde_json::from_str(&text)
                    && kind == "resume"
                {
                    return Ok(Some(since.max(0)));
                }
                self.answer(&text).await?;
                Ok(None)
            }
            Message::Close(reason) => Err(Stop::answering(reason)),
            _ => Ok(None),
        }
    }

    async fn live(
        &mut self,
        stream: &mut MessageStream,
        events: &mut broadcast::Receiver<Arc<StoredEvent>>,
        account_changes: &mut broadcast::Receiver<UserId>,
    ) -> Stop {
        let settings = self.settings().clone();
        let mut ping = tokio::time::interval(Duration::from_secs(settings.ping_interval_secs));
        ping.tick().await;
        let mut last_heard = Instant::now();
        let mut shutdown = self.state.shutdown.clone();
        let now = chrono::Utc::now().timestamp();
        let expiry = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(self.expires_at - now).unwrap_or(0));
        let expired = tokio::time::sleep_until(expiry);
        tokio::pin!(expired);
        loop {
            let result = tokio::select! {
                () = &mut expired => Err(Stop::Close(CloseCode::Policy, "session expired; log in again".into())),
                changed = account_changes.recv() => match changed {
                    Ok(account) if account != self.user => Ok(()),
                    // This account changed, or too many changed to tell: recheck.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.recheck_session().await,
                    Err(RecvError::Closed) => Ok(()),
                },
                event = events.recv() => match event {
                    Ok(event) => self.forward(&event).await,
                    Err(RecvError::Lagged(missed)) => Err({
                        metrics::events_dropped(missed);
                        Stop::Close(
                        CloseCode::Policy,
                        format!("too slow to keep up; reconnect with since={}", self.last_id),
                    )}),
                    Err(RecvError::Closed) => Err(Stop::Close(CloseCode::Away, "server shutting down".into())),
                },
                message = stream.recv() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => self.answer(&text).await,
                        Some(Ok(Message::Ping(bytes))) => self.session.pong(&bytes).await.map_err(|_| Stop::Gone),
                        Some(Ok(Message::Close(reason))) => Err(Stop::answering(reason)),
                        Some(Err(_)) => Err(Stop::malformed()),
                        None => Err(Stop::Gone),
                        Some(Ok(_)) => Ok(()),
                    }
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > Duration::from_secs(settings.pong_timeout_secs) {
                        Err(Stop::Close(CloseCode::Away, "no answer to ping".into()))
                    } else {
                        // Sessions can also end in another process (`maintenance set-password`).
                        match self.recheck_session().await {
                            Ok(()) => self.session.ping(b"").await.map_err(|_| Stop::Gone),
                            Err(stop) => Err(stop),
                        }
                    }
                },
                _ = shutdown.wait_for(|stop| *stop) => Err(Stop::Close(CloseCode::Away, "server shutting down".into())),
            };
            if let Err(stop) = result {
                return stop;
            }
        }
    }

    /// Sends a live event if it is new to this socket and the user may see it.
    async fn forward(&mut self, event: &StoredEvent) -> Result<(), Stop> {
        if event.id <= self.last_id {
            return Ok(());
        }
        self.last_id = event.id;
        if self.staff || event.owner == self.user {
            self.send(self.frame_of(event)).await?;
            metrics::events_delivered(1);
        }
        Ok(())
    }

    /// The event's frame with its photo link, if any, signed now for this socket: stored
    /// events keep the unsigned path, so a replay never hands out a link that has expired.
    fn frame_of(&self, event: &StoredEvent) -> bytestring::ByteString {
        let now = chrono::Utc::now().timestamp();
        self.state
            .photo_links
            .signer(&self.photo_base, now)
            .frame(event)
    }

    /// Closes the socket when its session has ended; otherwise rereads the role.
    async fn recheck_session(&mut self) -> Result<(), Stop> {
        match sessions::still_valid(&self.state.db, &self.login, self.user, self.kind).await {
            Ok(Some(user)) => {
                self.staff = user.role.is_staff();
                Ok(())
            }
            Ok(None) => Err(Stop::Close(
                CloseCode::Policy,
                "session ended; log in again".into(),
            )),
            Err(_) => Err(Stop::Close(
                CloseCode::Error,
                "temporarily unavailable; reconnect".into(),
            )),
        }
    }

    /// Answers the application-level heartbeat; other text is ignored.
    async fn answer(&mut self, text: &str) -> Result<(), Stop> {
        if text.trim() == "ping" {
            self.send("pong".into()).await
        } else {
            Ok(())
        }
    }

    async fn send(&mut self, frame: bytestring::ByteString) -> Result<(), Stop> {
        let timeout = Duration::from_secs(self.settings().send_timeout_secs);
        match tokio::time::timeout(timeout, self.session.text(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => Err(Stop::Close(
                CloseCode::Policy,
                format!("too slow to keep up; reconnect with since={}", self.last_id),
            )),
        }
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, Stop> {
        self.state.db.run(work).await.map_err(|_| {
            Stop::Close(
                CloseCode::Error,
                "temporarily unavailable; reconnect".into(),
            )
        })
    }
}
