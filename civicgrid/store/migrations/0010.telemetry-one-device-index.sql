-- One index per telemetry row fewer (docs/performance.md "PostgreSQL's cost per row"): the unique key that makes
-- the sinks idempotent becomes (device_id, time DESC, seq), which also serves "a device's latest reading"
-- (api/queries/devices.py, api/queries/map.py), so the separate (device_id, time DESC) index goes. The
-- hypertable's own index on time stays for queries across devices.
-- depends: 0009.api-key-scopes
ALTER TABLE telemetry DROP CONSTRAINT telemetry_device_id_seq_time_key;
CREATE UNIQUE INDEX telemetry_device_time_seq ON telemetry (device_id, time DESC, seq);
DROP INDEX telemetry_device_time;
