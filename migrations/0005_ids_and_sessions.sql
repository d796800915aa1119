-- Ids are never reused, and tokens name a server-side session that can be ended.
--
-- users and requests are rebuilt with AUTOINCREMENT (SQLite cannot add it in place): without
-- it, deleting the newest row let the next insert take its id, so a deleted account's token
-- acted as the next account and a new request inherited a deleted one's history and events.
-- The migration runner turns foreign keys off around this migration (dropping a parent table
-- with them on would cascade) and checks them before it commits.

CREATE TABLE users_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    full_name       TEXT,
    hashed_password TEXT    NOT NULL,
    role            TEXT    NOT NULL DEFAULT 'user'
                    CHECK (role IN ('user', 'admin', 'super_admin')),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    -- When all of the account's sessions last ended (Unix microseconds): a login that began
    -- before then (its password check was already under way) gets no session.
    sessions_revoked_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_rebuilt (id, email, full_name, hashed_password, role, created_at, updated_at)
SELECT id, email, full_name, hashed_password, role, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_role ON users (role);

CREATE TABLE requests_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description  TEXT    NOT NULL CHECK (length(description) BETWEEN 1 AND 5000),
    location     TEXT    CHECK (location IS NULL OR length(location) <= 200),
    contact_info TEXT    CHECK (contact_info IS NULL OR length(contact_info) <= 200),
    category     TEXT    CHECK (category IS NULL OR category IN
                         ('electrical', 'plumbing', 'hvac', 'structural', 'other')),
    priority     TEXT    CHECK (priority IS NULL OR priority IN ('high', 'medium', 'low')),
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'in_progress', 'completed')),
    image_url    TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    classification_status TEXT NOT NULL DEFAULT 'done'
        CHECK (classification_status IN ('pending', 'done', 'failed')),
    classification_method TEXT
        CHECK (classification_method IS NULL OR classification_method IN ('keyword', 'llm', 'manual')),
    classification_confidence REAL
        CHECK (classification_confidence IS NULL OR classification_confidence BETWEEN 0 AND 1),
    classification_reason TEXT,
    classified_at TEXT,
    image_file   TEXT,
    image_type   TEXT
        CHECK (image_type IS NULL OR image_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif'))
);
INSERT INTO requests_rebuilt
    (id, user_id, description, location, contact_info, category, priority, status, image_url,
     created_at, updated_at, classification_status, classification_method,
     classification_confidence, classification_reason, classified_at, image_file, image_type)
SELECT id, user_id, description, location, contact_info, category, priority, status, image_url,
       created_at, updated_at, classification_status, classification_method,
       classification_confidence, classification_reason, classified_at, image_file, image_type
FROM requests;
DROP TABLE requests;
ALTER TABLE requests_rebuilt RENAME TO requests;
CREATE INDEX requests_owner_created  ON requests (user_id, created_at DESC, id DESC);
CREATE INDEX requests_status_created ON requests (status, created_at DESC, id DESC);
CREATE INDEX requests_created        ON requests (created_at DESC, id DESC);
CREATE INDEX requests_category       ON requests (category, created_at DESC, id DESC);
CREATE INDEX requests_priority       ON requests (priority, created_at DESC, id DESC);

-- Ids already deleted before this migration may still be named by the event log, the history
-- or tokens: start both sequences above every id anything remembers.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'requests', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'requests');
UPDATE sqlite_sequence SET seq = max(seq,
    (SELECT coalesce(max(id), 0) FROM users),
    (SELECT coalesce(max(owner_id), 0) FROM events),
    (SELECT coalesce(max(actor_id), 0) FROM request_history))
WHERE name = 'users';
UPDATE sqlite_sequence SET seq = max(seq,
    (SELECT coalesce(max(id), 0) FROM requests),
    (SELECT coalesce(max(request_id), 0) FROM events),
    (SELECT coalesce(max(request_id), 0) FROM request_history),
    (SELECT coalesce(max(request_id), 0) FROM classification_jobs))
WHERE name = 'requests';

-- One row per signed-in client: a token names its session, and is valid only while the row
-- exists and has not expired. Logging out deletes the row; a password change, a role change
-- or deleting the account deletes all of the account's rows.
CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('api', 'page')),
    created_at TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
