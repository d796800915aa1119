//! SQL for accounts.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::User;
use crate::taxonomy::Role;
use rusqlite::{Connection, OptionalExtension, Row, params};

const USER_COLUMNS: &str = "id, email, full_name, role, created_at";
/// The same columns read from a query that calls the users table `u`.
pub(super) const USER_COLUMNS_OF_U: &str = "u.id, u.email, u.full_name, u.role, u.created_at";

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        full_name: row.get(2)?,
        role: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// Creates an account; a taken email is [`AppError::EmailTaken`].
pub fn insert_user(
    conn: &Connection,
    email: &str,
    full_name: Option<&str>,
    hashed_password: &str,
    role: Role,
) -> Result<User, AppError> {
    let now = Timestamp::now();
    let inserted = conn.query_row(
        &format!(
            "INSERT INTO users (email, full_name, hashed_password, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING {USER_COLUMNS}"
        ),
        params![email, full_name, hashed_password, role, now],
        user_from_row,
    );
    match inserted {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            Err(AppError::EmailTaken)
        }
        other => Ok(other?),
    }
}

/// The account with this id, if any.
pub fn find_user(conn: &Connection, id: UserId) -> Result<Option<User>, AppError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], user_from_row)
        .optional()?)
}

/// The account with this (normalised) email and its password hash, if any.
pub fn find_credentials(
    conn: &Connection,
    email: &str,
) -> Result<Option<(User, String)>, AppError> {
    let sql = format!("SELECT {USER_COLUMNS}, hashed_password FROM users WHERE email = ?1");
    let found = conn
        .prepare_cached(&sql)?
        .query_row([email], |row| Ok((user_from_row(row)?, row.get(5)?)))
        .optional()?;
    Ok(found)
}

/// The password hash of an account, if it exists.
pub fn password_hash(conn: &Connection, id: UserId) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row(
            "SELECT hashed_password FROM users WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

/// One page of accounts, oldest first, and how many there are in all (read in one
/// transaction, so the count agrees with the page); with `text`, only those whose email or
/// name contains it (ASCII letters in any case).
pub fn list_users(
    conn: &mut Connection,
    text: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<(Vec<User>, u64), AppError> {
    let tx = conn.transaction()?;
    // A NULL pattern matches every account.
    let pattern = text.map(super::like_pattern);
    let matching = "(?1 IS NULL OR email LIKE ?1 ESCAPE '\\' OR full_name LIKE ?1 ESCAPE '\\')";
    let total: i64 = tx
        .prepare_cached(&format!("SELECT count(*) FROM users WHERE {matching}"))?
        .query_row(params![pattern], |r| r.get(0))?;
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {matching} ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    );
    let users = tx
        .prepare_cached(&sql)?
        .query_map(params![pattern, limit, offset], user_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok((users, total as u64))
}

/// Changes an account's role and ends its sessions; None when the account does not exist.
pub fn set_role(conn: &Connection, id: UserId, role: Role) -> Result<Option<User>, AppError> {
    let sql = format!(
        "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1 RETURNING {USER_COLUMNS}"
    );
    let user = conn
        .prepare_cached(&sql)?
        .query_row(params![id, role, Timestamp::now()], user_from_row)
        .optional()?;
    if user.is_some() {
        super::sessions::delete_for_user(conn, id)?;
    }
    Ok(user)
}

/// The role of an account, if it exists.
pub fn role_of(conn: &Connection, id: UserId) -> Result<Option<Role>, AppError> {
    Ok(conn
        .prepare_cached("SELECT role FROM users WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// How many super admins there are.
pub fn count_super_admins(conn: &Connection) -> Result<u64, AppError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'super_admin'",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Replaces an account's password hash, ends all its sessions and uses up its open password
/// reset links; false when the account does not exist.
pub fn set_password_hash(
    conn: &Connection,
    id: UserId,
    hashed_password: &str,
) -> Result<bool, AppError> {
    let changed = conn.execute(
        "UPDATE users SET hashed_password = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, hashed_password, Timestamp::now()],
    )?;
    super::sessions::delete_for_user(conn, id)?;
    super::password_resets::consume_all(conn, id)?;
    Ok(changed == 1)
}

/// Sets (or, with None, clears) an account's name; None when the account does not exist.
pub fn set_full_name(
    conn: &Connection,
    id: UserId,
    full_name: Option<&str>,
) -> Result<Option<User>, AppError> {
    let sql = format!(
        "UPDATE users SET full_name = ?2, updated_at = ?3 WHERE id = ?1 RETURNING {USER_COLUMNS}"
    );
    Ok(conn
        .query_row(
            &sql,
            params![id, full_name, Timestamp::now()],
            user_from_row,
        )
        .optional()?)
}

/// The ids of an account's requests, oldest first.
pub fn request_ids_of(conn: &Connection, id: UserId) -> Result<Vec<RequestId>, AppError> {
    let mut stmt = conn.prepare("SELECT id FROM requests WHERE user_id = ?1 ORDER BY id")?;
    let ids = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

/// Removes an account (its sessions go by cascade); false when it did not exist. Its
/// requests must have been deleted first, each through the request path.
pub fn delete_user(conn: &Connection, id: UserId) -> Result<bool, AppError> {
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", [id])? == 1)
}

/// Whether any super admin account exists.
/// The emails of super admins whose password is disabled ('!' before the hash, as the import
/// leaves a published default), when no super admin has a usable one; empty otherwise.
pub fn super_admins_locked_out(conn: &Connection) -> Result<Vec<String>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT email FROM users WHERE role = 'super_admin'
           AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'super_admin'
                                                 AND substr(hashed_password, 1, 1) <> '!')
         ORDER BY id",
    )?;
    let emails = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(emails)
}

pub fn super_admin_exists(conn: &Connection) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'super_admin')",
        [],
        |r| r.get(0),
    )?)
}
