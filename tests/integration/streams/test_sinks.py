"""The sinks' database write (streams/sinks.py `write_batch`) against the real hypertables: a batch goes straight
in by COPY, and a batch read again after a crash, partly written already, adds only what is new."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from streams.sinks import write_batch

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _rows(device: str, seqs: range) -> list[tuple]:
    return [(T0 + timedelta(seconds=s), device, s, T0, f'{{"fill_pct": {s}}}') for s in seqs]


def _events(device: str, seqs: range) -> list[tuple]:
    return [(T0 + timedelta(seconds=s), device, s, "opened", '{"type": "opened"}') for s in seqs]


def test_a_batch_goes_in_whole_and_a_batch_read_again_adds_only_what_is_new(settings: Settings) -> None:
    device = f"sink-{uuid.uuid4().hex[:8]}"
    with connect(settings.db) as conn:
        assert write_batch(conn, {topics.TELEMETRY: _rows(device, range(0, 100)),
                                  topics.EVENTS: _events(device, range(0, 3))}) == 103
        # Read again after a crash: rows 50-99 and the events are in; 100-149 are not.
        assert write_batch(conn, {topics.TELEMETRY: _rows(device, range(50, 150)),
                                  topics.EVENTS: _events(device, range(0, 3))}) == 50
        count = conn.execute("SELECT count(*), count(DISTINCT seq) FROM telemetry WHERE device_id = %s",
                             (device,)).fetchone()
        events = conn.execute("SELECT count(*) FROM device_events WHERE device_id = %s", (device,)).fetchone()
    assert count == (150, 150)
    assert events == (3,)


def test_a_duplicate_inside_one_table_does_not_undo_the_other_tables_rows(settings: Settings) -> None:
    """The fallback is per table, inside the batch's one transaction: the events' straight COPY stays."""
    device = f"sink-{uuid.uuid4().hex[:8]}"
    with connect(settings.db) as conn:
        write_batch(conn, {topics.TELEMETRY: _rows(device, range(0, 10))})
        assert write_batch(conn, {topics.TELEMETRY: _rows(device, range(5, 15)),
                                  topics.EVENTS: _events(device, range(0, 4))}) == 9
        rows = conn.execute("SELECT count(*) FROM telemetry WHERE device_id = %s", (device,)).fetchone()
        events = conn.execute("SELECT count(*) FROM device_events WHERE device_id = %s", (device,)).fetchone()
    assert rows == (15,)
    assert events == (4,)


def test_one_device_index_keeps_rows_unique_and_serves_the_latest_reading(settings: Settings) -> None:
    """The unique (device_id, time DESC, seq) index is both the sinks' duplicate check and the device status's
    "latest reading" (api/queries/devices.py); no second per-device index is kept (migration 0010)."""
    device = f"sink-{uuid.uuid4().hex[:8]}"
    with connect(settings.db) as conn:
        write_batch(conn, {topics.TELEMETRY: _rows(device, range(0, 20))})
        indexes = {name for (name,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'telemetry' AND indexdef LIKE '%device_id%'")}
        assert indexes == {"telemetry_device_time_seq"}
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r for (r,) in conn.execute(
            "EXPLAIN SELECT time FROM telemetry WHERE device_id = %s ORDER BY time DESC LIMIT 1", (device,)))
        latest = conn.execute("SELECT seq FROM telemetry WHERE device_id = %s ORDER BY time DESC LIMIT 1",
                              (device,)).fetchone()
    assert "telemetry_device_time_seq" in plan and "Sort" not in plan, plan
    assert latest == (19,)
