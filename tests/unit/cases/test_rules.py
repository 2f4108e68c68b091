"""The derived case rules, once (civicgrid/cases/rules.py): disposal class fallback, deadlines, traffic light."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicgrid.cases import default_rules
from civicgrid.cases.rules import FALLBACK_CLASS
from civicgrid.domain.case_state import CaseState, Source, State
from civicgrid.domain.time_limits import DisposalClass, Light

RULES = default_rules()
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in UTC+8, a Tuesday


def test_the_disposal_class_is_the_case_s_own_then_its_category_s_then_the_fallback() -> None:
    assert RULES.disposal_class("E0104", "A") is DisposalClass.A
    assert RULES.disposal_class("E0104") is DisposalClass.B  # the catalogue's
    assert RULES.disposal_class("E9999") is FALLBACK_CLASS is DisposalClass.C  # unknown category
    assert RULES.disposal_class(None) is FALLBACK_CLASS


def test_rework_restarts_the_clock_and_resume_gives_back_the_time_left() -> None:
    case = CaseState(id="c", state=State.DISPATCHED, source=Source.SENSOR, reported_at=NOW, state_since=NOW,
                     category="E0104")
    assert RULES.rework_deadline(case, NOW) == RULES.disposal_deadline(NOW, "E0104")
    due = RULES.disposal_deadline(NOW, "E0104")
    suspended = CaseState(id="c", state=State.SUSPENDED, source=Source.SENSOR, reported_at=NOW, state_since=NOW,
                          category="E0104", disposal_deadline=due, suspended_at=NOW + timedelta(minutes=30))
    resumed = RULES.resumed_deadline(suspended, NOW + timedelta(days=7))
    assert resumed is not None and resumed > due
    assert RULES.resumed_deadline(case, NOW) is None  # nothing suspended, no deadline: nothing to move


def test_the_light_turns_with_the_share_of_time_used() -> None:
    due = NOW + timedelta(hours=10)  # class A counts natural hours
    light = RULES.time_light(State.DISPATCHED, NOW, due, DisposalClass.A, None, NOW + timedelta(minutes=1))
    assert light is Light.GREEN
    assert RULES.time_light(State.DISPATCHED, NOW, due, DisposalClass.A, None, due + timedelta(hours=1)) is Light.RED
    assert RULES.time_light(State.CLOSED, NOW, due, DisposalClass.A, None, due) is None
