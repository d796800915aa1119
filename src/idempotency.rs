//! `Idempotency-Key` on submissions: a retry with the same key by the same account within
//! 24 hours gets the first answer back instead of creating a duplicate.
//!
//! The lookup, the insert and the stored answer share one write transaction, and SQLite
//! runs write transactions one at a time, so concurrent retries create one request.

use crate::accounts::User;
use crate::classify;
use crate::db::{self, idempotency::StoredAnswer};
use crate::errors::AppError;
use crate::events::Event;
use crate::ids::Timestamp;
use crate::requests::NewRequest;
use crate::state::AppState;

/// The request header clients send.
pub const HEADER: &str = "Idempotency-Key";
/// How long a key's first answer is kept.
pub const RETENTION_HOURS: i64 = 24;
pub const KEY_MAX_BYTES: usize = 255;

/// A client's key: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, AppError> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        let key = std::str::from_utf8(raw).unwrap_or_default().trim();
        if !printable || key.is_empty() || key.len() > KEY_MAX_BYTES {
            return Err(AppError::invalid(
                HEADER,
                format!("{HEADER} must be 1 to {KEY_MAX_BYTES} printable ASCII characters"),
            ));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }
}

/// The answer to a submission: the request as JSON, and whether it is a replay.
pub struct Submitted {
    pub body: String,
    pub replayed: bool,
}

/// Submits `new` for `owner` once per key; a retry gets the first answer's body.
/// The same key with different fields is refused with 422.
pub async fn submit_once(
    state: &AppState,
    owner: &User,
    new: NewRequest,
    key: IdempotencyKey,
) -> Result<Submitted, AppError> {
    let fingerprint = serde_json::json!([new.description, new.location, new.contact_info]);
    let fingerprint = fingerprint.to_string();
    let classification = classify::offline(&new.description);
    let owner = owner.id;
    let refine = state.queue.refines();
    let (submitted, created) = state
        .db
        .write(&state.events, move |tx| {
            let now = Timestamp::now();
            let cutoff = Timestamp(now.0 - chrono::Duration::hours(RETENTION_HOURS));
            db::idempotency::prune_answers(tx, cutoff)?;
            if let Some(first) = db::idempotency::find_answer(tx, owner, &key.0, cutoff)? {
                if first.fingerprint != fingerprint {
                    return Err(AppError::invalid(
                        HEADER,
                        format!("this {HEADER} was already used for a different request"),
                    ));
                }
                let replay = Submitted {
                    body: first.response,
                    replayed: true,
                };
                return Ok(((replay, None), Vec::new()));
            }
            let request = db::requests::insert_request(tx, owner, &new, &classification, refine)?;
            let answer = StoredAnswer {
                fingerprint,
                response: serde_json::to_string(&request).map_err(AppError::internal)?,
            };
            db::idempotency::insert_answer(tx, owner, &key.0, request.id, &answer, now)?;
            let submitted = Submitted {
                body: answer.response,
                replayed: false,
            };
            Ok((
                (submitted, Some(request.id)),
                vec![Event::NewRequest(request)],
            ))
        })
        .await?;
    if let Some(id) = created {
        state.queue.enqueue(id);
    }
    Ok(submitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_printable_ascii() {
        assert!(IdempotencyKey::parse(b"3f2a9c1d-7b6e-4c1a-9d2e-0a1b2c3d4e5f").is_ok());
        assert_eq!(
            IdempotencyKey::parse(b"  retry-1 ").unwrap(),
            IdempotencyKey("retry-1".into())
        );
        for bad in [&b""[..], b"   ", b"a\tb", "키".as_bytes(), &[b'a'; 256]] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
