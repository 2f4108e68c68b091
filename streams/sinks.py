"""Batched, idempotent database sinks: device records into their hypertables.

Not a Faust agent on purpose: Faust's per-event machinery tops out at about
16 k events/s per worker here (measured with plain iteration and with
``stream.take(2000, within=0.2)`` alike), below the 20 k/s the sink path must
sustain.  So the sinks run inside the worker as raw aiokafka consumers:
``getmany`` batches, orjson decoding, one COPY per table per batch into a
temporary table and an ``INSERT … ON CONFLICT DO NOTHING`` (idempotent on
``(device_id, seq, time)``), and the Kafka offsets are committed only after the
transaction commits.  A failing database is retried with backoff on the same
batch: nothing is skipped, nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer

from civicgrid.bus import clients, topics
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.settings import Settings

log = logging.getLogger(__name__)

SINK_GROUP_SUFFIX = "sinks"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def telemetry_rows(recs: list[dict[str, Any]]) -> list[tuple]:
    return [(_ts(r["ts"]), r["device_id"], r["seq"], _ts(r["received_at"]), orjson.dumps(r["data"]).decode())
            for r in recs]


def event_rows(recs: list[dict[str, Any]]) -> list[tuple]:
    return [(_ts(r["ts"]), r["device_id"], r["seq"], r["data"].get("type", "unknown"),
             orjson.dumps(r["data"]).decode()) for r in recs]


def alarm_rows(recs: list[dict[str, Any]]) -> list[tuple]:
    rows = []
    for r in recs:
        a = AlarmRecord.decode(r)
        rows.append((a.ts, a.alarm_id, a.device_id, a.rule, a.action, a.category, a.urgency, a.grid_cell_code,
                     orjson.dumps(r).decode()))
    return rows


def _rows_or_dead_letters(topic: str, recs: list[dict[str, Any]],
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


async def write_batch(conn: psycopg.AsyncConnection, by_table: dict[str, list[tuple]]) -> int:
    """COPY each table's rows through a temporary table and insert what is new, in one transaction."""
    written = 0
    async with conn.transaction():
        for topic, rows in by_table.items():
            if not rows:
                continue
            table, columns, _ = SINKS[topic]
            cols = ", ".join(columns)
            tmp = f"_sink_{table}"
            await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table} INCLUDING DEFAULTS) "
                               "ON COMMIT DELETE ROWS")
            async with conn.cursor() as cur, cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    await copy.write_row(row)
            result = await conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} ON CONFLICT DO NOTHING")
            written += result.rowcount
    return written


class SinkRunner:
    """One consumer group over the sink topics; offsets committed after each written batch."""

    def __init__(self, settings: Settings, dead_letters: DeadLetters) -> None:
        self.settings = settings
        self.rows_written = 0
        self.records_seen = 0
        self.dead_letters = 0
        self._stop = asyncio.Event()
        self._dead = dead_letters

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(*SINKS, **clients.aiokafka(
            s.kafka, group_id=f"{s.streams.app_id}-{SINK_GROUP_SUFFIX}", enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=s.streams.sink_batch, **s.streams.group_timing_ms()))
        await consumer.start()
        conn: psycopg.AsyncConnection | None = None
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=int(s.streams.sink_within_s * 1000),
                                                 max_records=s.streams.sink_batch)
                if not batches:
                    continue
                by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
                dead: list[tuple[dict[str, Any], str]] = []
                for tp, messages in batches.items():
                    for msg in messages:
                        try:
                            value = orjson.loads(msg.value)
                            if not isinstance(value, dict):
                                raise orjson.JSONDecodeError("not a JSON object", "", 0)
                            by_topic[tp.topic].append(value)
                        except orjson.JSONDecodeError as exc:
                            dead.append(({"raw": msg.value.decode("utf-8", "replace")}, f"{tp.topic}: not JSON: {exc}"))
                        self.records_seen += 1
                rows = {topic: _rows_or_dead_letters(topic, recs, dead) for topic, recs in by_topic.items()}
                conn = await self._write_until_done(conn, rows)
                if dead:
                    await asyncio.to_thread(self._dead_letter, dead)
                await consumer.commit()  # only now: the rows are committed in the database
        finally:
            await consumer.stop()
            if conn is not None:
                await conn.close()

    def _dead_letter(self, dead: list[tuple[dict[str, Any], str]]) -> None:
        """Records no table can take go to cg.deadletter with the reason (before their offsets commit)."""
        self.dead_letters += self._dead.send(
            Rejected(orjson.dumps(rec), "kafka:sinks", reason,
                     str(rec.get("device_id")) if isinstance(rec, dict) and rec.get("device_id") else None)
            for rec, reason in dead)

    async def _write_until_done(self, conn: psycopg.AsyncConnection | None,
                                rows: dict[str, list[tuple]]) -> psycopg.AsyncConnection:
        backoff = 0.5
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(self.settings.db.url.get_secret_value())
                started = time.perf_counter()
                written = await write_batch(conn, rows)
                self.rows_written += written
                log.debug("sink batch: %d rows written in %.1f ms", written, (time.perf_counter() - started) * 1e3)
                return conn
            except psycopg.OperationalError as exc:
                log.warning("database unavailable for the sinks (%s); retrying the same batch in %.1f s", exc, backoff)
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
