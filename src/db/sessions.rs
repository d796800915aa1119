//! SQL for sessions: the server-side record every token names.

use super::users::{USER_COLUMNS_OF_U, user_from_row};
use crate::errors::AppError;
use crate::ids::{Timestamp, UserId};
use crate::model::User;
use rusqlite::{Connection, OptionalExtension, params};

/// Records a new session; false when the account is gone, or its sessions were all ended
/// at or after `begun_at` (Unix microseconds: when the login's password check began).
pub fn insert(
    conn: &Connection,
    id: &str,
    user: UserId,
    kind: &str,
    expires_at: i64,
    begun_at: i64,
) -> Result<bool, AppError> {
    let inserted = conn.execute(
        "INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
         SELECT ?1, id, ?3, ?4, ?5 FROM users WHERE id = ?2 AND sessions_revoked_at < ?6",
        params![id, user, kind, Timestamp::now(), expires_at, begun_at],
    )?;
    Ok(inserted == 1)
}

/// Now, in the unit of `sessions_revoked_at`.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The account behind a live session of this kind: None when the session was ended,
/// has expired, belongs to someone else, or its account is gone.
pub fn account(
    conn: &Connection,
    id: &str,
    user: UserId,
    kind: &str,
    now: i64,
) -> Result<Option<User>, AppError> {
    let sql = format!(
        "SELECT {USER_COLUMNS_OF_U} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?1 AND s.user_id = ?2 AND s.kind = ?3 AND s.expires_at > ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params![id, user, kind, now], user_from_row)
        .optional()?)
}

/// One live session of an account, as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    /// `api` or `page`.
    pub kind: String,
    pub created_at: Timestamp,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The account's sessions that have not expired by `now`, newest first.
pub fn list_for_user(
    conn: &Connection,
    user: UserId,
    now: i64,
) -> Result<Vec<SessionRow>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, created_at, expires_at FROM sessions
         WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at DESC, id",
    )?;
    let rows = stmt
        .query_map(params![user, now], |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Ends one session; false when it did not exist.
pub fn delete(conn: &Connection, id: &str) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM sessions WHERE id = ?1", [id])? == 1)
}

/// Ends every session of an account; returns how many there were.
pub fn delete_for_user(conn: &Connection, user: UserId) -> Result<usize, AppError> {
    conn.execute(
        "UPDATE users SET sessions_revoked_at = ?2 WHERE id = ?1",
        params![user, now_micros()],
    )?;
    Ok(conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user])?)
}

/// Forgets sessions that expired before `now`.
pub fn prune_expired(conn: &Connection, now: i64) -> Result<usize, AppError> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?)
}
