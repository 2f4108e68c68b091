-- The telemetry hypertable's own B-tree on time becomes a BRIN index (docs/performance.md "The ninth round"):
-- every query of the platform reads telemetry by device (the unique (device_id, time DESC, seq) index), and the
-- B-tree cost PostgreSQL about 1 µs of its ~4.4 µs CPU per row written. Rows arrive nearly in time order, so a
-- BRIN index of page ranges still narrows a query across devices by time (an export, an analyst's last hour) to
-- the pages that hold it, for about 0.3 µs a row; autosummarize keeps the newest ranges summarised as they fill.
-- depends: 0033.scoring-days
DROP INDEX IF EXISTS telemetry_time_idx;
CREATE INDEX telemetry_time_brin ON telemetry USING brin (time) WITH (autosummarize = on);
