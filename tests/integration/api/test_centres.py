"""Levels (一级监督、两级指挥、三级管理; docs/centres.md) through the API against the real database: a city centre over
two districts, each district's staff seeing and dispatching only within it, a case transferred between districts
keeping its timeline, an escalation to the city, and the city level seeing both; region and department scores roll
up by centre."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from api.users import create_user
from civicgrid.domain.synthetic import jittered_grid
from civicgrid.settings import Settings
from civicgrid.store.db import connect
from tests.integration.api.conftest import PASSWORD

pytestmark = pytest.mark.integration

Headers = dict[str, str]
# Changzhou (3204): Tianning (320402) and Zhonglou (320404) districts, four cells each, far from the other tests'.
TIANNING = jittered_grid(2, 2, lon0=119.95, lat0=31.78, county="320402")
ZHONGLOU = jittered_grid(2, 2, lon0=119.90, lat0=31.78, county="320404")
CENTRES = [
    {"id": "changzhou", "name": "常州市数字城管监督指挥中心", "level": "city", "cell_prefix": "3204"},
    {"id": "tianning", "name": "天宁区指挥中心", "level": "district", "cell_prefix": "320402",
     "parent_id": "changzhou"},
    {"id": "zhonglou", "name": "钟楼区指挥中心", "level": "district", "cell_prefix": "320404",
     "parent_id": "changzhou"},
]
STAFF = {"tn-dispatcher": ("dispatcher", "tianning"), "tn-leader": ("shift_leader", "tianning"),
         "zl-dispatcher": ("dispatcher", "zhonglou"), "cz-dispatcher": ("dispatcher", "changzhou")}
BODIES = {"tn-sanitation": "tianning", "zl-sanitation": "zhonglou", "cz-gardens": "changzhou"}


@pytest.fixture(scope="module")
def levels(client: TestClient, as_user: Callable[[str], Headers], api_settings: Settings) -> Iterator[Headers]:
    """The centres (through the API), their cells, bodies and staff; afterwards every trace of them is removed, so
    that the other tests' cases meet no centre. Yields the staff's headers by name."""
    with connect(api_settings.db, autocommit=True) as db:
        yield from _levels(client, as_user, db)


def _levels(client: TestClient, as_user: Callable[[str], Headers], db: psycopg.Connection) -> Iterator[Headers]:
    for c in CENTRES:
        r = client.put(f"/centres/{c['id']}", headers=as_user("api-admin"), json=c)
        assert r.status_code == 200, r.text
    for code, polygon in TIANNING + ZHONGLOU:
        db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
                   (code, Jsonb(polygon.__geo_interface__)))
    for body, centre in BODIES.items():
        r = client.put(f"/departments/{body}", headers=as_user("api-admin"),
                       json={"id": body, "name": body, "centre_id": centre})
        assert r.status_code == 200, r.text
    headers = {}
    for name, (role, centre) in STAFF.items():
        create_user(db, name, role, centre_id=centre, password=PASSWORD)
        r = client.post("/auth/token", data={"username": name, "password": PASSWORD})
        headers[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    yield headers
    db.execute("UPDATE cases SET centre_id = NULL WHERE centre_id IS NOT NULL")
    db.execute("UPDATE users SET centre_id = NULL, enabled = false WHERE username = ANY(%s)", (list(STAFF),))
    db.execute("UPDATE departments SET centre_id = NULL WHERE centre_id IS NOT NULL")
    db.execute("UPDATE feed_events SET centre_id = NULL WHERE centre_id IS NOT NULL")
    db.execute("DELETE FROM centres WHERE parent_id IS NOT NULL")
    db.execute("DELETE FROM centres")


def _report(client: TestClient, as_user: Callable[[str], Headers], cell: str) -> dict:
    r = client.post("/cases", headers=as_user("api-operator"), json={
        "category_code": "E0102", "description": "路边垃圾", "grid_cell_code": cell, "source": "camera",
        "client_ref": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()


def _ids(client: TestClient, headers: Headers) -> set[str]:
    r = client.get("/cases", headers=headers, params={"cell_prefix": "3204", "limit": 500})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


def test_each_district_sees_its_own_cases_and_the_city_both(client: TestClient, as_user, levels) -> None:
    tn, zl = _report(client, as_user, TIANNING[0][0]), _report(client, as_user, ZHONGLOU[0][0])
    assert (tn["centre_id"], zl["centre_id"]) == ("tianning", "zhonglou")
    assert tn["id"] in _ids(client, levels["tn-dispatcher"]) and zl["id"] not in _ids(client, levels["tn-dispatcher"])
    assert zl["id"] in _ids(client, levels["zl-dispatcher"]) and tn["id"] not in _ids(client, levels["zl-dispatcher"])
    for city in (levels["cz-dispatcher"], as_user("api-dispatcher")):  # the city centre, and a user of no centre
        assert {tn["id"], zl["id"]} <= _ids(client, city)
    r = client.get(f"/cases/{zl['id']}", headers=levels["tn-dispatcher"])
    assert r.status_code == 404  # another district's case is as if it did not exist
    r = client.post(f"/cases/{zl['id']}/cancel", headers=levels["tn-leader"], json={"reason": "x"})
    assert r.status_code == 404, r.text


def test_a_case_transferred_between_districts_keeps_its_timeline(client: TestClient, as_user, levels) -> None:
    case = _report(client, as_user, TIANNING[1][0])
    filed = client.post(f"/cases/{case['id']}/file", headers=levels["tn-leader"], json={})
    assert filed.status_code == 200 and {"escalate", "transfer"} <= set(filed.json()["allowed_actions"]), filed.text
    moved = client.post(f"/cases/{case['id']}/transfer", headers=levels["tn-leader"],
                        json={"centre_id": "zhonglou", "reason": "问题在钟楼区一侧"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["centre_id"], moved.json()["state"]) == ("zhonglou", "filed")
    assert client.get(f"/cases/{case['id']}", headers=levels["tn-dispatcher"]).status_code == 404
    seen = client.get(f"/cases/{case['id']}", headers=levels["zl-dispatcher"])
    assert seen.status_code == 200, seen.text
    timeline = [(e["action"], e["actor"]) for e in seen.json()["timeline"]]
    assert timeline == [("report", "api-operator"), ("file", "tn-leader"), ("transfer", "tn-leader")]
    moved_data = seen.json()["timeline"][-1]["data"]
    assert (moved_data["from_centre"], moved_data["centre"], moved_data["reason"]) == ("tianning", "zhonglou",
                                                                                       "问题在钟楼区一侧")
    dispatched = client.post(f"/cases/{case['id']}/dispatch", headers=levels["zl-dispatcher"],
                             json={"department_id": "zl-sanitation"})
    assert dispatched.status_code == 200, dispatched.text
    again = client.post(f"/cases/{case['id']}/transfer", headers=levels["zl-dispatcher"],
                        json={"centre_id": "tianning", "reason": "x"})
    assert again.status_code == 409, again.text  # a department holds it now


def test_a_district_dispatches_only_to_its_bodies_and_escalates_the_rest(client: TestClient, as_user,
                                                                         levels) -> None:
    case = _report(client, as_user, TIANNING[2][0])
    assert client.post(f"/cases/{case['id']}/file", headers=levels["tn-leader"], json={}).status_code == 200
    for body in ("zl-sanitation", "cz-gardens"):
        r = client.post(f"/cases/{case['id']}/dispatch", headers=levels["tn-dispatcher"], json={"department_id": body})
        assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (422, "out-of-reach"), r.text
    up = client.post(f"/cases/{case['id']}/escalate", headers=levels["tn-dispatcher"],
                     json={"reason": "需市级园林处置"})
    assert up.status_code == 200 and up.json()["centre_id"] == "changzhou", up.text
    top = client.post(f"/cases/{case['id']}/escalate", headers=levels["cz-dispatcher"], json={"reason": "x"})
    assert (top.status_code, top.json()["type"].rsplit("/", 1)[-1]) == (422, "out-of-reach"), top.text
    r = client.post(f"/cases/{case['id']}/dispatch", headers=levels["cz-dispatcher"],
                    json={"department_id": "cz-gardens"})
    assert r.status_code == 200 and r.json()["department_id"] == "cz-gardens", r.text


def test_region_scores_roll_up_by_centre(client: TestClient, as_user, levels) -> None:
    for cell in (TIANNING[3][0], ZHONGLOU[3][0]):
        case = _report(client, as_user, cell)
        assert client.post(f"/cases/{case['id']}/file", headers=as_user("api-leader"), json={}).status_code == 200
    r = client.get("/scoring/region", headers=as_user("api-boss"), params={"region_level": "centre", "period": "year"})
    assert r.status_code == 200, r.text
    rows = {row["subject"]: row for row in r.json()["rows"]}
    assert set(rows) >= {"changzhou", "tianning", "zhonglou"}
    filed = {k: rows[k]["ratios"]["public_report_rate"]["denominator"] for k in ("changzhou", "tianning", "zhonglou")}
    assert filed["changzhou"] == filed["tianning"] + filed["zhonglou"] and filed["zhonglou"] > 0, filed


def test_department_scores_roll_up_by_centre(client: TestClient, as_user, levels) -> None:
    """Each centre's row counts the cases dispatched to its bodies and to those of the centres under it; a body of
    no centre (the other tests') counts for the city, so the city's row is every dispatched case."""
    case = _report(client, as_user, TIANNING[3][0])
    assert client.post(f"/cases/{case['id']}/file", headers=levels["tn-leader"], json={}).status_code == 200
    r = client.post(f"/cases/{case['id']}/dispatch", headers=levels["tn-dispatcher"],
                    json={"department_id": "tn-sanitation"})
    assert r.status_code == 200, r.text
    params = {"period": "year"}
    bodies = client.get("/scoring/department", headers=as_user("api-boss"), params=params)
    centres = client.get("/scoring/department", headers=as_user("api-boss"),
                         params={**params, "department_level": "centre"})
    assert centres.status_code == 200 and centres.json()["level"] == "department:centre", centres.text
    due = {row["subject"]: row["ratios"]["closing_rate"]["denominator"] for row in centres.json()["rows"]}
    by_body = {row["subject"]: row["ratios"]["closing_rate"]["denominator"] for row in bodies.json()["rows"]}
    assert set(due) == {"changzhou", "tianning", "zhonglou"}
    assert due["tianning"] == by_body["tn-sanitation"] >= 1 and due["zhonglou"] == by_body.get("zl-sanitation", 0)
    assert due["changzhou"] == sum(by_body.values()), (due, by_body)


def test_centres_that_do_not_nest_are_refused_through_the_api(client: TestClient, as_user, levels) -> None:
    r = client.put("/centres/wujin", headers=as_user("api-admin"), json={
        "id": "wujin", "name": "武进区", "level": "district", "cell_prefix": "320501", "parent_id": "changzhou"})
    assert r.status_code == 422 and "wujin" in r.json()["detail"], r.text


def test_every_centre_change_has_its_audit_record(client: TestClient, as_user, levels) -> None:
    """Who added, changed or removed a centre, when, what before → after and why (GET /centres/history); a PUT that
    changes nothing leaves no record, a refused one none either."""
    admin = as_user("api-admin")
    wujin = {"id": "wujin", "name": "武进区指挥中心", "level": "district", "cell_prefix": "320412",
             "parent_id": "changzhou"}
    assert client.get("/centres/history", headers=as_user("api-leader")).status_code == 403
    try:
        added = client.put("/centres/wujin", headers=admin, json=wujin, params={"reason": "武进区接入"})
        assert added.status_code == 200, added.text
        renamed = {**wujin, "name": "武进区数字城管指挥中心"}
        assert client.put("/centres/wujin", headers=admin, json=renamed,
                          params={"reason": "  更名  "}).status_code == 200
        assert client.put("/centres/wujin", headers=admin, json=renamed).status_code == 200  # unchanged: no record
        assert client.put("/centres/wujin", headers=admin, json={**renamed, "cell_prefix": "3205"}).status_code == 422
        items = client.get("/centres/history", headers=admin, params={"centre_id": "wujin"}).json()["items"]
        assert [(i["change"], i["actor"], i["reason"]) for i in items] == [
            ("changed", "api:api-admin", "更名"), ("added", "api:api-admin", "武进区接入")]
        assert items[0]["summary"] == "name: 武进区指挥中心 → 武进区数字城管指挥中心"
        assert items[0]["before"]["name"] == "武进区指挥中心" and items[0]["after"]["name"] == "武进区数字城管指挥中心"
        assert items[1]["before"] is None and items[1]["after"]["cell_prefix"] == "320412"
        assert "level: district" in items[1]["summary"] and "parent_id: changzhou" in items[1]["summary"]

        gone = client.delete("/centres/wujin", headers=admin, params={"reason": "并入市中心"})
        assert gone.status_code == 200, gone.text
        latest = client.get("/centres/history", headers=admin, params={"limit": 1}).json()["items"][0]
        assert (latest["centre_id"], latest["change"], latest["reason"]) == ("wujin", "removed", "并入市中心")
        assert latest["after"] is None and latest["before"]["name"] == "武进区数字城管指挥中心"
    finally:
        client.delete("/centres/wujin", headers=admin)


def test_a_centre_is_deleted_only_when_nothing_belongs_to_it(client: TestClient, as_user, levels) -> None:
    """A centre that departments, users, child centres or cases still name is refused in words naming them; an
    empty one is deleted, and a centre that does not exist answers 404."""
    admin = as_user("api-admin")
    refused = client.delete("/centres/changzhou", headers=admin)
    assert refused.status_code == 409, refused.text
    words = refused.json()["detail"]
    assert "2 child centres (tianning, zhonglou)" in words and "1 department (cz-gardens)" in words
    assert "1 user (cz-dispatcher)" in words
    case = _report(client, as_user, TIANNING[0][0])
    refused = client.delete("/centres/tianning", headers=admin)
    assert refused.status_code == 409
    assert "1 department (tn-sanitation)" in refused.json()["detail"]
    assert "2 users (tn-dispatcher, tn-leader)" in refused.json()["detail"]
    assert "case" in refused.json()["detail"] and "transfer" in refused.json()["detail"]
    assert client.get("/cases/" + case["id"], headers=admin).json()["centre_id"] == "tianning"
    assert {c["id"] for c in client.get("/centres", headers=admin).json()} >= {"changzhou", "tianning"}
    assert client.delete("/centres/nowhere", headers=admin).status_code == 404
    street = {"id": "tn-street", "name": "天宁某街道", "level": "street", "cell_prefix": "320402001",
              "parent_id": "tianning"}
    assert client.put("/centres/tn-street", headers=admin, json=street).status_code == 200
    assert client.delete("/centres/tn-street", headers=as_user("api-leader")).status_code == 403
    assert client.delete("/centres/tn-street", headers=admin).status_code == 200
    assert "tn-street" not in {c["id"] for c in client.get("/centres", headers=admin).json()}
