"""The synthetic city: valid codes, reproducible, cells tiling the area, components inside their cells."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import shapely

from civicgrid.domain.components import parse_component_id
from civicgrid.domain.grid import parse_grid_code
from simulators.city import generate_city, load_city_file


def _features(directory: Path, name: str) -> list[dict]:
    return orjson.loads((directory / name).read_bytes())["features"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(5, 1.0, out, covers=60, bins=30, lights=20, trackers=3, inspectors=10)
    return out


def test_same_seed_same_files_and_another_seed_differs(city: Path, tmp_path: Path) -> None:
    generate_city(5, 1.0, tmp_path / "again", covers=60, bins=30, lights=20, trackers=3, inspectors=10)
    generate_city(6, 1.0, tmp_path / "other", covers=60, bins=30, lights=20, trackers=3, inspectors=10)
    for name in ("cells.geojson", "streets.geojson", "components.geojson", "city.json"):
        assert (city / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert (city / "components.geojson").read_bytes() != (tmp_path / "other" / "components.geojson").read_bytes()


def test_cells_have_valid_unique_codes_and_tile_the_area_without_overlap(city: Path) -> None:
    cells = _features(city, "cells.geojson")
    assert len(cells) == 100  # 1 km² of ~100 m cells
    codes = [f["properties"]["code"] for f in cells]
    assert len(set(codes)) == len(codes)
    for code in codes:
        g = parse_grid_code(code)
        assert g.county == "341523" and len(code) == 14
    polys = [shapely.geometry.shape(f["geometry"]) for f in cells]
    assert all(p.is_valid for p in polys)
    union = shapely.union_all(polys)
    assert abs(union.area - sum(p.area for p in polys)) < 1e-9 * len(polys)  # no overlaps
    assert abs(union.area - union.envelope.area) < 1e-9  # no gaps: the union is the city's rectangle
    assert {f["properties"]["responsibility_grid"] for f in cells} == {f"RG{k:02d}" for k in range(1, 9)}


def test_components_have_valid_ids_and_lie_in_their_cells(city: Path) -> None:
    cells = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in _features(city, "cells.geojson")}
    comps = _features(city, "components.geojson")
    assert len(comps) == 110
    codes = [f["properties"]["code"] for f in comps]
    assert len(set(codes)) == len(codes)
    kinds = set()
    for f in comps:
        p = f["properties"]
        cid = parse_component_id(p["code"])
        assert f"C{cid.major}{cid.minor}" == p["category_code"]
        kinds.add(p["category_code"])
        assert cells[p["grid_cell_code"]].contains(shapely.geometry.shape(f["geometry"]))
    assert {"C0102", "C0103", "C0305", "C0118"} <= kinds


def test_streets_have_road_classes_and_people_and_devices_are_linked(city: Path) -> None:
    streets = _features(city, "streets.geojson")
    assert {f["properties"]["road_class"] for f in streets} == {"main", "secondary", "alley"}
    data = load_city_file(city)
    comps = {f["properties"]["code"]: f["properties"] for f in _features(city, "components.geojson")}
    assert len(data["grids"]) == 8 and len(data["inspectors"]) == 10
    kinds: dict[str, int] = {}
    for d in data["devices"]:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        if d["kind"] == "manhole-sensor":
            assert comps[d["component_code"]]["category_code"].startswith("C01")
        if d["kind"] == "bin-sensor":
            assert comps[d["component_code"]]["category_code"] == "C0305"
    assert kinds == {"handheld": 10, "manhole-sensor": 60, "bin-sensor": 30, "gps-tracker": 3}
    assert len({d["id"] for d in data["devices"]}) == len(data["devices"])
    departments = {d["id"] for d in data["departments"]}
    assert {r["department_id"] for r in data["responsibility"]} <= departments


def test_default_city_is_25_km2(tmp_path: Path) -> None:
    summary = generate_city(1, 25, tmp_path, covers=10, bins=5, lights=0, trackers=1, inspectors=18)
    assert summary["cells"] == 2500 and summary["streets"] == 98
