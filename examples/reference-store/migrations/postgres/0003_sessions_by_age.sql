-- winmdm reference server, schema version 3 (PostgreSQL): the sessions of an enrollment by
-- age, covering the session id. Every message reads the oldest other session's
-- updated_at (Store::open_message) and the abandoned-session cleanup deletes by it;
-- without this index both read every session row of the enrollment, snapshot and all
-- (a device checking in often keeps up to 2 minutes of finished sessions).
CREATE INDEX sessions_enrollment_updated ON sessions(enrollment_id, updated_at, session_id);
