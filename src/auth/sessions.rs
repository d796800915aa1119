//! Sessions: every token names a row in the `sessions` table and is honoured only while
//! that row exists and has not expired. Logging out ends one session; a password change,
//! a role change or deleting the account ends all of the account's sessions at once.
//!
//! API tokens and page cookies are separate kinds, so a page cookie lifted from a browser
//! is no Bearer token, and an API token is no page session.

use crate::accounts::User;
use crate::db::{self, Db};
use crate::errors::AppError;
use crate::ids::{Timestamp, UserId};
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Which kind of client a session was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// A Bearer token from `POST /api/auth/login`.
    Api,
    /// The HttpOnly cookie of the web pages.
    Page,
}

impl SessionKind {
    /// As stored and as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Api => "api",
            SessionKind::Page => "page",
        }
    }

    fn parse(text: &str) -> Option<SessionKind> {
        match text {
            "api" => Some(SessionKind::Api),
            "page" => Some(SessionKind::Page),
            _ => None,
        }
    }
}

/// One live session of an account, as its owner sees it (the id stays on the server).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub kind: SessionKind,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The session this request came with.
    pub current: bool,
}

/// A live session and its account, as a request presents it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: User,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A newly started session and the token that carries it.
pub struct Issued {
    pub token: String,
    pub session: String,
    pub lifetime_secs: i64,
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// When a login begins (before its password check): a session is started for it only if
/// none of the account's sessions were ended since, so a login racing a password change or
/// "log out everywhere" does not outlive it.
#[derive(Debug, Clone, Copy)]
pub struct LoginBegun(i64);

impl LoginBegun {
    pub fn now() -> LoginBegun {
        LoginBegun(db::sessions::now_micros())
    }
}

/// Starts a session of `kind` for `user`, lasting `lifetime_secs`; 401 when the account
/// is gone or its sessions were ended after `begun`.
pub async fn start(
    state: &AppState,
    user: UserId,
    kind: SessionKind,
    lifetime_secs: i64,
    begun: LoginBegun,
) -> Result<Issued, AppError> {
    let id = random_id();
    let expires_at = chrono::Utc::now().timestamp() + lifetime_secs;
    let token = state
        .tokens
        .issue(user, &id, expires_at)
        .map_err(AppError::internal)?;
    let row = id.clone();
    let started = state
        .db
        .change(move |tx| db::sessions::insert(tx, &row, user, kind.as_str(), expires_at, begun.0))
        .await?;
    if !started {
        return Err(AppError::Unauthorized(
            "The account's sessions were ended while logging in; log in again".into(),
        ));
    }
    Ok(Issued {
        token,
        session: id,
        lifetime_secs,
    })
}

/// The session a token of `kind` carries; 401 when the token is bad, the session ended or
/// expired, or the account is gone.
pub async fn resolve(
    state: &AppState,
    token: &str,
    kind: SessionKind,
) -> Result<Session, AppError> {
    let invalid = || AppError::Unauthorized("Could not validate credentials".into());
    let claims = state.tokens.verify(token).map_err(|e| {
        tracing::debug!(error = %e, "refused a token");
        invalid()
    })?;
    let user = still_valid(&state.db, &claims.session, claims.user, kind)
        .await?
        .ok_or_else(invalid)?;
    Ok(Session {
        id: claims.session,
        user,
        expires_at: claims.expires_at,
    })
}

/// The account behind a session if the session is still live.
pub async fn still_valid(
    db: &Db,
    session: &str,
    user: UserId,
    kind: SessionKind,
) -> Result<Option<User>, AppError> {
    let session = session.to_owned();
    let now = chrono::Utc::now().timestamp();
    db.read(move |conn| db::sessions::account(conn, &session, user, kind.as_str(), now))
        .await
}

/// The account's live sessions, newest first; `current` marks the one with this id.
pub async fn list(
    db: &Db,
    user: UserId,
    current: Option<&str>,
) -> Result<Vec<SessionInfo>, AppError> {
    let now = chrono::Utc::now().timestamp();
    let rows = db
        .run(move |conn| db::sessions::list_for_user(conn, user, now))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(SessionInfo {
                kind: SessionKind::parse(&row.kind)?,
                created_at: row.created_at,
                expires_at: Timestamp(chrono::DateTime::from_timestamp(row.expires_at, 0)?),
                current: current == Some(row.id.as_str()),
            })
        })
        .collect())
}

/// Ends one session of `user` (logging out); sockets on it close.
pub async fn end(state: &AppState, user: UserId, session: &str) -> Result<(), AppError> {
    let session = session.to_owned();
    state
        .db
        .change(move |tx| db::sessions::delete(tx, &session))
        .await?;
    state.account_changes.record(user);
    Ok(())
}

/// Ends every session of an account, API tokens included, and uses up its open reset
/// links: a link mailed before "log out everywhere" must not outlive it.
pub async fn end_all(db: &Db, user: UserId) -> Result<usize, AppError> {
    db.change(move |tx| {
        let ended = db::sessions::delete_for_user(tx, user)?;
        db::password_resets::consume_all(tx, user)?;
        Ok(ended)
    })
    .await
}

/// Forgets expired sessions hourly, until shutdown.
pub async fn prune_expired(db: Db, shutdown: watch::Receiver<bool>) {
    crate::periodic::every(Duration::from_secs(3600), shutdown, || {
        let db = db.clone();
        async move {
            let now = chrono::Utc::now().timestamp();
            match db
                .change(move |tx| db::sessions::prune_expired(tx, now))
                .await
            {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "forgot expired sessions"),
                Err(e) => tracing::warn!(error = %e, "could not prune sessions"),
            }
        }
    })
    .await
}
