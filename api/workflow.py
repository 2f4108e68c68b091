"""Human workflow on the case record: opening a case and taking one lifecycle action, each in one transaction.

Every action runs ``lock_case → lifecycle.apply → record_transition`` inside one
transaction (civicgrid.store.cases): the row lock serialises concurrent actions, so the
loser of a race waits, then sees the new state and `apply` raises IllegalTransition
(409). The API adds what the pure lifecycle cannot know: disposal deadlines on the
working calendar, the suggested department, checks that referenced rows exist (so a
bad id is a 422, not a foreign-key error), and photos attached as evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg

from api import fieldtasks
from api.deps import ApiContext
from api.errors import ApiError, not_found
from api.queries import cases as case_queries
from api.queries.responsibility import suggest_department
from api.users import User
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, CaseState, Command, PendingKind, Role, Source, Transition
from civicgrid.domain.time_limits import (
    DisposalClass,
    Limit,
    Unit,
    after_suspension,
    disposal_deadline,
    postpone,
)
from civicgrid.store import cases as store

# Which sources each reporting role may claim (the default is the first).
_SOURCES: dict[Role, tuple[Source, ...]] = {
    Role.INSPECTOR: (Source.INSPECTOR,),
    Role.LEADER: (Source.LEADER,),
    Role.OPERATOR: (Source.HOTLINE, Source.CAMERA, Source.SENSOR, Source.TRANSFER),
    Role.ADMIN: (Source.HOTLINE, *(s for s in Source if s is not Source.HOTLINE)),
}


@dataclasses.dataclass(frozen=True, slots=True)
class NewCase:
    category_code: str
    description: str | None = None
    source: Source | None = None
    grid_cell_code: str | None = None
    component_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    media_ids: tuple[str, ...] = ()
    source_record_id: str | None = None
    extra_evidence: Mapping[str, Any] | None = None  # e.g. the caller of a phone report


def _exists(conn: psycopg.Connection, table: str, column: str, value: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {table} WHERE {column} = %s", (value,)).fetchone() is not None


def _check_cell(conn: psycopg.Connection, cell: str | None) -> None:
    if cell is not None and not _exists(conn, "grid_cells", "code", cell):
        raise ApiError(422, "unknown-cell", f"unknown grid cell {cell}")


def report(ctx: ApiContext, conn: psycopg.Connection, user: User, new: NewCase, now: datetime) -> tuple[str, bool]:
    """Open a case (上报); returns (case id, created) — idempotent on `source_record_id`."""
    allowed = _SOURCES.get(user.role, ())
    source = new.source or (allowed[0] if allowed else Source.INSPECTOR)
    if source not in allowed:
        raise ApiError(422, "bad-source", f"role {user.role.value} may not report source {source.value}; "
                                          f"allowed: {', '.join(s.value for s in allowed) or 'none'}")
    category = ctx.catalogue.get(new.category_code)  # UnknownCategory → 422
    cell = new.grid_cell_code
    if cell is None and new.lon is not None and new.lat is not None:
        cell = ctx.grid_index(conn).lookup(new.lon, new.lat)
    _check_cell(conn, cell)
    if new.component_code and not _exists(conn, "components", "code", new.component_code):
        raise ApiError(422, "unknown-component", f"unknown component {new.component_code}")
    data: dict[str, Any] = {"category": new.category_code}
    if cell:
        data["cell"] = cell
    if new.description:
        data["note"] = new.description
    opened = lifecycle.open_case(store.new_case_id(), source, Command(Action.REPORT, user.role, user.username, data),
                                 now, permissions=ctx.permissions)
    details = store.CaseDetails(component_code=new.component_code, lon=new.lon, lat=new.lat, address=new.address,
                                description=new.description, category_name=category.zh,
                                outside_grid=cell is None and new.lon is not None)
    evidence = None
    if new.extra_evidence:
        evidence = store.Evidence(f"report:{opened.case_id}", "note", now, None, dict(new.extra_evidence))
    with conn.transaction():
        media = _media(conn, new.media_ids)
        case_id, created = store.create_case(conn, opened, details, source_record_id=new.source_record_id,
                                             evidence=evidence)
        if created:
            _attach(conn, case_id, 1, Action.REPORT, media, now)
    return case_id, created


def act(ctx: ApiContext, conn: psycopg.Connection, user: User, case_id: str, action: Action,
        data: Mapping[str, Any], media_ids: tuple[str, ...], now: datetime) -> Transition:
    """Take one lifecycle action on a case the caller can see; raises lifecycle errors as they come."""
    with conn.transaction():
        case = store.lock_case(conn, case_id)
        if not case_queries.in_scope(conn, user, case_id):
            raise not_found("case", case_id)
        media = _media(conn, media_ids)
        command_data = _prepare(ctx, conn, case, action, dict(data), now)
        task = None
        if action in fieldtasks.TASK_COMMANDS:  # 派核实 / 派核查 → the inspector's handheld
            task = fieldtasks.plan_task(conn, case, action, command_data.pop("inspector_user_id", None), now)
            command_data["task"] = task.record() if task else None
        transition = lifecycle.apply(case, Command(action, user.role, user.username, command_data), now,
                                     permissions=ctx.permissions)
        store.record_transition(conn, transition)
        if task is not None:
            fieldtasks.enqueue_task(conn, task, user.username, now)
        _attach(conn, case_id, transition.seq, action, media, now)
    return transition


def disposal_class_of(ctx: ApiContext, case: CaseState) -> DisposalClass:
    if case.disposal_class is not None:
        return case.disposal_class
    return ctx.catalogue.get(case.category).disposal_class if case.category else DisposalClass.C


def _prepare(ctx: ApiContext, conn: psycopg.Connection, case: CaseState, action: Action, data: dict[str, Any],
             now: datetime) -> dict[str, Any]:
    """Fill in what the lifecycle expects as data: category default, department, deadlines, Limits."""
    data = {k: v for k, v in data.items() if v is not None}
    if action is Action.FILE:
        data.setdefault("category", case.category)
        ctx.catalogue.get(data["category"])
        _check_cell(conn, data.get("cell"))
    elif action is Action.DISPATCH:
        department = data.get("department") or suggest_department(
            conn, category_code=case.category, cell=case.cell, component_code=_component(conn, case.id))
        if not department:
            raise ApiError(422, "no-department", "no department suggested for this case; name department_id")
        if not _exists(conn, "departments", "id", department):
            raise ApiError(422, "unknown-department", f"unknown department {department!r}")
        data["department"] = department
        data["deadline"] = disposal_deadline(now, ctx.limits, ctx.calendar, disposal_class_of(ctx, case),
                                             category=case.category)
    elif action is Action.CHECK_FAIL:  # 返工 restarts the disposal clock
        data["deadline"] = disposal_deadline(now, ctx.limits, ctx.calendar, disposal_class_of(ctx, case),
                                             category=case.category)
    elif action is Action.RESUME and case.disposal_deadline is not None and case.suspended_at is not None:
        # 挂账 stopped the clock: the time left at suspension counts again from now.
        limit = ctx.limits.disposal(disposal_class_of(ctx, case), category=case.category)
        data["deadline"] = after_suspension(case.disposal_deadline, case.suspended_at, now, limit, ctx.calendar)
    elif action is Action.REQUEST_POSTPONE:
        ext = data["extension"]
        data["extension"] = Limit(float(ext["amount"]), Unit(ext["unit"]))
    elif action is Action.APPROVE_POSTPONE and case.pending is not None and case.pending.kind is PendingKind.POSTPONE:
        ext = case.pending.data.get("extension")
        limit = ext if isinstance(ext, Limit) else Limit(float(ext["amount"]), Unit(ext["unit"]))
        data["extension"] = limit
        if case.disposal_deadline is not None:
            data["deadline"] = postpone(case.disposal_deadline, limit, ctx.calendar)
    return data


def _component(conn: psycopg.Connection, case_id: str) -> str | None:
    row = conn.execute("SELECT component_code FROM cases WHERE id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]


def _media(conn: psycopg.Connection, media_ids: tuple[str, ...]) -> list[tuple[str, str]]:
    if not media_ids:
        return []
    rows = dict(conn.execute("SELECT id, content_type FROM media WHERE id = ANY(%s)", (list(media_ids),)).fetchall())
    missing = [m for m in media_ids if m not in rows]
    if missing:
        raise ApiError(422, "unknown-media", f"unknown media id(s): {', '.join(missing)}; upload with POST /media")
    return [(m, rows[m]) for m in dict.fromkeys(media_ids)]


def _attach(conn: psycopg.Connection, case_id: str, seq: int, action: Action, media: list[tuple[str, str]],
            now: datetime) -> None:
    for media_id, content_type in media:
        kind = "voice" if content_type.startswith("audio/") else "photo"
        store.add_evidence(conn, case_id, store.Evidence(
            f"media:{case_id}:{seq}:{media_id}", kind, now, None,
            {"media_id": media_id, "content_type": content_type, "action": action.value}))
