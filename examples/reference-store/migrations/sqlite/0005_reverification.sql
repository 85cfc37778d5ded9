-- winmdm reference server, schema version 5 (SQLite): re-verification. An assignment
-- records when its read-back last found nothing left to deliver (`verified_at`; NULL
-- while it is being installed, corrected or re-read); a new session queues the
-- verification Gets again for an assignment verified longer than `--reverify-secs` ago.
-- The index serves that and the idle check-in's look for one due (Store::peek_message).
-- An assignment from before counts as verified when it was assigned.
ALTER TABLE assignments ADD COLUMN verified_at INTEGER;
UPDATE assignments SET verified_at = assigned_at;
CREATE INDEX assignments_verified ON assignments(enrollment_id, verified_at);
