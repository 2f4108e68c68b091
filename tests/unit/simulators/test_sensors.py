"""Sensor simulators offline: payloads within their profiles, and the platform's own alarm rules raise
an expected alarm for every injected fault and none on normal readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from civicgrid.domain.alarms import evaluate_reading
from civicgrid.labels import photo_labels
from civicgrid.profiles import load_profiles
from simulators.devices import BinSensor, ManholeSensor, SimClock, SimContext
from simulators.mobile import GpsTracker, Handheld, on_patrol
from simulators.photos import photo_id

PROFILES = load_profiles()
START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 07:30 in Beijing


def _ctx(rate: float) -> SimContext:
    return SimContext("localhost", 1883, SimClock(START, 60), seed=1, fault_rate=rate, report_rate=0.1)


def _check_fields(kind: str, channel: str, body: dict) -> None:
    spec = PROFILES[kind].channels[channel]
    assert isinstance(body["seq"], int) and body["ts"].endswith("+00:00")
    for name, f in spec.fields.items():
        if f.required:
            assert name in body, (kind, channel, name)
    for name, value in body.items():
        if name in ("seq", "ts"):
            continue
        f = spec.fields[name]
        if f.min is not None and isinstance(value, int | float):
            assert f.min <= value <= f.max, (kind, name, value)


@pytest.mark.parametrize("cls", [ManholeSensor, BinSensor])
def test_every_fault_raises_an_expected_alarm_and_normal_readings_none(cls) -> None:
    ctx = _ctx(0.08)
    rules = PROFILES[cls.kind].alarms
    raised: list[tuple[str, datetime]] = []
    for n in range(40):
        device = cls({"id": f"dev-{n}"}, "secret", ctx)
        states: dict = {}
        for i in range(200):
            now = START + timedelta(seconds=i * device.interval_s)
            messages = device.readings(now)
            if device.silent:
                break
            for channel, raw in messages:
                body = orjson.loads(raw)
                _check_fields(cls.kind, channel, body)
                if channel == "telemetry":
                    states, events = evaluate_reading(rules, states, body, now)
                    if device.active_fault is not None:
                        device.active_fault.published += 1
                    raised += [(device.id, e.rule_id, e.at) for e in events if e.action == "raise"]
    faults = [f for f in ctx.faults if f.kind != "silent"]
    assert len(faults) > 50 and {f.kind for f in ctx.faults} == set(cls.faults)
    explained = set()
    for f in faults:
        hits = [r for r in raised if r[0] == f.device_id and r[1] in f.rules and f.at <= r[2] <= f.last_at]
        assert hits or not f.complete, f  # the loop may stop in the middle of the last fault
        explained.update(hits)
    assert set(raised) == explained  # no alarm without a fault


def test_tracker_sends_nmea_along_its_route_and_handheld_patrols_in_hours() -> None:
    ctx = _ctx(0.0)
    route = [[116.95, 31.47], [116.96, 31.47], [116.96, 31.48], [116.95, 31.48], [116.95, 31.47]]
    tracker = GpsTracker({"id": "gps-1", "route": route}, "s", ctx)
    lines = tracker.readings(START)[0][1].decode().split("\r\n")
    assert lines[0].startswith("$GNRMC,233000.000,A,") and lines[1].startswith("$GNGGA,233000.000,")
    hh = Handheld({"id": "hh-1", "route": route[:3]}, "s", ctx)
    channels: dict[str, int] = {}
    for i in range(12 * 120):  # 12 hours every 30 s from 07:30
        now = START + timedelta(seconds=30 * i)
        for channel, raw in hh.readings(now):
            channels[channel] = channels.get(channel, 0) + 1
            body = orjson.loads(raw)
            _check_fields("handheld", channel, body)
            if channel == "track":
                assert on_patrol(now)
                assert 116.95 <= body["lon"] <= 116.96 and 31.47 <= body["lat"] <= 31.48
    assert channels["track"] == 11 * 120  # 07:30–18:30
    assert channels["report"] > 50 and channels["event"] == 2  # sign in, sign out
    answer = hh.answer(START, {"command_id": "c-1", "name": "verify", "args": {"task_id": "t-9"}})
    assert [c for c, _ in answer] == ["cmd/ack", "event", "report"]
    report = orjson.loads(answer[2][1])
    assert report["kind"] == "verification" and report["task_id"] == "t-9" and report["result"] == "confirmed"
    _check_fields("handheld", "report", report)


def test_a_damaged_bin_is_reported_with_a_photo_of_its_label_that_the_platform_reads() -> None:
    ctx = _ctx(0.0)
    ctx.api_url = "http://api.invalid"  # photos on; nothing is uploaded here
    route = [[116.95, 31.47], [116.951, 31.47]]
    ctx.labelled = [("3415230305000017", 116.9501, 31.4701), ("3415230305000018", 116.99, 31.49)]
    hh = Handheld({"id": "hh-1", "route": route}, "s", ctx)
    hh.pos = (116.9502, 31.4700, 0.0)
    assert hh.labelled_near() == "3415230305000017"  # ~15 m away; the other bin is ~4 km off
    for n in range(20):  # random sticker sizes and places: every photo must be readable
        (_, jpeg), (channel, raw) = hh.report(START, category=("C0305", "垃圾箱破损"))
        body = orjson.loads(raw)
        assert channel == "report" and "component_code" not in body and body["photo_ids"] == [photo_id(jpeg)]
        assert photo_labels(jpeg) == ["CG:3415230305000017"], n
    hh.pos = (116.97, 31.48, 0.0)  # no bin within reach: a plain photo
    (_, jpeg), _ = hh.report(START, category=("C0305", "垃圾箱破损"))
    assert photo_labels(jpeg) == [] and ctx.labelled_reports == 20


def test_readings_a_fraction_of_a_second_apart_raise_no_alarm_without_a_fault() -> None:
    """The e2e benchmark's load (bench/_packetload.py) stamps a device's readings 0.2 s apart: the water level's
    walk is a step per reporting interval, so a thousand readings in 200 s stay within water_surge's 300 mm in
    600 s (a step per reading climbed past it and raised surges with no fault)."""
    rules = PROFILES[ManholeSensor.kind].alarms
    raised = []
    for n in range(20):
        device = ManholeSensor({"id": f"dev-{n}"}, "secret", _ctx(0.0))
        states: dict = {}
        for i in range(1000):
            now = START + timedelta(seconds=i * 0.2)
            for _channel, raw in device.readings(now):
                states, events = evaluate_reading(rules, states, orjson.loads(raw), now)
                raised += [(device.id, e.rule_id) for e in events if e.action == "raise"]
    assert raised == []
