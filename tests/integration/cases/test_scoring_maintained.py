"""The facts kept with each case event (civicgrid/store/case_facts.py) give exactly the tables of the reference,
today's replay of every case's events (api/case_facts_cache.py + the list functions of api/queries/scoring.py).

A generated history, driven through the case service as the API drives it: reports by inspectors and by the
hotline, verify/confirm/refute, file, dispatch, return, sign, postpone, suspend/resume, dispose, check
pass/fail (rework), close, cancel before and after filing, self-handling, cases left open; step gaps drawn from
quick to days late so both verdicts of every on-time flag occur. The cases lie in 2031 (no other test's cases
there); every region level, the department table and every post table are compared for day, 旬, month and year.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from api.case_facts_cache import backfill, load_facts, refresh_facts
from api.queries import scoring as q
from api.routes.scoring import period_bounds
from civicgrid.cases import CaseService
from civicgrid.cases.errors import CaseRefused
from civicgrid.cases.intake import NewCase
from civicgrid.cases.rulebook import RuleBook
from civicgrid.domain.case_state import Action, LifecycleError, Role, Source
from civicgrid.domain.scoring import rank
from civicgrid.domain.time_limits import Limit, Unit

pytestmark = pytest.mark.integration

A, R = Action, Role
ACTORS = {R.INSPECTOR: ["insp-a", "insp-b", "insp-c"], R.OPERATOR: ["op-a", "op-b"],
          R.SHIFT_LEADER: ["sl-a", "sl-b"], R.DISPATCHER: ["disp-a", "disp-b"], R.DEPARTMENT: ["dept-user"]}
ROLE = {A.SEND_VERIFY: R.OPERATOR, A.CONFIRM: R.INSPECTOR, A.REFUTE: R.INSPECTOR, A.FILE: R.SHIFT_LEADER,
        A.SELF_HANDLE: R.INSPECTOR, A.DISPATCH: R.DISPATCHER, A.SIGN: R.DEPARTMENT, A.DISPOSE: R.DEPARTMENT,
        A.REQUEST_RETURN: R.DEPARTMENT, A.APPROVE_RETURN: R.DISPATCHER, A.REQUEST_POSTPONE: R.DEPARTMENT,
        A.APPROVE_POSTPONE: R.DISPATCHER, A.SEND_CHECK: R.OPERATOR, A.CHECK_PASS: R.INSPECTOR,
        A.CHECK_FAIL: R.INSPECTOR, A.CLOSE: R.SHIFT_LEADER, A.SUSPEND: R.SHIFT_LEADER, A.RESUME: R.SHIFT_LEADER,
        A.CANCEL: R.SHIFT_LEADER}
TAIL = [A.SEND_CHECK, A.CHECK_PASS, A.CLOSE]
PATHS: list[list[Action]] = [
    [A.FILE, A.DISPATCH, A.SIGN, A.DISPOSE, *TAIL],
    [A.SEND_VERIFY, A.CONFIRM, A.FILE, A.DISPATCH, A.SIGN, A.DISPOSE, *TAIL],
    [A.SEND_VERIFY, A.REFUTE, A.CANCEL],
    [A.FILE, A.DISPATCH, A.REQUEST_RETURN, A.APPROVE_RETURN, A.DISPATCH, A.SIGN, A.DISPOSE, *TAIL],
    [A.FILE, A.DISPATCH, A.SIGN, A.DISPOSE, A.SEND_CHECK, A.CHECK_FAIL, A.DISPOSE, *TAIL],
    [A.FILE, A.DISPATCH, A.SIGN, A.REQUEST_POSTPONE, A.APPROVE_POSTPONE, A.DISPOSE, *TAIL],
    [A.FILE, A.DISPATCH, A.SIGN, A.SUSPEND, A.RESUME, A.DISPOSE, *TAIL],
    [A.FILE, A.CANCEL],
    [A.CANCEL],
    [A.SELF_HANDLE],
    [A.FILE, A.DISPATCH, A.SIGN],
    [A.FILE, A.DISPATCH, A.REQUEST_RETURN, A.APPROVE_RETURN],
]
GAPS = [timedelta(minutes=5), timedelta(minutes=25), timedelta(hours=3), timedelta(days=2)]
REPORT_DAYS = [date(2031, 3, 3), date(2031, 3, 9), date(2031, 3, 12), date(2031, 3, 20), date(2031, 3, 25),
               date(2031, 3, 31), date(2031, 5, 6)]
PERIODS = [("day", date(2031, 3, 3)), ("xun", date(2031, 3, 5)), ("xun", date(2031, 3, 15)),
           ("xun", date(2031, 3, 28)), ("month", date(2031, 3, 1)), ("month", date(2031, 5, 1)),
           ("year", date(2031, 1, 1))]


def _town(db: psycopg.Connection) -> tuple[list[str], list[str], dict[str, str]]:
    """Cells in two streets, two communities each, split over two responsibility grids; two departments."""
    run = uuid.uuid4().hex[:6]
    grids = [f"G-{run}-1", f"G-{run}-2"]
    for g in grids:
        db.execute("INSERT INTO responsibility_grids (id, name) VALUES (%s, %s)", (g, g))
    ring = orjson.dumps({"type": "Polygon", "coordinates": [[[117.0, 31.5], [117.001, 31.5], [117.001, 31.501],
                                                             [117.0, 31.5]]]}).decode()
    base = random.randrange(100, 900)
    cells = [f"341523{base:03d}{c:03d}{n:02d}" for c in (1, 2) for n in (1, 2)]
    cells += [f"341523{base + 1:03d}{c:03d}{n:02d}" for c in (1, 2) for n in (1, 2)]
    for i, code in enumerate(cells):
        db.execute("INSERT INTO grid_cells (code, responsibility_grid_id, geometry, area_m2) VALUES (%s, %s, %s, "
                   "10000) ON CONFLICT (code) DO UPDATE SET responsibility_grid_id = EXCLUDED.responsibility_grid_id",
                   (code, grids[i % 2], ring))
    departments = [f"dept-{run}-{n}" for n in (1, 2)]
    for d in departments:
        db.execute("INSERT INTO departments (id, name) VALUES (%s, '市政')", (d,))
    grid_of = {a: grids[n % 2] for n, a in enumerate(ACTORS[R.INSPECTOR][:2])}  # the third has no grid
    return cells, departments, grid_of


def _data(action: Action, departments: list[str], rnd: random.Random) -> dict[str, Any]:
    if action is A.FILE:
        return {"category": rnd.choice(["E0102", "E0104", "C0102"])}
    if action is A.DISPATCH:
        return {"department": rnd.choice(departments)}
    if action is A.REQUEST_POSTPONE:
        return {"extension": Limit(2, Unit.DAYS), "reason": "parts"}
    return {"note": "test", "reason": "test"}


def _history(db: psycopg.Connection, service: CaseService, cells: list[str], departments: list[str]) -> set[str]:
    """Every path on every report day, twice with different actors and gaps; return the actions recorded."""
    rnd = random.Random(24)
    case_ids = []
    for day in REPORT_DAYS:
        for path in PATHS:
            for _ in range(2):
                cell = rnd.choice(cells)
                at = datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC) + timedelta(minutes=rnd.randrange(480))
                hotline = rnd.random() < 0.3
                role, source = (R.OPERATOR, Source.HOTLINE) if hotline else (R.INSPECTOR, Source.INSPECTOR)
                case_id, _ = service.report(db, role, rnd.choice(ACTORS[role]),
                                            NewCase("E0102", "test", source, grid_cell_code=cell), at,
                                            lambda lon, lat, c=cell: c)
                case_ids.append(case_id)
                for action in path:
                    at += rnd.choice(GAPS)
                    try:
                        service.act(db, ROLE[action], rnd.choice(ACTORS[ROLE[action]]), case_id, action,
                                    _data(action, departments, rnd), (), at)
                    except (LifecycleError, CaseRefused):
                        break  # a path the lifecycle refuses here (a policy) ends the case where it stands
    rows = db.execute("SELECT DISTINCT action FROM case_events WHERE case_id = ANY(%s::uuid[])",
                      (case_ids,)).fetchall()
    return {r[0] for r in rows}


def test_maintained_facts_give_the_reference_tables(db: psycopg.Connection) -> None:
    book = RuleBook(loaded_by="test")
    service = CaseService(book)
    cells, departments, grid_of = _town(db)
    recorded = _history(db, service, cells, departments)
    assert recorded >= {a.value for a in (A.REPORT, *ROLE)}, f"transitions never taken: " \
        f"{ {a.value for a in (A.REPORT, *ROLE)} - recorded}"
    assert backfill(book, db, *period_bounds("year", date(2031, 1, 1))) == 0  # the service kept every case
    weights = book.current(db)[1].scoring
    all_departments = [r[0] for r in db.execute("SELECT id FROM departments").fetchall()]
    all_grids = q.grids(db)
    compared = 0
    for period, day in PERIODS:
        start, end = period_bounds(period, day)
        refresh_facts(book, db, start, end)
        facts = load_facts(db, start, end)
        assert facts, f"no cases in the {period} of {day}"
        assert q.period_summary(db, start, end) == (len(facts), q.case_rules_versions(db, start, end))
        pairs = [(q.department_table(facts, all_departments, weights),
                  q.department_table_sql(db, start, end, all_departments, weights))]
        for level in ("county", "street", "community", "grid"):
            pairs.append((q.region_table(facts, level, all_grids if level == "grid" else {}, weights),
                          q.region_table_sql(db, start, end, level, weights)))
        for role in (R.INSPECTOR, R.OPERATOR, R.SHIFT_LEADER, R.DISPATCHER):
            actors = ACTORS[role]
            cells_of = {a: all_grids.get(g, set()) for a, g in grid_of.items()} if role is R.INSPECTOR else {}
            pairs.append((q.post_table(facts, role.value, actors, cells_of, weights),
                          q.post_table_sql(db, start, end, role.value, actors,
                                           grid_of if role is R.INSPECTOR else {}, weights)))
        for reference, maintained in pairs:
            assert rank(maintained) == rank(reference), f"{period} {day}"
            compared += len(reference)
    assert compared > 100
