"""Open a case for a problem, or merge it into the open case it belongs to — exactly once.

One transaction per problem: an advisory lock on the merge key (component, or
category + cell) so two workers never both open a case for the same thing;
then evidence already recorded? done (re-delivery).  An open case for the same
component, or the same category in the same cell within the merge window?
add the evidence.  Otherwise open a case through the domain lifecycle with its
disposal deadline from the time-limit rules, plus its outbox row.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import psycopg

from civicgrid.domain.case_state import Action, Command
from civicgrid.domain.catalogue import UnknownCategory, default_catalogue
from civicgrid.domain.components import component_ids_in_label
from civicgrid.domain.lifecycle import apply, open_case
from civicgrid.domain.time_limits import DisposalClass, default_time_limits, disposal_deadline
from civicgrid.domain.working_calendar import default_calendar
from civicgrid.store import cases
from streams.geo import GeoResolver
from streams.problems import Problem

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    case_id: str
    created: bool
    merged: bool


def record_problem(conn: psycopg.Connection, problem: Problem, geo: GeoResolver, merge_window: timedelta) -> Outcome:
    if problem.evidence_kind == "report" and problem.evidence.get("photo_ids"):
        problem = _own_photos(conn, problem)
    if problem.component_code is None and problem.category.startswith("C") and problem.evidence.get("photo_ids"):
        problem = _linked_by_label(conn, problem, geo)
    # A problem about a registered component is coded by that component (docs/domain.md §3:
    # a tilted cover → the linked cover's own code); the rule's category is the fallback.
    category = geo.component_category(problem.component_code)
    if category is not None and category != problem.category:
        problem = dataclasses.replace(problem, category=category)
    place = geo.locate(component_code=problem.component_code or problem.location_component,
                       device_cell=problem.device_cell, lon=problem.lon, lat=problem.lat)
    evidence = cases.Evidence(problem.source_record_id, problem.evidence_kind, problem.at, problem.device_id,
                              {**problem.evidence, "cell": place.cell})
    merge_key = f"case-merge:{problem.component_code or ''}:{problem.category}:{place.cell or ''}"
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (merge_key,))
        existing = conn.execute("SELECT case_id FROM case_evidence WHERE source_record_id = %s",
                                (problem.source_record_id,)).fetchone()
        if existing is not None:
            return Outcome(str(existing[0]), created=False, merged=False)
        case_id = cases.find_open_case(conn, component_code=problem.component_code, category_code=problem.category,
                                       grid_cell_code=place.cell, since=problem.at - merge_window)
        if case_id is not None:
            cases.add_evidence(conn, case_id, evidence)
            _add_photos(conn, case_id, evidence)
            return Outcome(case_id, created=False, merged=True)
        opened = _open(problem, place.cell)
        details = cases.CaseDetails(component_code=problem.component_code, lon=place.lon, lat=place.lat,
                                    description=problem.description, category_name=_category_name(problem.category),
                                    outside_grid=place.outside_grid)
        case_id, created = cases.create_case(conn, opened, details, source_record_id=problem.source_record_id,
                                             evidence=evidence)
        _add_photos(conn, case_id, evidence)
        if created and problem.self_handled_note is not None:
            handled = apply(opened.case, Command(Action.SELF_HANDLE, problem.role, problem.actor,
                                                 {"note": problem.self_handled_note}), problem.at)
            cases.record_transition(conn, handled)
        return Outcome(case_id, created=created, merged=False)


def _own_photos(conn: psycopg.Connection, problem: Problem) -> Problem:
    """Keep only the `photo_ids` of media that exist and that this handheld's inspector uploaded.

    Any string a handheld names would otherwise become a media id the console fetches with the viewer's
    token, and another inspector's photo could be passed off as evidence. The refused ids stay in the
    evidence, with the reason, for whoever reviews the case."""
    named = [str(p) for p in problem.evidence["photo_ids"]]
    uploader = int(problem.actor.removeprefix("user:")) if problem.actor.startswith("user:") else None
    own: set[str] = set()
    if uploader is not None:
        with conn.transaction():
            own = {row[0] for row in conn.execute("SELECT id FROM media WHERE id = ANY(%s) AND uploaded_by = %s",
                                                  (named, uploader)).fetchall()}
    refused = [p for p in named if p not in own]
    if not refused:
        return problem
    log.warning("%s: photo ids refused (no such medium, or not uploaded by this handheld's inspector): %s",
                problem.source_record_id, ", ".join(p[:70] for p in refused))
    return dataclasses.replace(problem, evidence={
        **problem.evidence, "photo_ids": [p for p in named if p in own],
        "photo_ids_refused": {"ids": [p[:70] for p in refused],
                              "reason": "no such medium, or not uploaded by this handheld's inspector"}})


def _linked_by_label(conn: psycopg.Connection, problem: Problem, geo: GeoResolver) -> Problem:
    """A component report (a C category) that names no component, with a photo of a registered component's
    QR label, is about that component (the API read the labels at upload): it is located, coded and merged
    by it.  An event report (E) keeps its own category and place: a label in its photo is only nearby."""
    with conn.transaction():
        rows = conn.execute("SELECT labels FROM media WHERE id = ANY(%s) ORDER BY created_at",
                            (list(problem.evidence["photo_ids"]),)).fetchall()
    for (labels,) in rows:
        for code in (c for text in labels for c in component_ids_in_label(text)):
            if geo.component_category(code) is not None:
                log.info("%s: photo label names component %s", problem.source_record_id, code)
                return dataclasses.replace(problem, component_code=code,
                                           evidence={**problem.evidence, "labelled_component": code})
    return problem


def photo_evidence(report: cases.Evidence) -> list[cases.Evidence]:
    """A handheld report's photos (uploaded to the API first, named by id in `photo_ids`) as evidence rows of
    their own, like photos attached in the console, so the case detail shows them."""
    if report.kind != "report":
        return []
    return [cases.Evidence(f"photo:{report.source_record_id}:{media_id}", "photo", report.at, report.device_id,
                           {"media_id": media_id, "report": report.source_record_id})
            for media_id in report.data.get("photo_ids") or ()]


def _add_photos(conn: psycopg.Connection, case_id: str, report: cases.Evidence) -> None:
    for photo in photo_evidence(report):
        cases.add_evidence(conn, case_id, photo)


def _open(problem: Problem, cell: str | None):
    opened = open_case(cases.new_case_id(), problem.source,
                       Command(Action.REPORT, problem.role, problem.actor,
                               {"category": problem.category, "cell": cell}), problem.at)
    disposal_class = problem.disposal_class or _default_class(problem.category)
    # The disposal clock formally starts at dispatch; until then the case carries the
    # deadline it would have if dispatched at once (the console's traffic light).
    due = disposal_deadline(problem.at, default_time_limits(), default_calendar(), disposal_class,
                            category=problem.category)
    case = dataclasses.replace(opened.case, disposal_class=DisposalClass(disposal_class), disposal_deadline=due)
    return dataclasses.replace(opened, case=case)


def _default_class(category: str) -> str:
    try:
        return default_catalogue().get(category).disposal_class.value
    except UnknownCategory:
        return "C"


def _category_name(category: str) -> str | None:
    try:
        return default_catalogue().get(category).zh
    except UnknownCategory:
        return None
