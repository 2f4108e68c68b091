"""Alarm detection (streams/alarm_detection.py) against the real Kafka: state restored from its changelog after a
restart, a record re-read after a crash not applied twice, and silence noticed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.bus.dead_letters import DeadLetters
from civicgrid.bus.device_records import StatusRecord
from civicgrid.profiles import DeviceProfile, load_profiles
from civicgrid.settings import Settings
from streams.alarm_detection import SOURCE_TOPICS, AlarmDetector
from streams.telemetry import TelemetryJob
from tests.support.kafka import KafkaTail, start_group_at_the_ends

pytestmark = pytest.mark.integration


def _settings(settings: Settings, app_id: str) -> Settings:
    """A worker of its own whose alarm group starts at the topics' ends (not at other tests' records)."""
    app = settings.model_copy(update={"streams": settings.streams.model_copy(update={"app_id": app_id})})
    start_group_at_the_ends(settings.kafka.bootstrap_servers, f"{app_id}-alarms", SOURCE_TOPICS,
                            settings.kafka.partitions)
    return app


def _reading(device: str, seq: int, tilt: float, start: datetime) -> bytes:
    ts = start + timedelta(seconds=seq)
    return records.dumps(records.device_record(
        device_id=device, kind="manhole-sensor", profile="manhole-sensor", channel="telemetry", seq=seq, ts=ts,
        received_at=ts, data={"tilt_deg": tilt},
        links={"component_code": None, "grid_cell_code": None, "inspector_user_id": None}))


def _produce(settings: Settings, device: str, values: list[bytes], topic: str = topics.TELEMETRY) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    for value in values:
        producer.produce(topic, value, device.encode())
    assert producer.flush(10) == 0


async def _run_until(detector: AlarmDetector, done: Callable[[], bool], timeout_s: float = 60) -> None:
    """Run the detector until `done()` holds, then stop it (its batch in flight finishes and commits)."""
    task = asyncio.ensure_future(detector.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not done():
            if task.done():
                task.result()
            assert asyncio.get_running_loop().time() < deadline, f"not done in {timeout_s} s: {detector.counts}"
            await asyncio.sleep(0.1)
    finally:
        detector.stop()
        await asyncio.wait_for(task, 30)


async def _until(detector: AlarmDetector, done: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done():
        assert asyncio.get_running_loop().time() < deadline, f"not done in {timeout_s} s: {detector.counts}"
        await asyncio.sleep(0.1)


def _alarms_of(tail: KafkaTail, device: str) -> list[dict[str, Any]]:
    return [a for a in tail.of(topics.ALARMS) if a["device_id"] == device]


def _tilted_once(settings: Settings, name: str) -> tuple[str, Settings, Mapping[str, DeviceProfile], Producer,
                                                         datetime]:
    """A detector's world of its own with one tilted reading on cg.telemetry: (device, app settings, profiles,
    producer, the readings' start)."""
    run = uuid.uuid4().hex[:8]
    device, app = f"mh-{name}-{run}", _settings(settings, f"streams-{run}")
    profiles = load_profiles(settings.profiles_dir)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    start = datetime.now(UTC) - timedelta(minutes=5)
    _produce(settings, device, [_reading(device, 1, 30.0, start)])
    return device, app, profiles, producer, start


def test_a_restarted_detector_resumes_mid_debounce_from_its_changelog(settings: Settings) -> None:
    """cover_tilted needs two readings beyond 15°: the first reading's count is in the changelog when the worker
    stops, so the restarted one raises on the second. A detector that lost its state would need a third."""
    run = uuid.uuid4().hex[:8]
    device, app = f"mh-restore-{run}", _settings(settings, f"streams-{run}")
    profiles = load_profiles(settings.profiles_dir)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    start = datetime.now(UTC) - timedelta(minutes=5)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.ALARMS])
    try:
        _produce(settings, device, [_reading(device, 1, 30.0, start)])
        first = AlarmDetector(app, profiles, producer)
        asyncio.run(_run_until(first, lambda: first.counts["records"] >= 1 and first.states_of(device) is not None))
        assert first.counts["alarms"] == 0

        _produce(settings, device, [_reading(device, 2, 30.0, start)])
        second = AlarmDetector(app, profiles, producer)
        asyncio.run(_run_until(second, lambda: second.counts["alarms"] >= 1))
        assert second.counts["already applied"] == 0, "the first reading's offset was committed: not read again"
        raised = tail.collect(lambda _: len(_alarms_of(tail, device)) >= 1, timeout_s=20)
        alarms = [a for _, _, a in raised if a.get("device_id") == device]
        assert [(a["rule"], a["action"], a["source_seq"]) for a in alarms] == [("cover_tilted", "raise", 2)]
    finally:
        tail.close()


def test_a_detector_whose_restore_failed_or_lags_does_not_start_from_an_empty_state(settings: Settings) -> None:
    """aiokafka fetches for a new assignment while the rebalance listener still restores, and only logs the
    listener's error: a restore that failed, or that is slower than the first fetch, must not leave the detector
    evaluating the next reading from nothing, which counts the debounce afresh (here: no raise on the second tilted
    reading; mid-episode, a second raise under another id)."""
    device, app, profiles, producer, start = _tilted_once(settings, "norestore")
    first = AlarmDetector(app, profiles, producer)
    asyncio.run(_run_until(first, lambda: first.counts["records"] >= 1 and first.states_of(device) is not None))

    _produce(settings, device, [_reading(device, 2, 30.0, start)])
    second = AlarmDetector(app, profiles, producer)
    restore = second.restore
    failures = []

    async def failing_once(partitions: set[int]) -> None:
        if not failures:
            failures.append(partitions)
            raise TimeoutError("the changelog did not answer")
        await asyncio.sleep(1.5)  # a slow changelog: the first batch is fetched meanwhile
        await restore(partitions)

    second.restore = failing_once  # type: ignore[method-assign]
    asyncio.run(_run_until(second, lambda: second.counts["records"] >= 1))
    assert failures, "the failing restore was never called"
    assert second.counts["alarms"] == 1, "the second reading was evaluated without the first one's count"


def test_a_record_re_read_after_a_crash_is_not_applied_twice(settings: Settings) -> None:
    """Killed after the changelog write and before the commit: the restarted detector reads the batch again, and
    the state's offsets say it was taken in (a debounce counted twice would raise on one reading)."""
    device, app, profiles, producer, _ = _tilted_once(settings, "reread")

    crashing = AlarmDetector(app, profiles, producer)

    async def no_commit(*_: object, **__: object) -> None:
        raise RuntimeError("killed before the commit")

    async def crash_after_changelog() -> None:
        task = asyncio.ensure_future(crashing.run())
        original = crashing._take

        async def take(consumer: Any, batch: Any) -> None:
            consumer.commit = no_commit
            try:
                await original(consumer, batch)
            finally:
                crashing.stop()

        crashing._take = take  # type: ignore[method-assign]
        await asyncio.wait_for(task, 60)

    asyncio.run(crash_after_changelog())
    assert crashing.counts["records"] == 0  # the batch never finished: its commit failed

    again = AlarmDetector(app, profiles, producer)
    asyncio.run(_run_until(again, lambda: again.counts["already applied"] >= 1))
    assert again.counts["alarms"] == 0
    assert again.states_of(device)["cover_tilted"]["count"] == 1


@pytest.mark.parametrize("role", ["alarms", "telemetry"])
def test_a_reading_re_read_after_a_crash_does_not_clear_the_offline_status_that_followed_it(
        settings: Settings, role: str) -> None:
    """A reading R that changed no state, then an ``offline`` status S of the same device (cg.status, raising the
    offline alarm), both taken in and their states on the changelog, neither offset committed: read again, R is a
    sign of life against the restored state (offline active) and would clear the episode (a second case at the
    next silence) unless the detector remembers what it took in, not only what changed a state. In both roles
    that run the detector (the telemetry job has its own `_durable`)."""
    run = uuid.uuid4().hex[:8]
    device, app = f"mh-uncommitted-{run}", _settings(settings, f"streams-{run}")
    start_group_at_the_ends(settings.kafka.bootstrap_servers, f"streams-{run}-telemetry", SOURCE_TOPICS,
                            settings.kafka.partitions)
    profiles = load_profiles(settings.profiles_dir)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})

    def detector() -> AlarmDetector:
        if role == "alarms":
            return AlarmDetector(app, profiles, producer)
        return TelemetryJob(app, profiles, producer, DeadLetters(producer, f"streams-{run}"))

    start = datetime.now(UTC) - timedelta(minutes=5)
    _produce(settings, device, [_reading(device, 1, 1.0, start)])  # level: the rules' first state
    crashing = detector()

    async def never_commit(*_: object, **__: object) -> None:  # killed before any commit
        return None

    async def take_in_reading_then_offline() -> None:
        task = asyncio.ensure_future(crashing.run())
        original = crashing._take

        async def take(consumer: Any, batch: Any) -> None:
            consumer.commit = never_commit
            await original(consumer, batch)

        crashing._take = take  # type: ignore[method-assign]
        try:
            await _until(crashing, lambda: crashing.counts["records"] >= 1)
            await asyncio.to_thread(_produce, settings, device, [_reading(device, 2, 1.0, start)])  # R: no change
            await _until(crashing, lambda: crashing.counts["records"] >= 2)
            offline = StatusRecord(device_id=device, kind="manhole-sensor", profile="manhole-sensor",
                                   state="offline", ts=start + timedelta(seconds=3), retained=False, source="device")
            await asyncio.to_thread(_produce, settings, device, [offline.encode()], topics.STATUS)
            await _until(crashing, lambda: crashing.counts["records"] >= 3)
        finally:
            crashing.stop()
            await asyncio.wait_for(task, 30)

    asyncio.run(take_in_reading_then_offline())
    assert crashing.counts["alarms"] == 1 and crashing.states_of(device)["offline"]["active"]  # type: ignore[index]

    again = detector()
    asyncio.run(_run_until(again, lambda: again.counts["records"] >= 3))
    assert again.counts["alarms"] == 0, "a record taken in before the crash was evaluated again"
    assert again.states_of(device)["offline"]["active"]  # type: ignore[index]


def test_a_silent_device_raises_offline_and_its_next_reading_clears_it(settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    device, app = f"mh-silent-{run}", _settings(settings, f"streams-{run}")
    profiles: dict[str, DeviceProfile] = dict(load_profiles(settings.profiles_dir))
    profiles["manhole-sensor"] = profiles["manhole-sensor"].model_copy(update={"reporting_interval_s": 0.5})
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    start = datetime.now(UTC)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.ALARMS])
    detector = AlarmDetector(app, profiles, producer, offline_check_s=0.5)

    def offline_actions() -> list[str]:
        tail.take()
        return [a["action"] for a in _alarms_of(tail, device) if a["rule"] == "offline"]

    async def scenario() -> None:
        task = asyncio.ensure_future(detector.run())
        try:
            await asyncio.to_thread(_produce, settings, device, [_reading(device, 1, 1.0, start)])
            for expected in (["raise"], ["raise", "clear"]):  # (silent again after the clear: a second raise)
                deadline = asyncio.get_running_loop().time() + 30
                while (await asyncio.to_thread(offline_actions))[:len(expected)] != expected:
                    assert asyncio.get_running_loop().time() < deadline, (expected, offline_actions())
                    await asyncio.sleep(0.2)
                if expected == ["raise"]:
                    await asyncio.to_thread(_produce, settings, device, [_reading(device, 2, 1.0, start)])
        finally:
            detector.stop()
            await asyncio.wait_for(task, 30)

    try:
        asyncio.run(scenario())
    finally:
        tail.close()


def test_a_block_of_readings_the_gateway_produced_again_raises_nothing_new(settings: Settings) -> None:
    """After a gateway crash the broker redelivers what it had not acked, behind records Kafka already had. A
    replayed block starting mid-episode (readings 3 and 4 of a cover tilted at 2-4) would count to a second raise
    at reading 4; a reading newer by seq or by ts alone (a reboot, a clock correction) still counts."""
    run = uuid.uuid4().hex[:8]
    device, app = f"mh-replay-{run}", _settings(settings, f"streams-{run}")
    profiles = load_profiles(settings.profiles_dir)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    start = datetime.now(UTC) - timedelta(minutes=5)
    tilts = {1: 1.0, 2: 30.0, 3: 30.0, 4: 30.0, 5: 1.0, 6: 1.0}
    stream = [_reading(device, seq, tilts[seq], start) for seq in (1, 2, 3, 4, 5, 6, 3, 4)]
    _produce(settings, device, stream)
    detector = AlarmDetector(app, profiles, producer)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.ALARMS])
    try:
        asyncio.run(_run_until(detector, lambda: detector.counts["records"] >= len(stream)))
        tail.collect(lambda _: len(_alarms_of(tail, device)) >= 2, timeout_s=20)
        tail.take(1.0)
        assert [(a["action"], a["source_seq"]) for a in _alarms_of(tail, device)] == [("raise", 3), ("clear", 6)]
        assert detector.counts["replayed"] == 2
    finally:
        tail.close()
