"""Components kept current through the API (issue 20, item 6): added, edited, moved (in EPSG:4548 too) and retired
by an admin, each change in the history with who, when, why, before and after; refusals name the field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from tests.integration.basedata.support import POINTS, codes, metres_apart

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]


def test_add_edit_move_retire_with_history(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    (code,) = codes(1, "0103")
    r = client.post("/basedata/components", headers=admin, json={
        "code": code, "name": "雨水井盖", "lon": POINTS[0][0], "lat": POINTS[0][1], "reason": "竣工测量"})
    assert r.status_code == 201, r.text
    assert r.json()["category_code"] == "C0103" and r.json()["grid_cell_code"] == "34152300100101"
    again = client.post("/basedata/components", headers=admin, json={
        "code": code, "lon": POINTS[0][0], "lat": POINTS[0][1], "reason": "again"})
    assert again.status_code == 409

    r = client.patch(f"/basedata/components/{code}", headers=admin,
                     json={"state": "破损", "maintainer": "县市政养护所", "reason": "巡查发现井盖破损"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["maintainer"]) == ("damaged", "县市政养护所")

    e, n = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(*POINTS[3])
    r = client.post(f"/basedata/components/{code}/move", headers=admin,
                    json={"easting": e, "northing": n, "crs": "EPSG:4548", "reason": "重新测量"})
    assert r.status_code == 200, r.text
    assert metres_apart((r.json()["lon"], r.json()["lat"]), POINTS[3]) < 0.5
    assert r.json()["grid_cell_code"] != "34152300100101"  # the cell followed the point

    r = client.post(f"/basedata/components/{code}/retire", headers=admin, json={"reason": "道路改造，井已填埋"})
    assert r.status_code == 200 and r.json()["retired_at"] is not None
    late = client.patch(f"/basedata/components/{code}", headers=admin, json={"name": "x", "reason": "late"})
    assert late.status_code == 422 and "retired" in late.json()["detail"]

    items = client.get(f"/basedata/components/{code}/history", headers=as_user("api-operator")).json()["items"]
    assert [(h["action"], h["actor"], h["reason"]) for h in items] == [
        ("retire", "api-admin", "道路改造，井已填埋"), ("move", "api-admin", "重新测量"),
        ("edit", "api-admin", "巡查发现井盖破损"), ("add", "api-admin", "竣工测量")]
    assert items[2]["before"] == {"state": "intact", "maintainer": None}
    assert items[2]["after"] == {"state": "damaged", "maintainer": "县市政养护所"}
    assert set(items[1]["after"]) == {"lon", "lat", "grid_cell_code"}
    assert items[0]["before"] == {"retired_at": None}

    listed = client.get("/basedata/components", headers=admin, params={"q": code[:12]}).json()
    assert code not in [c["code"] for c in listed["items"]]  # retired: not current
    listed = client.get("/basedata/components", headers=admin, params={"q": code, "include_retired": True}).json()
    assert [c["code"] for c in listed["items"]] == [code]


def test_refusals_name_the_field_and_roles_are_kept(client: TestClient, as_user: Headers) -> None:
    admin = as_user("api-admin")
    (code,) = codes(1)
    base = {"code": code, "lon": POINTS[0][0], "lat": POINTS[0][1], "reason": "测量"}
    r = client.post("/basedata/components", headers=admin, json={**base, "department_id": "nobody"})
    assert r.status_code == 422 and r.json()["field"] == "department_id"
    r = client.post("/basedata/components", headers=admin, json={**base, "code": "3415230101000000"})
    assert r.status_code == 422 and r.json()["field"] == "code"
    r = client.post("/basedata/components", headers=admin, json={**base, "reason": ""})
    assert r.status_code == 422
    r = client.post("/basedata/components", headers=admin,
                    json={**base, "lon": None, "lat": None, "easting": 39_500_000, "northing": 3_481_977,
                          "crs": "EPSG:4548"})
    assert r.status_code == 422 and "outside EPSG:4548" in r.json()["detail"]
    assert client.post("/basedata/components", headers=as_user("api-operator"), json=base).status_code == 403
    assert client.get("/basedata/components/3415230101999999", headers=admin).status_code == 404
    assert client.get("/basedata/components", headers=as_user("api-sanitation")).status_code == 403
