"""The simulated people against a real API server on the session's database: a handful of cases go
reported → … → closed, each step taken by the role whose step it is, through HTTP, under its own user.

The scenario makes every error happen once per case, so the test can state what must happen: every first
dispatch goes to the wrong department (which asks for a return; the dispatcher approves and dispatches
again by the table), every handler asks for a postponement, every first check fails (rework), and the
citizen calls twice about one problem (the operator merges the repeat into the open case).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from api.users import create_user
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment
from simulators.devices import SimClock
from simulators.people.scenario import (
    Citizens,
    Delay,
    Departments,
    Dispatchers,
    Inspectors,
    Operators,
    PeopleScenario,
    Scope,
    Shift,
    ShiftLeaders,
)
from simulators.people.town import Town
from tests.support.api import serve_api

pytestmark = pytest.mark.integration
PASSWORD = "people-test-password"
QUICK = Delay(median=1, p90=2)  # simulated minutes: at 600× a tenth of a second
ALL_DAY = Shift()


@pytest.fixture
def town_org(db: psycopg.Connection) -> Iterator[dict]:
    """Four cells of their own (a community no other test uses), a grid, two departments with rules scoped
    to the cells, an admin and a patrol inspector who reports; taken away afterwards, because the API tests
    rank the shared database's grids and posts exactly."""
    tag = uuid.uuid4().hex[:6]
    prefix = f"341523001{random.randrange(900, 1000):03d}"
    lon0, lat0, d = 117.5 + random.random() * 0.3, 31.7 + random.random() * 0.2, 0.001
    grid, clean, order = f"PPL{tag}", f"ppl-clean-{tag}", f"ppl-order-{tag}"
    db.execute("INSERT INTO departments (id, name) VALUES (%s, '环卫测试'), (%s, '秩序测试')", (clean, order))
    db.execute("INSERT INTO responsibility_grids (id, name) VALUES (%s, '模拟人员测试网格')", (grid,))
    cells = []
    for n in range(4):
        lon, lat = lon0 + (n % 2) * d, lat0 + (n // 2) * d
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        code = f"{prefix}{n + 1:02d}"
        db.execute("INSERT INTO grid_cells (code, responsibility_grid_id, geometry, area_m2) VALUES (%s, %s, %s, "
                   "10000) ON CONFLICT (code) DO UPDATE SET responsibility_grid_id = EXCLUDED.responsibility_grid_id",
                   (code, grid, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
        cells.append((code, lon + d / 2, lat + d / 2))
    for category, dept in (("E0102", clean), ("E05", order), ("E02", order)):
        db.execute("INSERT INTO responsibility_rules (category_code, grid_prefix, department_id) VALUES (%s, %s, %s)",
                   (category, prefix, dept))
    admin, _ = create_user(db, f"ppl-admin-{tag}", "admin", password=PASSWORD)
    patrol, _ = create_user(db, f"ppl-patrol-{tag}", "inspector", responsibility_grid_id=grid, password=PASSWORD)
    made = {"tag": tag, "prefix": prefix, "grid": grid, "departments": [clean, order], "cells": cells,
            "admin": admin.username, "patrol": patrol.username}
    yield made
    db.execute("UPDATE users SET enabled = false, responsibility_grid_id = NULL "
               "WHERE username LIKE %s OR username = ANY(%s)", (f"p{tag}-%", [admin.username, patrol.username]))
    db.execute("UPDATE grid_cells SET responsibility_grid_id = NULL WHERE responsibility_grid_id = %s", (grid,))
    db.execute("DELETE FROM responsibility_grids WHERE id = %s", (grid,))
    db.execute("DELETE FROM responsibility_rules WHERE grid_prefix = %s", (prefix,))


def _scenario(org: dict) -> PeopleScenario:
    return PeopleScenario(
        seed=3, poll_s=0.2, user_prefix=f"p{org['tag']}-",
        scope=Scope(cell_prefix=org["prefix"], departments=org["departments"], grids=[org["grid"]]),
        operators=Operators(count=1, shift=ALL_DAY, accept=QUICK, send_verify=QUICK, send_check=QUICK),
        shift_leaders=ShiftLeaders(shift=ALL_DAY, file=QUICK, close=QUICK, cancel=QUICK),
        dispatchers=Dispatchers(shift=ALL_DAY, dispatch=QUICK, approve=QUICK, wrong_department_rate=1.0),
        departments=Departments(shift=ALL_DAY, sign=QUICK, dispose=QUICK, request_return=QUICK, late_rate=0.0,
                                postpone_rate=1.0),
        inspectors=Inspectors(shift=ALL_DAY, answer=QUICK, refute_rate=0.0, check_fail_rate=1.0, max_reworks=1),
        citizens=Citizens(shift=ALL_DAY, calls_per_day=14400, repeat_rate=1.0, repeat_after=QUICK, max_problems=1,
                          categories={"E0201": 1}))


def _report(base: str, org: dict) -> list[str]:
    """The patrol inspector's reports (the loop's "found" step, a handheld's job, not the people's)."""
    token = httpx.post(f"{base}/auth/token", data={"username": org["patrol"], "password": PASSWORD}).json()
    ids = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}) as c:
        for (cell, lon, lat), category in zip(org["cells"][1:], ("E0102", "E0505", "E0102"), strict=True):
            r = c.post("/cases", json={"category_code": category, "description": "巡查发现", "lon": lon, "lat": lat})
            assert r.status_code == 201, r.text
            assert r.json()["grid_cell_code"] == cell
            ids.append(r.json()["id"])
    return ids


async def _run_until_settled(town: Town, db: psycopg.Connection, prefix: str, timeout_s: float) -> None:
    """Run the town until every case in its cells is closed or cancelled (3 reports and 2 calls: 5 cases, or 4 when
    the platform linked the repeat call to the open case itself)."""
    runner = asyncio.create_task(town.run())
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while asyncio.get_running_loop().time() < deadline and not runner.done():
            states = dict(db.execute("SELECT state, count(*) FROM cases WHERE grid_cell_code LIKE %s GROUP BY 1",
                                     (prefix + "%",)).fetchall())
            if states.get("closed") == 4 and set(states) <= {"closed", "cancelled"}:
                return
            await asyncio.sleep(0.5)
    finally:
        town.stop()
        await runner


def test_people_close_the_loop(db: psycopg.Connection, settings: Settings, town_org: dict, tmp_path: Path) -> None:
    org = town_org
    with serve_api(settings, tmp_path / "media", background=False) as (base, _):
        reported = _report(base, org)
        clock = SimClock(datetime.now(UTC) - timedelta(days=1), 600.0)
        town = Town(_scenario(org), clock, base, org["admin"], PASSWORD, tmp_path / "people.json")
        # Settles in about 15 s on a quiet machine; CI in a slow hour ran out of 45 s before the repeat call was merged.
        asyncio.run(_run_until_settled(town, db, org["prefix"], timeout_s=90))
    summary = town.summary()
    assert not summary["errors"], summary

    cases = db.execute("SELECT id::text, source, state, return_count, rework_count, postpone_count, department_id "
                       "FROM cases WHERE grid_cell_code LIKE %s", (org["prefix"] + "%",)).fetchall()
    by_state: dict[str, list[tuple]] = {}
    for row in cases:
        by_state.setdefault(row[2], []).append(row)
    assert len(cases) in (4, 5) and len(by_state.get("closed", [])) == 4, (by_state, summary)
    assert {r[0] for r in by_state["closed"]} >= set(reported)

    clean, order = org["departments"]
    expected_department = {"E0102": clean, "E0505": order, "E0201": order}
    prefix = f"p{org['tag']}-"
    actors = {"accept": "operator", "merge": "operator", "send_verify": "operator", "send_check": "operator",
              "confirm": "inspector", "file": "shift_leader",
              "dispatch": "dispatcher", "approve_return": "dispatcher", "approve_postpone": "dispatcher",
              "sign": "department", "request_return": "department", "request_postpone": "department",
              "dispose": "department", "check_pass": "inspector", "check_fail": "inspector",
              "close": "shift_leader", "cancel": "shift_leader"}
    for case_id, source, _, returns, reworks, postpones, department in by_state["closed"]:
        events = db.execute("SELECT action, actor, role, to_state, payload -> 'data' FROM case_events "
                            "WHERE case_id = %s ORDER BY seq", (case_id,)).fetchall()
        actions = [e[0] for e in events]
        category = db.execute("SELECT category_code FROM cases WHERE id = %s", (case_id,)).fetchone()[0]
        # The whole loop, with the wrong dispatch returned, a postponement and a failed check reworked.
        assert actions[0] == "report" and actions[-1] == "close", actions
        assert (returns, reworks, postpones) == (1, 1, 1), actions
        assert department == expected_department[category]
        dispatches = [e[4]["department"] for e in events if e[0] == "dispatch"]
        assert dispatches == [next(d for d in org["departments"] if d != department), department], actions
        assert actions.index("request_return") < actions.index("approve_return") < actions.index("sign")
        fail = actions.index("check_fail")
        assert events[fail][3] == "dispatched" and "sign" in actions[fail:] and "dispose" in actions[fail:]
        assert actions.index("check_pass") > fail
        if source == "hotline":
            assert actions[1:5] == ["accept", "send_verify", "confirm", "file"], actions
        else:
            assert actions[1:3] == ["accept", "file"], actions
        # Each step under the simulated user of the role whose step it is (logged in through the API).
        for action, actor, role, _, _ in events[1:]:
            if action == "overdue":
                continue
            assert role == actors[action] and actor.startswith(prefix), (action, actor, role)
            if role == "department":
                assert actor.startswith(f"{prefix}dept-ppl-")
    hotline = next(r[0] for r in by_state["closed"] if r[1] == "hotline")
    if len(cases) == 5:  # the repeat became a case of its own: the operator merged it into the open one
        (cancelled,) = by_state["cancelled"]
        assert cancelled[1] == "hotline"
        (merge,) = db.execute("SELECT actor, role, payload -> 'data' ->> 'into' FROM case_events "
                              "WHERE case_id = %s AND action = 'merge'", (cancelled[0],)).fetchall()
        assert merge == (f"{prefix}operator1", "operator", hotline)
    else:  # Open311 linked the repeat call to the open request a few metres away (docs/open311.md)
        assert "cancelled" not in by_state
    assert summary["actions"]["citizen:call"] == 1 and summary["actions"]["citizen:call_again"] == 1


def test_simulate_people_command_makes_its_admin_and_accounts(db: psycopg.Connection, settings: Settings,
                                                              tmp_path: Path) -> None:
    """`civicgrid simulate-people --make-admin` (what `civicgrid run` starts): the admin made once with
    `civicgrid users add`, the people's accounts through the API, passwords kept in a 0600 state file."""
    prefix = f"q{uuid.uuid4().hex[:6]}-"
    scenario = tmp_path / "people.yaml"
    scenario.write_text(f"user_prefix: {prefix}\npoll_s: 0.5\n"
                        "scope: {cell_prefix: '9999', departments: [], grids: []}\n", encoding="utf-8")
    state = tmp_path / "state" / "people.json"
    try:
        with serve_api(settings, tmp_path / "media", background=False) as (base, api_settings):
            env = {**os.environ, **as_environment(api_settings)}
            for _ in range(2):  # the second run logs in with what the first one kept
                done = subprocess.run([sys.executable, "-m", "civicgrid.cli", "simulate-people", "--make-admin",
                                       "--api-url", base, "--scenario", str(scenario), "--state", str(state),
                                       "--duration-s", "2"], env=env, capture_output=True, text=True, timeout=60,
                                      check=False)
                assert done.returncode == 0, done.stderr[-2000:]
                assert "final summary" in done.stderr
        kept = orjson.loads(state.read_bytes())
        assert state.stat().st_mode & 0o777 == 0o600
        assert kept["admin"]["username"] == f"{prefix}admin" and kept["hotline_api_key"]
        roles = dict(db.execute("SELECT username, role FROM users WHERE username LIKE %s", (prefix + "%",)).fetchall())
        assert roles == {f"{prefix}admin": "admin", f"{prefix}operator1": "operator",
                         f"{prefix}operator2": "operator", f"{prefix}leader1": "shift_leader",
                         f"{prefix}dispatcher1": "dispatcher", f"{prefix}12319": "operator"}
        assert set(kept["users"]) == set(roles) - {f"{prefix}admin"}
    finally:
        db.execute("UPDATE users SET enabled = false WHERE username LIKE %s", (prefix + "%",))
