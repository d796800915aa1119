-- A number that changes whenever the text the search indexes hold changes, and only then.
--
-- Searches remember how many rows of an index match a text, until the index changes
-- (src/db/lists.rs). What they compared was the indexes' structure records, which also
-- change with every merge step: after a burst of creates, while the writer merged the new
-- segments, counts of up to 10,000 matches were recomputed on nearly every search. A merge
-- moves the same rows between segments; this number is left alone by it.
--
-- Raised by every delete and every change of a request's text (the row may be indexed:
-- raising it for one still waiting is harmless), and by the program each time it moves rows
-- into the indexes or rebuilds them (src/db/search_index.rs, src/db/counts.rs). Creates do
-- not raise it: a new row waits in the backlog, which searches read afresh each time.

CREATE TABLE search_content_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO search_content_version (id, n) VALUES (1, 0);

-- Triggers of their own: they do the same whatever order SQLite fires them in beside the
-- counting triggers of migration 0014.
CREATE TRIGGER requests_search_version_delete AFTER DELETE ON requests BEGIN
    UPDATE search_content_version SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER requests_search_version_update AFTER UPDATE OF description, location ON requests
WHEN OLD.description IS NOT NEW.description OR OLD.location IS NOT NEW.location
BEGIN
    UPDATE search_content_version SET n = n + 1 WHERE id = 1;
END;
