-- winmdm reference server, schema version 4 (SQLite): profile revisions. A profile's
-- revision is one more each time its text changes; an assignment records the revision
-- deployed to its device, and profile commands carry it in their origin
-- (`profile:ID@REV:...`), so that an older revision's answers are told apart and a
-- device left on an older revision (a server stopped while redeploying) is found.
ALTER TABLE profiles ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE assignments ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
