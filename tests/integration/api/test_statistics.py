"""/statistics through the real API and database, on cases filed by the case service at chosen times.

The cases lie in a street of their own (341523066) and in July 2019, far from every other test's
cases; each query filters on that street, so what other tests file cannot change the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from civicgrid.cases import CaseService
from civicgrid.cases.intake import NewCase
from civicgrid.domain.case_state import Action, Role, Source
from civicgrid.domain.working_calendar import CHINA_TZ
from civicgrid.store.db import connect

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]
STREET = "341523066"
CELL_A, CELL_B, CELL_C = f"{STREET}00101", f"{STREET}00102", f"{STREET}00201"  # A, B in grid STAT1; C in none
SERVICE = CaseService()


def _at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2019, month, day, hour, minute, tzinfo=CHINA_TZ)


# (when, cell, category, role, source, then): July 2019 holds 7; June 2 (the previous month); August 1.
CASES = [
    (_at(7, 1, 9), CELL_A, "E0102", Role.INSPECTOR, None, "self_handle"),
    (_at(7, 1, 15), CELL_A, "E0102", Role.INSPECTOR, None, None),
    (_at(7, 15), CELL_A, "E0102", Role.INSPECTOR, None, None),
    (_at(7, 2), CELL_A, "C0101", Role.OPERATOR, Source.HOTLINE, None),
    (_at(7, 31, 23, 30), CELL_B, "E0102", Role.OPERATOR, Source.CAMERA, None),  # 15:30 UTC: still July locally
    (_at(7, 10), CELL_C, "E0505", Role.INSPECTOR, None, "self_handle"),
    (_at(7, 20), CELL_C, "E0505", Role.INSPECTOR, None, "cancel"),
    (_at(6, 1), CELL_A, "E0102", Role.INSPECTOR, None, None),
    (_at(6, 30, 23, 59), CELL_C, "E0505", Role.INSPECTOR, None, None),
    (_at(8, 1, 0, 0), CELL_B, "E0102", Role.INSPECTOR, None, None),  # 16:00 UTC on July 31: August locally
]


@pytest.fixture(scope="module")
def july(settings, org) -> None:
    with connect(settings.db, autocommit=True) as db:
        db.execute("INSERT INTO responsibility_grids (id, name) VALUES ('STAT1', '统计测试网格') "
                   "ON CONFLICT DO NOTHING")
        for n, code in enumerate((CELL_A, CELL_B, CELL_C)):
            x = 118.0 + n * 0.001
            ring = [[x, 30.0], [x + 0.001, 30.0], [x + 0.001, 30.001], [x, 30.001], [x, 30.0]]
            db.execute("INSERT INTO grid_cells (code, responsibility_grid_id, name, geometry, area_m2) "
                       "VALUES (%s, %s, %s, %s, 10000) ON CONFLICT DO NOTHING",
                       (code, None if code == CELL_C else "STAT1", f"单元{code[-5:]}",
                        orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
        for n, (when, cell, category, role, source, then) in enumerate(CASES):
            case_id, created = SERVICE.report(db, role, "stat-test", NewCase(category, "统计测试", source, cell,
                                                                        source_record_id=f"stat-test-{n}"),
                                        when, lambda lon, lat: None)
            if not created:  # filed already (another module of the session uses these cases too)
                continue
            if then == "self_handle":
                SERVICE.act(db, Role.ADMIN, "stat-test", case_id, Action.SELF_HANDLE, {"note": "当场处理"}, (), when)
            elif then == "cancel":
                SERVICE.act(db, Role.ADMIN, "stat-test", case_id, Action.CANCEL, {"reason": "重复上报"}, (), when)


def _get(client: TestClient, as_user: Headers, who: str = "api-boss", **params: object) -> dict:
    r = client.get("/statistics", headers=as_user(who), params={"area": STREET, **params})
    assert r.status_code == 200, r.text
    return r.json()


def _by_key(rows: list[dict]) -> dict:
    return {r["key"]: r["totals"]["cases"] for r in rows}


def test_july_by_category_source_area_with_rates(client: TestClient, as_user: Headers, july: None) -> None:
    s = _get(client, as_user, period="month", day="2019-07-17")
    assert s["period"] == {"kind": "month", "first": "2019-07-01", "last": "2019-07-31", "label": "2019年7月"}
    assert s["previous"]["first"] == "2019-06-01"
    totals = s["totals"]
    assert (totals["cases"], totals["closed"], totals["cancelled"], totals["open"]) == (7, 2, 1, 4)
    assert totals["closure_rate"] == round(2 / 6, 4)  # cancelled reports are not due to close
    assert (totals["closed_on_time"], totals["on_time_closure_rate"]) == (2, 1.0)  # self-handled: 正常
    assert _by_key(s["by_category"]) == {"E0102": 4, "E0505": 2, "C0101": 1}
    assert s["by_category"][0]["name"] == "暴露垃圾" and s["by_category"][0]["share"] == round(4 / 7, 4)
    assert _by_key(s["by_source"]) == {"inspector": 5, "hotline": 1, "camera": 1}
    assert {r["key"]: r["name"] for r in s["by_source"]}["hotline"] == "12319热线"
    assert _by_key(s["by_area"]) == {STREET: 7} and s["area_level"] == "street"
    assert _by_key(_get(client, as_user, day="2019-07-01", area_level="community")["by_area"]) == {
        f"{STREET}001": 5, f"{STREET}002": 2}
    grids = _get(client, as_user, day="2019-07-01", area_level="grid")["by_area"]
    assert {r["key"]: (r["name"], r["totals"]["cases"]) for r in grids} == {"STAT1": ("统计测试网格", 5),
                                                                          None: ("无网格", 2)}


def test_hot_spots_and_the_daily_trend_against_june(client: TestClient, as_user: Headers, july: None) -> None:
    s = _get(client, as_user, period="month", day="2019-07-31", area_level="cell")
    assert [(h["key"], h["name"], h["totals"]["cases"]) for h in s["hot_cells"]] == [
        (CELL_A, "单元00101", 4), (CELL_C, "单元00201", 2), (CELL_B, "单元00102", 1)]
    assert [(h["cell"], h["category"], h["cases"]) for h in s["recurring"]] == [(CELL_A, "E0102", 3),
                                                                                (CELL_C, "E0505", 2)]
    trend = s["trend"]
    assert (trend["bucket"], trend["cases"], trend["previous_cases"]) == ("day", 7, 2)
    assert trend["change"] == 2.5
    points = {p["start"]: p for p in trend["points"]}
    assert len(points) == 31
    assert (points["2019-07-01"]["cases"], points["2019-07-01"]["previous_start"],
            points["2019-07-01"]["previous_cases"]) == (2, "2019-06-01", 1)
    assert (points["2019-07-30"]["previous_start"], points["2019-07-30"]["previous_cases"]) == ("2019-06-30", 1)
    assert (points["2019-07-31"]["cases"], points["2019-07-31"]["previous_start"]) == (1, None)  # June has 30 days


def test_periods_xun_day_year_range_and_weeks(client: TestClient, as_user: Headers, july: None) -> None:
    xun = _get(client, as_user, period="xun", day="2019-07-05")
    assert (xun["period"]["label"], xun["totals"]["cases"]) == ("2019年7月上旬", 4)  # 1, 1, 2, 10 July
    assert xun["previous"]["first"] == "2019-06-21" and xun["trend"]["previous_cases"] == 1
    assert _get(client, as_user, period="day", day="2019-07-01")["totals"]["cases"] == 2
    assert _get(client, as_user, period="day", day="2019-08-01")["totals"]["cases"] == 1
    year = _get(client, as_user, period="year", day="2019-03-01")
    assert year["totals"]["cases"] == 10 and year["trend"]["bucket"] == "week"
    weeks = {p["start"]: p["cases"] for p in year["trend"]["points"]}
    assert weeks["2019-07-01"] == 3 and weeks["2018-12-31"] == 0  # weeks start on Monday
    ranged = _get(client, as_user, period="range", date_from="2019-06-30", date_to="2019-07-01")
    assert ranged["totals"]["cases"] == 3 and ranged["previous"]["first"] == "2019-06-28"


def test_filters_narrow_every_part(client: TestClient, as_user: Headers, july: None) -> None:
    events = _get(client, as_user, day="2019-07-01", category="E05")
    assert events["totals"]["cases"] == 2 and _by_key(events["by_category"]) == {"E0505": 2}
    assert events["filters"] == {"area": STREET, "category": "E05"}
    assert _get(client, as_user, day="2019-07-01", source="hotline")["totals"]["cases"] == 1
    grid = _get(client, as_user, day="2019-07-01", grid="STAT1")
    assert grid["totals"]["cases"] == 5 and grid["trend"]["previous_cases"] == 1
    assert _get(client, as_user, day="2019-07-01", area=CELL_B)["totals"]["cases"] == 1


def test_roles_and_bad_periods(client: TestClient, as_user: Headers) -> None:
    assert client.get("/statistics", headers=as_user("api-inspector")).status_code == 403
    assert client.get("/statistics", headers=as_user("api-sanitation")).status_code == 403
    assert client.get("/statistics").status_code == 401
    for params, detail in (({"period": "range", "date_from": "2019-07-02", "date_to": "2019-07-01"}, "after"),
                           ({"period": "range", "date_from": "2019-01-01", "date_to": "2020-12-31"}, "366"),
                           ({"period": "range"}, "needs date_from"),
                           ({"period": "month", "date_from": "2019-07-01"}, "go with period=range"),
                           ({"day": "1999-12-31"}, "between")):
        r = client.get("/statistics", headers=as_user("api-operator"), params=params)
        assert r.status_code == 422 and detail in r.json()["detail"], (params, r.text)
    assert client.get("/statistics", headers=as_user("api-operator"), params={"area": "34x"}).status_code == 422
    assert client.get("/statistics", headers=as_user("api-operator"), params={"category": "X01"}).status_code == 422
