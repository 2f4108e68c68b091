"""/cases: report, list, detail, log a phone call, and one endpoint per lifecycle action.

The action endpoints are generated from one table (action, path, body) so that each
has its own request model in the OpenAPI document, and each route's roles are read from
the permission table (civicgrid.domain.permissions) — the same data `lifecycle.apply`
checks. Scope (department, inspector grid) is applied by the queries.
"""
# No `from __future__ import annotations`: the generated endpoints' body types are closure
# variables, which FastAPI can only see when annotations are evaluated at definition time.

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Body, Depends, Query, Response

from api.auth import require, require_current
from api.deps import ApiContext, Ctx, Db
from api.errors import not_found
from api.queries import cases as q
from api.routes.geocoding import reverse_answer
from api.schemas.cases import (
    ActionIn,
    CaseDetail,
    CaseList,
    CaseReport,
    CloseIn,
    DispatchIn,
    FileIn,
    MergeIn,
    NoteIn,
    PostponeIn,
    ReasonIn,
    TaskIn,
    TransferIn,
)
from api.schemas.geocoding import ReverseAnswer
from api.schemas.intake import CallIn
from api.users import User
from civicgrid.cases.callers import Caller
from civicgrid.cases.deadline_clocks import step_lights
from civicgrid.cases.intake import NewCase
from civicgrid.cases.snapshot import case_from_json
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, CaseState, Role, Source, State
from civicgrid.domain.permissions import Permissions
from civicgrid.domain.time_limits import Light
from civicgrid.store.addresses import Candidate, resolve
from civicgrid.store.centres import has_centres
from civicgrid.store.responsibility import suggest_department

READERS = tuple(Role)

# (action, path segment, body model, summary)
ACTIONS: tuple[tuple[Action, str, type[ActionIn], str], ...] = (
    (Action.ACCEPT, "accept", ActionIn, "受理: the operator takes the report in (once; the accept limit's clock)"),
    (Action.MERGE, "merge", MergeIn, "合并: a repeat report joins the open case about the same problem (→ cancelled; "
                                     "its caller and evidence are kept on that case)"),
    (Action.SEND_VERIFY, "send-verify", TaskIn, "派核实: send an inspector to verify the report"),
    (Action.CONFIRM, "confirm", ActionIn, "核实属实: the reported problem is real"),
    (Action.REFUTE, "refute", ReasonIn, "核实不属实: nothing found → cancelled"),
    (Action.FILE, "file", FileIn, "立案: accept and file the case"),
    (Action.SELF_HANDLE, "self-handle", NoteIn, "自处理: the inspector fixed it on the spot → closed"),
    (Action.DISPATCH, "dispatch", DispatchIn, "派遣: to a department (default: the suggested one)"),
    (Action.SIGN, "sign", ActionIn, "签收: the department takes the case"),
    (Action.DISPOSE, "dispose", NoteIn, "处置反馈: the department reports it disposed of the problem"),
    (Action.REQUEST_RETURN, "request-return", ReasonIn, "申请回退: not this department's case"),
    (Action.APPROVE_RETURN, "approve-return", ActionIn, "回退: back to filed for another dispatch"),
    (Action.REQUEST_POSTPONE, "request-postpone", PostponeIn, "申请延期: ask for more time, with a reason"),
    (Action.APPROVE_POSTPONE, "approve-postpone", ActionIn, "延期: extend the disposal deadline"),
    (Action.REJECT_REQUEST, "reject-request", ReasonIn, "reject a pending return or postponement"),
    (Action.URGE, "urge", ActionIn, "督办: a recorded reminder"),
    (Action.SEND_CHECK, "send-check", TaskIn, "派核查: send an inspector to check the result"),
    (Action.CHECK_PASS, "check-pass", ActionIn, "核查通过: the problem is fixed"),
    (Action.CHECK_FAIL, "check-fail", ReasonIn, "核查不通过 → 返工 rework, back to the department"),
    (Action.CLOSE, "close", CloseIn, "结案: close a checked case"),
    (Action.SUSPEND, "suspend", ReasonIn, "挂账: suspend (stops the clock)"),
    (Action.RESUME, "resume", ActionIn, "resume a suspended case where it left off"),
    (Action.CANCEL, "cancel", ReasonIn, "作废: cancel an unfiled or filed case"),
    (Action.INSTRUCT, "instruct", NoteIn, "领导批示: a leader's instruction"),
    (Action.ESCALATE, "escalate", ReasonIn, "上报上级: hand a reported or filed case to the centre above "
                                            "(docs/centres.md)"),
    (Action.TRANSFER, "transfer", TransferIn, "转办: move a reported or filed case to another centre, its "
                                              "timeline kept"),
)

CENTRE_MOVES = (Action.ESCALATE, Action.TRANSFER)

# Body field → lifecycle data key.
_RENAMES = {"category_code": "category", "grid_cell_code": "cell", "department_id": "department",
            "centre_id": "centre"}

ACTION_RESPONSES = {403: {"description": "role may not take this action"},
                    404: {"description": "no such case in the caller's scope"},
                    409: {"description": "illegal in this state; `allowed_actions` lists what is possible"},
                    422: {"description": "missing or invalid data"}}


def case_detail(ctx: ApiContext, db, user: User, case_id: str, now: datetime, *, scoped: bool = True) -> CaseDetail:
    row = q.get_case(db, user, case_id, scoped=scoped)
    if row is None:
        raise not_found("case", case_id)
    state = case_from_json(row.pop("snapshot"))
    allowed = sorted(a.value for a in lifecycle.allowed_for(state, user.role, ctx.current_rules(db).permissions,
                                                            unlocated=row["unlocated"])
                     if a not in CENTRE_MOVES or has_centres(db))  # a one-centre town has nowhere to move a case
    suggested = None
    if state.state in (State.REPORTED, State.VERIFYING, State.FILED):
        suggested = suggest_department(db, category_code=row["category_code"], cell=row["grid_cell_code"],
                                       component_code=row["component_code"])
    light, light_step = step_light(db, row, now, lambda: _light(ctx, db, state, row["rules_version"], now))
    return CaseDetail(**row, allowed_actions=allowed, suggested_department_id=suggested,
                      nearest=_nearest(ctx, db, row["lon"], row["lat"]), light=light, light_step=light_step,
                      timeline=q.timeline(db, case_id),
                      evidence=q.evidence(db, case_id),
                      **dict(zip(("timeline_total", "evidence_total"), q.detail_totals(db, case_id), strict=True)))


def _nearest(ctx: ApiContext, db: psycopg.Connection, lon: float | None, lat: float | None) -> ReverseAnswer | None:
    """Reverse geocoding beside the case (docs/geocoding.md); none without a point."""
    return None if lon is None or lat is None else reverse_answer(ctx, db, lon, lat)


def _light(ctx: ApiContext, db, case: CaseState, version: int | None, now: datetime) -> str | None:
    """By the rules of the version the case was filed under (its limits do not change under it)."""
    rules = ctx.book.rules(db, version)
    light = rules.time_light(case.state, case.dispatched_at, case.disposal_deadline, rules.class_of(case),
                             case.category, now, case.cell)
    return None if light is None else light.value


def _row_light(ctx: ApiContext, db, row: dict, now: datetime) -> str | None:
    """A list row's light, from its columns (the list reads no snapshots); as the case detail computes it."""
    dispatched_at = row["dispatched_at"]
    rules = ctx.book.rules(db, row["rules_version"])
    disposal_class = rules.disposal_class(row["category_code"], row["disposal_class"], row["grid_cell_code"])
    light = rules.time_light(State(row["state"]), dispatched_at, row["disposal_deadline"], disposal_class,
                             row["category_code"], now, row["grid_cell_code"])
    return None if light is None else light.value


def step_light(db: psycopg.Connection, row: dict[str, Any], now: datetime, disposal: Callable[[], str | None],
               steps: dict[str, tuple[Light, str]] | None = None) -> tuple[str | None, str | None]:
    """(light, step): the most urgent running step clock as the deadline watch last read the case
    (civicgrid/cases/deadline_clocks.py); before it has read its current version, or while the case is suspended
    (挂账 stops the clocks), disposal's light alone."""
    found = (steps if steps is not None else step_lights(db, [str(row["id"])], now)).get(str(row["id"]))
    if found is None or row["state"] == State.SUSPENDED.value:
        light = disposal()
        return light, None if light is None else "dispose"
    return found[0].value, found[1]


def _cell_at(ctx: ApiContext, db: psycopg.Connection) -> Callable[[float, float], str | None]:
    """The grid cell of a point, from the API's cached index of the cells in the database."""
    return ctx.grid_index(db).lookup


def locate_address(ctx: ApiContext, db: psycopg.Connection) -> Callable[[str], Candidate | None]:
    """The geocoder's best candidate for an address, if it resolves (score ≥ RESOLVES_AT): a report naming an
    address and no point lands in the cell there; one that does not resolve stays unlocated."""
    return lambda text: resolve(db, text, prefixes=ctx.settings.address_prefixes)


def build_router(permissions: Permissions) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])
    reporters = tuple(permissions.roles_for(Action.REPORT)) or (Role.ADMIN,)

    @router.get("", summary="List cases (filters, cursor pagination, caller's scope)")
    def list_cases(
        ctx: Ctx, db: Db, user: Annotated[User, Depends(require(*READERS))],
        state: Annotated[list[State] | None, Query(description="one or more states")] = None,
        source: Source | None = None,
        category_code: Annotated[str | None, Query(pattern=r"^[CE][0-9]{2}([0-9]{2})?$",
                                                   description="a minor (E0102) or a whole major (E01)")] = None,
        cell_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$",
                                                 description="6 digits a county, 9 a street, 12 a community")] = None,
        department_id: Annotated[str | None, Query(max_length=100)] = None,
        overdue: bool | None = None,
        reported_from: datetime | None = None,
        reported_to: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> CaseList:
        f = q.CaseFilter([s.value for s in state] if state else None, source and source.value, category_code,
                         cell_prefix, department_id, overdue, reported_from, reported_to)
        now = ctx.clock.now()
        rows, next_cursor = q.list_cases(db, user, f, now, limit, cursor)
        steps = step_lights(db, [str(row["id"]) for row in rows], now)
        items = []
        for row in rows:
            light, light_step = step_light(db, row, now, lambda row=row: _row_light(ctx, db, row, now), steps)
            items.append({**row, "light": light, "light_step": light_step})
        return CaseList(items=items, next_cursor=next_cursor)

    @router.post("", status_code=201, summary="Report a problem (上报)", responses=ACTION_RESPONSES)
    def report_case(body: CaseReport, ctx: Ctx, db: Db, response: Response,
                    user: Annotated[User, Depends(require_current(Action.REPORT, reporters))]) -> CaseDetail:
        srid = f"api:{user.id}:{body.client_ref}" if body.client_ref else None
        case_id, created = ctx.cases.report(db, user.role, user.username, NewCase(
            body.category_code, body.description, body.source, body.grid_cell_code, body.component_code,
            body.lon, body.lat, body.address, tuple(body.media_ids), srid), ctx.clock.now(), cell_at=_cell_at(ctx, db),
            locate_address=locate_address(ctx, db))
        if not created:
            response.status_code = 200
        response.headers["Location"] = f"/cases/{case_id}"
        # The reporter sees what they reported even outside their scope (an inspector off their grid).
        return case_detail(ctx, db, user, case_id, ctx.clock.now(), scoped=False)

    @router.post("/calls", status_code=201, summary="Log a 12319 phone call as a hotline case (the caller kept on "
                                                    "it; an address geocoded, unresolved → unlocated)",
                 responses=ACTION_RESPONSES)
    def log_call(body: CallIn, ctx: Ctx, db: Db, response: Response,
                 user: Annotated[User, Depends(require(Role.OPERATOR))]) -> CaseDetail:
        evidence = {"channel": "phone", "caller_name": body.caller_name, "caller_phone": body.caller_phone}
        # The caller on the case's callers (civicgrid/cases/callers.py): told when it closes if they asked.
        caller = Caller("hotline", body.caller_name, body.caller_phone, client=user.username, callback=body.callback,
                        description=body.description)
        srid = f"call:{user.id}:{body.client_ref}" if body.client_ref else None
        case_id, created = ctx.cases.report(db, user.role, user.username, NewCase(
            body.category_code, body.description, Source.HOTLINE, body.grid_cell_code, None, body.lon, body.lat,
            body.address, tuple(body.media_ids), srid, extra_evidence=evidence, caller=caller), ctx.clock.now(),
            cell_at=_cell_at(ctx, db), locate_address=locate_address(ctx, db))
        if not created:
            response.status_code = 200
        response.headers["Location"] = f"/cases/{case_id}"
        return case_detail(ctx, db, user, case_id, ctx.clock.now())

    @router.get("/{case_id}", summary="A case with its timeline, evidence and the caller's allowed actions",
                responses={404: ACTION_RESPONSES[404]})
    def get_case(case_id: uuid.UUID, ctx: Ctx, db: Db,
                 user: Annotated[User, Depends(require(*READERS))]) -> CaseDetail:
        return case_detail(ctx, db, user, str(case_id), ctx.clock.now())

    for action, path, model, summary in ACTIONS:
        _add_action(router, permissions, action, path, model, summary)
    return router


def _add_action(router: APIRouter, permissions: Permissions, action: Action, path: str, model: type[ActionIn],
                summary: str) -> None:
    roles = tuple(permissions.roles_for(action)) or (Role.ADMIN,)

    def endpoint(case_id: uuid.UUID, body: Annotated[model, Body()], ctx: Ctx, db: Db,
                 user: Annotated[User, Depends(require_current(action, roles))]) -> CaseDetail:
        raw = body.model_dump(exclude={"media_ids"}, mode="json")
        data = {_RENAMES.get(k, k): v for k, v in raw.items()}
        ctx.cases.act(db, user.role, user.username, str(case_id), action, data, tuple(body.media_ids), ctx.clock.now(),
                      visible=lambda conn, cid: q.in_scope(conn, user, cid))
        # A case escalated or transferred out of the caller's centre is out of their scope now; they see it once more.
        return case_detail(ctx, db, user, str(case_id), ctx.clock.now(), scoped=action not in CENTRE_MOVES)

    endpoint.__name__ = f"case_{action.value}"
    router.add_api_route(f"/{{case_id}}/{path}", endpoint, methods=["POST"], summary=summary,
                         description=f"Roles: {', '.join(sorted(r.value for r in roles))} (and admin).",
                         responses=ACTION_RESPONSES, response_model=CaseDetail, name=f"case_{action.value}")
