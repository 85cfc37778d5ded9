-- winmdm reference server, schema version 1 (SQLite). See docs/server.md.
CREATE TABLE enrollments (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  hw_dev_id TEXT,
  upn TEXT,
  auth TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'active',
  dm_username TEXT NOT NULL,
  dm_password TEXT NOT NULL,
  dm_nonce BLOB NOT NULL DEFAULT x'',
  enrolled_at INTEGER NOT NULL,
  last_seen_at INTEGER,
  unenrolled_at INTEGER,
  inventory TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX enrollments_device ON enrollments(device_id);
CREATE INDEX enrollments_hwdevid ON enrollments(hw_dev_id);
CREATE TABLE certificates (
  thumbprint TEXT PRIMARY KEY,
  enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
  serial TEXT NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX certificates_enrollment ON certificates(enrollment_id);
CREATE TABLE enrollment_tokens (
  hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by INTEGER
);
CREATE TABLE sessions (
  enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
  session_id TEXT NOT NULL,
  snapshot BLOB NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (enrollment_id, session_id)
);
CREATE TABLE commands (
  id INTEGER PRIMARY KEY,
  enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
  syncml TEXT NOT NULL,
  origin TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  session_id TEXT,
  status INTEGER,
  original_error TEXT,
  results TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  done_at INTEGER
);
CREATE INDEX commands_open ON commands(enrollment_id, state, id);
CREATE TABLE profiles (
  id TEXT PRIMARY KEY,
  syncml TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE assignments (
  profile_id TEXT NOT NULL REFERENCES profiles(id),
  enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
  assigned_at INTEGER NOT NULL,
  PRIMARY KEY (profile_id, enrollment_id)
);
CREATE TABLE profile_settings (
  profile_id TEXT NOT NULL,
  enrollment_id INTEGER NOT NULL,
  locuri TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  status INTEGER,
  original_error TEXT,
  actual TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (profile_id, enrollment_id, locuri)
);
