-- Rows brought over from the original (Python) system by `maintenance import-legacy`: the id
-- each had there and the id it has here. Links to the old ids keep working through it, and a
-- second import skips every row listed. No foreign key: a row deleted after its import stays
-- listed, so importing again never brings it back.
CREATE TABLE legacy_ids (
    kind        TEXT    NOT NULL CHECK (kind IN ('user', 'request')),
    legacy_id   INTEGER NOT NULL,
    new_id      INTEGER NOT NULL,
    imported_at TEXT    NOT NULL,
    PRIMARY KEY (kind, legacy_id)
) WITHOUT ROWID;

CREATE INDEX legacy_ids_new ON legacy_ids (kind, new_id);
