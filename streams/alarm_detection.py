"""Alarm detection: cg.telemetry + cg.events + cg.status → cg.alarms, raise and clear once per episode.

A raw aiokafka consumer group (``<app_id>-alarms``; as the ``telemetry`` role, streams/telemetry.py, the same
detector in ``<app_id>-telemetry`` writing the telemetry rows too) that takes records in batches
(docs/streams.md): each record goes through its device profile's rules (civicgrid/domain/alarms.py, pure) against
the device's rule state, kept in memory per partition and written to a compacted changelog topic
(``<app_id>-alarm-state``, one partition per source partition) whenever it changes. Per batch, in this order:

1. the alarms it fired are on cg.alarms (the producer flushed);
2. then the changed device states are on the changelog, each with the offset of the last record that changed it
   per source partition (``_applied``); a state in which only a rate-of-change window moved waits up to
   ``streams.alarm_window_write_s`` (`window_only`: every reading slides such a window, and writing each was a
   changelog record for most readings), so a window restored after a crash may miss those seconds of readings;
3. then, on the same changelog partitions, each source partition's mark: the offset after the batch's last record
   of it, every record below taken in (`taken_in_key`; one record per source partition per batch);
4. then the batch's offsets are committed.

Killed before 2, the restarted worker reads the batch again from the old state and fires the same episodes again
under the same alarm ids (deduplicated downstream: the alarms sink and the case builder keep one); killed after 3,
it restores the new states and marks and skips detection for every record below a mark. So an episode is neither
lost nor raised twice, a debounce never counts a reading twice, and a record that changed nothing is not evaluated
again against a state that later records changed (a reading read again after its device's ``offline`` status
would clear that episode). Killed between 2 and 3, the states' ``_applied`` offsets skip the records that changed
them and the others are evaluated again (that one round trip is the gap left: the mark is written only once the
states it stands for are on Kafka, since a mark without its states would skip records whose effect was lost). A
reading the gateway produced a second time after its own crash (at another offset, behind newer ones) is
recognised by its `seq` and `ts` (`is_replay`). On assignment the state (and the marks) of each assigned partition
is read back from its changelog partition before the first record (aiokafka already fetches while the rebalance
listener runs: the batch waits for the restore, which applies states and marks together or not at all); a revoked
partition's state is dropped once the batch in flight has committed. A restore that failed (aiokafka only logs a
rebalance listener's error and goes on consuming) leaves its partitions unrestored, and a batch holding records
of an unrestored partition restarts the consumer. Either way a record evaluated from an empty state, its state
then overwritten by the one read back, would raise an episode already raised a second time, at another reading
(seen in tests/e2e/test_worker_kill.py: one cover with 11 episodes of 10).

All three source topics are keyed by device id and written with librdkafka's partitioner (the gateway, the camera
poller, this module's silence records), so a device's records share one partition number and one state. Silence
is noticed by a timer over the devices this worker has seen: it sends a ``silence`` status record, which the
detector then takes like an ``offline`` status.

Not a Faust agent any more: Faust's per-event path with a table write ran near 3 k events/s (docs/architecture.md),
and its recovery race (faust-streaming/faust#596) dropped records fetched while a restarted worker recovered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from confluent_kafka import Producer

from civicgrid.bus import clients
from civicgrid.bus import topics as t
from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.alarm_record import AlarmRecord
from civicgrid.bus.delivery import produce_all
from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from civicgrid.bus.records import loads
from civicgrid.bus.topics import TopicSpec
from civicgrid.domain.alarms import AlarmEvent, evaluate_event, evaluate_presence, evaluate_reading
from civicgrid.profiles import DeviceProfile
from civicgrid.settings import Settings
from streams.batch_consumer import Backoff, open_consumer, stop_consumer
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

ALARMS_GROUP_SUFFIX = "alarms"
# Records evaluated without giving the event loop back: a whole 2,000-record batch at once held the loop for
# 50-100 ms, and the sinks and patrol on the same loop waited that long at each of their awaits.
DETECT_AT_ONCE = 250
SOURCE_TOPICS = (t.TELEMETRY, t.EVENTS, t.STATUS)
APPLIED = "_applied"  # in a device's state: "topic:partition" → offset of the last record that changed it
# The changelog key prefix of a source topic's mark in the changelog partition of its partition number: no device
# key starts with it (a device id starts with a letter or digit, civicgrid/domain/devices.py), so compaction keeps
# one mark per source partition beside the device states.
TAKEN_IN = "#taken-in:"
DeviceState = dict[str, Any]
# Alarms logged one by one per batch (with device id and alarm key); a storm (a district's power cut) is counted
# and on cg.alarms, not a flood of log lines.
LOGGED_PER_BATCH = 20


def changelog_topic(app_id: str) -> str:
    return f"{app_id}-alarm-state"


def taken_in_key(topic: str) -> bytes:
    """The changelog key of `topic`'s mark (its value: the offset below which every record was taken in)."""
    return f"{TAKEN_IN}{topic}".encode()


# What a rate-of-change rule's state keeps of its window (civicgrid/domain/alarms.py `_rate`).
WINDOW_KEYS = frozenset({"highs", "lows"})


def window_only(old: DeviceState, new: DeviceState) -> bool:
    """True when `new` differs from `old` in nothing but rate-of-change windows: such a state waits for the
    changelog (`streams.alarm_window_write_s`), because a reading slides its window every time. Anything else (an
    episode raised or cleared, a debounce count, a violation's time) is written with its batch, so that an episode
    is never raised twice or lost across a crash."""
    for rule, state in new.items():
        before = old.get(rule)
        if state is before or rule == APPLIED or state == before:
            continue
        if not (isinstance(state, dict) and isinstance(before, dict) and "highs" in state
                and state.keys() == before.keys()):
            return False
        if any(value != before[key] for key, value in state.items() if key not in WINDOW_KEYS):
            return False
    return new.keys() == old.keys()


def alarm_record(source: DeviceRecord | StatusRecord, profile: DeviceProfile, event: AlarmEvent) -> AlarmRecord:
    """The alarm a profile rule fired on `source`, with the rule's target for the case (a presence record carries
    no registry links: its alarm has none either)."""
    rule = next(r for r in profile.alarms if r.id == event.rule_id)
    target = rule.target
    linked = source if isinstance(source, DeviceRecord) else None
    return AlarmRecord(
        alarm_id=f"{source.device_id}:{event.episode}", device_id=source.device_id, kind=source.kind,
        rule=event.rule_id, rule_kind=rule.kind, action=event.action, ts=event.at, value=event.value,
        limit=event.limit, category=target.category, linked_component=target.linked_component,
        component_state=target.component_state, urgency=target.urgency.value, device_alarm=target.device_alarm,
        component_code=linked and linked.component_code, grid_cell_code=linked and linked.grid_cell_code,
        inspector_user_id=linked and linked.inspector_user_id, source_seq=linked and linked.seq)


def is_replay(last: tuple[int, float] | None, rec: DeviceRecord) -> bool:
    """A reading or event no newer than the device's last one on its channel, by both `seq` and `ts`: a copy the
    gateway produced again after a crash (the broker redelivers what it had not acked, after records Kafka already
    had), not news. Applied again, a replayed block that starts mid-episode would raise the episode a second time
    at another reading (seen in tests/e2e/test_broker_kill.py). Either number alone going back is a device's
    reboot (seq) or clock correction (ts), which counts."""
    return last is not None and rec.seq <= last[0] and rec.ts.timestamp() <= last[1]


@dataclass(frozen=True, slots=True)
class ProfileRules:
    """A profile's alarm rules sorted once by the records they read, in the profile's order: every record went
    through each of the profile's rules twice (presence, then its channel's) only to skip the other kinds."""

    offline: tuple[Any, ...]
    reading: tuple[Any, ...]  # threshold and rate_of_change
    event: tuple[Any, ...]

    @classmethod
    def of(cls, profile: DeviceProfile) -> ProfileRules:
        rules = profile.alarms
        return cls(tuple(r for r in rules if r.kind == "offline"),
                   tuple(r for r in rules if r.kind in ("threshold", "rate_of_change")),
                   tuple(r for r in rules if r.kind == "event"))


def evaluate(rec: DeviceRecord | StatusRecord, rules: ProfileRules,
             states: DeviceState) -> tuple[DeviceState, list[AlarmEvent]]:
    """One record through its profile's rules: any record is a sign of life (clears an offline episode)."""
    if isinstance(rec, StatusRecord):
        return evaluate_presence(rules.offline, states, rec.state == "online", rec.ts)
    events: list[AlarmEvent] = []
    if rules.offline:
        states, events = evaluate_presence(rules.offline, states, True, rec.ts)
    if rec.channel == "telemetry":
        if not rules.reading:
            return states, events
        states, more = evaluate_reading(rules.reading, states, rec.data, rec.ts)
    else:
        states, more = evaluate_event(rules.event, states, rec.data.get("type", ""), rec.ts)
    return states, events + more if events else more


class AlarmDetector:
    """The worker's ``alarms`` role; `run()` consumes until `stop()`. The ``telemetry`` role
    (streams/telemetry.py) is this detector writing the telemetry rows too, through the hooks `_keep`,
    `_unreadable`, `_durable` and `_positions`."""

    GROUP_SUFFIX = ALARMS_GROUP_SUFFIX  # the consumer group ``<app_id>-<suffix>`` and the role's name in metrics

    def __init__(self, settings: Settings, profiles: Mapping[str, DeviceProfile], producer: Producer, *,
                 offline_check_s: float = 10.0, metrics: WorkerMetrics | None = None) -> None:
        s = settings.streams
        self.settings = settings
        self.profiles = profiles
        self._rules = {name: (profile, ProfileRules.of(profile)) for name, profile in profiles.items()}
        self.group = f"{s.app_id}-{self.GROUP_SUFFIX}"
        self.changelog = changelog_topic(s.app_id)
        self.offline_check_s = offline_check_s
        self.states: dict[int, dict[str, DeviceState]] = {}  # partition → device → state (the assigned ones)
        self.restored: set[int] = set()  # the assigned partitions whose state was read back from the changelog
        # device → (monotonic time last seen, kind, profile), per partition; for the silence timer
        self.last_seen: dict[int, dict[str, tuple[float, str, str]]] = {}
        # (device, channel) → (seq, ts) of the last record applied, per partition; for `is_replay` (in memory: a
        # restarted worker relies on the changelog's offsets instead)
        self.last_applied: dict[int, dict[tuple[str, str], tuple[int, float]]] = {}
        self.offline_sent: set[str] = set()
        # device → monotonic time its state was last put on the changelog, per partition (`window_only`), and how
        # long a state whose only change is a window waits for it
        self.state_written: dict[int, dict[str, float]] = {}
        self.window_write_s = s.alarm_window_write_s
        # source partition → offset below which every record was taken in (its effects are in the changelog):
        # the marks read back from the changelog and written per batch, and the telemetry job's upgrade from
        # ``-alarms`` (streams/telemetry.py); for the assigned partitions
        self.taken_in: dict[TopicPartition, int] = {}
        self.counts: Counter[str] = Counter()
        self.metrics = metrics or WorkerMetrics()
        self.metrics.known_rules.update(rule.id for profile in profiles.values() for rule in profile.alarms)
        self.role = self.metrics.role(self.GROUP_SUFFIX)
        self._fired: list[tuple[str, str, str, str]] = []  # (device, rule, action, alarm id) of the batch's alarms
        self._producer = producer
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def states_of(self, device: str) -> DeviceState | None:
        """The device's rule state, if one of this worker's partitions has it."""
        return next((states[device] for states in self.states.values() if device in states), None)

    async def run(self) -> None:
        """Consume until stopped; an unexpected error restarts the consumer (state restored from the changelog)."""
        k = self.settings.kafka
        await asyncio.to_thread(ensure_topics, k, [TopicSpec(self.changelog, k.partitions, k.replication_factor,
                                                             {"cleanup.policy": "compact"})])
        backoff = Backoff()
        silence = asyncio.ensure_future(self._notice_silence())
        try:
            while not self._stop.is_set():
                try:
                    await self._consume()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("alarm detection failed; restarting from the changelog in %.0f s", backoff.delay_s)
                    self.role.stopped("restarting", f"{type(exc).__name__}: {exc}"[:300])
                    self.states.clear()
                    self.restored.clear()
                    self.taken_in.clear()  # read back with the states (a batch that failed wrote no mark)
                    self.last_applied.clear()  # the batch read again must not look like a replay
                    await backoff.sleep(self._stop)
        finally:
            silence.cancel()

    async def _consume(self) -> None:
        s = self.settings.streams
        consumer = open_consumer(self.settings, self.group, max_records=s.alarm_batch)
        consumer.subscribe(list(SOURCE_TOPICS), listener=_Rebalance(self, consumer))
        await consumer.start()
        self.role.started(self.group)
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=round(s.sink_within_s * 1000), max_records=s.alarm_batch)
                fetched_at = time.perf_counter()
                self.role.fetched(consumer)
                if batch:
                    async with self._lock:
                        await self._take(consumer, batch)
                    self.role.batch(sum(len(m) for m in batch.values()), fetched_at)
        finally:
            self.role.stopped()
            await stop_consumer(consumer)

    async def _take(self, consumer: AIOKafkaConsumer,
                    batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]) -> None:
        """One batch through steps 1-4 of the module docstring."""
        unrestored = {tp.partition for tp in batch} - self.restored
        if unrestored:
            raise StateNotRestored(f"the alarm state of partitions {sorted(unrestored)} was not restored")
        alarms: list[tuple[bytes, bytes]] = []
        changed: dict[tuple[int, str], DeviceState] = {}
        self._fired = []
        for part in _parts(batch, DETECT_AT_ONCE):
            part_alarms, part_changed = self.detect(part)
            alarms += part_alarms
            changed.update(part_changed)  # a device's later state replaces its earlier one
            await asyncio.sleep(0)  # the worker's other roles get the loop between parts
        taken_in = self.taken_in
        marks = {tp: max(messages[-1].offset + 1, taken_in.get(tp, 0)) for tp, messages in batch.items() if messages}
        if not await self._durable(alarms, changed, marks):
            return  # stopped before the batch's effect was all durable: read again on the next start
        taken_in.update(marks)  # durable: a batch read again from here (a failed commit) skips them too
        assigned = consumer.assignment()
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items() if messages and tp in assigned}
        if offsets:
            started = time.perf_counter()
            await consumer.commit(offsets)
            self.role.commit_seconds.observe(time.perf_counter() - started)
        self.counts["records"] += sum(len(m) for m in batch.values())
        self.counts["alarms"] += len(alarms)
        self._report_alarms()

    async def _durable(self, alarms: list[tuple[bytes, bytes]], changed: dict[tuple[int, str], DeviceState],
                       marks: Mapping[TopicPartition, int]) -> bool:
        """Steps 1-3: the alarms on cg.alarms, then the changed states on the changelog, then the source partitions'
        marks (each write awaited before the next). True once durable."""
        if alarms:
            await asyncio.to_thread(self._send, [(t.ALARMS, key, value, None) for key, value in alarms])
        if changed:
            await asyncio.to_thread(self._send, [(self.changelog, device.encode(), orjson.dumps(state), partition)
                                                 for (partition, device), state in changed.items()])
        if marks:
            await asyncio.to_thread(self._send, [(self.changelog, taken_in_key(tp.topic), b"%d" % offset,
                                                  tp.partition) for tp, offset in marks.items()])
        return True

    def _keep(self, topic: str) -> list[dict[str, Any]] | None:
        """Where `detect` puts each decoded record of `topic` for another use (the telemetry job's rows); None:
        nowhere."""
        return None

    def _unreadable(self, topic: str, raw: bytes | None, exc: Exception) -> None:
        """A record of a kept topic that is not a JSON object (the telemetry job dead-letters it)."""

    async def _positions(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Where newly assigned partitions start: the group's committed offsets (the telemetry job moves some)."""

    def _report_alarms(self) -> None:
        """The batch's alarms, sent: counted by rule and action, and logged with their ids (the first few)."""
        if not self._fired:
            return
        self.metrics.count_alarms((rule, action) for _, rule, action, _ in self._fired)
        for device, rule, action, alarm_id in self._fired[:LOGGED_PER_BATCH]:
            log.info("alarm %s %s on %s (%s)", rule, action, device, alarm_id,
                     extra={"device_id": device, "alarm_key": alarm_id})
        if len(self._fired) > LOGGED_PER_BATCH:
            log.info("alarm detection: %d more alarms in this batch", len(self._fired) - LOGGED_PER_BATCH)
        self._fired = []

    def detect(self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
               ) -> tuple[list[tuple[bytes, bytes]], dict[tuple[int, str], DeviceState]]:
        """The batch's alarms (key, value) in record order, and each touched device's last new state."""
        alarms: list[tuple[bytes, bytes]] = []
        changed: dict[tuple[int, str], DeviceState] = {}
        unreadable = 0
        now = time.monotonic()
        for tp, messages in batch.items():
            topic, partition = tp.topic, tp.partition
            where = f"{topic}:{partition}"
            states = self.states.setdefault(partition, {})
            seen = self.last_seen.setdefault(partition, {})
            applied_last = self.last_applied.setdefault(partition, {})
            keep = self._keep(topic)
            taken_below = self.taken_in.get(tp, 0)
            for msg in messages:
                rec = self._record(topic, msg.value, keep)
                if rec is None:  # unreadable: the sinks (or the telemetry job) dead-letter it
                    unreadable += 1
                    continue
                device = rec.device_id
                entry = self._rules.get(rec.profile or rec.kind or "")
                if entry is None:
                    continue
                profile, rules = entry
                if not isinstance(rec, StatusRecord) or rec.source != "silence":
                    seen[device] = (now, rec.kind, profile.kind)
                    self.offline_sent.discard(device)
                old = states.get(device, {})
                applied = old.get(APPLIED, {})
                if applied.get(where, -1) >= msg.offset or msg.offset < taken_below:
                    self.counts["already applied"] += 1  # re-read after a crash: its effect is in the state
                    continue
                if isinstance(rec, DeviceRecord):
                    channel_key = (device, rec.channel)
                    if is_replay(applied_last.get(channel_key), rec):
                        self.counts["replayed"] += 1
                        continue
                    applied_last[channel_key] = (rec.seq, rec.ts.timestamp())
                try:
                    new, fired = evaluate(rec, rules, old)
                    encoded = [alarm_record(rec, profile, event).encode() for event in fired]
                except Exception:  # a bug must not stop detection for every other device
                    log.exception("alarm detection failed on a %s record of %s", topic, device)
                    continue
                if fired:  # most records fire nothing: no generator for them (this loop runs ~7,000 times a second)
                    alarms.extend((device.encode(), value) for value in encoded)
                    self._fired.extend((device, e.rule_id, e.action, f"{device}:{e.episode}") for e in fired)
                if new != old and not device.startswith(TAKEN_IN):  # (no device's key may be taken for a mark)
                    states[device] = {**new, APPLIED: {**applied, where: msg.offset}}
                    self._changed(changed, partition, device, old, states[device], now)
        if unreadable:
            self.counts["unreadable"] += unreadable
            log.warning("alarm detection skipped %d unreadable record(s) (the sinks dead-letter them)", unreadable)
        return alarms, changed

    def _changed(self, changed: dict[tuple[int, str], DeviceState], partition: int, device: str, old: DeviceState,
                 new: DeviceState, now: float) -> None:
        """Put a device's new state among the batch's changed states (the changelog's), unless all that moved is a
        rate-of-change window written less than `streams.alarm_window_write_s` ago (`window_only`)."""
        key, written, wait_s = (partition, device), self.state_written.setdefault(partition, {}), self.window_write_s
        if key in changed or now - written.get(device, -wait_s) >= wait_s or not window_only(old, new):
            changed[key] = new
            written[device] = now

    def _record(self, topic: str, raw: bytes | None, keep: list[dict[str, Any]] | None
                ) -> DeviceRecord | StatusRecord | None:
        """A source record decoded (None: unreadable), first put in `keep` when there is one (the telemetry job's
        rows: every readable record is a row, whatever detection then skips)."""
        try:
            value = loads(raw)  # type: ignore[arg-type]  # None (a tombstone) raises TypeError
        except (TypeError, ValueError) as exc:
            if keep is not None:
                self._unreadable(topic, raw, exc)
            return None
        if keep is not None:
            keep.append(value)
        try:
            return StatusRecord.decode(value) if topic == t.STATUS else DeviceRecord.decode(value)
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    def _send(self, messages: list[tuple[str, bytes, bytes, int | None]]) -> None:
        """Produce and wait until Kafka has every one (the ordering of the module docstring rests on it); a record
        Kafka refused fails the batch as one still queued does (civicgrid/bus/delivery.py)."""
        produce_all(self._producer, ((topic, value, key, partition) for topic, key, value, partition in messages),
                    "the alarm detector's records")

    async def restore(self, partitions: set[int]) -> None:
        """Each partition's device states from its changelog partition, read to its end."""
        if not partitions:
            return
        partitions = set(partitions)
        started = time.monotonic()
        reader = AIOKafkaConsumer(**clients.aiokafka(self.settings.kafka, group_id=None, enable_auto_commit=False,
                                                     auto_offset_reset="earliest"))
        await reader.start()
        try:
            tps = [TopicPartition(self.changelog, p) for p in partitions]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            ends = await reader.end_offsets(tps)
            restored: dict[int, dict[str, DeviceState]] = {p: {} for p in partitions}
            marks: dict[TopicPartition, int] = {}
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                fetched = await reader.getmany(*remaining, timeout_ms=1000)
                for tp, messages in fetched.items():
                    for msg in messages:
                        if msg.key is None:
                            continue
                        key = msg.key.decode()
                        if key.startswith(TAKEN_IN):
                            if msg.value is not None:
                                marks[TopicPartition(key[len(TAKEN_IN):], tp.partition)] = int(msg.value)
                        elif msg.value is None:
                            restored[tp.partition].pop(key, None)
                        else:
                            restored[tp.partition][key] = orjson.loads(msg.value)
                remaining = {tp for tp in remaining if await reader.position(tp) < ends[tp]}
        finally:
            await reader.stop()
        self.states.update(restored)  # states and marks together: a restore that failed applied neither
        for source, offset in marks.items():
            self.taken_in[source] = max(offset, self.taken_in.get(source, 0))
        self.restored |= partitions
        log.info("alarm detection: state of %d device(s) on partitions %s restored in %.2f s",
                 sum(len(d) for d in restored.values()), sorted(partitions), time.monotonic() - started)

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.states.pop(p, None)
            self.restored.discard(p)
            self.last_seen.pop(p, None)
            self.last_applied.pop(p, None)
            self.state_written.pop(p, None)
        for source in [tp for tp in self.taken_in if tp.partition in partitions]:
            del self.taken_in[source]

    async def _notice_silence(self) -> None:
        """Every `offline_check_s`: a ``silence`` status for each device silent past its profile's limit."""
        while not self._stop.is_set():
            await asyncio.sleep(self.offline_check_s)
            now = time.monotonic()
            silent = [(device, at, kind, profile)
                      for seen in list(self.last_seen.values()) for device, (at, kind, name) in list(seen.items())
                      if (profile := self.profiles.get(name)) is not None and device not in self.offline_sent
                      and now - at >= profile.offline_after_s]
            if not silent:
                continue
            records = []
            for device, at, kind, profile in silent:
                self.offline_sent.add(device)
                record = StatusRecord(device_id=device, kind=kind, profile=profile.kind, state="offline",
                                      ts=datetime.now(UTC), retained=False, source="silence",
                                      detail={"silent_s": round(now - at)})
                records.append((t.STATUS, device.encode(), record.encode(), None))
            try:
                await asyncio.to_thread(self._send, records)
            except Exception:
                log.exception("alarm detection: silence records not sent; next round in %s s", self.offline_check_s)
                self.offline_sent.difference_update(d for d, *_ in silent)


class StateNotRestored(RuntimeError):
    """A batch came for a partition whose state was never read back: evaluated, it would start from nothing."""


class _Rebalance(ConsumerRebalanceListener):
    """Place and restore assigned partitions before their first record; forget revoked ones after the batch in
    flight committed."""

    def __init__(self, detector: AlarmDetector, consumer: AIOKafkaConsumer) -> None:
        self.detector = detector
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.detector._lock:
            self.detector.forget({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned}
        # aiokafka fetches for the new assignment while this runs: a batch waits for the lock, so that no record
        # is evaluated before its partition's state is back (then overwritten by the older state read back). An
        # error here is only logged by aiokafka: the partitions stay unrestored, and `_take` refuses them.
        async with self.detector._lock:
            new = partitions - self.detector.restored
            await self.detector._positions(self.consumer, {tp for tp in assigned if tp.partition in new})
            await self.detector.restore(new)


def _parts(batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]], size: int
           ) -> Iterator[dict[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]]:
    """The batch in parts of about `size` records, each partition's records in order across the parts (a piece of a
    partition shorter than `size` is its last, so no part holds two pieces of one partition)."""
    part: dict[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]] = {}
    count = 0
    for tp, messages in batch.items():
        for start in range(0, len(messages), size):
            piece = messages[start:start + size]
            part[tp] = piece
            count += len(piece)
            if count >= size:
                yield part
                part, count = {}, 0
    if part:
        yield part
