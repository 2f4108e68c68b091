"""streams: the stream worker that turns device records into alarms, cases and hypertable rows."""
