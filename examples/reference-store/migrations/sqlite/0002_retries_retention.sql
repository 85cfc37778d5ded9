-- winmdm reference server, schema version 2 (SQLite): the key of every certificate (a
-- retried enrollment request carries the same key and joins the enrollment it made),
-- indexes for retention (prune) and for active enrollments of a device.
ALTER TABLE certificates ADD COLUMN key_sha256 TEXT;
CREATE INDEX certificates_key ON certificates(key_sha256);
CREATE INDEX enrollments_device_state ON enrollments(device_id, state);
CREATE INDEX commands_done ON commands(done_at) WHERE state = 'done';
CREATE INDEX sessions_updated ON sessions(updated_at);
