"""The telemetry job (streams/telemetry.py: cg.telemetry read once, for alarm detection and the rows) against the
real Kafka and PostgreSQL: taking over from the two-group worker, whose sinks stopped behind its detector, it
writes every row once and raises or clears no alarm a second time, not even the offline episode an `offline`
status raised after the readings it reads again; and it dead-letters what the sinks dead-lettered of cg.telemetry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from civicgrid.bus import records, topics
from civicgrid.bus.dead_letters import DeadLetters
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from streams.alarm_detection import SOURCE_TOPICS, AlarmDetector
from streams.sinks import SINKS, SinkRunner
from streams.telemetry import TelemetryJob
from tests.support.kafka import KafkaTail, start_group_at_the_ends

pytestmark = pytest.mark.integration

HALF = 20
TILTED = {5, 6, 25, 26}  # cover_tilted: raised on the second reading beyond 15°, cleared two readings later


def _reading(device: str, seq: int, start: datetime) -> bytes:
    ts = start + timedelta(seconds=seq)
    return records.dumps(records.device_record(
        device_id=device, kind="manhole-sensor", profile="manhole-sensor", channel="telemetry", seq=seq, ts=ts,
        received_at=ts, data={"tilt_deg": 30.0 if seq in TILTED else 0.0},
        links={"component_code": None, "grid_cell_code": None, "inspector_user_id": None}))


async def _run_until(runners: list[Any], done: Callable[[], bool], timeout_s: float = 60) -> None:
    """Run the consumers until `done()` holds, then stop them (each batch in flight finishes and commits)."""
    tasks = [asyncio.ensure_future(r.run()) for r in runners]
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not done():
            for task in tasks:
                if task.done():
                    task.result()
            assert asyncio.get_running_loop().time() < deadline, f"not done in {timeout_s} s"
            await asyncio.sleep(0.2)
    finally:
        for r in runners:
            r.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


def test_an_upgrade_from_the_two_group_worker_whose_sinks_lag_writes_every_row_once(settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    device, app_id = f"mh-upgrade-{run}", f"streams-{run}"
    app = settings.model_copy(update={"streams": settings.streams.model_copy(update={"app_id": app_id})})
    bootstrap, partitions = settings.kafka.bootstrap_servers, settings.kafka.partitions
    start_group_at_the_ends(bootstrap, f"{app_id}-alarms", SOURCE_TOPICS, partitions)
    start_group_at_the_ends(bootstrap, f"{app_id}-sinks", list(SINKS), partitions)
    profiles = load_profiles(settings.profiles_dir)
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    start = datetime.now(UTC) - timedelta(minutes=5)
    tail = KafkaTail(bootstrap, [topics.ALARMS])

    def produce(seqs: range) -> None:
        for seq in seqs:
            producer.produce(topics.TELEMETRY, _reading(device, seq, start), device.encode())
        assert producer.flush(10) == 0

    def rows() -> tuple[int, int]:
        with connect(settings.db) as conn:
            return conn.execute("SELECT count(*), count(DISTINCT seq) FROM telemetry WHERE device_id = %s",
                                (device,)).fetchone()

    def alarms() -> list[tuple[str, str, int | None]]:
        tail.take(0.5)
        return sorted(((a["rule"], a["action"], a["source_seq"]) for _, _, a in tail.records
                       if a["device_id"] == device), key=str)

    try:
        # The two-group worker takes the first half: detector and sinks both up to date.
        produce(range(1, HALF + 1))
        detector, sinks = AlarmDetector(app, profiles, producer), SinkRunner(app, DeadLetters(producer, app_id))
        asyncio.run(_run_until([detector, sinks], lambda: rows()[0] >= HALF and detector.counts["records"] >= HALF))
        # The second half reaches its detector only: the worker stops with `-sinks` behind `-alarms`.
        produce(range(HALF + 1, 2 * HALF + 1))
        detector = AlarmDetector(app, profiles, producer)
        asyncio.run(_run_until([detector], lambda: detector.counts["records"] >= HALF))
        # Then the device's Last Will: offline, after the readings (its partition's -sinks offset still behind).
        status = records.status_record(device_id=device, kind="manhole-sensor", profile="manhole-sensor",
                                       state="offline", ts=start + timedelta(seconds=2 * HALF + 1), retained=False,
                                       source="device")
        producer.produce(topics.STATUS, records.dumps(status), device.encode())
        assert producer.flush(10) == 0
        detector = AlarmDetector(app, profiles, producer)
        asyncio.run(_run_until([detector], lambda: detector.counts["records"] >= 1))
        assert rows() == (HALF, HALF)
        raised = sorted([("cover_tilted", action, seq) for action, seq in
                         (("raise", 6), ("clear", 8), ("raise", 26), ("clear", 28))]
                        + [("offline", "raise", None)], key=str)
        tail.collect(lambda _: len(alarms()) >= len(raised))
        assert alarms() == raised

        # The upgraded worker: one group, starting where the older of the two stopped.
        job = TelemetryJob(app, profiles, producer, DeadLetters(producer, app_id))
        asyncio.run(_run_until([job], lambda: rows()[0] >= 2 * HALF, timeout_s=45))
        assert rows() == (2 * HALF, 2 * HALF)
        assert job.counts["alarms"] == 0, alarms()
        assert alarms() == raised
        assert job.counts["already applied"] == HALF, "the detector's records were read again, for their rows only"
    finally:
        tail.close()


def test_a_telemetry_record_no_row_can_be_made_of_is_dead_lettered_and_the_rest_written(settings: Settings) -> None:
    """The sinks no longer read cg.telemetry beside the job: what they dead-lettered, the job does."""
    run = uuid.uuid4().hex[:8]
    device, app_id = f"mh-unreadable-{run}", f"streams-{run}"
    app = settings.model_copy(update={"streams": settings.streams.model_copy(update={"app_id": app_id})})
    bootstrap = settings.kafka.bootstrap_servers
    start_group_at_the_ends(bootstrap, f"{app_id}-telemetry", SOURCE_TOPICS, settings.kafka.partitions)
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    tail = KafkaTail(bootstrap, [topics.DEADLETTER])
    good = _reading(device, 1, datetime.now(UTC))
    no_data = records.loads(good)
    del no_data["data"]
    for value in (b"not JSON", b"[1, 2]", records.dumps(no_data), good):
        producer.produce(topics.TELEMETRY, value, device.encode())
    assert producer.flush(10) == 0

    def rows() -> int:
        with connect(settings.db) as conn:
            return conn.execute("SELECT count(*) FROM telemetry WHERE device_id = %s", (device,)).fetchone()[0]

    try:
        job = TelemetryJob(app, load_profiles(settings.profiles_dir), producer, DeadLetters(producer, app_id))
        asyncio.run(_run_until([job], lambda: rows() >= 1 and job.dead_lettered >= 3))
        letters = tail.collect(lambda seen: sum(k in (device.encode(), app_id.encode()) for _, k, _ in seen) >= 3)
        ours = [letter for _, key, letter in letters if key in (device.encode(), app_id.encode())]
        assert rows() == 1 and job.dead_lettered == 3
        assert {letter["reason"] for letter in ours} == {"stream_unreadable"}
        assert sorted(letter["detail"].split(":")[1].strip() for letter in ours) == ["KeyError", "not JSON",
                                                                                     "not JSON"], ours
    finally:
        tail.close()
