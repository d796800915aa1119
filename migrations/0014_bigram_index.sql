-- Two-character searches (누수, 전등, 변기: most Korean words are two syllables) get an index
-- of their own. The trigram index cannot answer them, so they read the newest 50,000 rows
-- with LIKE: hundreds of milliseconds each, and a partial count.
--
-- Each request's distinct pairs of adjacent letters or digits (ASCII letters in lower case,
-- never across a space, punctuation, or from description into location) are stored as the
-- tokens of a contentless FTS5 index: `bigrams(description, location)`, a function of this
-- program (src/db/search_index.rs). It is kept as the trigram index is (migration 0013):
-- the writer indexes the backlog's rows into both in one transaction, so a row is in both
-- indexes or in the backlog; before an indexed row's text changes or the row goes, it is
-- taken out of both.

CREATE VIRTUAL TABLE requests_bigrams USING fts5(
    grams,
    content = '',
    contentless_delete = 1,
    detail = 'none',
    tokenize = 'ascii'
);
INSERT INTO requests_bigrams (requests_bigrams, rank) VALUES ('automerge', 0);

-- Filled with FTS5's own 1 MiB budget for terms in memory: a larger one leaves a few
-- segments on the lowest level, which 'optimize' merges where they are, and the first
-- batches indexed later then merge with that one big segment (seconds, inside a commit).
-- With the default, FTS5's crisis merges have built higher levels, and the merged segment
-- goes above them.
INSERT INTO requests_bigrams (rowid, grams)
SELECT id, bigrams(description, location) FROM requests
WHERE id NOT IN (SELECT id FROM search_backlog);
INSERT INTO requests_bigrams (requests_bigrams) VALUES ('optimize');

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
    DELETE FROM requests_bigrams
    WHERE rowid = OLD.id AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE id = OLD.id);
    DELETE FROM search_backlog WHERE id = OLD.id;
END;

DROP TRIGGER requests_searched_update;
CREATE TRIGGER requests_searched_update AFTER UPDATE OF description, location ON requests
WHEN OLD.description IS NOT NEW.description OR OLD.location IS NOT NEW.location
BEGIN
    INSERT INTO requests_fts (requests_fts, rowid, description, location)
    SELECT 'delete', OLD.id, OLD.description, OLD.location
    WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE id = OLD.id);
    DELETE FROM requests_bigrams
    WHERE rowid = OLD.id AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE id = OLD.id);
    INSERT OR IGNORE INTO search_backlog (id) VALUES (NEW.id);
END;
