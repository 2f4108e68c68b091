"""Alarm detection hands each record only the rules of its kind (streams/alarm_detection.py `ProfileRules`): for
every shipped profile, a random stream of readings, events and presence gives the same states and alarms as
every rule of the profile through the pure rules (civicgrid/domain/alarms.py), which skip the other kinds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from civicgrid.domain.alarms import evaluate_event, evaluate_presence, evaluate_reading
from civicgrid.profiles import DeviceProfile, load_profiles
from civicgrid.settings import Settings
from streams.alarm_detection import ProfileRules, evaluate

PROFILES = load_profiles(Settings().profiles_dir)
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _every_rule(rec: DeviceRecord | StatusRecord, profile: DeviceProfile,
                states: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """The record through all of the profile's rules, each function skipping the kinds it does not read."""
    rules = profile.alarms
    if isinstance(rec, StatusRecord):
        return evaluate_presence(rules, states, rec.state == "online", rec.ts)
    states, events = evaluate_presence(rules, states, True, rec.ts)
    if rec.channel == "telemetry":
        states, more = evaluate_reading(rules, states, rec.data, rec.ts)
    else:
        states, more = evaluate_event(rules, states, rec.data.get("type", ""), rec.ts)
    return states, events + more


def _stream(profile: DeviceProfile, rnd: random.Random, n: int) -> list[DeviceRecord | StatusRecord]:
    fields = sorted(profile.channels["telemetry"].fields) if "telemetry" in profile.channels else []
    event_types = sorted({t for r in profile.alarms if r.kind == "event" for t in (r.event_type, r.clear_event) if t})
    limits = [x for r in profile.alarms for x in (getattr(r, "above", None), getattr(r, "below", None),
                                                   getattr(r, "clear_at", None)) if x is not None] or [0.0]
    out: list[DeviceRecord | StatusRecord] = []
    for i in range(n):
        at = T0 + timedelta(seconds=i * rnd.choice((1, 5, 60, 600)))
        pick = rnd.random()
        if pick < 0.1:
            out.append(StatusRecord(profile.kind, profile.kind, rnd.choice(("online", "offline")), at, False, "device"))
        elif pick < 0.25 and event_types:
            out.append(DeviceRecord("d1", profile.kind, profile.kind, "event", i, at, at,
                                    {"type": rnd.choice([*event_types, "other"])}))
        else:
            data = {f: rnd.choice(limits) + rnd.uniform(-20, 20) for f in fields if rnd.random() < 0.8}
            out.append(DeviceRecord("d1", profile.kind, profile.kind, "telemetry", i, at, at, data))
    return out


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_rules_sorted_by_kind_give_what_every_rule_gives(name: str) -> None:
    profile = PROFILES[name]
    rules = ProfileRules.of(profile)
    assert len(rules.offline) + len(rules.reading) + len(rules.event) == len(profile.alarms)
    rnd = random.Random(name)
    sorted_states: dict[str, Any] = {}
    every_states: dict[str, Any] = {}
    fired = 0
    for rec in _stream(profile, rnd, 400):
        sorted_states, got = evaluate(rec, rules, sorted_states)
        every_states, want = _every_rule(rec, profile, every_states)
        assert (sorted_states, got) == (every_states, want), rec
        fired += len(got)
    assert fired or not profile.alarms  # the stream reached the rules
