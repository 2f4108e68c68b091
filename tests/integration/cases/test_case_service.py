"""The case service against the real database, one test per intent: a person's report, a device's problem
(open, merge, re-delivery), actions with their deadlines (dispatch, rework, suspension and resume,
postponement), refusals, and the deadline watch's escalation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from civicgrid.cases import CaseService
from civicgrid.cases import repository as store
from civicgrid.cases.errors import CaseNotFound, NoDepartment, SourceNotAllowed, UnknownReference
from civicgrid.cases.intake import NewCase
from civicgrid.cases.problem import Place, Problem
from civicgrid.domain.case_state import Action, Role, Source, State
from civicgrid.domain.catalogue import UnknownCategory
from civicgrid.domain.time_limits import DisposalClass

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, working hours in UTC+8
SERVICE = CaseService()


class FixedPlace:
    """The service's Locator: every problem is in one cell; one component is registered."""

    def __init__(self, cell: str, component: str | None = None) -> None:
        self.cell, self.component = cell, component

    def component_category(self, component_code: str | None) -> str | None:
        return "C0102" if component_code is not None and component_code == self.component else None

    def locate(self, *, component_code: str | None, device_cell: str | None, lon: float | None,
               lat: float | None) -> Place:
        return Place(self.cell, 117.0, 31.5, False)


def _problem(run: str, category: str = "E0102", **changes: object) -> Problem:
    base = dict(source=Source.SENSOR, role=Role.OPERATOR, actor="device:x", source_record_id=f"alarm:{run}",
                category=category, disposal_class=None, at=NOW, device_id="x", component_code=None,
                device_cell=None, lon=None, lat=None, description="test", evidence_kind="alarm", evidence={"v": 1})
    base.update(changes)
    return Problem(**base)  # type: ignore[arg-type]


def _events(db: psycopg.Connection, case_id: str) -> list[tuple[int, str]]:
    return db.execute("SELECT seq, action FROM case_events WHERE case_id = %s ORDER BY seq", (case_id,)).fetchall()


def _outbox_seqs(db: psycopg.Connection, case_id: str) -> list[tuple[int, str]]:
    return db.execute("SELECT (payload ->> 'seq')::int, payload ->> 'action' FROM outbox WHERE key = %s "
                      "AND topic = 'cg.case-events' ORDER BY id", (case_id,)).fetchall()


def test_a_problem_opens_a_case_then_merges_and_a_redelivery_changes_nothing(db: psycopg.Connection,
                                                                             cell: str) -> None:
    run, place = uuid.uuid4().hex, FixedPlace(cell)
    opened = SERVICE.record_problem(db, _problem(run), place, timedelta(hours=24))
    merged = SERVICE.record_problem(db, _problem(f"{run}-2"), place, timedelta(hours=24))
    again = SERVICE.record_problem(db, _problem(run), place, timedelta(hours=24))
    assert (opened.created, merged.merged, again.created, again.merged) == (True, True, False, False)
    assert merged.case_id == opened.case_id == again.case_id
    case = store.lock_case(db, opened.case_id)
    # The provisional deadline of class E0102's disposal class from the catalogue.
    assert case.disposal_class == SERVICE.rules.disposal_class("E0102")
    assert case.disposal_deadline == SERVICE.rules.disposal_deadline(NOW, "E0102")
    assert db.execute("SELECT evidence_count FROM cases WHERE id = %s", (opened.case_id,)).fetchone() == (2,)


def test_an_unknown_category_gets_the_one_fallback_class(db: psycopg.Connection, cell: str) -> None:
    """A category the catalogue does not know (an old profile's code) still opens a case, of class C: the one
    fallback every service uses (civicgrid/cases/rules.py)."""
    outcome = SERVICE.record_problem(db, _problem(uuid.uuid4().hex, category="E9999"), FixedPlace(cell),
                                     timedelta(hours=24))
    case = store.lock_case(db, outcome.case_id)
    assert case.disposal_class is DisposalClass.C
    assert SERVICE.rules.disposal_class("E9999") is DisposalClass.C
    assert SERVICE.rules.class_of(case) is DisposalClass.C


def test_a_report_checks_its_source_and_references(db: psycopg.Connection, cell: str) -> None:
    def cell_at(lon: float, lat: float) -> str | None:
        return cell

    case_id, created = SERVICE.report(db, Role.OPERATOR, "op", NewCase("E0102", "垃圾", Source.HOTLINE, lon=117.0,
                                                                       lat=31.5), NOW, cell_at)
    assert created and store.lock_case(db, case_id).cell == cell
    with pytest.raises(SourceNotAllowed):
        SERVICE.report(db, Role.INSPECTOR, "insp", NewCase("E0102", source=Source.HOTLINE), NOW, cell_at)
    with pytest.raises(UnknownReference) as unknown:
        SERVICE.report(db, Role.OPERATOR, "op", NewCase("E0102", grid_cell_code="341523999999999"), NOW, cell_at)
    assert unknown.value.kind == "unknown-cell"
    with pytest.raises(UnknownReference):
        SERVICE.report(db, Role.OPERATOR, "op", NewCase("E0102", grid_cell_code=cell, media_ids=("no-such",)),
                       NOW, cell_at)
    with pytest.raises(UnknownCategory):
        SERVICE.report(db, Role.OPERATOR, "op", NewCase("E0999", grid_cell_code=cell), NOW, cell_at)


def _filed(db: psycopg.Connection, cell: str, category: str = "E0102") -> str:
    outcome = SERVICE.record_problem(db, _problem(uuid.uuid4().hex, category), FixedPlace(cell),
                                     timedelta(hours=24))
    SERVICE.act(db, Role.SHIFT_LEADER, "boss", outcome.case_id, Action.FILE, {}, (), NOW)
    return outcome.case_id


def test_dispatch_rework_suspension_and_postponement_move_the_deadline_by_the_rules(
        db: psycopg.Connection, cell: str, department: str) -> None:
    rules = SERVICE.rules
    case_id = _filed(db, cell)
    with pytest.raises(UnknownReference):
        SERVICE.act(db, Role.DISPATCHER, "d", case_id, Action.DISPATCH, {"department": "nope"}, (), NOW)
    dispatched = SERVICE.act(db, Role.DISPATCHER, "d", case_id, Action.DISPATCH, {"department": department}, (),
                             NOW)
    assert dispatched.case.disposal_deadline == rules.disposal_deadline(NOW, "E0102")
    later = NOW + timedelta(hours=1)
    for action in (Action.SIGN, Action.DISPOSE, Action.SEND_CHECK):
        SERVICE.act(db, Role.ADMIN, "a", case_id, action, {"note": "done"}, (), later)
    rework = SERVICE.act(db, Role.INSPECTOR, "i", case_id, Action.CHECK_FAIL, {"reason": "还在"}, (), later)
    assert rework.to_state is State.DISPATCHED
    assert rework.case.disposal_deadline == rules.rework_deadline(rework.case, later)
    suspended = SERVICE.act(db, Role.SHIFT_LEADER, "boss", case_id, Action.SUSPEND, {"reason": "资金"}, (), later)
    resumed_at = later + timedelta(days=3)
    resumed = SERVICE.act(db, Role.SHIFT_LEADER, "boss", case_id, Action.RESUME, {}, (), resumed_at)
    assert resumed.case.disposal_deadline == rules.resumed_deadline(suspended.case, resumed_at)
    assert resumed.case.disposal_deadline > rework.case.disposal_deadline
    SERVICE.act(db, Role.DEPARTMENT, "dep", case_id, Action.REQUEST_POSTPONE,
                {"extension": {"amount": 2, "unit": "days"}, "reason": "材料"}, (), resumed_at)
    approved = SERVICE.act(db, Role.DISPATCHER, "d", case_id, Action.APPROVE_POSTPONE, {}, (), resumed_at)
    assert approved.case.disposal_deadline > resumed.case.disposal_deadline
    assert [a for _, a in _events(db, case_id)][-3:] == ["resume", "request_postpone", "approve_postpone"]


def test_an_action_on_a_case_out_of_scope_is_not_found(db: psycopg.Connection, cell: str) -> None:
    case_id = _filed(db, cell)
    with pytest.raises(CaseNotFound):
        SERVICE.act(db, Role.SHIFT_LEADER, "boss", case_id, Action.CANCEL, {"reason": "x"}, (), NOW,
                    visible=lambda conn, cid: False)
    assert store.lock_case(db, case_id).state is State.FILED


def test_no_department_to_suggest_is_a_typed_refusal(db: psycopg.Connection, cell: str) -> None:
    case_id = _filed(db, cell, "C0201")  # no responsibility rule in the shared database names C02
    with pytest.raises(NoDepartment):
        SERVICE.act(db, Role.DISPATCHER, "d", case_id, Action.DISPATCH, {}, (), NOW)


def test_an_overdue_case_gets_an_overdue_event_and_an_urging_with_seqs_of_their_own(
        db: psycopg.Connection, cell: str, department: str) -> None:
    """The overdue event used to repeat the previous transition's seq, and consumers deduplicating on
    (case id, seq) could drop it."""
    case_id = _filed(db, cell)
    SERVICE.act(db, Role.DISPATCHER, "d", case_id, Action.DISPATCH, {"department": department}, (), NOW)
    due = store.lock_case(db, case_id).disposal_deadline
    assert due is not None
    assert SERVICE.escalate_overdue(db, due + timedelta(minutes=1)) >= 1
    seqs = _outbox_seqs(db, case_id)
    assert [s for s, _ in seqs] == sorted({s for s, _ in seqs}), seqs  # one event per seq
    assert [a for _, a in seqs][-2:] == ["overdue", "urge"]
    assert [a for _, a in _events(db, case_id)][-2:] == ["overdue", "urge"]
    again = SERVICE.escalate_overdue(db, due + timedelta(minutes=3))
    assert [a for _, a in _outbox_seqs(db, case_id)].count("overdue") == 1, again


def test_a_problem_naming_an_unregistered_component_opens_a_case_without_the_link(db: psycopg.Connection,
                                                                                 cell: str) -> None:
    """A handheld's report names a component the registry lacks (a label of one not yet in the base data): the
    database's foreign key refused the whole report, which went to the dead letters. Now the case opens without
    the link, and the evidence keeps the code the inspector named."""
    unknown, run = f"3415239999{uuid.uuid4().int % 10**6:06d}", uuid.uuid4().hex
    SERVICE.record_problem(db, _problem(run, component_code=unknown), FixedPlace(cell), timedelta(hours=1))
    row = db.execute("SELECT c.component_code, e.data ->> 'unregistered_component' FROM cases c JOIN case_evidence e "
                     "ON e.case_id = c.id WHERE e.source_record_id = %s", (f"alarm:{run}",)).fetchone()
    assert row == (None, unknown)


def test_a_self_handled_report_is_a_closed_case_of_its_own_beside_an_open_one(db: psycopg.Connection,
                                                                             cell: str) -> None:
    """自处理: the inspector fixed a minor problem on the spot. Its report is a case closed at once as self-handled,
    even where an open case of the same category waits in the cell: it once merged into that case as one more
    piece of evidence, closing nothing and losing the inspector's 自处理."""
    run, place = uuid.uuid4().hex, FixedPlace(cell)
    open_case = SERVICE.record_problem(db, _problem(run), place, timedelta(hours=24))
    handled = _problem(run, source=Source.INSPECTOR, role=Role.INSPECTOR, actor="user:1",
                       source_record_id=f"report:hh-x:{run}", evidence_kind="report",
                       evidence={"kind": "self_handled", "description": "已当场清理"}, self_handled_note="已当场清理")
    outcome = SERVICE.record_problem(db, handled, place, timedelta(hours=24))
    assert (outcome.created, outcome.merged) == (True, False) and outcome.case_id != open_case.case_id
    case = store.lock_case(db, outcome.case_id)
    assert (case.state, case.self_handled) == (State.CLOSED, True)
    assert [a for _, a in _events(db, outcome.case_id)] == ["report", "self_handle"]
    again = SERVICE.record_problem(db, handled, place, timedelta(hours=24))  # re-delivered: nothing more
    assert (again.case_id, again.created, again.merged) == (outcome.case_id, False, False)
    assert db.execute("SELECT evidence_count FROM cases WHERE id = %s", (open_case.case_id,)).fetchone() == (1,)
    # A self-handled report does not take in later ones either: the next report opens (or joins) an open case.
    later = SERVICE.record_problem(db, _problem(f"{run}-later"), place, timedelta(hours=24))
    assert later.case_id == open_case.case_id
