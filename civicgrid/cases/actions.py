"""A person's action on a case (console, handheld through the API), in one transaction.

``lock_case → check_placed → prepare → lifecycle.apply → record_transition``: the row lock serialises concurrent
actions, so the loser of a race waits, then sees the new state and `apply` raises IllegalTransition.
`prepare` adds what the pure lifecycle cannot know: deadlines on the working calendar, the suggested
department, that referenced rows exist (a bad id is a typed refusal, not a foreign-key error), and the
field task a send-verify or send-check starts. `check_placed` refuses to file or dispatch a case still unlocated
(civicgrid/domain/lifecycle.py `NEEDS_PLACE`; the flag is on the case row, read under its lock).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from civicgrid.cases import centres, field_tasks
from civicgrid.cases import evidence as ev
from civicgrid.cases import repository as store
from civicgrid.cases.errors import CaseNotFound, MergeRefused, NoDepartment, UnknownReference
from civicgrid.cases.intake import check_cell, exists
from civicgrid.cases.rules import Rules
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, CaseState, Command, PendingKind, Role, Transition
from civicgrid.domain.time_limits import Limit
from civicgrid.store.responsibility import suggest_department

Visible = Callable[[psycopg.Connection, str], bool]


def act(rules: Rules, conn: psycopg.Connection, role: Role, actor: str, case_id: str, action: Action,
        data: Mapping[str, Any], media_ids: tuple[str, ...], now: datetime, *, visible: Visible | None = None) \
        -> Transition:
    """Take one lifecycle action on a case; `visible` (the caller's scope) answers CaseNotFound when false,
    so a case out of scope is indistinguishable from one that does not exist."""
    with conn.transaction():
        case = store.lock_case(conn, case_id)
        if visible is not None and not visible(conn, case_id):
            raise CaseNotFound(case_id)
        lifecycle.check_placed(case, action, unlocated=store.is_unlocated(conn, case_id))
        media = ev.media_of(conn, media_ids)
        command_data = prepare(rules, conn, case, action, dict(data), now)
        if action is Action.DISPATCH:
            centres.check_dispatch(conn, actor, command_data["department"])
        elif action in centres.MOVES and action in lifecycle.allowed_for(case, role, rules.permissions):
            # 上报上级 / 转办: from which centre to which, into the event (a move the lifecycle refuses is refused
            # by `apply` below, with its own reason, before anything about centres is said)
            command_data = centres.prepare_move(conn, case_id, action, command_data)
        task = None
        if action in field_tasks.TASK_COMMANDS:  # 派核实 / 派核查 → the inspector's handheld
            photos = [media_id for media_id, kind in media if kind.startswith("image/")]
            task = field_tasks.plan_task(conn, case, action, command_data.pop("inspector_user_id", None), photos)
            command_data["task"] = task.record() if task else None
        transition = lifecycle.apply(case, Command(action, role, actor, command_data), now,
                                     permissions=rules.permissions, policy=rules.policy)
        if action in centres.MOVES:  # before the event row: the feed files the event under the new centre
            centres.move(conn, case_id, command_data["centre"])
        store.record_transition(conn, transition)
        if action is Action.MERGE:  # 合并: the open case keeps what the repeat brought (the caller, for feedback)
            _carry_over(conn, transition, now)
        if task is not None:
            field_tasks.enqueue_task(conn, task, actor, now)
        ev.attach_media(conn, case_id, transition.seq, action, media, now)
    return transition


def prepare(rules: Rules, conn: psycopg.Connection, case: CaseState, action: Action, data: dict[str, Any],
            now: datetime) -> dict[str, Any]:
    """Fill in what the lifecycle expects as data: category default, department, deadlines, Limits."""
    data = {k: v for k, v in data.items() if v is not None}
    if action is Action.FILE:
        data.setdefault("category", case.category)
        rules.catalogue.get(data["category"])
        check_cell(conn, data.get("cell"))
    elif action is Action.DISPATCH:
        department = data.get("department") or suggest_department(
            conn, category_code=case.category, cell=case.cell, component_code=_component(conn, case.id))
        if not department:
            raise NoDepartment("no department suggested for this case; name department_id")
        if not exists(conn, "departments", "id", department):
            raise UnknownReference("department", repr(department))
        data["department"] = department
        data["deadline"] = rules.disposal_deadline(now, case.category, case.disposal_class, case.cell)
    elif action is Action.CHECK_FAIL:
        data["deadline"] = rules.rework_deadline(case, now)
    elif action is Action.RESUME:
        resumed = rules.resumed_deadline(case, now)
        if resumed is not None:
            data["deadline"] = resumed
    elif action is Action.MERGE:
        data.update(_merge_target(conn, case, str(data.get("into") or "")))
    elif action is Action.REQUEST_POSTPONE:
        data["extension"] = Limit.of(data["extension"])
    elif action is Action.APPROVE_POSTPONE and case.pending is not None and case.pending.kind is PendingKind.POSTPONE:
        limit = Limit.of(case.pending.data["extension"])  # a postponement request always carries it
        data["extension"] = limit
        postponed = rules.postponed_deadline(case, limit)
        if postponed is not None:
            data["deadline"] = postponed
    return data


def _merge_target(conn: psycopg.Connection, case: CaseState, ident: str) -> dict[str, Any]:
    """The open case a repeat joins, by id or case number: {"into": its id, "into_case_no": its number}."""
    if not ident:
        return {}  # the lifecycle answers the missing `into`
    try:
        uuid.UUID(ident)
        key = "id = %s::uuid"
    except ValueError:
        key = "case_no = %s"
    row = conn.execute(f"SELECT id::text, case_no, state FROM cases WHERE {key}", (ident,)).fetchone()
    if row is None:
        raise UnknownReference("case", repr(ident), "merge names the open case the report repeats (id or case_no)")
    if row[0] == case.id:
        raise MergeRefused("a case cannot be merged into itself")
    if row[2] in ("closed", "cancelled"):
        raise MergeRefused(f"case {row[1]} is {row[2]}: merge into an open case, or file the report as new")
    return {"into": row[0], "into_case_no": row[1]}


def _carry_over(conn: psycopg.Connection, merged: Transition, now: datetime) -> None:
    """The merged report's evidence (the caller, photos, notes), as one note on the open case (`merged_from`)."""
    rows = conn.execute("SELECT kind, at, device_id, data FROM case_evidence WHERE case_id = %s ORDER BY at, id",
                        (merged.case_id,)).fetchall()
    number = conn.execute("SELECT case_no FROM cases WHERE id = %s", (merged.case_id,)).fetchone()
    store.add_evidence(conn, str(merged.data["into"]), store.Evidence(
        f"merge:{merged.case_id}", "note", now, None, {"merged_from": {
            "case_id": merged.case_id, "case_no": number[0] if number else None, "source": merged.case.source.value,
            "reported_at": merged.case.reported_at.isoformat(), "actor": merged.actor,
            "evidence": [{"kind": k, "at": at.isoformat(), "device_id": d, "data": dt} for k, at, d, dt in rows]}}))


def _component(conn: psycopg.Connection, case_id: str) -> str | None:
    row = conn.execute("SELECT component_code FROM cases WHERE id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]
