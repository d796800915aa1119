-- Idempotency-Key on POST /api/requests: the first answer to each key, per account, kept
-- 24 hours so that a retry gets it back instead of creating a duplicate. Rows go with the
-- account and with the request they created.
CREATE TABLE idempotency_keys (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_id  INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    -- The submitted fields, to tell a retry from a different submission under the same key.
    fingerprint TEXT    NOT NULL,
    response    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_by_request ON idempotency_keys (request_id);
