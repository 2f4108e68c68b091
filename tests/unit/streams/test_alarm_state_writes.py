"""Which device states alarm detection puts on its changelog (streams/alarm_detection.py `detect`), without Kafka:
a manhole's reading slides its water-level window (a rate-of-change rule) every time, and such a state waits up
to `streams.alarm_window_write_s`, while a state that changed in anything else (a debounce count, an episode)
goes with its batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from civicgrid.bus import records, topics
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from streams.alarm_detection import AlarmDetector, window_only

PROFILES = Path(__file__).resolve().parents[3] / "device-profiles"
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _batch(offset: int, *readings: tuple[str, dict]) -> dict:
    tp = TopicPartition(topics.TELEMETRY, 0)
    messages = []
    for i, (device, data) in enumerate(readings):
        at = offset + i
        value = records.dumps(records.device_record(
            device_id=device, kind="manhole-sensor", profile="manhole-sensor", channel="telemetry", seq=at,
            ts=START + timedelta(seconds=at), received_at=START + timedelta(seconds=at), data=data,
            links={"component_code": None, "grid_cell_code": None, "inspector_user_id": None}))
        messages.append(ConsumerRecord(topics.TELEMETRY, 0, at, 0, 0, device.encode(), value, None, len(device),
                                       len(value), []))
    return {tp: messages}


def _detector(wait_s: float) -> AlarmDetector:
    settings = Settings()
    settings = settings.model_copy(update={"streams": settings.streams.model_copy(
        update={"alarm_window_write_s": wait_s})})
    return AlarmDetector(settings, load_profiles(PROFILES), producer=None)  # type: ignore[arg-type]


CALM = {"tilt_deg": 1.0, "water_level_mm": 100.0, "battery_pct": 80.0}


def test_a_window_that_alone_moved_waits_and_anything_else_goes_with_its_batch() -> None:
    detector = _detector(wait_s=3600)
    _, changed = detector.detect(_batch(0, ("mh-1", CALM)))
    assert list(changed) == [(0, "mh-1")], "a device's first state is written at once"
    _, changed = detector.detect(_batch(1, ("mh-1", {**CALM, "water_level_mm": 110.0})))
    assert changed == {}, "only the water-level window moved: it waits"
    assert detector.states_of("mh-1")["_applied"] == {f"{topics.TELEMETRY}:0": 1}, "kept in memory all the same"
    _, changed = detector.detect(_batch(2, ("mh-1", {**CALM, "water_level_mm": 120.0, "tilt_deg": 30.0})))
    assert list(changed) == [(0, "mh-1")], "a tilt's debounce count changed: written with the batch"
    assert changed[(0, "mh-1")]["water_surge"]["highs"][0][1] == 120.0, "with the window as it is now"
    alarms, changed = detector.detect(_batch(3, ("mh-1", {**CALM, "water_level_mm": 500.0})))
    assert alarms and list(changed) == [(0, "mh-1")], "a surge raised: its episode written with the batch"


def test_a_window_is_written_again_once_the_wait_is_over() -> None:
    detector = _detector(wait_s=0)
    detector.detect(_batch(0, ("mh-1", CALM)))
    _, changed = detector.detect(_batch(1, ("mh-1", {**CALM, "water_level_mm": 110.0})))
    assert list(changed) == [(0, "mh-1")]


def test_only_rate_windows_count_as_window_only() -> None:
    window = {"highs": [[1.0, 100.0]], "lows": [[1.0, 100.0]]}
    old = {"water_surge": window, "tilt": {"active": False}, "_applied": {"t:0": 1}}
    slid = {**old, "water_surge": {"highs": [[2.0, 110.0]], "lows": [[1.0, 100.0], [2.0, 110.0]]},
            "_applied": {"t:0": 2}}
    assert window_only(old, slid)
    assert not window_only(old, {**slid, "tilt": {"active": False, "count": 1}})
    assert not window_only(old, {**slid, "water_surge": {**slid["water_surge"], "last_violation": 2.0}})
    assert not window_only({}, slid)
