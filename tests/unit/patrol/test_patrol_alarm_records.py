"""Patrol alarms share the alarm agent's record shape on cg.alarms, and never become cases."""

from __future__ import annotations

from civicgrid.bus import records, topics
from civicgrid.domain.patrol.anomalies import PatrolAlarm
from civicgrid.domain.patrol.tracker import AlarmOut
from streams.patrol import alarm_record
from streams.problems import problem_of

ALARM_KEYS = {"v", "alarm_id", "device_id", "kind", "rule", "rule_kind", "action", "ts", "value", "limit", "category",
              "linked_component", "component_state", "urgency", "device_alarm", "component_code", "grid_cell_code",
              "inspector_user_id", "source_seq"}


def record(action: str = "raise") -> dict:
    out = AlarmOut("hh-1", "handheld", 7, "34152300101001", 12,
                   PatrolAlarm("patrol_outside_grid", action, 1_763_596_800.5, 1_763_596_800.25, 16.0, 15.0))
    return records.loads(alarm_record(out).encode())


def test_a_patrol_alarm_has_the_alarm_agents_fields_and_a_stable_id() -> None:
    rec = record()
    assert set(rec) == ALARM_KEYS
    assert rec["alarm_id"] == "hh-1:patrol_outside_grid:1763596800250" == record("clear")["alarm_id"]
    assert (rec["rule_kind"], rec["category"], rec["device_alarm"], rec["ts"]) == \
        ("patrol", None, False, "2025-11-20T00:00:00.500000Z")


def test_patrol_alarms_never_become_cases_while_problem_alarms_do() -> None:
    assert problem_of(topics.ALARMS, record()) is None
    problem = {**record(), "rule": "cover_tilted", "rule_kind": "threshold", "category": "C0102", "urgency": "A",
               "alarm_id": "mh-1:cover_tilted:1"}
    assert problem_of(topics.ALARMS, problem) is not None
