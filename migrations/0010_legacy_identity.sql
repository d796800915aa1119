-- What identified each row `maintenance import-legacy` brought over, so that a later import of
-- another (or a re-created) original database is not taken for the same rows just because its
-- ids are the same: for an account a SHA-256 of its normalised email, for a request a SHA-256
-- of its owner's email, its created_at and its description, all as the original stored them.
-- NULL for rows imported before this column existed; the import compares those with the row
-- here instead (while it exists).
ALTER TABLE legacy_ids ADD COLUMN fingerprint TEXT;
