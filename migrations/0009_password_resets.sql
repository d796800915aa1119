-- Password reset links. The link carries a random token; only its SHA-256 is kept here, so
-- the table (or a copy of the database) opens no account. A link works once, until
-- `expires_at`; using it, or any other password change, marks every open link of the account
-- used. Rows stay a day after they expire: the links mailed in the last hour are counted
-- against the per-account limit.
CREATE TABLE password_resets (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'email': requested on /password-reset and mailed; 'admin': issued by a super admin.
    via        TEXT    NOT NULL CHECK (via IN ('email', 'admin')),
    created_at TEXT    NOT NULL,
    -- Unix seconds.
    expires_at INTEGER NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;

CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
CREATE INDEX password_resets_expires ON password_resets (expires_at);
