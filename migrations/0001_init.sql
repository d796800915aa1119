-- Accounts, maintenance requests and their history.
-- Enum columns carry CHECK constraints so no value outside the contract can be stored.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    full_name       TEXT,
    hashed_password TEXT    NOT NULL,
    role            TEXT    NOT NULL DEFAULT 'user'
                    CHECK (role IN ('user', 'admin', 'super_admin')),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

CREATE INDEX users_role ON users (role);

CREATE TABLE requests (
    id           INTEGER PRIMARY KEY,
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
    updated_at   TEXT    NOT NULL
);

-- The list queries: a resident's own requests, and the admin list by status or unfiltered,
-- all newest first. id breaks ties between requests created in the same microsecond.
CREATE INDEX requests_owner_created  ON requests (user_id, created_at DESC, id DESC);
CREATE INDEX requests_status_created ON requests (status, created_at DESC, id DESC);
CREATE INDEX requests_created        ON requests (created_at DESC, id DESC);
CREATE INDEX requests_category       ON requests (category, created_at DESC, id DESC);
CREATE INDEX requests_priority       ON requests (priority, created_at DESC, id DESC);

-- An audit trail: who changed what, when. No foreign key on request_id so the
-- 'deleted' entry outlives the request it describes.
CREATE TABLE request_history (
    id         INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL,
    actor_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT    NOT NULL
               CHECK (action IN ('created', 'status_changed', 'reclassified', 'deleted')),
    field      TEXT    CHECK (field IS NULL OR field IN ('status', 'category', 'priority')),
    old_value  TEXT,
    new_value  TEXT,
    created_at TEXT    NOT NULL
);

CREATE INDEX request_history_request ON request_history (request_id, id);
