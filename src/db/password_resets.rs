//! SQL for password reset links: only the SHA-256 of each link's token is stored.

use super::users::{USER_COLUMNS_OF_U, user_from_row};
use crate::errors::AppError;
use crate::ids::{Timestamp, UserId};
use crate::model::User;
use rusqlite::{Connection, OptionalExtension, params};

/// Rows are forgotten this long after they expire.
const KEEP_EXPIRED_SECS: i64 = 24 * 3600;

/// Who made a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Requested on the page and mailed.
    Email,
    /// Issued by a super admin.
    Admin,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Email => "email",
            Via::Admin => "admin",
        }
    }
}

/// Records a new link for `user`, valid until `expires_at` (Unix seconds); the account's
/// earlier links are used up, so only the newest one works.
pub fn insert(
    conn: &Connection,
    token_hash: &str,
    user: UserId,
    via: Via,
    expires_at: i64,
) -> Result<(), AppError> {
    consume_all(conn, user)?;
    conn.execute(
        "INSERT INTO password_resets (token_hash, user_id, via, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, user, via.as_str(), Timestamp::now(), expires_at],
    )?;
    Ok(())
}

/// How many links were mailed to `user` since `since`, used or not.
pub fn mailed_since(conn: &Connection, user: UserId, since: Timestamp) -> Result<u64, AppError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM password_resets WHERE user_id = ?1 AND via = 'email' AND created_at > ?2",
        params![user, since],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Forgets links that expired more than a day before `now` (Unix seconds).
pub fn prune(conn: &Connection, now: i64) -> Result<usize, AppError> {
    Ok(conn.execute(
        "DELETE FROM password_resets WHERE expires_at < ?1",
        [now - KEEP_EXPIRED_SECS],
    )?)
}

/// The account an unused, unexpired link opens.
pub fn account(conn: &Connection, token_hash: &str, now: i64) -> Result<Option<User>, AppError> {
    let sql = format!(
        "SELECT {USER_COLUMNS_OF_U} FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = ?1 AND r.used_at IS NULL AND r.expires_at > ?2"
    );
    Ok(conn
        .query_row(&sql, params![token_hash, now], user_from_row)
        .optional()?)
}

/// Marks an unused, unexpired link used and returns its account; None when it was not
/// (unknown, used or expired), so of two uses at once only one gets the account.
pub fn claim(conn: &Connection, token_hash: &str, now: i64) -> Result<Option<UserId>, AppError> {
    Ok(conn
        .query_row(
            "UPDATE password_resets SET used_at = ?3
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING user_id",
            params![token_hash, now, Timestamp::now()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Marks every open link of an account used (its password changed).
pub fn consume_all(conn: &Connection, user: UserId) -> Result<usize, AppError> {
    Ok(conn.execute(
        "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user, Timestamp::now()],
    )?)
}
