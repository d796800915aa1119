-- Reads that cost what a page costs, not what the table costs.
--
-- Exact counts of requests per (status, category, priority), the same per owner, and per UTC
-- day of creation, kept by triggers in the transaction of every change (an insert, an update,
-- a delete, a cascade from a deleted account, an import), so `X-Total-Count`, the dashboard's
-- counts and its 30-day chart read a few dozen rows instead of the table. A request not yet
-- classified has category and priority '' here (a primary key column cannot hold NULL).
--
-- And a trigram full-text index over description and location for `q` substring search
-- (Korean included). It is an external-content index: it holds the trigrams, the text stays
-- in `requests`. It keeps which rows hold each trigram, not where (detail=none: a third
-- smaller and quicker to build): a search asks for rows holding all of its trigrams, then
-- checks each candidate's text with LIKE.

CREATE TABLE request_counts (
    status   TEXT    NOT NULL,
    category TEXT    NOT NULL,
    priority TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (status, category, priority)
) WITHOUT ROWID;

CREATE TABLE owner_request_counts (
    user_id  INTEGER NOT NULL,
    status   TEXT    NOT NULL,
    category TEXT    NOT NULL,
    priority TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (user_id, status, category, priority)
) WITHOUT ROWID;

CREATE TABLE request_days (
    day TEXT    NOT NULL PRIMARY KEY,
    n   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE VIRTUAL TABLE requests_fts USING fts5 (
    description, location,
    content = 'requests', content_rowid = 'id',
    tokenize = 'trigram', detail = none, columnsize = 0
);

INSERT INTO request_counts (status, category, priority, n)
SELECT status, coalesce(category, ''), coalesce(priority, ''), count(*)
FROM requests GROUP BY 1, 2, 3;

INSERT INTO owner_request_counts (user_id, status, category, priority, n)
SELECT user_id, status, coalesce(category, ''), coalesce(priority, ''), count(*)
FROM requests GROUP BY 1, 2, 3, 4;

INSERT INTO request_days (day, n)
SELECT substr(created_at, 1, 10), count(*) FROM requests GROUP BY 1;

INSERT INTO requests_fts (requests_fts) VALUES ('rebuild');

CREATE TRIGGER requests_counted_insert AFTER INSERT ON requests BEGIN
    INSERT INTO request_counts (status, category, priority, n)
    VALUES (NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO owner_request_counts (user_id, status, category, priority, n)
    VALUES (NEW.user_id, NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO request_days (day, n) VALUES (substr(NEW.created_at, 1, 10), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO requests_fts (rowid, description, location)
    VALUES (NEW.id, NEW.description, NEW.location);
END;

CREATE TRIGGER requests_counted_delete AFTER DELETE ON requests BEGIN
    UPDATE request_counts SET n = n - 1
    WHERE status = OLD.status AND category = coalesce(OLD.category, '')
      AND priority = coalesce(OLD.priority, '');
    UPDATE owner_request_counts SET n = n - 1
    WHERE user_id = OLD.user_id AND status = OLD.status
      AND category = coalesce(OLD.category, '') AND priority = coalesce(OLD.priority, '');
    UPDATE request_days SET n = n - 1 WHERE day = substr(OLD.created_at, 1, 10);
    INSERT INTO requests_fts (requests_fts, rowid, description, location)
    VALUES ('delete', OLD.id, OLD.description, OLD.location);
END;

CREATE TRIGGER requests_counted_update AFTER UPDATE OF user_id, status, category, priority ON requests
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.status IS NOT NEW.status
  OR OLD.category IS NOT NEW.category OR OLD.priority IS NOT NEW.priority
BEGIN
    UPDATE request_counts SET n = n - 1
    WHERE status = OLD.status AND category = coalesce(OLD.category, '')
      AND priority = coalesce(OLD.priority, '');
    INSERT INTO request_counts (status, category, priority, n)
    VALUES (NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    UPDATE owner_request_counts SET n = n - 1
    WHERE user_id = OLD.user_id AND status = OLD.status
      AND category = coalesce(OLD.category, '') AND priority = coalesce(OLD.priority, '');
    INSERT INTO owner_request_counts (user_id, status, category, priority, n)
    VALUES (NEW.user_id, NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER requests_counted_redate AFTER UPDATE OF created_at ON requests
WHEN substr(OLD.created_at, 1, 10) IS NOT substr(NEW.created_at, 1, 10)
BEGIN
    UPDATE request_days SET n = n - 1 WHERE day = substr(OLD.created_at, 1, 10);
    INSERT INTO request_days (day, n) VALUES (substr(NEW.created_at, 1, 10), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER requests_searched_update AFTER UPDATE OF description, location ON requests
WHEN OLD.description IS NOT NEW.description OR OLD.location IS NOT NEW.location
BEGIN
    INSERT INTO requests_fts (requests_fts, rowid, description, location)
    VALUES ('delete', OLD.id, OLD.description, OLD.location);
    INSERT INTO requests_fts (rowid, description, location)
    VALUES (NEW.id, NEW.description, NEW.location);
END;

-- Deleting a request deletes its events; without this, each delete read the whole log.
CREATE INDEX events_request ON events (request_id);
