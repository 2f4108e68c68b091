"""Field tasks: 派核实 / 派核查 reach an inspector's handheld as a downlink command.

When an operator sends a case to verification (核实) or to the check (核查), the
inspector who patrols the case's cell should get it on the handheld at once, not
only see it on a list. The task is a `verify` / `check` command on `cg.commands`,
written to the outbox in the same transaction as the case transition, so the
command exists exactly when the transition does (a rolled-back action sends
nothing; a committed one is relayed even if Kafka was down for a while). The
handheld answers with a `verification` / `check` report whose `task_id` is the
case id; the stream worker applies the answer to the case (streams/fieldtasks.py).

Who gets it: the inspector named in the action (`inspector_user_id`), else the
inspector(s) assigned to the responsibility grid of the case's cell, preferring
the handheld heard from most recently. With no inspector or handheld the action
still succeeds and the timeline says nobody was tasked (the operator then phones).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from api.errors import ApiError
from api.queries import devices as device_queries
from civicgrid.bus import records
from civicgrid.bus.topics import COMMANDS
from civicgrid.domain.case_state import Action, CaseState
from civicgrid.store import cases as store

TASK_COMMANDS = {Action.SEND_VERIFY: "verify", Action.SEND_CHECK: "check"}
TASK_TIMEOUT_S = 30 * 60.0  # the verify/check time limit's order of magnitude; acks come within seconds


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


def plan_task(conn: psycopg.Connection, case: CaseState, action: Action, inspector_user_id: int | None,
              now: datetime) -> FieldTask | None:
    """The task to send for this action, or None when no inspector's handheld can be reached."""
    name = TASK_COMMANDS[action]
    if inspector_user_id is not None:
        row = conn.execute("SELECT role, enabled FROM users WHERE id = %s", (inspector_user_id,)).fetchone()
        if row is None or row[0] != "inspector" or not row[1]:
            raise ApiError(422, "not-an-inspector", f"user {inspector_user_id} is not an enabled inspector")
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
            raise ApiError(422, "no-handheld", f"inspector {inspector_user_id} has no enabled handheld")
        return None
    details = conn.execute("SELECT case_no, description, lon, lat FROM cases WHERE id = %s", (case.id,)).fetchone()
    case_no, description, lon, lat = details or (None, None, None, None)
    args = {"task_id": case.id, "case_no": case_no, "category_code": case.category, "grid_cell_code": case.cell,
            "description": description, "lon": lon, "lat": lat}
    return FieldTask(str(uuid.uuid4()), name, row[0], row[1], args)


def enqueue_task(conn: psycopg.Connection, task: FieldTask, issued_by: str, now: datetime) -> None:
    """The command through the outbox (same transaction as the case transition) and its tracking row."""
    command = records.command(command_id=task.command_id, device_id=task.device_id, name=task.name, args=task.args,
                              issued_at=now, timeout_s=TASK_TIMEOUT_S, issued_by=issued_by)
    store.enqueue(conn, COMMANDS, task.device_id, {**command, "issued_at": now.isoformat()})
    device_queries.record_command(conn, task.command_id, task.device_id, task.name, task.args, issued_by, now,
                                  TASK_TIMEOUT_S)
