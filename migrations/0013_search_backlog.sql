-- The search index is kept up to date after the commit, in batches, not inside each change.
--
-- Updating the trigram index in the transaction of every create made a create's SQL about
-- 13 times dearer than the insert alone, and FTS5's segment merges inside those transactions
-- gave single commits of over 300 ms (bench/search_upkeep.py). Now a new or edited request's
-- id goes into `search_backlog`, and the writer moves the backlog into the index in batches
-- when it has nothing else to do, or when the backlog passes a bound (src/db/search_index.rs).
--
-- A row is in the index or in the backlog, never both: searches read the index's candidates
-- and every backlog row, and check each with LIKE, so a request is found once it is
-- committed. Before an indexed row's text changes or the row goes, its old text is removed
-- from the index (an external-content index must be told the text it indexed); a row still
-- in the backlog was never indexed and is only taken out of the backlog.

-- FTS5 merges its segments inside the batches that write them unless told not to; the
-- writer merges them when it is idle instead. Kept in the index's own configuration.
INSERT INTO requests_fts (requests_fts, rank) VALUES ('automerge', 0);

CREATE TABLE search_backlog (
    id INTEGER PRIMARY KEY
);

DROP TRIGGER requests_counted_insert;
CREATE TRIGGER requests_counted_insert AFTER INSERT ON requests BEGIN
    INSERT INTO request_counts (status, category, priority, n)
    VALUES (NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO owner_request_counts (user_id, status, category, priority, n)
    VALUES (NEW.user_id, NEW.status, coalesce(NEW.category, ''), coalesce(NEW.priority, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO request_days (day, n) VALUES (substr(NEW.created_at, 1, 10), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO search_backlog (id) VALUES (NEW.id);
END;

DROP TRIGGER requests_counted_delete;
CREATE TRIGGER requests_counted_delete AFTER DELETE ON requests BEGIN
    UPDATE request_counts SET n = n - 1
    WHERE status = OLD.status AND category = coalesce(OLD.category, '')
      AND priority = coalesce(OLD.priority, '');
    UPDATE owner_request_counts SET n = n - 1
    WHERE user_id = OLD.user_id AND status = OLD.status
      AND category = coalesce(OLD.category, '') AND priority = coalesce(OLD.priority, '');
    UPDATE request_days SET n = n - 1 WHERE day = substr(OLD.created_at, 1, 10);
    INSERT INTO requests_fts (requests_fts, rowid, description, location)
    SELECT 'delete', OLD.id, OLD.description, OLD.location
    WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE id = OLD.id);
    DELETE FROM search_backlog WHERE id = OLD.id;
END;

DROP TRIGGER requests_searched_update;
CREATE TRIGGER requests_searched_update AFTER UPDATE OF description, location ON requests
WHEN OLD.description IS NOT NEW.description OR OLD.location IS NOT NEW.location
BEGIN
    INSERT INTO requests_fts (requests_fts, rowid, description, location)
    SELECT 'delete', OLD.id, OLD.description, OLD.location
    WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE id = OLD.id);
    INSERT OR IGNORE INTO search_backlog (id) VALUES (NEW.id);
END;
