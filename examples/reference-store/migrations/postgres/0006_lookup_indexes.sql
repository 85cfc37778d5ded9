-- winmdm reference server, schema version 6 (PostgreSQL): lookups that an index answers
-- in a few pages instead of a scan.
--
-- The newest enrollment of a device (every admin request that names a device): with an
-- index on device_id alone, the generic plan of `WHERE device_id = $1 ORDER BY id DESC
-- LIMIT 1` walked the primary key backwards and filtered every enrollment (0.5 ms per
-- lookup with 1,000 devices, growing with the fleet). (device_id, id) serves it and
-- everything the old index served.
CREATE INDEX enrollments_device_newest ON enrollments(device_id, id);
DROP INDEX enrollments_device;
-- An enrollment's newest certificate (in every enrollment read) without a sort.
CREATE INDEX certificates_newest ON certificates(enrollment_id, issued_at, seq);
DROP INDEX certificates_enrollment;
