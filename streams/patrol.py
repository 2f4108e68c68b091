"""Patrol coverage in the worker: cg.tracks → clean `track_points` (with cell and segment), `track_rejects`,
`patrol_coverage` and its rollups, and patrol alarms on cg.alarms.

Not a Faust agent, for the sinks' reason (docs/streams.md): Faust's per-event path tops out near
16 k events/s without table writes and 3.2 k/s with them, and patrol needs per-device state. So it is
a raw aiokafka consumer in its own group (``<app_id>-patrol``): batches of up to `patrol.batch`
records go through `civicgrid.domain.patrol.PatrolTracker` (numpy/pyproj/shapely over the batch) in
a worker thread, and everything the batch produced — points, rejects, coverage rows, cell visits,
the touched devices' state and the consumer's position per partition (`kafka_positions`) — commits
in ONE database transaction. When partitions are assigned the consumer seeks to the positions the
database holds, and device state is read back from `patrol_device_state` on a device's first record:
a restarted or rebalanced worker continues today's coverage exactly, without double counting.
Kafka offsets are committed too (after the database), for lag monitoring only. Batch N+1 goes through
the rules while batch N's transaction runs on a second connection (the rules are half the time, the
database the other half: docs/patrol.md); a failed write restarts the consumer from the database.
Positions kept in the database, that overlap, and a restart where the others retry keep this loop out of
the worker's batch-consumer runner (streams/batch_consumer.py); it takes from it the consumer's creation
and the backoff between restarts.

Patrol alarms go to cg.alarms before the transaction commits (at least once; their ids are
deterministic, so a replay repeats the same alarm and the alarms sink keeps one row).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from confluent_kafka import Producer

from civicgrid.bus import topics
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.bus.delivery import produce_all
from civicgrid.bus.device_records import DeviceRecord
from civicgrid.domain.patrol import Fix, PatrolRules, PatrolTracker
from civicgrid.domain.patrol.tracker import AlarmOut, BatchResult
from civicgrid.settings import PatrolSettings, Settings
from civicgrid.store import patrol as store
from civicgrid.store.db import connect
from streams.batch_consumer import Backoff, open_consumer, stop_consumer
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

PATROL_GROUP_SUFFIX = "patrol"


def rules_of(p: PatrolSettings) -> PatrolRules:
    """The domain's rule parameters from the settings section (which takes its defaults from them)."""
    values = {f.name: getattr(p, f.name) for f in dataclasses.fields(PatrolRules)}
    return PatrolRules(**{**values, "max_speed_mps": dict(p.max_speed_mps)})


def fix_of(rec: dict[str, Any]) -> Fix:
    """A cg.tracks record → Fix; KeyError/TypeError/ValueError for a record that is not one."""
    track = DeviceRecord.decode(rec)
    data = track.data
    return Fix(track.device_id, track.kind, track.inspector_user_id, track.seq, track.ts.timestamp(),
               track.ts.isoformat(), data.get("lon"), data.get("lat"), bool(data.get("fix_valid", True)),
               data.get("hdop"), data.get("accuracy_m"), data.get("speed_mps"), data.get("heading_deg"))


def alarm_record(out: AlarmOut) -> AlarmRecord:
    """A patrol alarm on cg.alarms: ``rule_kind: patrol``, no category, not a device-health alarm, and never a
    case (streams/problems.py skips rule_kind patrol)."""
    a = out.alarm
    return AlarmRecord(
        alarm_id=f"{out.device_id}:{a.rule}:{round(a.episode * 1000)}", device_id=out.device_id, kind=out.kind,
        rule=a.rule, rule_kind="patrol", action=a.action, ts=datetime.fromtimestamp(a.at, UTC), value=a.value,
        limit=a.limit, grid_cell_code=out.grid_cell_code, inspector_user_id=out.inspector_user_id,
        source_seq=out.seq)


class PatrolRunner:
    """The patrol consumer of one worker (see the module docstring)."""

    def __init__(self, settings: Settings, producer: Producer, dead_letters: DeadLetters,
                 metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.role = self.metrics.role(PATROL_GROUP_SUFFIX)
        self.group = f"{settings.streams.app_id}-{PATROL_GROUP_SUFFIX}"
        self.rules = rules_of(settings.patrol)
        self.tracker: PatrolTracker | None = None
        self.counts: Counter = Counter()  # seen, clean, rejected:<reason>, alarms, dead_letters
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._conn: psycopg.Connection | None = None  # the rules' reads (network, plans, states)
        self._writer: psycopg.Connection | None = None  # the batches' transactions
        self._pending: tuple[asyncio.Future, dict[tuple[str, int], int]] | None = None
        self._signature: tuple | None = None
        self._refreshed = 0.0
        self._last_record = time.monotonic()
        self._next: dict[tuple[str, int], int] = {}  # (topic, partition) → next offset to process
        self._producer = producer
        self._dead = dead_letters
        self._restart = Backoff(first_s=5.0, max_s=60.0)  # after a failure; reset by a written batch

    def stop(self) -> None:
        self._stop.set()

    # -- database side (worker thread) ---------------------------------------------
    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.db, autocommit=True)
        return self._conn

    def _refresh(self, conn: psycopg.Connection, force: bool = False) -> None:
        fresh = time.monotonic() - self._refreshed < self.settings.patrol.refresh_s
        if not force and self.tracker is not None and fresh:
            return
        offset = round(self.settings.patrol.utc_offset_h * 3600)
        signature = store.network_signature(conn)
        if self.tracker is None or signature != self._signature:
            network = store.load_network(conn, utc_offset_s=offset)
            if self.tracker is None:
                self.tracker = PatrolTracker(network, self.rules)
            else:
                self.tracker.network = network
            self._signature = signature
            log.info("patrol: network of %d road segments, %d cells, %d plans", len(network.segments),
                     len(network.cells) if network.cells else 0, len(network.plans))
        else:
            self.tracker.network.plans = store.load_plans(conn)
            self.tracker.network._required.clear()
        self._refreshed = time.monotonic()

    def _process(self, fixes: list[Fix], tick_now: float | None) -> tuple[BatchResult, list[tuple[str, str]]]:
        """The rules over a batch (worker thread); returns what to write, the touched states serialised now."""
        conn = self._db()
        self._refresh(conn)
        tracker = self.tracker
        missing = {f.device_id for f in fixes} - tracker.states.keys()
        if missing:
            tracker.states.update(store.load_states(conn, sorted(missing)))
        started = time.perf_counter()
        res = tracker.process(fixes)
        if tick_now is not None:
            _merge(res, tracker.tick(tick_now))
        if res.alarms:
            self._send_alarms(res.alarms)
        states = store.state_rows(res, tracker.states)
        self.counts["rules_ms"] += round((time.perf_counter() - started) * 1000)
        self.counts["seen"] += len(fixes)
        self.counts["clean"] += len(res.clean)
        for reason, n in res.reject_counts.items():
            self.counts[f"rejected:{reason}"] += n
        self.counts["alarms"] += len(res.alarms)
        return res, states

    def _write(self, res: BatchResult, states: list[tuple[str, str]], offsets: dict[tuple[str, int], int]) -> None:
        """One transaction on the writer's own connection (worker thread), while the next batch is processed."""
        started = time.perf_counter()
        if self._writer is None or self._writer.closed:
            self._writer = connect(self.settings.db, autocommit=True)
        store.write_batch(self._writer, res, states, consumer=self.group, offsets=offsets, now=datetime.now(UTC))
        self.counts["write_ms"] += round((time.perf_counter() - started) * 1000)
        self.counts["batches"] += 1
        if self.counts["batches"] % 50 == 0:
            log.info("patrol: %s", dict(self.counts))

    def _send_alarms(self, alarms: list[AlarmOut]) -> None:
        produce_all(self._producer, ((topics.ALARMS, alarm_record(a).encode(), a.device_id.encode(), None)
                                     for a in alarms), "the patrol alarms")
        self.metrics.count_alarms((a.alarm.rule, a.alarm.action) for a in alarms)
        for a in alarms[:20]:
            log.info("patrol alarm %s %s on %s", a.alarm.rule, a.alarm.action, a.device_id,
                     extra={"device_id": a.device_id})

    def _dead_letter(self, dead: list[tuple[bytes, str]]) -> None:
        rejected = [Rejected(raw, f"kafka:{topics.TRACKS}", reason) for raw, reason in dead]
        self.counts["dead_letters"] += self._dead.send(rejected)
        self.role.dead_lettered(rejected)

    def _positions(self) -> dict[int, int]:
        return store.positions(self._db(), self.group, topics.TRACKS)

    # -- Kafka side -----------------------------------------------------------------
    async def _settle(self, consumer: AIOKafkaConsumer) -> None:
        """Wait for the batch being written; then its Kafka offsets are committed (for lag monitoring).

        A failed write raises: `run` restarts the consumer from the positions and states in the database
        (the in-memory state is ahead of it by then), so nothing is lost or counted twice.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return
        task, offsets = pending
        await task
        self._restart.reset()
        if offsets:
            started = time.perf_counter()
            await consumer.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
            self.role.commit_seconds.observe(time.perf_counter() - started)

    async def run(self) -> None:
        """Consume until stopped; an unexpected error restarts the consumer from the database's positions."""
        while not self._stop.is_set():
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("patrol consumer failed; restarting from the positions in the database in %.0f s",
                              self._restart.delay_s)
                self.role.stopped("restarting", f"{type(exc).__name__}: {exc}"[:300])
                if self.tracker is not None:
                    self.tracker.states.clear()
                self._next = {}
                await self._restart.sleep(self._stop)

    async def _consume(self) -> None:
        s = self.settings
        consumer = open_consumer(s, self.group, max_records=s.patrol.batch)
        consumer.subscribe([topics.TRACKS], listener=_Rebalance(self, consumer))
        await consumer.start()
        self.role.started(self.group)
        last_tick = time.monotonic()
        redelivered = 0
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=int(s.patrol.within_s * 1000), max_records=s.patrol.batch)
                fetched_at = time.perf_counter()
                self.role.fetched(consumer)
                tick_now = None
                every = s.patrol.offline_check_s
                if (not batches and every > 0 and time.monotonic() - last_tick >= every and self.tracker is not None
                        and self.tracker.clock):
                    # Caught up (an empty fetch): the stream clock runs on with the wall clock while nothing
                    # arrives, and silent handhelds (offline) and closed windows are judged against it.
                    tick_now = self.tracker.clock + (time.monotonic() - self._last_record)
                    last_tick = time.monotonic()
                if not batches and tick_now is None:
                    continue
                fixes, offsets, dead = self._read(batches, consumer)
                if fixes:
                    self._last_record = time.monotonic()
                async with self._lock:
                    if dead:
                        await asyncio.to_thread(self._dead_letter, dead)
                    # Batch N+1 goes through the rules while batch N is written (two cores: Python and PostgreSQL).
                    res, states = await asyncio.to_thread(self._process, fixes, tick_now)
                    await self._settle(consumer)
                    self._pending = (asyncio.ensure_future(asyncio.to_thread(self._write, res, states, offsets)),
                                     offsets)
                    self._next.update(offsets)
                if batches:  # its write runs on while the next batch is fetched: the time is up to its scheduling
                    self.role.batch(sum(len(m) for m in batches.values()), fetched_at)
                if self.counts["redelivered"] > redelivered:
                    redelivered = self.counts["redelivered"]
                    log.info("patrol: %d record(s) below the position in the database skipped", redelivered)
            async with self._lock:
                await self._settle(consumer)
        finally:
            self.role.stopped()
            if self._pending is not None:  # stopping or failing: let the write in flight finish, commit nothing
                with contextlib.suppress(Exception):
                    await self._pending[0]
                self._pending = None
            await stop_consumer(consumer)  # the broker down: no stray CancelledError ends the role
            for conn in (self._conn, self._writer):
                if conn is not None:
                    conn.close()
            self._conn = self._writer = None


    def _read(self, batches: dict, consumer: AIOKafkaConsumer) -> tuple[list[Fix], dict[tuple[str, int], int],
                                                                         list[tuple[bytes, str]]]:
        """Fixes, the next offset per partition, and what could not be read (to the dead-letter topic).

        The database's position per partition is the truth (module docstring). aiokafka may hand out a first
        batch fetched from Kafka's committed offset before the assignment callback's seek lands (seen here):
        records below the position are skipped (already processed), and a batch that starts beyond it (a
        gap) is dropped and the partition sought back.
        """
        fixes: list[Fix] = []
        offsets: dict[tuple[str, int], int] = {}
        dead: list[tuple[bytes, str]] = []
        for tp, messages in batches.items():
            key = (tp.topic, tp.partition)
            if key not in self._next:
                stored = self._positions()
                self._next[key] = stored.get(tp.partition, messages[0].offset if messages else 0)
            floor = self._next[key]
            if messages and messages[0].offset > floor:
                log.warning("patrol: partition %d fetched from %d, the database says %d: seeking back",
                            tp.partition, messages[0].offset, floor)
                consumer.seek(tp, floor)
                continue
            for msg in messages:
                if msg.offset < floor:
                    self.counts["redelivered"] += 1
                    continue
                try:
                    fixes.append(fix_of(orjson.loads(msg.value)))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    dead.append((msg.value or b"", f"{tp.topic}: {type(exc).__name__}: {exc}"))
            if messages and messages[-1].offset >= floor:
                offsets[key] = messages[-1].offset + 1
        return fixes, offsets, dead


class _Rebalance(ConsumerRebalanceListener):
    """Seek to the positions the database holds; forget the state of devices this worker may lose."""

    def __init__(self, runner: PatrolRunner, consumer: AIOKafkaConsumer) -> None:
        self.runner, self.consumer = runner, consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.runner._lock:  # the batch in flight finishes (and commits) first
            await self.runner._settle(self.consumer)
            if self.runner.tracker is not None:
                self.runner.tracker.states.clear()  # read back from the database on each device's next record

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Forgotten first: aiokafka only logs a listener's error, and positions kept from an earlier assignment
        # would then judge the next batches (a partition another worker moved on meanwhile re-read from the old
        # one). With none kept, `_read` asks the database at the partition's first batch.
        self.runner._next = {}
        stored = self.runner._positions()  # not in a thread: no batch may slip in before the seek
        self.runner._next = {(tp.topic, tp.partition): stored[tp.partition] for tp in assigned
                             if tp.partition in stored}
        for tp in assigned:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
        log.info("patrol: assigned %s; resuming at %s", sorted(tp.partition for tp in assigned),
                 {p: o for p, o in stored.items() if any(tp.partition == p for tp in assigned)})


def _merge(into: BatchResult, more: BatchResult) -> None:
    into.alarms += more.alarms
    into.dirty |= more.dirty
