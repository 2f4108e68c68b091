"""A second rule pack loaded while cases are open (docs/rules.md): round-the-clock duty, E0103 moved from
disposal class C to B, operators allowed to file. A new case's deadlines and permissions follow it; a case filed
before the reload keeps its version's limits on a later step (its rework deadline)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
import yaml

from civicgrid.cases import CaseService
from civicgrid.cases import repository as store
from civicgrid.cases.pack import RulePack, load_pack, shipped_pack
from civicgrid.cases.rulebook import RuleBook, store_pack
from civicgrid.domain.case_state import Action, Role, RoleNotAllowed, State
from civicgrid.domain.time_limits import DisposalClass
from civicgrid.store import rule_packs
from tests.integration.cases.test_case_service import NOW, FixedPlace, _problem

pytestmark = pytest.mark.integration


def city_pack(directory: Path) -> RulePack:
    """24-hour duty, E0103 (积存垃圾渣土) in class B instead of its major's C, operators may file."""
    shipped = shipped_pack().content
    catalogue = [dict(row) for row in shipped["catalogue"]["categories"]]
    for row in catalogue:
        if row["code"] == "E0103":
            row["disposal_class"] = "B"
    actions = dict(shipped["permissions"]["actions"])
    actions["file"] = ["operator", *actions["file"]]
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in (("catalogue", {"categories": catalogue}), ("working_calendar", {"round_the_clock": True}),
                       ("permissions", {"actions": actions})):
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_pack(directory)


@pytest.fixture
def department(db: psycopg.Connection) -> str:
    dept = f"dept-{uuid.uuid4().hex[:6]}"
    db.execute("INSERT INTO departments (id, name) VALUES (%s, '环卫')", (dept,))
    return dept


@pytest.fixture
def shipped_current(db: psycopg.Connection) -> Iterator[int]:
    """The shipped defaults are the current version during the test, and again after it (the database is shared
    with every other test, which expects them)."""
    version, _ = store_pack(db, shipped_pack(), "test")
    yield version
    store_pack(db, shipped_pack(), "test")


def _opened(service: CaseService, db: psycopg.Connection) -> str:
    """A new E0103 case, alone in a cell of its own (a second one in the same cell would merge into it)."""
    code = f"341523001{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"
    ring = [[117.0, 31.5], [117.001, 31.5], [117.001, 31.501], [117.0, 31.501], [117.0, 31.5]]
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (code, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    db.execute("UPDATE cases SET state = 'closed' WHERE grid_cell_code = %s AND category_code = 'E0103'", (code,))
    return service.record_problem(db, _problem(uuid.uuid4().hex, "E0103"), FixedPlace(code),
                                  timedelta(hours=24)).case_id


def _dispatched(service: CaseService, db: psycopg.Connection, department: str, role: Role) -> str:
    case_id = _opened(service, db)
    service.act(db, role, "filer", case_id, Action.FILE, {}, (), NOW)
    service.act(db, Role.DISPATCHER, "d", case_id, Action.DISPATCH, {"department": department}, (), NOW)
    return case_id


def test_a_new_pack_judges_new_cases_while_an_older_case_keeps_its_limits(
        db: psycopg.Connection, department: str, shipped_current: int, tmp_path: Path) -> None:
    service = CaseService(RuleBook(loaded_by="test"))  # one process, running across the reload
    shipped, city = shipped_pack().rules, city_pack(tmp_path / "city")
    old = _dispatched(service, db, department, Role.SHIFT_LEADER)
    with pytest.raises(RoleNotAllowed):  # operators may not file under the shipped table
        service.act(db, Role.OPERATOR, "op", _opened(service, db), Action.FILE, {}, (), NOW)

    version, created = store_pack(db, city, "test")  # what `civicgrid rules load` and POST /admin/rules do
    assert created and version == shipped_current + 1 and rule_packs.latest_version(db) == version

    new = _dispatched(service, db, department, Role.OPERATOR)  # operators file now
    new_case = store.lock_case(db, new)
    assert new_case.disposal_class is DisposalClass.B
    assert new_case.disposal_deadline == NOW + timedelta(hours=4)  # 4 clock hours on round-the-clock duty
    assert store.rules_version(db, new) == version and store.rules_version(db, old) == shipped_current

    # The old case's rework, after the reload, restarts its clock by the shipped rules: class C, working calendar.
    later = NOW + timedelta(hours=1)
    for action in (Action.SIGN, Action.DISPOSE, Action.SEND_CHECK):
        service.act(db, Role.ADMIN, "a", old, action, {"note": "done"}, (), later)
    rework = service.act(db, Role.INSPECTOR, "i", old, Action.CHECK_FAIL, {"reason": "还在"}, (), later)
    assert rework.case.disposal_class is DisposalClass.C
    assert rework.case.disposal_deadline == shipped.rework_deadline(rework.case, later)
    assert rework.case.disposal_deadline != city.rules.rework_deadline(rework.case, later)
    # ...and the new case's rework by the city's.
    for action in (Action.SIGN, Action.DISPOSE, Action.SEND_CHECK):
        service.act(db, Role.ADMIN, "a", new, action, {"note": "done"}, (), later)
    new_rework = service.act(db, Role.INSPECTOR, "i", new, Action.CHECK_FAIL, {"reason": "还在"}, (), later)
    assert new_rework.case.disposal_deadline == later + timedelta(hours=4)


def test_a_process_started_with_rules_dir_stores_it_once_and_a_restart_changes_nothing(
        db: psycopg.Connection, shipped_current: int, tmp_path: Path) -> None:
    city = city_pack(tmp_path / "city")
    first = RuleBook(tmp_path / "city", loaded_by="test")
    version, rules = first.current(db)
    assert version == shipped_current + 1 and rules.calendar.round_the_clock
    stored = rule_packs.get(db, version)
    assert stored is not None and stored.digest == city.digest and stored.source == str((tmp_path / "city").resolve())
    again, _ = RuleBook(tmp_path / "city", loaded_by="test").current(db)  # a second process, or a restart
    assert again == version
    plain, _ = RuleBook(loaded_by="test").current(db)  # without rules_dir: the latest stored version
    assert plain == version


def test_a_reload_reaches_a_running_service_without_restart(db: psycopg.Connection, shipped_current: int,
                                                            tmp_path: Path) -> None:
    service = CaseService(RuleBook(loaded_by="test"))
    before = _opened(service, db)
    assert store.lock_case(db, before).disposal_class is DisposalClass.C
    store_pack(db, city_pack(tmp_path / "city"), "another process")
    case = store.lock_case(db, _opened(service, db))
    assert case.state is State.REPORTED and case.disposal_class is DisposalClass.B
    assert service.rules.calendar.round_the_clock  # what the process last saw is the new version
