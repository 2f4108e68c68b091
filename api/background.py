"""The API's background work, each in its own thread: the outbox relay, the command-ack reader, feed retention.

Threads, not asyncio tasks: the store and librdkafka are blocking libraries, and a thread
with its own connection keeps the request pool free. Each loop survives a database or
Kafka outage (log, back off, reconnect) and stops within a poll interval when asked.

* Outbox relay: publishes committed case transitions on cg.case-events even when no
  streams worker runs; ``FOR UPDATE SKIP LOCKED`` makes any number of relays safe.
* Ack reader: follows cg.command-acks (partitions assigned directly, no consumer-group
  join) and stores each command's latest status; its position is kept in
  ``kafka_positions`` so acks that arrive while the API is down are read on restart.
  A record it cannot apply (unreadable, or one the database refuses: a command id that
  is no UUID) goes to cg.deadletter with the reason and is passed over: re-reading it
  forever would stall every command behind it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import psycopg
from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

from api.metrics import ApiMetrics
from civicgrid.bus import clients
from civicgrid.bus.command_records import CommandAckRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.bus.topics import COMMAND_ACKS
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from civicgrid.store.device_commands import apply_ack
from civicgrid.store.outbox import relay_once

log = logging.getLogger(__name__)
ACK_READER = "api-acks"
ACK_UNAPPLIABLE = "ack_unappliable"  # dead-letter reason
FEED_RETENTION = "7 days"


class Worker(threading.Thread):
    """A named loop: `step()` returns True when it did work (loop again at once), False to wait `idle_s`."""

    def __init__(self, name: str, step: Callable[[], bool], idle_s: float, stop: threading.Event,
                 on_error: Callable[[], None] = lambda: None) -> None:
        super().__init__(name=name, daemon=True)
        self.step, self.idle_s, self.stop_event, self.on_error = step, idle_s, stop, on_error

    def run(self) -> None:
        backoff = self.idle_s
        while not self.stop_event.is_set():
            try:
                busy = self.step()
                backoff = self.idle_s
            except Exception:
                log.exception("%s: step failed; retrying in %.1f s", self.name, backoff)
                self.on_error()
                busy, backoff = False, min(backoff * 2, 10.0)
            if not busy:
                self.stop_event.wait(backoff)


class _Conn:
    """A lazily (re)opened connection for one loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.conn = settings, None

    def get(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.settings.db, autocommit=True)
        return self.conn

    def reset(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


class AckReader:
    def __init__(self, settings: Settings, db: _Conn, producer_of: Callable[[], Producer],
                 metrics: ApiMetrics | None = None) -> None:
        self.settings, self.db, self.producer_of = settings, db, producer_of
        self.metrics = metrics or ApiMetrics()
        self.consumer: Consumer | None = None

    def _assign(self) -> Consumer:
        consumer = Consumer(clients.librdkafka(self.settings.kafka, {"group.id": ACK_READER,
                                                                    "enable.auto.commit": False, "log_level": 3}))
        metadata = consumer.list_topics(COMMAND_ACKS, timeout=5)
        topic = metadata.topics.get(COMMAND_ACKS)
        if topic is None or topic.error is not None or not topic.partitions:
            consumer.close()
            raise RuntimeError(f"topic {COMMAND_ACKS} is not available yet")
        stored = dict(self.db.get().execute("SELECT partition, next_offset FROM kafka_positions WHERE consumer = %s "
                                            "AND topic = %s", (ACK_READER, COMMAND_ACKS)).fetchall())
        assignment = []
        for partition in topic.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(COMMAND_ACKS, partition), timeout=5)
            offset = stored.get(partition)
            # A stored position outside the log (the topic was recreated, or retention dropped it) restarts
            # at the end.
            assignment.append(TopicPartition(COMMAND_ACKS, partition,
                                             offset if offset is not None and low <= offset <= high else OFFSET_END))
        consumer.assign(assignment)
        return consumer

    def step(self) -> bool:
        if self.consumer is None:
            self.consumer = self._assign()
        messages = [m for m in self.consumer.consume(500, 0.5) if m.error() is None]
        if not messages:
            return True  # consume() already waited
        conn = self.db.get()
        steps: dict[str, int] = {}
        with conn.transaction():
            positions: dict[int, int] = {}
            rejected: list[Rejected] = []
            for msg in messages:
                positions[msg.partition()] = msg.offset() + 1
                try:
                    ack = CommandAckRecord.decode(msg.value() or b"")
                    with conn.transaction():  # a savepoint: one bad record (unknown device…) is skipped alone
                        apply_ack(conn, ack.command_id, ack.device_id, ack.status, ack.ts, ack.detail)
                    steps[ack.status] = steps.get(ack.status, 0) + 1
                except (ValueError, KeyError, TypeError, psycopg.errors.IntegrityError,
                        psycopg.errors.DataError) as exc:
                    key = msg.key()
                    log.warning("command ack at %s/%s dead-lettered: %s", msg.partition(), msg.offset(), exc,
                                extra={"device_id": key.decode(errors="replace") if key else None,
                                       "reason": ACK_UNAPPLIABLE})
                    rejected.append(Rejected(msg.value() or b"", f"kafka:{COMMAND_ACKS}",
                                             f"{type(exc).__name__}: {exc}",
                                             key.decode(errors="replace") if key else None, reason=ACK_UNAPPLIABLE))
            if rejected:  # recorded before the position moves past them
                DeadLetters(self.producer_of(), ACK_READER).send(rejected)
            for partition, offset in positions.items():
                conn.execute("INSERT INTO kafka_positions (consumer, topic, partition, next_offset) "
                             "VALUES (%s, %s, %s, %s) ON CONFLICT (consumer, topic, partition) "
                             "DO UPDATE SET next_offset = EXCLUDED.next_offset",
                             (ACK_READER, COMMAND_ACKS, partition, offset))
        for status, n in steps.items():  # counted once the transaction committed
            self.metrics.command_step(status, n)
        if rejected:
            self.metrics.dead_letters.labels(ACK_UNAPPLIABLE).inc(len(rejected))
        return True

    def reset(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.consumer = None
        self.db.reset()


class Background:
    """Start and stop the API's background loops (app lifespan)."""

    def __init__(self, settings: Settings, producer_of: Callable[[], Producer], poll_s: float = 0.2,
                 metrics: ApiMetrics | None = None) -> None:
        """`producer_of`: the API process's one Kafka producer (created on first use: the API starts
        without Kafka), shared by commands, the outbox relay and dead letters. `metrics`: the app's."""
        self.settings, self.producer_of, self.poll_s = settings, producer_of, poll_s
        self.metrics = metrics
        self.stop_event = threading.Event()
        self.threads: list[Worker] = []

    def _relay_step(self, db: _Conn) -> bool:
        return relay_once(db.get(), self.producer_of()) > 0

    def _retention_step(self, db: _Conn) -> bool:
        deleted = db.get().execute(f"DELETE FROM feed_events WHERE created_at < now() - interval '{FEED_RETENTION}'")
        log.debug("feed retention: %s rows removed", deleted.rowcount)
        return False

    def start(self) -> None:
        relay_db, ack_db, retention_db = _Conn(self.settings), _Conn(self.settings), _Conn(self.settings)
        acks = AckReader(self.settings, ack_db, self.producer_of, self.metrics)
        self.threads = [
            Worker("outbox-relay", lambda: self._relay_step(relay_db), self.poll_s, self.stop_event, relay_db.reset),
            Worker("command-acks", acks.step, 1.0, self.stop_event, acks.reset),
            Worker("feed-retention", lambda: self._retention_step(retention_db), 3600.0, self.stop_event,
                   retention_db.reset),
        ]
        self._closers = [relay_db.reset, acks.reset, retention_db.reset]
        for t in self.threads:
            t.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout_s)
        for close in getattr(self, "_closers", []):
            with contextlib.suppress(psycopg.Error, KafkaException, RuntimeError):
                close()
