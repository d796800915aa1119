-- Classification state on each request, and the durable queue of LLM refinement jobs.

ALTER TABLE requests ADD COLUMN classification_status TEXT NOT NULL DEFAULT 'done'
    CHECK (classification_status IN ('pending', 'done', 'failed'));
ALTER TABLE requests ADD COLUMN classification_method TEXT
    CHECK (classification_method IS NULL OR classification_method IN ('keyword', 'llm', 'manual'));
ALTER TABLE requests ADD COLUMN classification_confidence REAL
    CHECK (classification_confidence IS NULL OR classification_confidence BETWEEN 0 AND 1);
ALTER TABLE requests ADD COLUMN classification_reason TEXT;
ALTER TABLE requests ADD COLUMN classified_at TEXT;

UPDATE requests SET classification_method = 'keyword', classified_at = created_at
WHERE category IS NOT NULL;

-- One job per request. The database, not the in-memory channel, is the record of pending
-- work: at start-up every job still queued or running is queued again.
CREATE TABLE classification_jobs (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL UNIQUE REFERENCES requests (id) ON DELETE CASCADE,
    state       TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);

CREATE INDEX classification_jobs_state ON classification_jobs (state, id);
