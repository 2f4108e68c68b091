"""/admin/rules through the API: admin only, a refused pack lists every error (422), and a loaded pack judges the
next case at once — class, deadline and who may file — while a case reported before keeps its version."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicgrid.cases.pack import from_tables, shipped_pack
from civicgrid.settings import Settings
from civicgrid.store.city import load_city
from civicgrid.store.db import connect
from civicgrid.store.patrol import load_plans
from tests.integration.api.test_case_workflow import report, step
from tests.support.api_fixtures import CELLS

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _city_tables() -> dict[str, object]:
    shipped = shipped_pack().content
    categories = [dict(row, disposal_class="B") if row["code"] == "E0103" else row
                  for row in shipped["catalogue"]["categories"]]
    actions = {**shipped["permissions"]["actions"], "file": ["operator", "shift_leader", "admin"]}
    return {"catalogue": {"categories": categories}, "working_calendar": {"round_the_clock": True},
            "permissions": {"actions": actions}}


def test_only_an_admin_loads_rules_and_a_bad_pack_is_refused_with_every_error(client: TestClient,
                                                                              as_user: Headers) -> None:
    assert client.post("/admin/rules", headers=as_user("api-leader"), json={}).status_code == 403
    assert client.get("/admin/rules", headers=as_user("api-operator")).status_code == 403
    before = client.get("/admin/rules", headers=as_user("api-admin")).json()["version"]
    bad = _city_tables()
    bad["catalogue"]["categories"][0] = {**bad["catalogue"]["categories"][0], "disposal_class": "G"}  # type: ignore[index]
    bad["levels"] = {}
    r = client.post("/admin/rules", headers=as_user("api-admin"), json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert {"file": "catalogue.yaml", "row": "category 1 (C01)", "field": "disposal_class"}.items() <= errors[1].items()
    assert errors[0]["file"] == "levels.yaml" and len(errors) == 2
    assert client.get("/admin/rules", headers=as_user("api-admin")).json()["version"] == before


def test_a_loaded_pack_judges_the_next_case_while_an_earlier_one_keeps_its_version(client: TestClient,
                                                                                   as_user: Headers) -> None:
    admin = as_user("api-admin")
    restore = client.post("/admin/rules", headers=admin, json={})  # the shipped tables are current
    assert restore.status_code in (200, 201)
    earlier = report(client, as_user, "E0103")
    step(client, as_user, earlier["id"], "api-operator", "file", expect=403)  # operators may not file yet
    clocks = client.get(f"/cases/{earlier['id']}/step-deadlines", headers=admin).json()["steps"]
    assert [c["step"] for c in clocks] == ["accept", "file"]
    try:
        loaded = client.post("/admin/rules", headers=admin, json=_city_tables())
        assert loaded.status_code == 201, loaded.text
        version = loaded.json()["version"]
        assert loaded.json()["counts"]["working_calendar"] == "round the clock"
        assert client.get("/admin/rules", headers=admin).json()["version"] == version
        assert client.post("/admin/rules", headers=admin, json=_city_tables()).status_code == 200  # unchanged

        later = report(client, as_user, "E0103")
        assert later["rules_version"] == version and earlier["rules_version"] == restore.json()["version"]
        step(client, as_user, later["id"], "api-operator", "file")  # operators file under the new table
        dispatched = step(client, as_user, later["id"], "api-dispatcher", "dispatch", {"department_id": "sanitation"})
        at = datetime.fromisoformat(next(e["at"] for e in dispatched["timeline"] if e["action"] == "dispatch"))
        # Class B's 4 hours, counted round the clock (class C would be a day; working hours would wait for 08:30).
        assert datetime.fromisoformat(dispatched["disposal_deadline"]) == at + timedelta(hours=4)
        old = client.get(f"/cases/{earlier['id']}", headers=admin).json()
        assert old["rules_version"] == restore.json()["version"]
        # Its deadlines too: its clocks and provisional disposal deadline are those it had before the load, and
        # dispatched now it gets class C's limit on the working calendar, not class B's 4 hours round the clock.
        assert old["disposal_deadline"] == earlier["disposal_deadline"]
        again = client.get(f"/cases/{earlier['id']}/step-deadlines", headers=admin).json()["steps"]
        assert [(c["step"], c["deadline"]) for c in again] == [(c["step"], c["deadline"]) for c in clocks]
        step(client, as_user, earlier["id"], "api-leader", "file")
        sent = step(client, as_user, earlier["id"], "api-dispatcher", "dispatch", {"department_id": "sanitation"})
        at = datetime.fromisoformat(next(e["at"] for e in sent["timeline"] if e["action"] == "dispatch"))
        shipped = shipped_pack().rules
        assert datetime.fromisoformat(sent["disposal_deadline"]) == shipped.disposal_deadline(at, "E0103")
        assert shipped.disposal_deadline(at, "E0103") != at + timedelta(hours=4)
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201  # the shipped tables again


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_template_workbook_goes_back_unchanged_and_a_bad_cell_is_refused_by_name(client: TestClient,
                                                                                      as_user: Headers) -> None:
    import io

    import openpyxl

    admin = as_user("api-admin")
    assert client.get("/admin/rules/template.xlsx", headers=as_user("api-leader")).status_code == 403
    current = client.get("/admin/rules", headers=admin).json()
    template = client.get("/admin/rules/template.xlsx", headers=admin)
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
    assert f'filename="civicgrid-rules-v{current["version"]}.xlsx"' in template.headers["content-disposition"]
    same = client.post("/admin/rules", headers={**admin, "Content-Type": XLSX}, content=template.content)
    assert same.status_code == 200, same.text  # the same digest: nothing stored
    assert same.json()["version"] == current["version"]

    wb = openpyxl.load_workbook(io.BytesIO(template.content))
    catalogue = wb["部件事件目录"]
    row = next(r[0].row for r in catalogue.iter_rows(min_row=2) if r[0].value == "E0103")
    catalogue.cell(row, 4).value = "Z"
    out = io.BytesIO()
    wb.save(out)
    refused = client.post("/admin/rules", headers={**admin, "Content-Type": XLSX}, content=out.getvalue())
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    (error,) = refused.json()["errors"]
    assert {"file": "workbook", "row": f"部件事件目录!D{row}", "field": "处置类别"}.items() <= error.items()
    assert "'Z' is not one of" in error["message"]
    assert client.get("/admin/rules", headers=admin).json()["version"] == current["version"]

    unsupported = client.post("/admin/rules", headers={**admin, "Content-Type": "text/csv"}, content=b"a,b")
    assert unsupported.status_code == 415
    assert client.post("/admin/rules", headers={**admin, "Content-Type": XLSX}, content=b"PK junk").status_code == 422
    assert client.post("/admin/rules", headers={**admin, "Content-Type": "application/json"},
                       content=b"[1]").status_code == 422


def test_an_uploaded_workbook_becomes_the_version_the_next_case_is_filed_under(client: TestClient,
                                                                               as_user: Headers) -> None:
    import io

    import openpyxl

    admin = as_user("api-admin")
    assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/admin/rules/template.xlsx", headers=admin).content))
    catalogue = wb["部件事件目录"]
    row = next(r[0].row for r in catalogue.iter_rows(min_row=2) if r[0].value == "E0103")
    catalogue.cell(row, 4).value = "B"
    wb["工作日历"].append(["全天候值守", True])
    out = io.BytesIO()
    wb.save(out)
    try:
        loaded = client.post("/admin/rules", headers={**admin, "Content-Type": XLSX}, content=out.getvalue())
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["source"] == "admin API (xlsx)" and loaded.json()["loaded_by"] == "api:api-admin"
        case = report(client, as_user, "E0103")
        assert case["rules_version"] == loaded.json()["version"]
        step(client, as_user, case["id"], "api-leader", "file")
        dispatched = step(client, as_user, case["id"], "api-dispatcher", "dispatch", {"department_id": "sanitation"})
        at = datetime.fromisoformat(next(e["at"] for e in dispatched["timeline"] if e["action"] == "dispatch"))
        assert datetime.fromisoformat(dispatched["disposal_deadline"]) == at + timedelta(hours=4)
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201


def test_a_category_added_and_bands_edited_as_the_admin_page_sends_them(client: TestClient,
                                                                       as_user: Headers) -> None:
    """What the rules page sends when an admin adds a category and edits the bands and grades: refused with each
    error at its row while a name is empty and a band could never be reached, stored once fixed, and a case can be
    filed under the new category with its class."""
    admin = as_user("api-admin")
    shipped = shipped_pack().content
    bikes = {"code": "E0150", "zh": "共享单车乱停放", "en": "", "disposal_class": "B",
             "filing_condition": "人行道上乱停放共享单车五辆以上", "closing_condition": "车辆已清理或摆放整齐"}
    scoring = {**shipped["scoring"], "case_count_bands": [{"max": 50, "score": 100}, {"max": 10, "score": 90},
                                                          {"max": None, "score": 0}]}
    tables = {"catalogue": {"categories": [*shipped["catalogue"]["categories"], bikes]}, "scoring": scoring}
    before = client.get("/admin/rules", headers=admin).json()["version"]
    try:
        refused = client.post("/admin/rules", headers=admin, json=tables, params={"reason": "新增类别"})
        assert refused.status_code == 422, refused.text
        rows = {(e["file"], e["row"], e["field"]) for e in refused.json()["errors"]}
        assert rows == {("catalogue.yaml", f"category {len(shipped['catalogue']['categories']) + 1} (E0150)", "en"),
                        ("scoring.yaml", "case-count band 2", "max")}
        assert client.get("/admin/rules", headers=admin).json()["version"] == before
        bikes["en"] = "Shared bikes parked anywhere"
        scoring["case_count_bands"][1]["max"] = 80
        stored = client.post("/admin/rules", headers=admin, json=tables, params={"reason": "新增类别"})
        assert stored.status_code == 201, stored.text
        case = report(client, as_user, "E0150")
        step(client, as_user, case["id"], "api-leader", "file")
        sent = step(client, as_user, case["id"], "api-dispatcher", "dispatch", {"department_id": "sanitation"})
        at = datetime.fromisoformat(next(e["at"] for e in sent["timeline"] if e["action"] == "dispatch"))
        rules = from_tables(tables, "test").rules  # the deadline is class B's, not the fallback C's
        assert sent["category_name"] == "共享单车乱停放"
        assert datetime.fromisoformat(sent["disposal_deadline"]) == rules.disposal_deadline(at, None, "B")
        assert rules.disposal_deadline(at, None, "B") != rules.disposal_deadline(at, None, "C")
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)


def test_a_packs_responsibility_table_and_patrol_plans_replace_the_databases(client: TestClient, as_user: Headers,
                                                                              api_settings: Settings,
                                                                              tmp_path: Path) -> None:
    """Checked against the database (a department, a cell prefix, an inspector, a grid that do not exist are each
    named at their row, and nothing is stored), then applied with the version: dispatch suggests by the pack's
    table and the patrol worker's read of the plans gives the pack's; `city load` adds none of city.json's rows to
    them; a later pack without them keeps them."""
    admin = as_user("api-admin")
    cell = CELLS[2][0]  # where `report` puts a case
    with connect(api_settings.db, autocommit=True) as conn:
        saved_rules = conn.execute("SELECT category_code, grid_prefix, department_id, note "
                                   "FROM responsibility_rules").fetchall()
        saved_plans = conn.execute("SELECT inspector_user_id, responsibility_grid_id, window_start, window_end, "
                                   "main_road_passes, secondary_road_passes, valid_from, valid_to "
                                   "FROM patrol_plans").fetchall()
    rules = [{"category_code": "E0102", "grid_prefix": cell, "department_id": "utilities", "note": "试点街区"},
             {"category_code": "E01", "department_id": "streets"},
             {"category_code": "C01", "department_id": "utilities"}]
    nowhere = {"category_code": "C02", "grid_prefix": "99", "department_id": "nobody"}
    plans = [{"inspector": "api-inspector", "grid": "G1", "window": "08:00-17:00", "main_road_passes": 3}]
    try:
        bad = client.post("/admin/rules", headers=admin, json={
            "responsibility": {"rules": [*rules, nowhere]},
            "patrol_plans": {"plans": [{"inspector": "api-dispatcher", "grid": "G9"}]}})
        assert bad.status_code == 422, bad.text
        assert [(e["file"], e["row"], e["field"]) for e in bad.json()["errors"]] == [
            ("responsibility.yaml", "rule 4 (C02 @ 99)", "department_id"),
            ("responsibility.yaml", "rule 4 (C02 @ 99)", "grid_prefix"),
            ("patrol_plans.yaml", "plan 1 (api-dispatcher)", "inspector"),
            ("patrol_plans.yaml", "plan 1 (api-dispatcher)", "grid")]
        assert bad.json()["errors"][0]["message"] == "no department 'nobody'"
        assert len(client.get("/responsibility", headers=admin).json()) == len(saved_rules)

        loaded = client.post("/admin/rules", headers=admin, json={"responsibility": {"rules": rules},
                                                                  "patrol_plans": {"plans": plans}})
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["counts"]["responsibility"] == "3 rules"
        table = client.get("/responsibility", headers=admin).json()
        assert sorted((r["category_code"], r["grid_prefix"], r["department_id"]) for r in table) == sorted(
            (r["category_code"], r.get("grid_prefix", ""), r["department_id"]) for r in rules)
        case = report(client, as_user, "E0102")
        step(client, as_user, case["id"], "api-leader", "file")
        shown = client.get(f"/cases/{case['id']}", headers=as_user("api-dispatcher")).json()
        assert shown["suggested_department_id"] == "utilities"  # the pack's rule for this cell, not sanitation
        sent = step(client, as_user, case["id"], "api-dispatcher", "dispatch")
        assert sent["department_id"] == "utilities"
        with connect(api_settings.db, autocommit=True) as conn:
            (plan,) = load_plans(conn).values()
        assert (plan.responsibility_grid_id, plan.window_start, plan.window_end, plan.main_road_passes,
                plan.secondary_road_passes) == ("G1", time(8), time(17), 3, 4)

        # A base-data reload adds none of city.json's rules or seeded plans to the tables the pack holds.
        (tmp_path / "city.json").write_text(json.dumps({
            "responsibility": [{"category_code": "C02", "department_id": "sanitation"}],
            "inspectors": [{"username": "api-inspector", "responsibility_grid_id": "G1"}]}), encoding="utf-8")
        with connect(api_settings.db, autocommit=True) as conn:
            counts = load_city(conn, tmp_path)
            assert (counts["responsibility_rules"], counts["patrol_plans"]) == (0, 0)
            assert len(load_plans(conn)) == 1
        assert len(client.get("/responsibility", headers=admin).json()) == 3

        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201  # a pack without them
        assert len(client.get("/responsibility", headers=admin).json()) == 3
    finally:
        with connect(api_settings.db, autocommit=True) as conn, conn.transaction():
            conn.execute("DELETE FROM responsibility_rules")
            conn.cursor().executemany("INSERT INTO responsibility_rules (category_code, grid_prefix, department_id, "
                                      "note) VALUES (%s, %s, %s, %s)", saved_rules)
            conn.execute("DELETE FROM patrol_plans")
            conn.cursor().executemany("INSERT INTO patrol_plans (inspector_user_id, responsibility_grid_id, "
                                      "window_start, window_end, main_road_passes, secondary_road_passes, "
                                      "valid_from, valid_to) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", saved_plans)
        assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)


def test_a_category_takes_the_class_of_its_cells_area_class(client: TestClient, as_user: Headers) -> None:
    """Core streets (the cell `report` uses by default) give E0103 class B; a general street's case keeps its class."""
    admin = as_user("api-admin")
    shipped = shipped_pack().content
    tables = {"catalogue": {**shipped["catalogue"], "area_classes": {"core": {"E0103": "B"}}},
              "time_limits": {**shipped["time_limits"], "area_cells": {"core": [CELLS[2][0]]}}}
    try:
        assert client.post("/admin/rules", headers=admin, json=tables).status_code == 201
        rules = from_tables(tables, "test").rules
        for cell, cls in ((2, "B"), (10, shipped_pack().rules.disposal_class("E0103").value)):
            case = report(client, as_user, "E0103", cell=cell)
            step(client, as_user, case["id"], "api-leader", "file")
            sent = step(client, as_user, case["id"], "api-dispatcher", "dispatch", {"department_id": "streets"})
            at = datetime.fromisoformat(next(e["at"] for e in sent["timeline"] if e["action"] == "dispatch"))
            assert datetime.fromisoformat(sent["disposal_deadline"]) == rules.disposal_deadline(at, None, cls), cell
        assert rules.disposal_deadline(at, None, "B") != rules.disposal_deadline(at, None, cls)
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)


def test_a_category_added_through_the_api_is_offered_at_once_by_every_catalogue_reader(client: TestClient,
                                                                                       as_user: Headers) -> None:
    """Open311's services, the intake and handheld category lists, the duplicates check and a camera region read the
    current version's catalogue at each request: a category loaded by POST /admin/rules is offered by the next
    request, without a case being filed first (they used to read the catalogue the process had last filed by)."""
    admin = as_user("api-admin")
    shipped = shipped_pack().content
    bins = {"code": "E0151", "zh": "垃圾桶满溢未清运", "en": "Overflowing litter bin", "disposal_class": "B",
            "filing_condition": "垃圾桶满溢且周边有散落垃圾", "closing_condition": "垃圾已清运，周边清洁"}
    client.get("/admin/rules", headers=admin)  # the process has seen the current version
    try:
        loaded = client.post("/admin/rules", headers=admin,
                             json={"catalogue": {"categories": [*shipped["catalogue"]["categories"], bins]}})
        assert loaded.status_code == 201, loaded.text
        services = client.get("/open311/v2/services.json").json()
        assert {"service_code": "E0151", "service_name": "垃圾桶满溢未清运"}.items() <= next(
            (s for s in services if s["service_code"] == "E0151"), {}).items()
        assert client.get("/open311/v2/services/E0151.json").status_code == 200
        for path, who in (("/intake/categories", "api-operator"), ("/handhelds/categories", "api-inspector")):
            offered = client.get(path, headers=as_user(who))
            assert offered.status_code == 200, offered.text
            assert "E0151" in {c["code"] for c in offered.json()}, path
        point = CELLS[2][1].representative_point()
        nearby = client.get("/duplicates", headers=as_user("api-operator"),
                            params={"category_code": "E0151", "lon": point.x, "lat": point.y})
        assert nearby.status_code == 200, nearby.text
    finally:
        assert client.post("/admin/rules", headers=admin, json={}).status_code == 201
    # and gone again with the shipped tables
    assert "E0151" not in {s["service_code"] for s in client.get("/open311/v2/services.json").json()}
