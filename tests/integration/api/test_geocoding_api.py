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
    road = "".join("甲乙丙丁戊己庚辛壬癸"[(draw >> (4 * i)) % 10] for i in range(4)) + "路"
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
