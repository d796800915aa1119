-- The dashboard lists open `high` requests first (waiting, then in progress), then the rest,
-- each part newest first. The first two parts are read from this index in order, however
-- many requests there are; the rest walk requests_created (or the filter's own index).
CREATE INDEX requests_priority_status_created ON requests (priority, status, created_at DESC, id DESC);
