"""Opening cases: a report from a person (console, handheld through the API, Open311), and a problem from
a device or a handheld's MQTT report, opened or merged into the open case it belongs to — exactly once.

A person's report is placed by its point, else by its address through the geocoder (a candidate scoring at least
RESOLVES_AT, civicgrid/store/addresses.py); one that ends without a point or a cell stays in intake flagged
`unlocated`, for an operator to place on the map (civicgrid/cases/placing.py)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from civicgrid.cases import evidence as ev
from civicgrid.cases import repository as store
from civicgrid.cases.callers import Caller, add_caller
from civicgrid.cases.errors import SourceNotAllowed, UnknownReference
from civicgrid.cases.problem import Locator, Problem
from civicgrid.cases.rulebook import RuleBook
from civicgrid.cases.rules import Rules
from civicgrid.domain import lifecycle
from civicgrid.domain.case_state import Action, Command, Role, Source, Transition
from civicgrid.store.addresses import Candidate

log = logging.getLogger(__name__)

# Which sources each reporting role may claim (the default is the first).
SOURCES: dict[Role, tuple[Source, ...]] = {
    Role.INSPECTOR: (Source.INSPECTOR,),
    Role.LEADER: (Source.LEADER,),
    # The operator also records a leader's instruction that reaches the centre by phone or on paper (领导批示).
    Role.OPERATOR: (Source.HOTLINE, Source.CAMERA, Source.SENSOR, Source.TRANSFER, Source.LEADER),
    Role.ADMIN: (Source.HOTLINE, *(s for s in Source if s is not Source.HOTLINE)),
}


@dataclass(frozen=True, slots=True)
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
    caller: Caller | None = None  # kept on the case, told when it closes if it asked (civicgrid/cases/callers.py)


@dataclass(frozen=True, slots=True)
class Outcome:
    case_id: str
    created: bool
    merged: bool


def exists(conn: psycopg.Connection, table: str, column: str, value: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {table} WHERE {column} = %s", (value,)).fetchone() is not None


def check_cell(conn: psycopg.Connection, cell: str | None) -> None:
    if cell is not None and not exists(conn, "grid_cells", "code", cell):
        raise UnknownReference("cell", cell)


def report(book: RuleBook, conn: psycopg.Connection, role: Role, actor: str, new: NewCase, now: datetime,
           cell_at: Callable[[float, float], str | None],
           locate_address: Callable[[str], Candidate | None] | None = None) -> tuple[str, bool]:
    """Open a case (上报) under the current rules; returns (case id, created) — idempotent on `source_record_id`.

    `locate_address` (the geocoder's best candidate if it resolves) places a report that names an address and no
    point; a report left without point and cell is flagged unlocated."""
    version, rules = book.current(conn)
    allowed = SOURCES.get(role, ())
    source = new.source or (allowed[0] if allowed else Source.INSPECTOR)
    if source not in allowed:
        raise SourceNotAllowed(f"role {role.value} may not report source {source.value}; "
                               f"allowed: {', '.join(s.value for s in allowed) or 'none'}")
    category = rules.catalogue.get(new.category_code)  # UnknownCategory: the caller's mistake
    cell, lon, lat = new.grid_cell_code, new.lon, new.lat
    extra = dict(new.extra_evidence or {})
    if (lon is None or lat is None) and cell is None and new.address and locate_address is not None:
        place = locate_address(new.address)
        extra["geocoded"] = ({"address": place.address, "score": place.score} if place is not None
                             else "unresolved: an operator places it on the map")
        if place is not None:
            lon, lat = place.lon, place.lat
    if cell is None and lon is not None and lat is not None:
        cell = cell_at(lon, lat)
    check_cell(conn, cell)
    unlocated = cell is None and (lon is None or lat is None)
    if new.component_code and not exists(conn, "components", "code", new.component_code):
        raise UnknownReference("component", new.component_code)
    data: dict[str, Any] = {"category": new.category_code}
    if cell:
        data["cell"] = cell
    if new.description:
        data["note"] = new.description
    opened = lifecycle.open_case(store.new_case_id(), source, Command(Action.REPORT, role, actor, data), now,
                                 permissions=rules.permissions)
    details = store.CaseDetails(component_code=new.component_code, lon=lon, lat=lat, address=new.address,
                                description=new.description, category_name=category.zh,
                                outside_grid=cell is None and lon is not None)
    evidence = None
    if extra:
        evidence = store.Evidence(f"report:{opened.case_id}", "note", now, None, extra)
    with conn.transaction():
        media = ev.media_of(conn, new.media_ids)
        case_id, created = store.create_case(conn, opened, details, source_record_id=new.source_record_id,
                                             rules_version=version,
                                             evidence=evidence)
        if created:
            if unlocated:
                conn.execute("UPDATE cases SET unlocated = true WHERE id = %s", (case_id,))
            ev.attach_media(conn, case_id, 1, Action.REPORT, media, now)
            if new.caller is not None:
                add_caller(conn, case_id, new.caller, linked=False)
    return case_id, created


def record_problem(book: RuleBook, conn: psycopg.Connection, problem: Problem, locator: Locator,
                   merge_window: timedelta) -> Outcome:
    """Open a case for a problem, or merge it into the open case it belongs to, in one transaction.

    An advisory lock on the merge key (component, or category + cell) keeps two workers from both
    opening a case for the same thing; evidence already recorded means a re-delivery (nothing to do);
    an open case for the same component, or the same category in the same cell within the merge
    window, gets the evidence (not a self-handled report's: it is closed as a case of its own); otherwise a
    case opens, under the current rules, with its provisional disposal deadline."""
    if problem.evidence_kind == "report" and any(problem.evidence.get(f) for f in ev.MEDIA_FIELDS):
        problem = ev.own_photos(conn, problem)
    if problem.component_code is None and problem.category.startswith("C") and problem.evidence.get("photo_ids"):
        problem = ev.linked_by_label(conn, problem, locator)
    # A problem about a registered component is coded by that component (docs/domain.md §3:
    # a tilted cover → the linked cover's own code); the rule's category is the fallback.
    category = locator.component_category(problem.component_code)
    if problem.component_code is not None and category is None:
        # Not in the registry (a mistyped code, the label of a component not yet in the base data): the case
        # opens without the link, its evidence naming the code, where the database would refuse the whole report.
        log.warning("%s names component %s, which is not registered: recorded without the link",
                    problem.source_record_id, problem.component_code)
        problem = dataclasses.replace(problem, component_code=None, evidence={
            **problem.evidence, "unregistered_component": problem.component_code})
    if category is not None and category != problem.category:
        problem = dataclasses.replace(problem, category=category)
    place = locator.locate(component_code=problem.component_code or problem.location_component,
                           device_cell=problem.device_cell, lon=problem.lon, lat=problem.lat)
    evidence = store.Evidence(problem.source_record_id, problem.evidence_kind, problem.at, problem.device_id,
                              {**problem.evidence, "cell": place.cell})
    merge_key = f"case-merge:{problem.component_code or ''}:{problem.category}:{place.cell or ''}"
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (merge_key,))
        existing = conn.execute("SELECT case_id FROM case_evidence WHERE source_record_id = %s",
                                (problem.source_record_id,)).fetchone()
        if existing is not None:
            return Outcome(str(existing[0]), created=False, merged=False)
        # 自处理 (fixed on the spot) is a case of its own, closed at once: merged into an open case it would close
        # nothing and the inspector's self-handling would be lost (the open case keeps its own way).
        case_id = None if problem.self_handled_note is not None else store.find_open_case(
            conn, component_code=problem.component_code, category_code=problem.category, grid_cell_code=place.cell,
            since=problem.at - merge_window)
        if case_id is not None:
            ev.add_with_photos(conn, case_id, evidence)
            return Outcome(case_id, created=False, merged=True)
        version, rules = book.current(conn)
        opened = _open(rules, problem, place.cell)
        details = store.CaseDetails(component_code=problem.component_code, lon=place.lon, lat=place.lat,
                                    description=problem.description,
                                    category_name=rules.category_name(problem.category),
                                    outside_grid=place.outside_grid)
        case_id, created = store.create_case(conn, opened, details, source_record_id=problem.source_record_id,
                                             rules_version=version)
        if created:
            ev.add_with_photos(conn, case_id, evidence)
        if created and problem.self_handled_note is not None:
            handled = lifecycle.apply(opened.case, Command(Action.SELF_HANDLE, problem.role, problem.actor,
                                                           {"note": problem.self_handled_note}), problem.at,
                                      permissions=rules.permissions, policy=rules.policy)
            store.record_transition(conn, handled)
        return Outcome(case_id, created=created, merged=False)


def _open(rules: Rules, problem: Problem, cell: str | None) -> Transition:
    opened = lifecycle.open_case(store.new_case_id(), problem.source,
                                 Command(Action.REPORT, problem.role, problem.actor,
                                         {"category": problem.category, "cell": cell}), problem.at,
                                 permissions=rules.permissions)
    disposal_class = rules.disposal_class(problem.category, problem.disposal_class, cell)
    # The disposal clock formally starts at dispatch; until then the case carries the
    # deadline it would have if dispatched at once (the console's traffic light).
    due = rules.disposal_deadline(problem.at, problem.category, disposal_class, cell)
    case = dataclasses.replace(opened.case, disposal_class=disposal_class, disposal_deadline=due)
    return dataclasses.replace(opened, case=case)
