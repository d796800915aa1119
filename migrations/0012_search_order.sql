-- Whether requests were created in id order, so a search's first page can be read from the
-- trigram index newest id first and stop after a page, instead of sorting every match.
--
-- Rows are normally created in id order: a new request takes the next id and the current
-- time. A clock stepped back, or rows imported with their own dates, break that. This table
-- holds no row while none does, and then one: a creation time at or after every request that
-- has a later-id request created before it. A walk down the ids may stop once the page is
-- full and neither the row it has reached nor this time is newer than the page's oldest row:
-- every row still ahead of it is older than that.

CREATE TABLE request_order (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    out_of_order_until TEXT NOT NULL
);

-- Each row that breaks the order: the newest time among the rows before it (by id).
INSERT INTO request_order (id, out_of_order_until)
SELECT 1, max(before) FROM (
    SELECT created_at, max(created_at) OVER (
        ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM requests
) WHERE created_at < before HAVING max(before) IS NOT NULL;

-- `+id` and `+created_at` keep each check on the index it can stop at at once: the newest
-- creation times, or the ids above the new one (both empty for a request created now).
CREATE TRIGGER requests_ordered_insert AFTER INSERT ON requests
WHEN EXISTS (SELECT 1 FROM requests WHERE created_at > NEW.created_at AND +id < NEW.id)
  OR EXISTS (SELECT 1 FROM requests WHERE id > NEW.id AND +created_at < NEW.created_at)
BEGIN
    INSERT INTO request_order (id, out_of_order_until) VALUES (1, (SELECT max(created_at) FROM requests))
    ON CONFLICT (id) DO UPDATE SET out_of_order_until = max(out_of_order_until, excluded.out_of_order_until);
END;

CREATE TRIGGER requests_ordered_redate AFTER UPDATE OF id, created_at ON requests
WHEN EXISTS (SELECT 1 FROM requests WHERE created_at > NEW.created_at AND +id < NEW.id)
  OR EXISTS (SELECT 1 FROM requests WHERE id > NEW.id AND +created_at < NEW.created_at)
BEGIN
    INSERT INTO request_order (id, out_of_order_until) VALUES (1, (SELECT max(created_at) FROM requests))
    ON CONFLICT (id) DO UPDATE SET out_of_order_until = max(out_of_order_until, excluded.out_of_order_until);
END;
