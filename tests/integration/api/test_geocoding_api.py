"""/geocode over the real database: an address as a caller says it comes back with its point and unit grid cell,
and a point with its nearest door plate (docs/geocoding.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

from civicgrid.store.addresses import AddressEntry, import_addresses
from tests.integration.api.conftest import CELLS

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def door_plate(db: psycopg.Connection) -> tuple[str, str, float, float]:
    """A door plate on a road of its own, at a point of its own inside one of the API tests' cells."""
    draw = uuid.uuid4().int
    # Eight characters: with four, two of a run's plates once shared a road name (1 in 10,000 a pair), and the
    # geocoder rightly answered the older plate of the two.
    road = "".join("甲乙丙丁戊己庚辛壬癸"[(draw >> (80 + 4 * i)) % 10] for i in range(8)) + "路"
    code, polygon = CELLS[6]
    centre = polygon.representative_point()
    lon, lat = centre.x + (draw >> 20) % 100 * 2e-6, centre.y + (draw >> 30) % 100 * 2e-6  # within 20 m of it
    import_addresses(db, [AddressEntry("door_plate", f"{road}18号", {"type": "Point", "coordinates": [lon, lat]})])
    return road, code, lon, lat


def test_an_address_said_with_numerals_finds_its_door_plate_and_cell(
        client: TestClient, as_user: Headers, door_plate: tuple[str, str, float, float]) -> None:
    road, code, lon, lat = door_plate
    r = client.get("/geocode", params={"q": f"{road}十八号3单元"}, headers=as_user("api-operator"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["normalized"] == f"{road}18号3单元"
    best = answer["candidates"][0]
    assert (best["address"], best["score"], best["grid_cell_code"]) == (f"{road}18号", 0.95, code)
    assert (best["lon"], best["lat"]) == pytest.approx((lon, lat))


def test_a_point_finds_its_nearest_door_plate_and_cell(
        client: TestClient, as_user: Headers, door_plate: tuple[str, str, float, float]) -> None:
    road, code, lon, lat = door_plate
    r = client.get("/geocode/reverse", params={"lon": lon, "lat": lat}, headers=as_user("api-dispatcher"))
    assert r.status_code == 200, r.text
    near = r.json()
    assert near["address"] == f"{road}18号" and near["address_distance_m"] == 0
    assert near["grid_cell_code"] == code


def test_geocoding_needs_a_login_and_a_bounded_query(client: TestClient, as_user: Headers) -> None:
    assert client.get("/geocode", params={"q": "人民路1号"}).status_code == 401
    assert client.get("/geocode", params={"q": "路" * 201}, headers=as_user("api-operator")).status_code == 422
    assert client.get("/geocode/reverse", params={"lon": 200, "lat": 0},
                      headers=as_user("api-operator")).status_code == 422


def test_an_open311_request_with_an_address_alone_is_placed_in_its_cell(
        client: TestClient, as_user: Headers, org: dict[str, int], db: psycopg.Connection,
        door_plate: tuple[str, str, float, float]) -> None:
    """A hotline client that sends only `address_string` gets its case placed at the geocoded door plate (and so
    in a cell, for dispatch and scoring); an address that does not resolve leaves the case for an operator."""
    road, code, lon, lat = door_plate
    r = client.post("/api-keys", headers=as_user("api-admin"),
                    json={"user_id": org["api-operator"], "name": "12345 geocoding", "scopes": ["open311"]})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]

    def post(address: str) -> dict:
        r = client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "E0102",
                                                           "address_string": address, "description": "垃圾"})
        assert r.status_code == 201, r.text
        (created,) = r.json()
        return db.execute("SELECT lon, lat, grid_cell_code, address FROM cases WHERE case_no = %s",
                          (created["service_request_id"],)).fetchone()

    placed = post(f"{road}十八号")
    assert placed[0] == pytest.approx(lon) and placed[1] == pytest.approx(lat)
    assert placed[2:] == (code, f"{road}十八号")
    assert post("无此地址的某处") == (None, None, None, "无此地址的某处")
