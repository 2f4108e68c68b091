"""Item 11: scope fails closed: an inspector created without a grid sees no case, no cell's cases, no feed event
(the case list once showed such an inspector 100+ cases with hotline callers' names and phones)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.api_fixtures import CELLS


def test_an_inspector_without_a_grid_sees_nothing_until_given_one(client: TestClient, as_user) -> None:
    # Something to see: a located case, and an unlocated one (a grid's inspector would see both).
    for body in ({"category_code": "E0102", "grid_cell_code": CELLS[0][0]}, {"category_code": "E0102"}):
        r = client.post("/cases", headers=as_user("api-inspector"), json=body)
        assert r.status_code == 201, r.text
    assert client.get("/cases", headers=as_user("api-operator")).json()["items"], "the city has cases"
    name = f"insp-nogrid-{uuid.uuid4().hex[:6]}"
    created = client.post("/users", headers=as_user("api-admin"),
                          json={"username": name, "role": "inspector", "password": "an-inspector-password"})
    assert created.status_code == 201, created.text
    token = client.post("/auth/token", data={"username": name, "password": "an-inspector-password"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    listed = client.get("/cases", headers=headers)
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text[:500]
    cells = client.get("/map/cells", headers=headers)
    assert cells.status_code == 200, cells.text[:300]
    assert all(not feature["properties"].get("open_cases") for feature in cells.json().get("features", []))
