-- winmdm reference server, schema version 6 (SQLite): lookups that an index answers in a
-- few pages.
--
-- An enrollment's newest certificate (in every enrollment read) without a temporary
-- b-tree to sort its certificates: (enrollment_id, issued_at, rowid) is the order of
-- `ORDER BY issued_at DESC, rowid DESC`. It serves everything the old index served.
CREATE INDEX certificates_newest ON certificates(enrollment_id, issued_at);
DROP INDEX certificates_enrollment;
