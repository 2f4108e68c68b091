"""Intake through the real API and database: a call keeps its caller and is placed by its address (or left
unlocated and placed later by an operator), a leader's instruction, a transfer (idempotent on its body and
reference), capture and file from a camera's latest snapshot, the category search keys and the sources."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import cv2
import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.store import cameras as camera_store
from civicgrid.store.addresses import AddressEntry, import_addresses
from tests.integration.api.conftest import CELLS

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]


def _road() -> str:
    draw = uuid.uuid4().int
    return "".join("甲乙丙丁戊己庚辛壬癸"[(draw >> (4 * i)) % 10] for i in range(5)) + "街"


@pytest.fixture
def door_plate(db: psycopg.Connection) -> tuple[str, str, float, float]:
    """A door plate on a road of its own inside one of the API tests' cells: (address, cell, lon, lat)."""
    code, polygon = CELLS[5]
    centre = polygon.representative_point()
    address = f"{_road()}7号"
    import_addresses(db, [AddressEntry("door_plate", address, {"type": "Point",
                                                               "coordinates": [centre.x, centre.y]})])
    return address, code, centre.x, centre.y


def _callers(db: psycopg.Connection, case_id: str) -> list[tuple]:
    return db.execute("SELECT channel, name, phone, account_id, callback, linked FROM case_callers "
                      "WHERE case_id = %s ORDER BY id", (case_id,)).fetchall()


def test_a_call_by_address_lands_in_its_cell_and_keeps_its_caller(
        client: TestClient, as_user: Headers, db: psycopg.Connection, door_plate) -> None:
    address, cell, lon, lat = door_plate
    body = {"caller_name": "王先生", "caller_phone": "13800000077", "callback": True, "category_code": "E0505",
            "description": "门口车辆乱停", "address": address.replace("7号", "七号"), "client_ref": uuid.uuid4().hex}
    r = client.post("/cases/calls", headers=as_user("api-operator"), json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["source"], case["grid_cell_code"], case["state"]) == ("hotline", cell, "reported")
    assert (case["lon"], case["lat"]) == pytest.approx((lon, lat))
    # Beside the case: not unlocated, and the reverse geocoding of its point (nearest address, road, cell).
    assert case["unlocated"] is False
    assert (case["nearest"]["address"], case["nearest"]["grid_cell_code"]) == (address, cell)
    assert case["nearest"]["address_distance_m"] == pytest.approx(0, abs=0.5)
    note = case["evidence"][0]["data"]
    assert note["caller_phone"] == "13800000077" and note["geocoded"] == {"address": address, "score": 1.0}
    assert _callers(db, case["id"]) == [("hotline", "王先生", "13800000077", None, True, False)]
    again = client.post("/cases/calls", headers=as_user("api-operator"), json=body)  # a double click
    assert (again.status_code, again.json()["id"]) == (200, case["id"])
    assert len(_callers(db, case["id"])) == 1
    listed = client.get("/intake/unlocated", headers=as_user("api-operator")).json()
    assert case["id"] not in {c["id"] for c in listed}


def test_an_address_that_does_not_resolve_stays_unlocated_until_an_operator_places_it(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    r = client.post("/cases/calls", headers=as_user("api-operator"), json={
        "caller_name": "李女士", "caller_phone": "13900000078", "category_code": "E0102",
        "description": "垃圾没人收", "address": f"{_road()}那边的菜市场后面"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["grid_cell_code"] is None and case["lon"] is None
    assert (case["unlocated"], case["nearest"]) == (True, None)
    assert case["evidence"][0]["data"]["geocoded"].startswith("unresolved")
    listed = client.get("/intake/unlocated", headers=as_user("api-operator"))
    assert listed.status_code == 200, listed.text
    (item,) = [c for c in listed.json() if c["id"] == case["id"]]
    assert (item["source"], item["category_name"]) == ("hotline", "暴露垃圾")

    place = f"/intake/unlocated/{case['id']}/place"
    assert client.post(place, headers=as_user("api-sanitation"), json={"lon": 1, "lat": 1}).status_code == 403
    outside = client.post(place, headers=as_user("api-operator"), json={"lon": 100.0, "lat": 20.0})
    assert outside.status_code == 422 and outside.json()["type"].endswith("/place-refused"), outside.text
    code, polygon = CELLS[9]
    point = polygon.representative_point()
    r = client.post(place, headers=as_user("api-operator"), json={"lon": point.x, "lat": point.y,
                                                                  "address": "菜市场后门"})
    assert r.status_code == 200, r.text
    assert r.json()["grid_cell_code"] == code
    placed = client.get(f"/cases/{case['id']}", headers=as_user("api-operator")).json()
    assert (placed["grid_cell_code"], placed["state"], placed["version"]) == (code, "reported", case["version"])
    assert placed["address"].endswith("菜市场后面")  # the caller's words stay the case's address
    assert placed["evidence"][-1]["data"]["placed"]["cell"] == code
    assert case["id"] not in {c["id"] for c in client.get("/intake/unlocated", headers=as_user("api-operator")).json()}
    again = client.post(place, headers=as_user("api-operator"), json={"lon": point.x, "lat": point.y})
    assert again.status_code == 422 and "not unlocated" in again.json()["detail"]
    # The next lifecycle event names the cell (the snapshot has it): an inspector verifies it in its grid.
    r = client.post(f"/cases/{case['id']}/accept", headers=as_user("api-operator"), json={})
    assert r.status_code == 200 and r.json()["timeline"][-1]["data"] == {}
    row = db.execute("SELECT payload ->> 'cell' FROM case_events WHERE case_id = %s ORDER BY seq DESC LIMIT 1",
                     (case["id"],)).fetchone()
    assert row == (code,)


def test_an_unlocated_case_is_refused_filing_and_dispatch_until_placed(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    r = client.post("/cases", headers=as_user("api-inspector"), json={
        "category_code": "E0102", "description": "说不清在哪", "client_ref": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["unlocated"] is True and case["grid_cell_code"] is None
    as_leader = as_user("api-leader")
    assert "file" not in client.get(f"/cases/{case['id']}", headers=as_leader).json()["allowed_actions"]
    refused = client.post(f"/cases/{case['id']}/file", headers=as_leader, json={})
    assert refused.status_code == 409 and "unlocated" in refused.json()["detail"], refused.text
    code, polygon = CELLS[5]
    point = polygon.representative_point()
    placed = client.post(f"/intake/unlocated/{case['id']}/place", headers=as_user("api-operator"),
                         json={"lon": point.x, "lat": point.y})
    assert placed.status_code == 200, placed.text
    filed = client.post(f"/cases/{case['id']}/file", headers=as_leader, json={})
    assert filed.status_code == 200, filed.text
    assert (filed.json()["state"], filed.json()["unlocated"], filed.json()["grid_cell_code"]) == ("filed", False, code)
    # A case filed unlocated before this rule (its flag set again here) is not dispatched either.
    db.execute("UPDATE cases SET unlocated = true WHERE id = %s", (case["id"],))
    refused = client.post(f"/cases/{case['id']}/dispatch", headers=as_user("api-dispatcher"),
                          json={"department_id": "sanitation"})
    assert refused.status_code == 409 and "unlocated" in refused.json()["detail"], refused.text


def test_a_leaders_instruction_is_filed_by_an_operator_or_the_leader(client: TestClient, as_user: Headers) -> None:
    code, polygon = CELLS[2]
    point = polygon.representative_point()
    body = {"leader": "张县长", "instruction": "人民路占道经营请立即处理", "category_code": "E0504",
            "lon": point.x, "lat": point.y}
    for who in ("api-operator", "api-boss"):
        r = client.post("/intake/instructions", headers=as_user(who), json=body)
        assert r.status_code == 201, r.text
        case = r.json()
        assert (case["source"], case["grid_cell_code"], case["description"]) == ("leader", code, body["instruction"])
        assert case["evidence"][0]["data"]["instruction"]["leader"] == "张县长"
    assert client.post("/intake/instructions", headers=as_user("api-dispatcher"), json=body).status_code == 403
    bad = client.post("/intake/instructions", headers=as_user("api-operator"), json={**body, "leader": ""})
    assert bad.status_code == 422


def test_a_transfer_is_filed_once_per_body_and_reference(
        client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    reference = f"ZB-{uuid.uuid4().hex[:8]}"
    body = {"from_body": "县12345政务服务热线", "reference": reference, "description": "群众反映路灯不亮",
            "category_code": "C0118", "grid_cell_code": CELLS[3][0], "contact_phone": "0564-8888888",
            "callback": True}
    r = client.post("/intake/transfers", headers=as_user("api-operator"), json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["source"], case["grid_cell_code"]) == ("transfer", CELLS[3][0])
    assert case["evidence"][0]["data"]["transfer"] == {"from_body": "县12345政务服务热线", "reference": reference}
    assert _callers(db, case["id"]) == [("transfer", "县12345政务服务热线", "0564-8888888", reference, True, False)]
    again = client.post("/intake/transfers", headers=as_user("api-operator"), json=body)
    assert (again.status_code, again.json()["id"]) == (200, case["id"])
    assert client.post("/intake/transfers", headers=as_user("api-boss"), json=body).status_code == 403


def _camera_with_snapshot(db: psycopg.Connection, provision, jpeg: bytes | None) -> tuple[str, str]:
    device_id, _ = provision("camera")
    code, polygon = CELLS[6]
    point = polygon.representative_point()
    camera_store.upsert_camera(db, device_id, name="人民路口", onvif_url="http://127.0.0.1:18299",
                               username="admin", password_ref="secrets:" + device_id, lon=point.x, lat=point.y,
                               image_width=320, image_height=240)
    db.execute("UPDATE devices SET grid_cell_code = %s WHERE id = %s", (code, device_id))
    if jpeg is not None:
        now = datetime.now(UTC)
        camera_store.record_status(db, device_id, reachable=True, last_snapshot_at=now, last_event_at=None,
                                   last_error=None, detail={}, snapshot=jpeg, snapshot_at=now)
    return device_id, code


def test_capture_and_file_from_a_cameras_latest_snapshot(
        client: TestClient, as_user: Headers, db: psycopg.Connection, provision) -> None:
    jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 200, np.uint8))[1].tobytes()
    device_id, cell = _camera_with_snapshot(db, provision, jpeg)
    region = [[40, 60], [200, 60], [200, 180], [40, 180]]
    body = {"device_id": device_id, "category_code": "E0504", "description": "店外经营", "region": region}
    r = client.post("/intake/captures", headers=as_user("api-operator"), json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["source"], case["grid_cell_code"], case["category_code"]) == ("camera", cell, "E0504")
    capture = case["evidence"][0]["data"]["capture"]
    assert (capture["device_id"], capture["region"], capture["image_width"]) == (device_id, region, 320)
    photos = [e["data"]["media_id"] for e in case["evidence"] if e["kind"] == "photo"]
    assert photos == [capture["marked_media_id"], capture["snapshot_media_id"]]
    original = client.get(f"/media/{capture['snapshot_media_id']}", headers=as_user("api-operator"))
    assert original.status_code == 200 and original.content == jpeg
    marked = cv2.imdecode(np.frombuffer(client.get(f"/media/{capture['marked_media_id']}",
                                                   headers=as_user("api-operator")).content, np.uint8),
                          cv2.IMREAD_COLOR)
    # The outline is red on the grey snapshot; outside the region the snapshot is unchanged.
    b, g, red = (int(v) for v in marked[60, 120])
    assert red > 150 and b < 150 and g < 150
    assert abs(int(marked[220, 300][2]) - 200) < 8

    outside = client.post("/intake/captures", headers=as_user("api-operator"),
                          json={**body, "region": [[0, 0], [400, 0], [400, 100]]})
    assert outside.status_code == 422 and outside.json()["type"].endswith("/bad-region"), outside.text
    unknown = client.post("/intake/captures", headers=as_user("api-operator"), json={**body, "device_id": "no-cam"})
    assert unknown.status_code == 404
    blind, _ = _camera_with_snapshot(db, provision, None)
    none_yet = client.post("/intake/captures", headers=as_user("api-operator"), json={**body, "device_id": blind})
    assert none_yet.status_code == 404 and "no snapshot" in none_yet.json()["detail"]
    assert client.post("/intake/captures", headers=as_user("api-inspector"), json=body).status_code == 403


def test_categories_carry_pinyin_initials_and_sources_are_one_list(client: TestClient, as_user: Headers) -> None:
    r = client.get("/intake/categories", headers=as_user("api-operator"))
    assert r.status_code == 200, r.text
    by_code = {c["code"]: c for c in r.json()}
    assert by_code["E0102"]["name"] == "暴露垃圾" and "bllj" in by_code["E0102"]["initials"]
    assert by_code["E0102"]["pinyin"] == "baolulaji" and by_code["E0102"]["group"] == "市容环境"
    assert "hds" in by_code["C0402"]["initials"]  # 行道树: háng, a heteronym's other reading
    assert all(len(code) == 5 for code in by_code)  # minors only
    sources = client.get("/sources", headers=as_user("api-inspector")).json()
    assert [s["code"] for s in sources] == ["inspector", "camera", "hotline", "leader", "transfer", "sensor"]
    assert {s["code"]: s["name"] for s in sources}["camera"] == "视频抓拍"
