//! The idempotency_keys table: the first answer to each (account, key).

use crate::ids::{RequestId, Timestamp, UserId};
use rusqlite::{OptionalExtension, Transaction, params};

/// What the first submission under a key left.
pub struct StoredAnswer {
    pub fingerprint: String,
    pub response: String,
}

/// The answer stored for `key` of `owner` since `since`, if any.
pub fn find_answer(
    tx: &Transaction<'_>,
    owner: UserId,
    key: &str,
    since: Timestamp,
) -> rusqlite::Result<Option<StoredAnswer>> {
    tx.query_row(
        "SELECT fingerprint, response FROM idempotency_keys
         WHERE user_id = ?1 AND key = ?2 AND created_at >= ?3",
        params![owner, key, since],
        |row| {
            Ok(StoredAnswer {
                fingerprint: row.get(0)?,
                response: row.get(1)?,
            })
        },
    )
    .optional()
}

/// Records the answer to a first submission (replacing an expired one under the same key).
pub fn insert_answer(
    tx: &Transaction<'_>,
    owner: UserId,
    key: &str,
    request: RequestId,
    answer: &StoredAnswer,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO idempotency_keys
             (user_id, key, request_id, fingerprint, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            owner,
            key,
            request,
            answer.fingerprint,
            answer.response,
            now
        ],
    )?;
    Ok(())
}

/// Forgets every answer older than `before`; returns how many.
pub fn prune_answers(tx: &Transaction<'_>, before: Timestamp) -> rusqlite::Result<usize> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ?1",
        params![before],
    )
}
