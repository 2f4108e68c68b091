"""The audit record of the rules through the API and the real database: every stored version has one, written with
it (who, when, which tables, what, why), listed newest first; a refused or unchanged pack leaves none."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.cases.pack import shipped_pack

pytestmark = pytest.mark.integration

Headers = Callable[[str], dict[str, str]]


def _with_limit(amount: int) -> dict[str, object]:
    limits = dict(shipped_pack().content["time_limits"])
    limits["categories"] = {**(limits.get("categories") or {}), "E0103": {"amount": amount, "unit": "hours"}}
    return {"time_limits": limits}


def test_each_version_has_its_record_with_who_what_and_why(client: TestClient, as_user: Headers,
                                                           db: psycopg.Connection) -> None:
    admin = as_user("api-admin")
    assert client.get("/admin/rules/history", headers=as_user("api-leader")).status_code == 403
    assert client.post("/admin/rules", headers=admin, json={}).status_code in (200, 201)
    start = client.get("/admin/rules", headers=admin).json()["version"]
    try:
        loaded = client.post("/admin/rules", headers=admin, json=_with_limit(3),
                             params={"reason": "  区政府通知：E0103 限 3 小时  "})
        assert loaded.status_code == 201, loaded.text
        version = loaded.json()["version"]
        # A refused pack and an unchanged one leave no record.
        def post(tables: dict[str, object], reason: str) -> int:
            return client.post("/admin/rules", headers=admin, json=tables, params={"reason": reason}).status_code

        assert post({"levels": {}}, "x") == 422 and post(_with_limit(3), "y") == 200 and post({}, "z" * 501) == 422

        items = client.get("/admin/rules/history", headers=admin, params={"limit": 2}).json()["items"]
        assert [i["version"] for i in items] == [version, start]
        entry = items[0]
        assert entry["previous_version"] == start and entry["actor"] == "api:api-admin"
        assert entry["reason"] == "区政府通知：E0103 限 3 小时" and entry["source"] == "admin API"
        assert entry["tables_changed"] == ["time_limits"] and entry["digest"] == loaded.json()["digest"]
        before = shipped_pack().content["time_limits"].get("categories", {}).get("E0103")
        was = f"{before['amount']} {before['unit']}" if before else None
        assert entry["summary"] == "time_limits.categories.E0103: " + (f"{was} → 3 hours" if was else "added 3 hours")
        # Written with the version: the row's time is the version's, in the database.
        row = db.execute("SELECT a.at = p.loaded_at, a.actor FROM rule_pack_audit a JOIN rule_packs p USING (version) "
                         "WHERE version = %s", (version,)).fetchone()
        assert row == (True, "api:api-admin")
        assert client.get("/admin/rules/history", headers=admin,
                          params={"before_version": version, "limit": 1}).json()["items"][0]["version"] == start
    finally:
        back = client.post("/admin/rules", headers=admin, json={}, params={"reason": "restore the shipped tables"})
        assert back.status_code == 201
    last = client.get("/admin/rules/history", headers=admin, params={"limit": 1}).json()["items"][0]
    assert last["reason"] == "restore the shipped tables" and last["tables_changed"] == ["time_limits"]


def test_the_content_route_gives_the_tables_post_takes(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    assert client.get("/admin/rules/content", headers=as_user("api-operator")).status_code == 403
    content = client.get("/admin/rules/content", headers=admin).json()
    assert content["version"] == client.get("/admin/rules", headers=admin).json()["version"]
    again = client.post("/admin/rules", headers=admin, json=content["tables"])
    assert again.status_code == 200 and again.json()["digest"] == content["digest"]


def test_a_calendar_and_a_roles_change_read_as_what_was_added_and_removed(client: TestClient,
                                                                           as_user: Headers) -> None:
    """What the console's calendar and roles editors send: the record says which role, which day, which period."""
    admin = as_user("api-admin")
    shipped = shipped_pack().content
    actions = {**shipped["permissions"]["actions"]}
    actions["file"] = [*actions["file"], "operator"]
    calendar = {**shipped["working_calendar"], "holidays": ["2026-10-09"],
                "periods": ["08:30-12:00", "14:30-18:00"]}
    try:
        both = {**calendar, "workdays": ["2026-10-09"]}
        refused = client.post("/admin/rules", headers=admin, json={"working_calendar": both})
        assert refused.status_code == 422
        assert [(e["file"], e["row"], e["field"]) for e in refused.json()["errors"]] == [
            ("working_calendar.yaml", "holiday 1", "holidays")]
        loaded = client.post("/admin/rules", headers=admin, params={"reason": "国庆调休；受理员可立案"},
                             json={"working_calendar": calendar, "permissions": {"actions": actions}})
        assert loaded.status_code == 201, loaded.text
        entry = client.get("/admin/rules/history", headers=admin, params={"limit": 1}).json()["items"][0]
        assert entry["version"] == loaded.json()["version"]
        assert sorted(entry["tables_changed"]) == ["permissions", "working_calendar"]
        assert sorted(entry["summary"].splitlines()) == [
            "permissions.actions.file: added operator",
            "working_calendar.holidays: added 2026-10-09",
            "working_calendar.periods: added 14:30-18:00; removed 14:00-17:30"]
    finally:
        assert client.post("/admin/rules", headers=admin, json={}, params={"reason": "restore"}).status_code == 201


def test_an_area_class_and_a_light_change_read_as_the_cells_categories_and_shares(client: TestClient,
                                                                                 as_user: Headers) -> None:
    """What the console's area-class and light editors send: a new area class reads as its cells and each
    category's class there, not as one JSON document; a share as before → after."""
    admin = as_user("api-admin")
    shipped = shipped_pack().content
    tables = {"catalogue": {**shipped["catalogue"], "area_classes": {"core": {"E0102": "A"}}},
              "time_limits": {**shipped["time_limits"], "area_cells": {"core": ["341523001"]},
                              "light": {"yellow": 0.7, "red": 1.0}}}
    try:
        loaded = client.post("/admin/rules", headers=admin, json=tables, params={"reason": "核心街道"})
        assert loaded.status_code == 201, loaded.text
        entry = client.get("/admin/rules/history", headers=admin, params={"limit": 1}).json()["items"][0]
        assert sorted(entry["summary"].splitlines()) == [
            "catalogue.area_classes.core.E0102: added A",
            "time_limits.area_cells.core: added 341523001",
            "time_limits.light.yellow: 0.8 → 0.7"]
    finally:
        assert client.post("/admin/rules", headers=admin, json={}, params={"reason": "restore"}).status_code == 201
