"""The sinks' database write (streams/sinks.py `write_batch`) against the real hypertables: a batch goes straight
in by COPY, and a batch read again after a crash, partly written already, adds only what is new."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from streams.sinks import rows_or_dead_letters, telemetry_rows, write_batch

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


def test_telemetry_rows_carry_awkward_text_and_times_exactly(settings: Settings) -> None:
    """`telemetry_rows` writes COPY's binary format itself: a backslash, tab, newline or carriage return in a
    device's data (and in its id) must arrive as sent, and the record's own times must be the row's."""
    device = f"sink\\{uuid.uuid4().hex[:6]}\t"
    data = {"note": "a\tb\\c\nd\re", "quote": '"x"', "n": 1.5, "中文": "井盖"}
    record = {"ts": "2026-12-06T08:00:01.250000Z", "received_at": "2026-12-06T16:00:02+08:00", "device_id": device,
              "seq": 7, "data": data}
    with connect(settings.db) as conn:
        assert write_batch(conn, {topics.TELEMETRY: telemetry_rows([record])}) == 1
        row = conn.execute("SELECT time, received_at, seq, payload FROM telemetry WHERE device_id = %s",
                           (device,)).fetchone()
    assert row == (datetime(2026, 12, 6, 8, 0, 1, 250000, tzinfo=UTC), datetime(2026, 12, 6, 8, 0, 2, tzinfo=UTC),
                   7, data)


def test_a_telemetry_record_the_table_cannot_read_is_set_aside_with_its_reason() -> None:
    good = {"ts": "2026-12-06T08:00:00Z", "device_id": "d1", "seq": 1, "data": {"x": 1}}
    dead: list = []
    rows = rows_or_dead_letters(topics.TELEMETRY, [good, {**good, "ts": "2026-12-06T08:00:00"},
                                                    {**good, "data": [1]}, {**good, "seq": "x"}], dead)
    assert len(rows) == 1
    assert [reason.split(":")[0] for _, reason in dead] == [topics.TELEMETRY] * 3
    assert "time zone" in dead[0][1]


def test_a_nul_character_is_set_aside_and_the_rest_of_the_batch_is_written(settings: Settings) -> None:
    """PostgreSQL's jsonb and text refuse a NUL character: such a record (a device may put one in a string) is
    dead-lettered with its reason, and its batch goes in without it, instead of failing the COPY batch after batch."""
    device = f"sink-{uuid.uuid4().hex[:8]}"
    good = {"ts": "2026-12-06T08:00:00Z", "device_id": device, "seq": 1, "data": {"note": "ok"}}
    dead: list = []
    rows = rows_or_dead_letters(topics.TELEMETRY, [good, {**good, "seq": 2, "data": {"note": "a\x00b"}},
                                                    {**good, "seq": 3}], dead)
    assert [reason for _, reason in dead] == [
        f"{topics.TELEMETRY}: ValueError: a NUL character, which PostgreSQL's text and jsonb cannot hold"]
    with connect(settings.db) as conn:
        assert write_batch(conn, {topics.TELEMETRY: rows}) == 2
        seqs = [s for (s,) in conn.execute("SELECT seq FROM telemetry WHERE device_id = %s ORDER BY seq", (device,))]
    assert seqs == [1, 3]


def test_a_query_across_devices_by_time_is_served_by_the_brin_index(settings: Settings) -> None:
    """The hypertable's B-tree on time gave way to a BRIN index (migration 0034): two indexes a row, not three,
    and a time range across devices still reads only the page ranges that hold it."""
    with connect(settings.db) as conn:
        write_batch(conn, {topics.TELEMETRY: _rows(f"sink-{uuid.uuid4().hex[:8]}", range(0, 20))})
        indexes = {name for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'telemetry'")}
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r for (r,) in conn.execute(
            "EXPLAIN SELECT count(*) FROM telemetry WHERE time >= %s AND time < %s", (T0, T0 + timedelta(minutes=1))))
    assert indexes == {"telemetry_device_time_seq", "telemetry_time_brin"}
    assert "telemetry_time_brin" in plan, plan
