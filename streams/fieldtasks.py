"""An inspector's answer to a field task (核实 / 核查) moves the case, exactly once.

The API sends `verify` / `check` commands to a handheld (api/fieldtasks.py); the
handheld answers with a report of kind `verification` or `check` whose `task_id`
is the case id and `result` is confirmed / not_found or fixed / not_fixed. Here the
answer becomes the inspector's own lifecycle action — confirm, refute, check_pass
or check_fail (返工, with a new disposal deadline) — recorded with the report as
evidence, in one transaction. A re-delivered answer finds its evidence and does
nothing; an answer for a case no longer waiting for it (an operator acted by phone
in between) is kept as evidence without a transition, and logged.

An answer moves the case only when it comes from the handheld (and inspector) the
task was sent to: any other handheld naming the case id is evidence at most, with
the reason (`not_applied`). Without that, any handheld could confirm, refute or
pass any case waiting in `verifying` or `checking` by naming its id.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from typing import Any

import psycopg

from civicgrid.domain.case_state import Action, Command, Role, State
from civicgrid.domain.catalogue import UnknownCategory, default_catalogue
from civicgrid.domain.lifecycle import apply
from civicgrid.domain.time_limits import DisposalClass, default_time_limits, disposal_deadline
from civicgrid.domain.working_calendar import default_calendar
from civicgrid.store import cases
from streams.casebuilder import photo_evidence

log = logging.getLogger(__name__)

TASK_KINDS = ("verification", "check")
# The state a task answer is awaited in → the action that sent the task.
TASK_SENT_BY = {State.VERIFYING: Action.SEND_VERIFY, State.CHECKING: Action.SEND_CHECK}
# (report kind, result) → the action it takes, in the state the case must be in.
ANSWERS: dict[tuple[str, str], tuple[State, Action]] = {
    ("verification", "confirmed"): (State.VERIFYING, Action.CONFIRM),
    ("verification", "not_found"): (State.VERIFYING, Action.REFUTE),
    ("check", "fixed"): (State.CHECKING, Action.CHECK_PASS),
    ("check", "not_fixed"): (State.CHECKING, Action.CHECK_FAIL),
}


@dataclasses.dataclass(frozen=True, slots=True)
class TaskAnswer:
    case_id: str
    kind: str
    result: str
    source_record_id: str
    at: datetime
    device_id: str
    inspector_user_id: int | None
    data: dict[str, Any]


class UnreadableAnswer(ValueError):
    """A task answer that cannot be applied (no case id, unknown result): a dead letter, with the reason."""


def answer_of(report: dict[str, Any]) -> TaskAnswer | None:
    """The task answer in a cg.reports record, None for an ordinary report."""
    data = report["data"]
    if data.get("kind") not in TASK_KINDS:
        return None
    task_id, result = data.get("task_id"), data.get("result")
    try:
        case_id = str(uuid.UUID(str(task_id)))
    except ValueError:
        raise UnreadableAnswer(f"{data['kind']} report without a case id as task_id ({task_id!r})") from None
    if (data["kind"], result) not in ANSWERS:
        raise UnreadableAnswer(f"{data['kind']} report with result {result!r}; expected one of "
                               f"{[r for k, r in ANSWERS if k == data['kind']]}")
    return TaskAnswer(case_id, data["kind"], result, f"report:{report['device_id']}:{data['report_id']}",
                      datetime.fromisoformat(report["ts"]), report["device_id"], report.get("inspector_user_id"), data)


def apply_answer(conn: psycopg.Connection, answer: TaskAnswer) -> str:
    """Apply the answer; return what happened ('applied', 'already recorded', 'evidence only', 'no such case')."""
    expected_state, action = ANSWERS[(answer.kind, answer.result)]
    evidence = cases.Evidence(answer.source_record_id, "report", answer.at, answer.device_id, answer.data)
    with conn.transaction():
        if cases.evidence_exists(conn, answer.source_record_id):
            return "already recorded"
        try:
            case = cases.lock_case(conn, answer.case_id)
        except cases.CaseNotFound:
            log.warning("task answer %s names case %s, which does not exist", answer.source_record_id,
                        answer.case_id)
            return "no such case"
        refusal = None
        if case.state is not expected_state:
            log.info("task answer %s arrived with case %s %s (not %s): kept as evidence only",
                     answer.source_record_id, answer.case_id, case.state.value, expected_state.value)
            refusal = f"the case was {case.state.value}, not {expected_state.value}"
        else:
            refusal = _not_the_tasked(conn, answer, expected_state)
        if refusal is not None:
            evidence = dataclasses.replace(evidence, data={**answer.data, "not_applied": refusal})
        cases.add_evidence(conn, answer.case_id, evidence)
        for photo in photo_evidence(evidence):
            cases.add_evidence(conn, answer.case_id, photo)
        if refusal is not None:
            return "evidence only"
        actor = _actor(conn, answer)
        data: dict[str, Any] = {"note": answer.data.get("description"), "task_report": answer.source_record_id}
        if action is Action.REFUTE or action is Action.CHECK_FAIL:
            data["reason"] = answer.data.get("description") or answer.result
        if action is Action.CHECK_FAIL:  # 返工 restarts the disposal clock
            data["deadline"] = disposal_deadline(answer.at, default_time_limits(), default_calendar(),
                                                 _class(case), category=case.category)
        cases.record_transition(conn, apply(case, Command(action, Role.INSPECTOR, actor, data), answer.at))
    return "applied"


def _not_the_tasked(conn: psycopg.Connection, answer: TaskAnswer, state: State) -> str | None:
    """Why this answer may not move the case (None: it may): it must come from the handheld, and the
    inspector, that the newest task of this kind was sent to."""
    row = conn.execute("SELECT payload -> 'data' -> 'task' FROM case_events WHERE case_id = %s AND action = %s "
                       "ORDER BY seq DESC LIMIT 1", (answer.case_id, TASK_SENT_BY[state].value)).fetchone()
    task = row[0] if row else None
    if not task:
        reason = "no handheld was sent this task"
    elif task.get("device_id") != answer.device_id:
        reason = "the task was sent to another handheld"
    elif task.get("inspector_user_id") not in (None, answer.inspector_user_id):
        reason = "the task was sent to another inspector"
    else:
        return None
    log.warning("task answer %s from %s for case %s: %s; kept as evidence only", answer.source_record_id,
                answer.device_id, answer.case_id, reason)
    return reason


def _actor(conn: psycopg.Connection, answer: TaskAnswer) -> str:
    if answer.inspector_user_id is None:
        return f"device:{answer.device_id}"
    row = conn.execute("SELECT username FROM users WHERE id = %s", (answer.inspector_user_id,)).fetchone()
    return row[0] if row else f"user:{answer.inspector_user_id}"


def _class(case) -> DisposalClass:
    if case.disposal_class is not None:
        return case.disposal_class
    try:
        return default_catalogue().get(case.category).disposal_class
    except UnknownCategory:
        return DisposalClass.C
