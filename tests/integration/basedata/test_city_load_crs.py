"""`civicgrid city load` in the city's own coordinate system: a directory in CGCS2000 3° Gauss–Krüger (EPSG:4548) —
cells, components, streets and addresses — lands within 0.5 m of the same points given in WGS 84, converted by the
base-data imports' rule (civicgrid/basedata/crs.py); a point outside the CRS's area, or a file whose own `crs`
member says another CRS than the load, is refused naming the file and feature, before anything is written."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from pyproj import Transformer

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment
from civicgrid.store.city import load_city
from tests.integration.basedata.support import codes, metres_apart

pytestmark = pytest.mark.integration
TO_4548 = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)
STEP = 0.0009  # about 90 m: the square cell's side


def _fc(features: list[dict[str, Any]], crs: str | None = None) -> bytes:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs is not None:  # the legacy member the base-data exports write (and GDAL, QGIS read)
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return orjson.dumps(doc)


def _gk(lon: float, lat: float) -> list[float]:
    return list(TO_4548.transform(lon, lat))


def _city(directory: Path) -> dict[str, Any]:
    """A one-cell city away from every other test's cells (east of Shucheng, still in EPSG:4548's zone), written in
    EPSG:4548; returns its WGS 84 originals."""
    rng = random.Random(uuid.uuid4().int)
    lon0, lat0 = 117.30 + rng.randrange(500) * 0.002, 31.80 + rng.randrange(200) * 0.002
    ring = [(lon0, lat0), (lon0 + STEP, lat0), (lon0 + STEP, lat0 + STEP), (lon0, lat0 + STEP), (lon0, lat0)]
    cell = f"341523{rng.randrange(500, 600):03d}{rng.randrange(1, 1000):03d}{rng.randrange(1, 100):02d}"
    comps = list(zip(codes(2), [(lon0 + STEP / 3, lat0 + STEP / 3), (lon0 + 2 * STEP / 3, lat0 + STEP / 2)],
                     strict=True))
    road = "".join("甲乙丙丁戊己庚辛壬癸"[int(c, 16) % 10] for c in uuid.uuid4().hex[:4]) + "路"
    street = [(lon0 + STEP / 2, lat0 + STEP / 10), (lon0 + STEP / 2, lat0 + 9 * STEP / 10)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cells.geojson").write_bytes(_fc([{"type": "Feature", "properties": {"code": cell}, "geometry": {
        "type": "Polygon", "coordinates": [[_gk(*p) for p in ring]]}}]))
    (directory / "components.geojson").write_bytes(_fc([
        {"type": "Feature", "properties": {"code": code, "name": "雨水井盖"},
         "geometry": {"type": "Point", "coordinates": _gk(*p)}} for code, p in comps]))
    (directory / "streets.geojson").write_bytes(_fc([{"type": "Feature", "properties": {
        "id": f"S-{uuid.uuid4().hex[:8]}", "name": road, "highway": "secondary"}, "geometry": {
        "type": "LineString", "coordinates": [_gk(*p) for p in street]}}]))
    (directory / "addresses.geojson").write_bytes(_fc([{"type": "Feature", "properties": {"address": f"{road}7号"},
                                                        "geometry": {"type": "Point",
                                                                     "coordinates": _gk(*comps[0][1])}}]))
    (directory / "city.json").write_bytes(orjson.dumps({"crs": "EPSG:4548", "address_prefixes": ["舒城县"]}))
    return {"cell": cell, "ring": ring, "components": comps, "road": road, "street": street}


def test_a_city_in_epsg_4548_lands_within_half_a_metre_of_the_same_points_in_wgs84(
        db: psycopg.Connection, tmp_path: Path) -> None:
    city = _city(tmp_path)
    counts = load_city(db, tmp_path)
    assert (counts["grid_cells"], counts["components"], counts["addresses"]) == (1, 2, 1)
    (ring,) = db.execute("SELECT geometry FROM grid_cells WHERE code = %s", (city["cell"],)).fetchone()
    loaded = ring["coordinates"][0]
    assert max(metres_apart(tuple(a), b) for a, b in zip(loaded, city["ring"], strict=True)) < 0.5
    for code, point in city["components"]:
        lon, lat, cell = db.execute("SELECT lon, lat, grid_cell_code FROM components WHERE code = %s",
                                    (code,)).fetchone()
        assert metres_apart((lon, lat), point) < 0.5 and cell == city["cell"]  # and its cell found in WGS 84
    (address,) = db.execute("SELECT ST_AsGeoJSON(geom) FROM addresses WHERE address = %s",
                            (f"{city['road']}7号",)).fetchone()
    assert metres_apart(tuple(orjson.loads(address)["coordinates"]), city["components"][0][1]) < 0.5
    lines = [r[0]["coordinates"] for r in db.execute(
        "SELECT geometry FROM road_segments WHERE name = %s ORDER BY street_seq", (city["road"],)).fetchall()]
    first, last = lines[0][0], lines[-1][-1]
    assert metres_apart(tuple(first), city["street"][0]) < 0.5 and metres_apart(tuple(last), city["street"][1]) < 0.5


def test_city_load_refuses_a_point_outside_the_crs_or_a_file_in_another_crs_before_writing(
        db: psycopg.Connection, tmp_path: Path) -> None:
    city = _city(tmp_path)
    components = orjson.loads((tmp_path / "components.geojson").read_bytes())
    easting, northing = components["features"][1]["geometry"]["coordinates"]
    components["features"][1]["geometry"]["coordinates"] = [39_000_000 + easting, northing]  # the zone number left on
    (tmp_path / "components.geojson").write_bytes(orjson.dumps(components))
    with pytest.raises(ValueError, match=r"components\.geojson, feature 1: .* outside EPSG:4548's area"):
        load_city(db, tmp_path)
    assert db.execute("SELECT 1 FROM grid_cells WHERE code = %s", (city["cell"],)).fetchone() is None

    other = tmp_path / "other"
    city = _city(other)
    cells = orjson.loads((other / "cells.geojson").read_bytes())
    (other / "cells.geojson").write_bytes(_fc(cells["features"], "urn:ogc:def:crs:OGC:1.3:CRS84"))
    with pytest.raises(ValueError, match=r"cells\.geojson says .*4326.* the load is in EPSG:4548"):
        load_city(db, other)
    assert db.execute("SELECT 1 FROM grid_cells WHERE code = %s", (city["cell"],)).fetchone() is None
    # The file saying its own CRS (as an export in EPSG:4548 does) loads without being told.
    (other / "cells.geojson").write_bytes(_fc(cells["features"], "urn:ogc:def:crs:EPSG::4548"))
    (other / "city.json").write_bytes(orjson.dumps({}))
    for name in ("components", "streets", "addresses"):
        (other / f"{name}.geojson").unlink()
    assert load_city(db, other)["grid_cells"] == 1


def test_the_cli_takes_the_crs(settings: Settings, db: psycopg.Connection,
                                                          tmp_path: Path) -> None:
    city = _city(tmp_path)
    (tmp_path / "city.json").write_bytes(orjson.dumps({}))  # the CRS said on the command line instead
    env = {**os.environ, **as_environment(settings), "COLUMNS": "200"}

    def civicgrid(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "civicgrid.cli", "city", "load", str(tmp_path), *args],
                              capture_output=True, text=True, timeout=120, env=env, check=False)

    done = civicgrid("--crs", "EPSG:4548")
    assert done.returncode == 0, done.stdout + done.stderr
    lon, lat = db.execute("SELECT lon, lat FROM components WHERE code = %s", (city["components"][0][0],)).fetchone()
    assert metres_apart((lon, lat), city["components"][0][1]) < 0.5
