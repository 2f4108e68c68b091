"""The rule by which a component's state follows its cases (civicgrid/basedata/state_rule.py)."""

from __future__ import annotations

from typing import Any

import pytest

from civicgrid.basedata.state_rule import CaseEvent, StateChange, decide, reported_state

CASE = "c-1"


def _event(from_state: str | None, to_state: str, **data: Any) -> CaseEvent:
    return CaseEvent(CASE, 1 if from_state is None else 7, "x", from_state, to_state, "someone", data)


@pytest.mark.parametrize(("evidence", "state"), [
    ([{"component_state": "missing", "kind": "manhole"}], "missing"),
    ([{"attributes": {"cover_state": "occupied"}}], "occupied"),
    ([{"attributes": {"cover_state": ["damaged"]}}], "damaged"),
    ([{"component_state": "tilted"}, {"description": "井盖丢了"}], "damaged"),  # not a state: the default
    ([], "damaged"),
])
def test_reported_state(evidence: list[dict[str, Any]], state: str) -> None:
    assert reported_state(evidence) == state


@pytest.mark.parametrize(("event", "now", "owner", "expected"), [
    (_event(None, "reported"), "intact", None, ("missing", CASE)),
    (_event(None, "reported"), "missing", CASE, None),  # read twice
    (_event("checking", "closed", close_type="normal"), "missing", CASE, ("intact", None)),
    (_event("checking", "closed", close_type="overdue"), "missing", CASE, ("intact", None)),
    (_event("checking", "closed", close_type="special"), "missing", CASE, ("missing", None)),
    (_event("checking", "closed", close_type="normal"), "missing", "another", None),  # a later report owns it
    (_event("checking", "closed", close_type="normal"), "damaged", None, None),  # set by hand since
    (_event("verifying", "cancelled"), "missing", CASE, ("occupied", None)),  # the state before the report
    (_event("filed", "cancelled", merged_into="c-2"), "missing", CASE, ("missing", "c-2")),
    (_event("filed", "dispatched"), "missing", CASE, None),
])
def test_decide(event: CaseEvent, now: str, owner: str | None, expected: tuple[str, str | None] | None) -> None:
    change = decide(event, "20261206-0001", now, owner, reported="missing", before_report="occupied")
    assert (None if change is None else (change.state, change.state_case_id)) == expected
    if isinstance(change, StateChange):
        assert change.reason.startswith("案件 20261206-0001")
