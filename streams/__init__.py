"""streams: the Faust worker that turns device records into alarms, cases and hypertable rows."""
