-- The event log behind live updates. Each change writes its event in the same transaction,
-- so ids follow commit order without gaps; AUTOINCREMENT never reuses an id, even after
-- pruning has emptied the table.

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT    NOT NULL CHECK (type IN
               ('new_request', 'request_updated', 'request_classified', 'request_deleted', 'comment_added')),
    request_id INTEGER NOT NULL,
    owner_id   INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

-- A resident's replay reads only their own events.
CREATE INDEX events_owner ON events (owner_id, id);
CREATE INDEX events_created ON events (created_at);
