"""/map on the real database: cells with scoped open-case counts, responsibility grids as the union of
their cells, components as PostGIS vector tiles, devices by status, inspectors' latest positions,
and the GCJ-02 conversion for a Chinese provider's tiles."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from civicgrid.domain.coords import wgs84_to_gcj02
from tests.integration.api.conftest import CELLS
from tests.support import mvt

pytestmark = pytest.mark.integration
Headers = Callable[[str], dict[str, str]]
GRID_G1 = {code for n, (code, _) in enumerate(CELLS) if n < 8}


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def _by_code(collection: dict) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in collection["features"]}


def test_cells_count_open_cases_in_the_callers_scope(client: TestClient, as_user: Headers) -> None:
    code = CELLS[5][0]
    before = _by_code(client.get("/map/cells", headers=as_user("api-boss")).json())[code]["properties"]["open_cases"]
    r = client.post("/cases", headers=as_user("api-inspector"), json={"category_code": "E0102", "grid_cell_code": code})
    assert r.status_code == 201, r.text
    r = client.get("/map/cells", headers=as_user("api-boss"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    cells = _by_code(r.json())
    assert set(c for c, _ in CELLS) <= set(cells)
    assert cells[code]["properties"]["open_cases"] == before + 1
    # The console's colours: the same counts, per cell code, without the geometry.
    counts = client.get("/map/open-cases", headers=as_user("api-boss")).json()["cells"]
    assert counts == {c: f["properties"]["open_cases"] for c, f in cells.items() if f["properties"]["open_cases"]}
    assert cells[code]["properties"]["grid"] == "G1"
    assert cells[code]["geometry"] == CELLS[5][1].__geo_interface__ | {"coordinates": cells[code]["geometry"][
        "coordinates"]}
    # A department counts only the cases dispatched to it: this one is not.
    mine = _by_code(client.get("/map/cells", headers=as_user("api-sanitation")).json())[code]
    assert mine["properties"]["open_cases"] <= before
    # A bounding box selects the cells it touches.
    w, s, e, n = CELLS[0][1].bounds
    boxed = _by_code(client.get("/map/cells", headers=as_user("api-boss"),
                                params={"bbox": f"{w},{s},{w + (e - w) / 4},{s + (n - s) / 4}"}).json())
    assert CELLS[0][0] in boxed and len(boxed) < len(cells)


def test_grids_are_the_union_of_their_cells(client: TestClient, as_user: Headers) -> None:
    grids = {f["properties"]["id"]: f for f in client.get("/map/grids", headers=as_user("api-operator")).json()[
        "features"]}
    g1 = grids["G1"]
    assert g1["properties"]["cells"] == len(GRID_G1)
    union = shapely.union_all([poly for code, poly in CELLS if code in GRID_G1])
    assert shapely.geometry.shape(g1["geometry"]).symmetric_difference(union).area < union.area * 1e-4  # 7 decimals


def test_gcj02_overlays_are_shifted_by_the_domain_conversion(client: TestClient, as_user: Headers) -> None:
    wgs = _by_code(client.get("/map/cells", headers=as_user("api-boss")).json())[CELLS[0][0]]
    gcj = _by_code(client.get("/map/cells", headers=as_user("api-boss"), params={"crs": "gcj02"}).json())[CELLS[0][0]]
    lon, lat = wgs["geometry"]["coordinates"][0][0]
    expected = wgs84_to_gcj02(lon, lat)
    assert gcj["geometry"]["coordinates"][0][0] == pytest.approx(list(expected), abs=1e-9)
    assert abs(expected[0] - lon) > 1e-3  # a few hundred metres in Anhui: the shift is real
    config = client.get("/map/config", headers=as_user("api-boss")).json()
    assert config["overlay_crs"] == "wgs84" and config["tile_url"] is None and len(config["bounds"]) == 4


def test_components_are_served_as_vector_tiles(client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    code = f"3415230102{random.randrange(10**6):06d}"
    lon, lat = CELLS[3][1].centroid.x, CELLS[3][1].centroid.y
    db.execute("INSERT INTO components (code, category_code, name, grid_cell_code, lon, lat) "
               "VALUES (%s, 'C0102', '污水井盖', %s, %s, %s)", (code, CELLS[3][0], lon, lat))
    z, x, y = _tile(lon, lat, 16)
    r = client.get(f"/map/tiles/components/{z}/{x}/{y}.pbf", headers=as_user("api-sanitation"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert b"components" in r.content and code.encode() in r.content and b"C0102" in r.content
    assert client.get(f"/map/tiles/components/{z}/{x + 50}/{y}.pbf", headers=as_user("api-boss")).content == b""
    assert client.get("/map/tiles/components/3/9/1.pbf", headers=as_user("api-boss")).status_code == 422
    assert client.get(f"/map/tiles/components/{z}/{x}/{y}.pbf").status_code == 401


def test_cells_and_streets_are_vector_tiles(client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    code, poly = CELLS[2]
    lon, lat = poly.centroid.x, poly.centroid.y
    w, _, e, _ = poly.bounds
    street = f"S-MAP-{random.randrange(10**6)}"
    # Two pieces of one street, as patrol cuts them (one row per ~50 m): drawn as one line.
    for k, (x0, x1) in enumerate([(w, lon), (lon, e)]):
        db.execute("INSERT INTO road_segments (id, street_id, name, road_class, geometry, length_m) "
                   "VALUES (%s, %s, '地图路', 'main', %s::jsonb, 50)",
                   (f"{street}:{k}", street, json.dumps({"type": "LineString", "coordinates": [[x0, lat], [x1, lat]]})))
    try:
        z, x, y = _tile(lon, lat, 16)
        r = client.get(f"/map/tiles/streets/{z}/{x}/{y}.pbf", headers=as_user("api-sanitation"))
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        mine = [f for f in mvt.layers(r.content)["streets"] if f["properties"]["street_id"] == street]
        assert mine == [{"type": "line", "properties": {"street_id": street, "name": "地图路", "road_class": "main"}}]
        r = client.get(f"/map/tiles/cells/{z}/{x}/{y}.pbf", headers=as_user("api-sanitation"))
        (cell,) = [f for f in mvt.layers(r.content)["cells"] if f["properties"]["code"] == code]
        assert cell["type"] == "polygon" and cell["properties"]["grid"] == "G1"
        # The console asks for the three layers in one request per tile.
        both = mvt.layers(client.get(f"/map/tiles/cells,streets,components/{z}/{x}/{y}.pbf",
                                     headers=as_user("api-sanitation")).content)
        assert code in {f["properties"]["code"] for f in both["cells"]}
        assert street in {f["properties"]["street_id"] for f in both["streets"]}
        assert client.get(f"/map/tiles/cells,roads/{z}/{x}/{y}.pbf", headers=as_user("api-boss")).status_code == 422
    finally:
        db.execute("DELETE FROM road_segments WHERE street_id = %s", (street,))


def test_map_answers_are_compressed_and_revalidated(client: TestClient, as_user: Headers) -> None:
    boss = as_user("api-boss")
    r = client.get("/map/cells", headers={**boss, "Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.num_bytes_downloaded < len(r.content) / 3
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers  # live counts: never reused
    assert "content-encoding" not in client.get("/map/cells", headers={**boss, "Accept-Encoding": "identity"}).headers
    z, x, y = _tile(CELLS[0][1].centroid.x, CELLS[0][1].centroid.y, 14)
    tile = client.get(f"/map/tiles/cells/{z}/{x}/{y}.pbf", headers=boss)
    assert tile.headers["cache-control"].startswith("private, max-age=") and tile.headers["etag"]
    again = client.get(f"/map/tiles/cells/{z}/{x}/{y}.pbf", headers={**boss, "If-None-Match": tile.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tile.headers["etag"]


def test_retired_components_leave_the_tiles(client: TestClient, as_user: Headers, db: psycopg.Connection) -> None:
    """A retired component keeps its row (migration 0018) but is no longer on the street: not drawn."""
    kept, retired = (f"3415230102{random.randrange(10**6):06d}" for _ in range(2))
    lon, lat = CELLS[4][1].centroid.x, CELLS[4][1].centroid.y
    for code in (kept, retired):
        db.execute("INSERT INTO components (code, category_code, grid_cell_code, lon, lat) "
                   "VALUES (%s, 'C0102', %s, %s, %s)", (code, CELLS[4][0], lon, lat))

    def drawn(z: int) -> list[dict]:
        tile = client.get("/map/tiles/components/{}/{}/{}.pbf".format(*_tile(lon, lat, z)), headers=as_user("api-boss"))
        return mvt.layers(tile.content)["components"]

    at_13 = len(drawn(13))  # below zoom 15 a tile carries the state alone, no code: count the dots
    db.execute("UPDATE components SET retired_at = now() WHERE code = %s", (retired,))
    codes = {f["properties"]["code"] for f in drawn(16)}
    assert kept in codes and retired not in codes
    assert len(drawn(13)) == at_13 - 1


def test_devices_by_status_and_inspectors_positions(client: TestClient, as_user: Headers, db: psycopg.Connection,
                                                    org: dict[str, int]) -> None:
    suffix = random.randrange(10**6)
    component = f"3415230102{suffix:06d}"
    lon, lat = CELLS[6][1].centroid.x, CELLS[6][1].centroid.y
    db.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0102', %s, %s)",
               (component, lon, lat))
    sensor, handheld = f"map-mh-{suffix}", f"map-hh-{suffix}"
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash, component_code) "
               "VALUES (%s, 'manhole-sensor', 'manhole-sensor', 'x', %s)", (sensor, component))
    db.execute("INSERT INTO devices (id, kind, profile, secret_hash, inspector_user_id) "
               "VALUES (%s, 'handheld', 'handheld', 'x', %s)", (handheld, org["api-inspector"]))

    def status() -> str:
        features = client.get("/map/devices", headers=as_user("api-operator")).json()["features"]
        (mine,) = [f for f in features if f["properties"]["id"] == sensor]
        assert mine["geometry"]["coordinates"] == [lon, lat]
        return mine["properties"]["status"]

    assert status() == "offline"  # never seen
    db.execute("INSERT INTO telemetry (time, device_id, seq, payload) VALUES (now(), %s, 1, '{}')", (sensor,))
    assert status() == "online"
    db.execute("INSERT INTO alarms (time, alarm_id, device_id, rule, action) VALUES (now(), %s, %s, 'cover_tilted', "
               "'raise')", (f"a-{suffix}", sensor))
    assert status() == "alarm"

    db.execute("INSERT INTO track_points (time, device_id, seq, lon, lat) VALUES (%s, %s, 1, %s, %s), "
               "(now(), %s, 2, %s, %s)", (datetime(2020, 1, 1, tzinfo=UTC), handheld, 1.0, 1.0, handheld, lon, lat))
    people = client.get("/map/inspectors", headers=as_user("api-operator")).json()["features"]
    (me,) = [f for f in people if f["properties"]["device_id"] == handheld]
    assert me["geometry"]["coordinates"] == [lon, lat] and me["properties"]["inspector_user_id"] == org["api-inspector"]
    # Devices and people are the control room's: a department gets 403.
    assert client.get("/map/devices", headers=as_user("api-sanitation")).status_code == 403
    assert client.get("/map/inspectors", headers=as_user("api-sanitation")).status_code == 403
