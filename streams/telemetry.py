"""The telemetry job: cg.telemetry read once, for alarm detection and for the telemetry rows.

The worker's ``telemetry`` role. Before it, two consumer groups read every telemetry record, the alarm detector's
(``<app_id>-alarms``) and the sinks' (``<app_id>-sinks``), each fetching, parsing and decoding it: the second read
was a seventh of the worker's CPU (docs/performance.md, "The fifth round"). This job is the alarm detector
(streams/alarm_detection.py: cg.telemetry, cg.events and cg.status, one state per device per partition number, so
the three stay in one group) in a group of its own, ``<app_id>-telemetry``, that also writes the telemetry rows
from the records the detector decoded. The sinks then leave cg.telemetry out (`streams.sinks.sink_topics`, only in
a worker that runs this role). Per batch:

1. the detector's alarms and changed states on Kafka (`AlarmDetector._durable`), and, at the same time, the
   telemetry rows in PostgreSQL (`write_batch`, one transaction, retried on the same rows while the database is
   down, as the sinks retry); records that are not JSON objects, or that the table cannot read, go to cg.deadletter;
2. then the batch's offsets are committed: only once both are durable.

Read again after a crash, a batch writes no row twice (idempotent on ``(device_id, time, seq)``), and the detector
takes it as it takes any batch read again (its marks, streams/alarm_detection.py: every record taken in is skipped).

**Upgrade.** A partition this group never committed starts where neither older group would miss anything: the
older of the ``-alarms`` and ``-sinks`` committed offsets (`start_offset`), because the sinks may have stopped
behind the detector and starting from the detector's offset would never write the rows in between. Once this group
has committed a partition it goes on from its own offset. The records below the ``-alarms`` offset are rows only:
detection skips them (`AlarmDetector.taken_in`), since their effects are in the changelog. The changelog's marks
(streams/alarm_detection.py) say as much when an ``-alarms`` detector of this version wrote them; for a changelog
from before the marks, each state's ``_applied`` alone would not do across topics: it keeps, per topic partition,
the last record that *changed* the state, and a reading that changed nothing when first taken, evaluated again
after a later ``offline`` status of its device (taken from cg.status), would clear that offline episode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import ConsumerGroupTopicPartitions, Producer
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import AdminClient

from civicgrid.bus import clients
from civicgrid.bus import topics as t
from civicgrid.bus.dead_letters import DeadLetters
from civicgrid.profiles import DeviceProfile
from civicgrid.settings import Settings
from streams.alarm_detection import ALARMS_GROUP_SUFFIX, AlarmDetector, DeviceState
from streams.batch_consumer import DATABASE_DOWN, Backoff
from streams.metrics import WorkerMetrics
from streams.sinks import SINK_GROUP_SUFFIX, RowWriter, not_json, rejected_of, rows_or_dead_letters

log = logging.getLogger(__name__)

TELEMETRY_GROUP_SUFFIX = "telemetry"
# The groups that read each source topic before this job, by suffix: where a partition of it may start.
LEGACY_GROUPS: dict[str, tuple[str, ...]] = {t.TELEMETRY: (ALARMS_GROUP_SUFFIX, SINK_GROUP_SUFFIX),
                                             t.EVENTS: (ALARMS_GROUP_SUFFIX,), t.STATUS: (ALARMS_GROUP_SUFFIX,)}


def start_offset(own: int | None, legacy: Sequence[int | None]) -> int | None:
    """Where a newly assigned partition starts: this group's committed offset; else, never committed, the older of
    the legacy groups' (an upgrade: the rows between the sinks' offset and the detector's are not written yet);
    None, from the partition's beginning, when a legacy group never committed it either (a new city, or a
    group that never ran: nothing it was to write can be assumed written)."""
    if own is not None:
        return own
    if not legacy or any(offset is None for offset in legacy):
        return None
    return min(offset for offset in legacy if offset is not None)


def committed_offsets(settings: Settings, group: str, partitions: Sequence[TopicPartition]
                      ) -> dict[TopicPartition, int]:
    """`group`'s committed offsets of `partitions` (a partition it never committed is left out). Blocking."""
    admin = AdminClient(clients.librdkafka(settings.kafka, {"log_level": 3}))
    asked = [KafkaPartition(tp.topic, tp.partition) for tp in partitions]
    answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, asked)],
                                               request_timeout=30)[group].result(30)
    return {TopicPartition(p.topic, p.partition): p.offset for p in answer.topic_partitions
            if p.error is None and p.offset >= 0}


class TelemetryJob(AlarmDetector):
    """The worker's ``telemetry`` role; `run()` consumes until `stop()` (see the module docstring)."""

    GROUP_SUFFIX = TELEMETRY_GROUP_SUFFIX

    def __init__(self, settings: Settings, profiles: Mapping[str, DeviceProfile], producer: Producer,
                 dead_letters: DeadLetters, *, offline_check_s: float = 10.0,
                 metrics: WorkerMetrics | None = None) -> None:
        super().__init__(settings, profiles, producer, offline_check_s=offline_check_s, metrics=metrics)
        self.dead_letters = dead_letters
        self.rows_written = 0
        self.dead_lettered = 0
        self._writer = RowWriter(settings, self.metrics)
        self._records: list[dict[str, Any]] = []  # the batch's decoded telemetry records, in `detect`'s order
        self._dead: list[tuple[dict[str, Any], str]] = []  # the batch's records no row can be made of
        self._starts: dict[TopicPartition, int] = {}  # where `_positions` moved a partition to

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await asyncio.to_thread(self._writer.close)

    async def _take(self, consumer: AIOKafkaConsumer, batch: Any) -> None:
        self._records, self._dead = [], []  # a batch that failed half-way left its records here
        if self._starts:
            batch = self._from_starts(batch)
            if not batch:
                return
        await super()._take(consumer, batch)

    def _from_starts(self, batch: Mapping[TopicPartition, Sequence[Any]]) -> dict[TopicPartition, Sequence[Any]]:
        """The batch without the records before where `_positions` started their partition: aiokafka fetches for a
        new assignment from the group's start (the beginning, for a group that never committed) while the listener
        still runs, and hands that batch out after the seek. Those records are below both legacy groups' offsets
        (their rows and effects durable): written again they would only cost a rewrite."""
        kept: dict[TopicPartition, Sequence[Any]] = {}
        for tp, messages in batch.items():
            start = self._starts.get(tp)
            late = [m for m in messages if m.offset >= start] if start is not None and messages and \
                messages[0].offset < start else messages
            if late:
                kept[tp] = late
        return kept

    def _keep(self, topic: str) -> list[dict[str, Any]] | None:
        return self._records if topic == t.TELEMETRY else None

    def _unreadable(self, topic: str, raw: bytes | None, exc: Exception) -> None:
        self._dead.append(not_json(topic, raw, exc))

    async def _durable(self, alarms: list[tuple[bytes, bytes]], changed: dict[tuple[int, str], DeviceState],
                       marks: Mapping[TopicPartition, int]) -> bool:
        """The detector's alarms and states on Kafka and the batch's rows in PostgreSQL, side by side; True once
        both are, False when stopped while the database was down (nothing committed: the batch is read again)."""
        records, self._records = self._records, []
        dead, self._dead = self._dead, []
        rows = rows_or_dead_letters(t.TELEMETRY, records, dead) if records else []
        detected, written = await asyncio.gather(super()._durable(alarms, changed, marks),
                                                 self._write_until_done(rows), return_exceptions=True)
        for outcome in (detected, written):
            if isinstance(outcome, BaseException):
                raise outcome
        if not written:
            return False
        if dead:
            rejected = rejected_of(dead, "kafka:telemetry")
            for r in rejected[:5]:
                log.warning("telemetry: dead-lettered (%s, %s): %s", r.origin, r.reason, r.detail[:200],
                            extra={"device_id": r.device_id, "reason": r.reason})
            self.dead_lettered += await asyncio.to_thread(self.dead_letters.send, rejected)
            self.role.dead_lettered(rejected)
        return True

    async def _write_until_done(self, rows: list[Any]) -> bool:
        """The rows in one transaction, retried with backoff while the database is down; False if stopped first."""
        if not rows:
            return True
        backoff = Backoff()
        while True:
            try:
                self.rows_written += await asyncio.to_thread(self._writer.write, {t.TELEMETRY: rows})
                return True
            except DATABASE_DOWN as exc:
                log.warning("telemetry: database unavailable (%s); retrying the same rows in %.1f s", exc,
                            backoff.delay_s)
                await asyncio.to_thread(self._writer.close)
                if await backoff.sleep(self._stop):
                    log.info("telemetry: stopped with a batch unwritten; it is read again on the next start")
                    return False

    async def _positions(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Each partition this group never committed starts at `start_offset` of the legacy groups' offsets."""
        if not assigned:
            return
        parts = sorted(assigned)
        app_id = self.settings.streams.app_id
        suffixes = (TELEMETRY_GROUP_SUFFIX, ALARMS_GROUP_SUFFIX, SINK_GROUP_SUFFIX)
        offsets = {suffix: await asyncio.to_thread(committed_offsets, self.settings, f"{app_id}-{suffix}", parts)
                   for suffix in suffixes}
        # Below -alarms' offset every record is in the changelog's states already: detection skips them (a reading
        # evaluated again after a later `offline` status of its device would clear that episode), rows are written.
        for tp, offset in offsets[ALARMS_GROUP_SUFFIX].items():
            self.taken_in[tp] = max(offset, self.taken_in.get(tp, 0))
        for tp in parts:
            self._starts.pop(tp, None)
            if tp in offsets[TELEMETRY_GROUP_SUFFIX]:
                continue  # its own committed offset, where aiokafka starts it
            start = start_offset(None, [offsets[g].get(tp) for g in LEGACY_GROUPS.get(tp.topic, ())])
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
                self._starts[tp] = start
                log.info("telemetry: %s:%d starts at %d, where the older of the %s groups stopped", tp.topic,
                         tp.partition, start, "/".join(LEGACY_GROUPS.get(tp.topic, ())))
