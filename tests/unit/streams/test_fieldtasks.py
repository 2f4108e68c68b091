"""Reading a handheld's answer to a field task (pure: no Kafka, no database)."""

from __future__ import annotations

import uuid

import pytest

from civicgrid.cases.field_tasks import ANSWERS
from civicgrid.domain.case_state import Action, State
from streams.fieldtasks import UnreadableAnswer, answer_of


def _report(**data) -> dict:
    return {"v": 1, "device_id": "hh-1", "kind": "handheld", "profile": "handheld", "channel": "report", "seq": 1,
            "ts": "2026-11-24T04:00:00+00:00", "inspector_user_id": 7,
            "data": {"report_id": "hh-1-r00001", "kind": "verification", "category_code": "E0102",
                     "description": "属实", "lon": 116.9, "lat": 31.4, **data}}


def test_an_ordinary_report_is_not_an_answer() -> None:
    assert answer_of(_report(kind="report")) is None


def test_an_answer_names_its_case_and_action() -> None:
    case_id = str(uuid.uuid4())
    answer = answer_of(_report(task_id=case_id, result="confirmed", photo_ids=["ab" * 32]))
    assert answer is not None
    assert (answer.case_id, answer.source_record_id, answer.inspector_user_id) == (case_id, "report:hh-1:hh-1-r00001",
                                                                                    7)
    assert ANSWERS[(answer.kind, answer.result)] == (State.VERIFYING, Action.CONFIRM)


@pytest.mark.parametrize(("data", "reason"), [
    ({"task_id": "not-a-case", "result": "confirmed"}, "case id"),
    ({"result": "confirmed"}, "case id"),
    ({"task_id": str(uuid.uuid4()), "result": "fixed"}, "result 'fixed'"),  # a check result on a verification
])
def test_unreadable_answers_say_why(data: dict, reason: str) -> None:
    with pytest.raises(UnreadableAnswer, match=reason):
        answer_of(_report(**data))


def test_every_result_of_each_kind_maps_to_an_inspector_action() -> None:
    assert {k for k, _ in ANSWERS} == {"verification", "check"}
    assert {a for _, a in ANSWERS.values()} == {Action.CONFIRM, Action.REFUTE, Action.CHECK_PASS, Action.CHECK_FAIL}
