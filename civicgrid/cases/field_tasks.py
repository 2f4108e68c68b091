"""Field tasks: 派核实 / 派核查 reach an inspector's handheld as a downlink command, and the inspector's
answer moves the case — exactly once, and only when it comes from whom the task was sent to.

Sending: when an operator sends a case to verification (核实) or to the check (核查), the inspector who
patrols the case's cell gets it on the handheld at once, with the case's place (point, cell, address or the
nearest one) and the ids of its photos. The task is a `verify` / `check` command on
`cg.commands`, written to the outbox in the transaction of the case transition, so the command exists
exactly when the transition does. Who gets it: the inspector named in the action, else the inspector(s)
of the responsibility grid of the case's cell, preferring the handheld heard from most recently. With no
inspector or handheld the action still succeeds and the timeline says nobody was tasked.

Answering: the handheld answers with a `verification` / `check` report whose `task_id` is the case id;
the answer becomes the inspector's own action (confirm, refute, check_pass, check_fail with a new
disposal deadline), recorded with the report as evidence. A re-delivered answer finds its evidence and
does nothing; an answer for a case no longer waiting for it, or from another handheld or inspector than
the task was sent to, is kept as evidence with the reason (`not_applied`) and moves nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from civicgrid.bus.command_records import CommandRecord
from civicgrid.bus.topics import COMMANDS
from civicgrid.cases import evidence as ev
from civicgrid.cases import repository as store
from civicgrid.cases.errors import NoHandheld, NotAnInspector
from civicgrid.cases.rules import Rules
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, CaseState, Command, Role, State
from civicgrid.store.addresses import NEAR_ADDRESS_M, reverse_geocode
from civicgrid.store.device_commands import record_command

log = logging.getLogger(__name__)

TASK_COMMANDS = {Action.SEND_VERIFY: "verify", Action.SEND_CHECK: "check"}
TASK_TIMEOUT_S = 30 * 60.0  # the verify/check time limit's order of magnitude; acks come within seconds
TASK_KINDS = ("verification", "check")
TASK_PHOTOS = 9  # a task's photos, at most (as many as a handheld report may name: device-profiles/handheld.yaml)
PHOTO_KINDS = ("photo", "snapshot", "camera_event")  # evidence kinds that may carry a photo (`media_id`)
# The state a task answer is awaited in → the action that sent the task.
TASK_SENT_BY = {State.VERIFYING: Action.SEND_VERIFY, State.CHECKING: Action.SEND_CHECK}
# (report kind, result) → the action it takes, in the state the case must be in.
ANSWERS: dict[tuple[str, str], tuple[State, Action]] = {
    ("verification", "confirmed"): (State.VERIFYING, Action.CONFIRM),
    ("verification", "not_found"): (State.VERIFYING, Action.REFUTE),
    ("check", "fixed"): (State.CHECKING, Action.CHECK_PASS),
    ("check", "not_fixed"): (State.CHECKING, Action.CHECK_FAIL),
}


@dataclass(frozen=True, slots=True)
class FieldTask:
    command_id: str
    name: str
    device_id: str
    inspector_user_id: int
    args: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """What the case event keeps of the task (the timeline shows who was sent)."""
        return {"command_id": self.command_id, "command": self.name, "device_id": self.device_id,
                "inspector_user_id": self.inspector_user_id}


@dataclass(frozen=True, slots=True)
class TaskAnswer:
    case_id: str
    kind: str
    result: str
    source_record_id: str
    at: datetime
    device_id: str
    inspector_user_id: int | None
    data: dict[str, Any]


def plan_task(conn: psycopg.Connection, case: CaseState, action: Action, inspector_user_id: int | None,
              sent_photos: Sequence[str] = ()) -> FieldTask | None:
    """The task to send for this action, or None when no inspector's handheld can be reached. `sent_photos`: the
    photos the operator attaches to this very action (not yet the case's evidence), shown with the case's."""
    name = TASK_COMMANDS[action]
    if inspector_user_id is not None:
        row = conn.execute("SELECT role, enabled FROM users WHERE id = %s", (inspector_user_id,)).fetchone()
        if row is None or row[0] != "inspector" or not row[1]:
            raise NotAnInspector(f"user {inspector_user_id} is not an enabled inspector")
        candidates = [inspector_user_id]
    else:
        candidates = [r[0] for r in conn.execute(
            "SELECT u.id FROM users u JOIN grid_cells g ON g.responsibility_grid_id = u.responsibility_grid_id "
            "WHERE g.code = %s AND u.role = 'inspector' AND u.enabled ORDER BY u.id", (case.cell,)).fetchall()]
    if not candidates:
        return None
    row = conn.execute(
        "SELECT id, inspector_user_id FROM devices WHERE kind = 'handheld' AND enabled AND inspector_user_id = ANY(%s) "
        "ORDER BY last_seen_at DESC NULLS LAST, id LIMIT 1", (candidates,)).fetchone()
    if row is None:
        if inspector_user_id is not None:
            raise NoHandheld(f"inspector {inspector_user_id} has no enabled handheld")
        return None
    details = conn.execute("SELECT case_no, description, lon, lat, address FROM cases WHERE id = %s",
                           (case.id,)).fetchone()
    case_no, description, lon, lat, address = details or (None, None, None, None, None)
    if not address and lon is not None and lat is not None:
        address = reverse_geocode(conn, lon, lat, radius_m=NEAR_ADDRESS_M).address
    args = {"task_id": case.id, "case_no": case_no, "category_code": case.category, "grid_cell_code": case.cell,
            "description": description, "lon": lon, "lat": lat, "address": address,
            "photo_ids": case_photos(conn, case.id, sent_photos)}
    return FieldTask(str(uuid.uuid4()), name, row[0], row[1], args)


def case_photos(conn: psycopg.Connection, case_id: str, newer: Sequence[str] = ()) -> list[str]:
    """The case's photos for the task (the report's, a camera's snapshot, the disposal's feedback), the newest
    TASK_PHOTOS in the order taken: the inspector sees what to look for (核实) and what was done (核查). The phone
    fetches them with its own credentials (GET /handhelds/media/<id>, only the media of tasks sent to it)."""
    rows = conn.execute(
        "SELECT data ->> 'media_id' FROM case_evidence WHERE case_id = %s AND kind = ANY(%s) AND data ? 'media_id' "
        "AND coalesce(data ->> 'content_type', 'image/') LIKE 'image/%%' ORDER BY at DESC, id DESC LIMIT %s",
        (case_id, list(PHOTO_KINDS), TASK_PHOTOS)).fetchall()
    return list(dict.fromkeys([*(r[0] for r in reversed(rows)), *newer]))[-TASK_PHOTOS:]


def enqueue_task(conn: psycopg.Connection, task: FieldTask, issued_by: str, now: datetime) -> None:
    """The command through the outbox (same transaction as the case transition) and its tracking row."""
    command = CommandRecord(command_id=task.command_id, device_id=task.device_id, name=task.name, args=task.args,
                            issued_at=now, timeout_s=TASK_TIMEOUT_S, issued_by=issued_by)
    store.enqueue(conn, COMMANDS, task.device_id, command.as_json())
    record_command(conn, task.command_id, task.device_id, task.name, task.args, issued_by, now, TASK_TIMEOUT_S)


def apply_answer(rules: Rules, conn: psycopg.Connection, answer: TaskAnswer) -> str:
    """Apply the answer; return what happened ('applied', 'already recorded', 'evidence only', 'no such case')."""
    expected_state, action = ANSWERS[(answer.kind, answer.result)]
    # Only the inspector's own photos and voice notes, as for a report (civicgrid/cases/evidence.py own_media).
    answer = dataclasses.replace(answer, data=ev.own_media(conn, answer.source_record_id, answer.data,
                                                           answer.inspector_user_id))
    evidence = store.Evidence(answer.source_record_id, "report", answer.at, answer.device_id, answer.data)
    with conn.transaction():
        if store.evidence_exists(conn, answer.source_record_id):
            return "already recorded"
        try:
            case = store.lock_case(conn, answer.case_id)
        except store.CaseNotFound:
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
        ev.add_with_photos(conn, answer.case_id, evidence)
        if refusal is not None:
            return "evidence only"
        data: dict[str, Any] = {"note": answer.data.get("description"), "task_report": answer.source_record_id}
        if action is Action.REFUTE or action is Action.CHECK_FAIL:
            data["reason"] = answer.data.get("description") or answer.result
        if action is Action.CHECK_FAIL:
            data["deadline"] = rules.rework_deadline(case, answer.at)
        transition = lifecycle.apply(case, Command(action, Role.INSPECTOR, _actor(conn, answer), data), answer.at,
                                     permissions=rules.permissions, policy=rules.policy)
        store.record_transition(conn, transition)
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
    return str(row[0]) if row else f"user:{answer.inspector_user_id}"
