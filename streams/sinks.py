"""Batched, idempotent database sinks: device records into their hypertables.

A raw aiokafka consumer group (Faust's per-event machinery, when the worker used it, topped
out at about 16 k events/s here, below the 20 k/s the sink path must sustain) on the
worker's batch-consumer runner (streams/batch_consumer.py: offsets committed only
after the transaction commits, a failing database retried with backoff on the same
batch, unreadable records dead-lettered first).  What is theirs: orjson decoding
into rows per table, and one COPY per table per batch, straight into the table or, when the batch
was partly written before, through a temporary table and ``INSERT … ON CONFLICT DO NOTHING``
(idempotent on the unique ``(device_id, time, seq)``), written from a thread so that the worker's other
roles cannot stretch it (`write_batch`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from civicgrid.bus import topics
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.bus.device_records import DeviceRecord
from civicgrid.settings import Settings
from streams.batch_consumer import BatchConsumer, Decoded, Records
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

SINK_GROUP_SUFFIX = "sinks"


def telemetry_rows(recs: list[dict[str, Any]]) -> list[bytes]:
    """COPY rows in PostgreSQL's binary format, written by us rather than by psycopg's per-row formatter (a quarter
    of the sink's time at 10,000-row batches, docs/performance.md): the record's own times (checked as
    `DeviceRecord.decode` checks them) as microseconds since 2000, its seq, and its data as JSON.

    Binary rather than text (docs/performance.md, "The ninth round"): PostgreSQL no longer parses two timestamps
    and a number a row, and nothing needs escaping: 4.65 → 3.90 µs of its CPU a row (`bench/telemetry_copy.py`),
    for 1.66 µs of the worker's against the text line's 1.23 (`bench/records.py`); the sinks wait on PostgreSQL.
    A value PostgreSQL would refuse inside a text or jsonb column (a NUL character) is refused here, so that one
    record cannot fail the whole batch's COPY."""
    rows = []
    fromiso, dumps, pack_head, pack_tail = datetime.fromisoformat, orjson.dumps, _HEAD.pack, _TAIL.pack
    for r in recs:
        ts, device_id, seq, data = r["ts"], r["device_id"], r["seq"], r["data"]
        if type(seq) is not int:
            seq = int(seq)
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        if type(device_id) is not str:
            raise TypeError(f"device_id: expected text, not {type(device_id).__name__}")
        at, received = fromiso(ts), fromiso(r.get("received_at") or ts)  # not ISO 8601 raises, as `time_of`
        if at.tzinfo is None or received.tzinfo is None:
            raise ValueError("a record's times carry their time zone")
        device, payload = device_id.encode(), dumps(data)
        if b"\x00" in device or (b"\\u0000" in payload and _JSON_NUL.search(payload)):
            raise ValueError("a NUL character, which PostgreSQL's text and jsonb cannot hold")
        try:
            rows.append(pack_head(5, 8, (at - _EPOCH) // _MICROSECOND, len(device)) + device
                        + pack_tail(8, seq, 8, (received - _EPOCH) // _MICROSECOND, len(payload) + 1)
                        + _JSONB_VERSION + payload)
        except struct.error as exc:  # a seq beyond bigint
            raise ValueError(f"seq {seq}: {exc}") from None
    return rows


# COPY's binary format (the PostgreSQL manual, "COPY", "Binary Format"): a header, each row as a field count and
# each field as its length and its bytes, a trailer. A telemetry row: time, device_id, seq, received_at, payload.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
COPY_BINARY_TRAILER = b"\xff\xff"
_HEAD = struct.Struct("!hiqi")  # 5 fields; time: 8 bytes, µs since 2000-01-01 UTC; device_id's length
_TAIL = struct.Struct("!iqiqi")  # seq: 8 bytes; received_at: 8 bytes, µs; payload's length
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_JSONB_VERSION = b"\x01"  # jsonb's binary input: its version, then the JSON text
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # JSON's escape of NUL, not an escaped backslash before "u0000"


def event_rows(recs: list[dict[str, Any]]) -> list[tuple]:
    rows = []
    for r in recs:
        d = DeviceRecord.decode(r)
        rows.append((d.ts, d.device_id, d.seq, d.data.get("type", "unknown"), orjson.dumps(d.data).decode()))
    return rows


def alarm_rows(recs: list[dict[str, Any]]) -> list[tuple]:
    rows = []
    for r in recs:
        a = AlarmRecord.decode(r)
        rows.append((a.ts, a.alarm_id, a.device_id, a.rule, a.action, a.category, a.urgency, a.grid_cell_code,
                     orjson.dumps(r).decode()))
    return rows


def rows_or_dead_letters(topic: str, recs: list[dict[str, Any]],
                         dead: list[tuple[dict[str, Any], str]]) -> list[tuple]:
    """Rows for the batch; a record the builder cannot read is set aside with the reason."""
    build = SINKS[topic][2]
    try:
        return build(recs)
    except (KeyError, TypeError, ValueError):
        rows = []
        for rec in recs:  # find the bad ones; the rest still go in
            try:
                rows += build([rec])
            except (KeyError, TypeError, ValueError) as exc:
                dead.append((rec, f"{topic}: {type(exc).__name__}: {exc}"))
        return rows


# topic → (table, columns, row builder). cg.tracks is not here: the patrol consumer (streams/patrol.py)
# cleans and matches track points and writes them with their coverage in one transaction.
SINKS: dict[str, tuple[str, tuple[str, ...], Callable[[list[dict[str, Any]]], list[tuple]]]] = {
    topics.TELEMETRY: ("telemetry", ("time", "device_id", "seq", "received_at", "payload"), telemetry_rows),
    topics.EVENTS: ("device_events", ("time", "device_id", "seq", "event_type", "payload"), event_rows),
    topics.ALARMS: ("alarms", ("time", "alarm_id", "device_id", "rule", "action", "category_code", "urgency",
                               "grid_cell_code", "payload"), alarm_rows),
}


def write_batch(conn: psycopg.Connection, by_table: dict[str, list[tuple]],
                per_table: dict[str, int] | None = None) -> int:
    """COPY each table's rows into it, in one transaction; a table whose rows are partly there already (a batch
    read again after a crash) gets them through a temporary table and ``INSERT … ON CONFLICT DO NOTHING``. The
    straight COPY writes each row once instead of twice: PostgreSQL's CPU per message at 5,000 msg/s went from 58
    to 47 µs (bench/e2e.py; docs/performance.md).

    Blocking, and run in a thread (`SinkRunner.handle`): on the worker's event loop each of the COPY's awaits let
    the alarm detector's CPU-bound batches in, and a 2,000-row batch took 1-2 s at 5,000 msg/s instead of 0.1 s
    (docs/performance.md). `per_table`, when given, gets the rows written into each table."""
    written = 0
    counts = per_table if per_table is not None else {}
    with conn.transaction():
        for topic, rows in by_table.items():
            if not rows:
                continue
            table, columns, _ = SINKS[topic]
            cols = ", ".join(columns)
            try:  # straight into the table, in a savepoint: a batch holds rows already written only when read again
                with conn.transaction():
                    _copy(conn, table, cols, rows)
                written += len(rows)
                counts[table] = counts.get(table, 0) + len(rows)
                continue
            except psycopg.errors.UniqueViolation:
                pass
            tmp = f"_sink_{table}"
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table} INCLUDING DEFAULTS) "
                         "ON COMMIT DELETE ROWS")
            _copy(conn, tmp, cols, rows)
            result = conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} ON CONFLICT DO NOTHING")
            written += result.rowcount
            counts[table] = counts.get(table, 0) + result.rowcount
    return written


def _copy(conn: psycopg.Connection, table: str, cols: str, rows: list[tuple] | list[bytes]) -> None:
    """Rows as tuples (psycopg formats them), or rows already in COPY's binary format (`telemetry_rows`)."""
    if rows and isinstance(rows[0], bytes):
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(COPY_BINARY_HEADER + b"".join(rows) + COPY_BINARY_TRAILER)  # type: ignore[arg-type]
        return
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def rejected_of(dead: list[tuple[dict[str, Any], str]], origin: str) -> list[Rejected]:
    """The records a sink set aside, with their reasons, as dead letters."""
    return [Rejected(orjson.dumps(rec), origin, reason, str(rec.get("device_id")) if rec.get("device_id") else None)
            for rec, reason in dead]


def not_json(topic: str, raw: bytes | None, exc: Exception | str) -> tuple[dict[str, Any], str]:
    """A record that is not a JSON object, set aside as the sinks keep it on cg.deadletter."""
    return {"raw": (raw or b"").decode("utf-8", "replace")}, f"{topic}: not JSON: {exc}"


class RowWriter:
    """`write_batch` on a connection of its own, opened on first use and again after `close()`, with the sinks'
    metrics. Blocking: run in a thread. The sinks and the telemetry job (streams/telemetry.py) each have one."""

    def __init__(self, settings: Settings, metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._conn: psycopg.Connection | None = None

    def write(self, batch: dict[str, list[tuple]]) -> int:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = psycopg.Connection.connect(self.settings.db.url.get_secret_value())
        started = time.perf_counter()
        per_table: dict[str, int] = {}
        written = write_batch(conn, batch, per_table)
        took = time.perf_counter() - started
        self.metrics.sink_write_seconds.observe(took)
        for table, rows in per_table.items():
            self.metrics.sink_rows.labels(table).inc(rows)
        log.debug("sink batch: %d rows written in %.1f ms", written, took * 1e3)
        return written

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def sink_topics(telemetry_job_here: bool) -> list[str]:
    """What the sinks read: every sink topic, less cg.telemetry in a worker whose `telemetry` role writes its rows
    (docs/streams.md "cg.telemetry read once"). A worker without that role keeps reading it, so that no mix of
    workers leaves a telemetry partition with no one writing its rows."""
    return [topic for topic in SINKS if not (telemetry_job_here and topic == topics.TELEMETRY)]


class SinkRunner:
    """One consumer group over the sink topics (streams/batch_consumer.py): a batch decoded into rows per table,
    written by `write_batch`, its offsets committed after the database commit. `topics`: `sink_topics(...)`."""

    def __init__(self, settings: Settings, dead_letters: DeadLetters, metrics: WorkerMetrics | None = None,
                 topics: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.rows_written = 0
        self.records_seen = 0
        self._writer = RowWriter(settings, self.metrics)
        s = settings.streams
        self._consumer = BatchConsumer(settings, self, name="sinks", group=f"{s.app_id}-{SINK_GROUP_SUFFIX}",
                                       topics=list(SINKS) if topics is None else list(topics),
                                       max_records=s.sink_batch, within_s=s.sink_within_s,
                                       dead_letters=dead_letters, metrics=self.metrics.role(SINK_GROUP_SUFFIX),
                                       pipelined=True)

    @property
    def topics(self) -> tuple[str, ...]:
        return self._consumer.topics

    @property
    def dead_letters(self) -> int:
        """Records no table can take, sent to cg.deadletter."""
        return self._consumer.dead_lettered

    def stop(self) -> None:
        self._consumer.stop()

    async def run(self) -> None:
        await self._consumer.run()

    def decode(self, records: Records) -> Decoded[dict[str, list[tuple]]]:
        """Rows per sink topic; a record that is not a JSON object, or that its table cannot read, is set aside."""
        by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
        dead: list[tuple[dict[str, Any], str]] = []
        for tp, messages in records.items():
            for msg in messages:
                try:
                    value = orjson.loads(msg.value)
                    if not isinstance(value, dict):
                        raise orjson.JSONDecodeError("not a JSON object", "", 0)
                    by_topic[tp.topic].append(value)
                except orjson.JSONDecodeError as exc:
                    dead.append(not_json(tp.topic, msg.value, exc))
                self.records_seen += 1
        rows = {topic: rows_or_dead_letters(topic, recs, dead) for topic, recs in by_topic.items()}
        return Decoded(rows, rejected_of(dead, "kafka:sinks"))

    async def handle(self, batch: dict[str, list[tuple]]) -> Sequence[Rejected]:
        """One transaction for the whole batch (psycopg.OperationalError: the runner retries it)."""
        if not any(batch.values()):
            return ()
        written = await asyncio.to_thread(self._writer.write, batch)
        self.rows_written += written
        return ()

    async def disconnect(self) -> None:
        await asyncio.to_thread(self._writer.close)
