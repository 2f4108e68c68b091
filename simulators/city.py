"""A reproducible synthetic county town (modelled on Shucheng, 舒城县 341523) for the simulators.

`generate_city(seed, area_km2, out_dir)` writes:

- ``cells.geojson``: unit grid cells (about 100 m × 100 m, a jittered lattice without gaps
  or overlaps), ``properties.code`` a valid 14-digit code, plus ``responsibility_grid``;
- ``streets.geojson``: LineStrings with ``properties.road_class`` main (every ~1 km),
  secondary (every ~300 m) or alley (the lines between);
- ``components.geojson``: Points with ``properties.code`` (16 digits), ``category_code``,
  ``name``, ``department_id``, ``grid_cell_code``;
- ``city.json``: departments, the responsibility table, responsibility grids, inspectors and
  devices (with their links, and a route for trackers; handhelds walk their grid's main and
  secondary streets, simulators/patrol_routes.py).

The same seed gives byte-identical files.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import shapely

from civicgrid.domain.components import format_component_id
from civicgrid.domain.grid import format_grid_code, parse_grid_code
from civicgrid.domain.synthetic import jittered_grid
from simulators.addresses import town_addresses
from simulators.camera.fleet import city_cameras
from simulators.patrol_routes import assign_street_routes, grid_routes

M_PER_DEG_LAT = 110_574.0
CELL_M = 100.0
LON0, LAT0 = 116.94, 31.46  # Shucheng county town
ADDRESS_PREFIXES = ["安徽省", "六安市", "舒城县", "城关镇"]

DEPARTMENTS = [
    {"id": "cg-bureau", "name": "县城市管理局", "name_en": "Urban management bureau", "parent_id": None},
    {"id": "water", "name": "县自来水公司", "name_en": "Water supply company", "parent_id": None},
    {"id": "sewage", "name": "县排水管理处", "name_en": "Drainage office", "parent_id": None},
    {"id": "power", "name": "县供电公司", "name_en": "Power supply company", "parent_id": None},
    {"id": "sanitation", "name": "县环境卫生管理处", "name_en": "Sanitation office", "parent_id": None},
    {"id": "landscaping", "name": "县园林管理处", "name_en": "Landscaping office", "parent_id": None},
    {"id": "lighting", "name": "县路灯管理所", "name_en": "Street-lighting office", "parent_id": None},
    {"id": "gas", "name": "县燃气公司", "name_en": "Gas company", "parent_id": None},
]
# 责任分解表: category → department (county-wide rules; grid_prefix "").
RESPONSIBILITY = [
    ("C0101", "water"), ("C0102", "sewage"), ("C0103", "sewage"), ("C0105", "power"), ("C0111", "gas"),
    ("C0114", "cg-bureau"), ("C0118", "lighting"), ("C0305", "sanitation"), ("C04", "landscaping"),
    ("E0102", "sanitation"), ("E0403", "gas"), ("E0404", "sewage"), ("E0499", "cg-bureau"), ("E01", "sanitation"),
]
COVER_MINORS = [("C0101", "给水井盖", 0.25), ("C0102", "污水井盖", 0.3), ("C0103", "雨水井盖", 0.3),
                ("C0105", "电力井盖", 0.1), ("C0111", "燃气井盖", 0.05)]
DEPT_OF = {code: dept for code, dept in RESPONSIBILITY}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英"


def _r(x: float) -> float:
    return round(x, 7)


def _dump(path: Path, data: Any) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def _shift_street(code: str, street_base: int) -> str:
    g = parse_grid_code(code)
    return format_grid_code(g.county, int(g.street) + street_base - 1, g.community, g.cell)


def generate_city(seed: int, area_km2: float = 25.0, out_dir: Path | str = "city", *, covers: int = 400,
                  bins: int = 200, lights: int = 150, trackers: int = 4, inspectors: int = 18, grids: int = 8,
                  county: str = "341523", lon0: float = LON0, lat0: float = LAT0, street_base: int = 1,
                  serial_base: int = 1, device_prefix: str = "sim", cameras: int = 0,
                  camera_port_base: int = 18201) -> dict[str, Any]:
    """Generate the city into `out_dir`; returns a summary (counts and file names).

    `cameras` ONVIF cameras on street lights (the county town has 21), listening on
    `camera_port_base` + n when simulated (simulators/camera/fleet.py)."""
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    side = max(2, round(math.sqrt(area_km2 * 1e6) / CELL_M))
    nx = ny = side
    dlat = CELL_M / M_PER_DEG_LAT
    dlon = CELL_M / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))

    # --- cells and responsibility grids (blocks of a cols × rows layout)
    raw = jittered_grid(nx, ny, lon0=lon0, lat0=lat0, cell_m=CELL_M, seed=seed, county=county)
    cells = [(_shift_street(code, street_base), poly) for code, poly in raw]
    grid_cols = max(1, min(nx, math.ceil(grids / 2)))
    grid_rows = max(1, min(ny, math.ceil(grids / grid_cols)))
    grid_ids = [f"RG{k + 1:02d}" for k in range(grid_cols * grid_rows)][:grids]
    cell_grid: dict[str, str] = {}
    cell_features = []
    for code, poly in cells:
        c = poly.centroid
        i = min(nx - 1, int((c.x - lon0) / dlon))
        j = min(ny - 1, int((c.y - lat0) / dlat))
        k = min(len(grid_ids) - 1, (j * grid_rows // ny) * grid_cols + i * grid_cols // nx)
        cell_grid[code] = grid_ids[k]
        cell_features.append({"type": "Feature", "properties": {"code": code, "responsibility_grid": grid_ids[k]},
                              "geometry": {"type": "Polygon",
                                           "coordinates": [[[_r(x), _r(y)] for x, y in poly.exterior.coords]]}})
    _dump(out / "cells.geojson", {"type": "FeatureCollection", "features": cell_features})
    tree = shapely.STRtree([p for _, p in cells])
    codes = [c for c, _ in cells]

    def cell_of(lon: float, lat: float) -> str | None:
        hits = tree.query(shapely.Point(lon, lat), predicate="within")
        return codes[int(hits[0])] if len(hits) else None

    streets = _streets(nx, ny, lon0, lat0, dlon, dlat)
    _dump(out / "streets.geojson", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": s["id"], "name": s["name"], "road_class": s["road_class"]},
         "geometry": {"type": "LineString", "coordinates": [[_r(x), _r(y)] for x, y in s["coords"]]}}
        for s in streets]})

    # --- components along streets (a few metres off the centre line, inside a cell)
    serials: dict[str, int] = {}
    components: list[dict[str, Any]] = []

    def place(category: str, name: str, offset_m: float) -> dict[str, Any] | None:
        return _place(rng, streets, cell_of, serials, components, (county, serial_base, dlon, dlat),
                      category, name, offset_m)

    minors, weights = [m[:2] for m in COVER_MINORS], [m[2] for m in COVER_MINORS]
    cover_list = [c for c in (place(*rng.choices(minors, weights)[0], rng.uniform(1, 4)) for _ in range(covers)) if c]
    bin_list = [c for c in (place("C0305", "垃圾箱", rng.uniform(6, 9)) for _ in range(bins)) if c]
    for _ in range(lights):
        place("C0118", "路灯", 10.0)
    _dump(out / "components.geojson", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
         "properties": {k: v for k, v in c.items() if k not in ("lon", "lat")}} for c in components]})
    addresses = town_addresses(streets, random.Random(f"{seed}:addresses"))
    _dump(out / "addresses.geojson", {"type": "FeatureCollection", "features": addresses})

    people = _people_and_devices(rng, cells, codes, cell_grid, grid_ids, cover_list, bin_list, inspectors,
                                 trackers, device_prefix, (nx, ny, lon0, lat0, dlon, dlat))
    cells_by_grid, inspector_list, devices = people
    assign_street_routes(devices, inspector_list, grid_routes(streets, cell_of, cell_grid))
    devices += city_cameras(seed, components, cameras, device_prefix, camera_port_base)
    city = {"seed": seed, "area_km2": area_km2, "county": county, "origin": [lon0, lat0], "size_cells": [nx, ny],
            "departments": DEPARTMENTS,
            "responsibility": [{"category_code": c, "department_id": d} for c, d in RESPONSIBILITY],
            "grids": [{"id": g, "name": f"第{k + 1}责任网格", "cells": len(cells_by_grid[g])}
                      for k, g in enumerate(grid_ids)],
            "inspectors": inspector_list, "devices": devices,
            # What callers say before an address here, stripped when geocoding (docs/geocoding.md).
            "address_prefixes": ADDRESS_PREFIXES}
    _dump(out / "city.json", city)
    return {"dir": str(out), "cells": len(cells), "streets": len(streets), "components": len(components),
            "addresses": len(addresses),
            "covers": len(cover_list), "bins": len(bin_list), "inspectors": inspectors, "devices": len(devices)}


def _place(rng: random.Random, streets: list[dict[str, Any]], cell_of: Callable[[float, float], str | None],
           serials: dict[str, int], components: list[dict[str, Any]], frame: tuple[str, int, float, float],
           category: str, name: str, offset_m: float) -> dict[str, Any] | None:
    """One component on a random street, `offset_m` to its side, numbered by category."""
    county, serial_base, dlon, dlat = frame
    for _ in range(50):
        s = rng.choice(streets)
        (x0, y0), (x1, y1) = s["coords"]
        t = rng.uniform(0.02, 0.98)
        lon, lat = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if x0 == x1:
            lon += offset_m / CELL_M * dlon * rng.choice((-1, 1))
        else:
            lat += offset_m / CELL_M * dlat * rng.choice((-1, 1))
        cell = cell_of(lon, lat)
        if cell is None:
            continue
        serials[category] = serials.get(category, serial_base - 1) + 1
        comp = {"code": format_component_id(county, category, serials[category]), "category_code": category,
                "name": name, "department_id": DEPT_OF.get(category), "grid_cell_code": cell,
                "street_id": s["id"], "lon": _r(lon), "lat": _r(lat)}
        components.append(comp)
        return comp
    return None


def _streets(nx: int, ny: int, lon0: float, lat0: float, dlon: float, dlat: float) -> list[dict[str, Any]]:
    # --- streets on the un-jittered lattice lines inside the city
    def road_class(n: int) -> str:
        return "main" if n % 10 == 5 else "secondary" if n % 3 == 0 else "alley"

    streets: list[dict[str, Any]] = []
    for i in range(1, nx):
        x = lon0 + i * dlon
        streets.append({"id": f"S-NS-{i:03d}", "road_class": road_class(i), "name": f"南北{i}路",
                        "coords": [(x, lat0 + 0.5 * dlat), (x, lat0 + (ny - 0.5) * dlat)]})
    for j in range(1, ny):
        y = lat0 + j * dlat
        streets.append({"id": f"S-EW-{j:03d}", "road_class": road_class(j), "name": f"东西{j}街",
                        "coords": [(lon0 + 0.5 * dlon, y), (lon0 + (nx - 0.5) * dlon, y)]})
    return streets


def _people_and_devices(rng: random.Random, cells: list[tuple[str, shapely.Polygon]], codes: list[str],
                        cell_grid: dict[str, str], grid_ids: list[str], cover_list: list[dict[str, Any]],
                        bin_list: list[dict[str, Any]], inspectors: int, trackers: int, device_prefix: str,
                        frame: tuple[int, int, float, float, float, float]) -> tuple[dict, list, list]:
    nx, ny, lon0, lat0, dlon, dlat = frame
    # --- inspectors, their grids and patrol routes; devices
    cells_by_grid: dict[str, list[str]] = {g: [] for g in grid_ids}
    centroid = {code: poly.centroid for code, poly in cells}
    for code in codes:
        cells_by_grid[cell_grid[code]].append(code)
    inspector_list = []
    devices: list[dict[str, Any]] = []
    for n in range(inspectors):
        grid = grid_ids[n % len(grid_ids)]
        username = f"{device_prefix}-insp{n + 1:02d}"
        inspector_list.append({"username": username, "display_name": rng.choice(SURNAMES) + rng.choice(GIVEN)
                               + rng.choice(GIVEN), "responsibility_grid_id": grid})
        members = sorted(cells_by_grid[grid], key=lambda c: (round(centroid[c].y / dlat), centroid[c].x))
        route = [[_r(centroid[c].x), _r(centroid[c].y)] for c in members] or [[_r(lon0 + dlon / 2),
                                                                                _r(lat0 + dlat / 2)]]
        rng.shuffle(route) if len(route) > 40 and n % 2 else None
        devices.append({"id": f"{device_prefix}-hh-{n + 1:03d}", "kind": "handheld", "inspector": username,
                        "grid_cell_code": members[0] if members else None, "route": route})
    for c in cover_list:
        devices.append({"id": f"{device_prefix}-mh-{c['code'][-6:]}-{c['category_code'][-2:]}",
                        "kind": "manhole-sensor", "component_code": c["code"], "grid_cell_code": c["grid_cell_code"]})
    for c in bin_list:
        devices.append({"id": f"{device_prefix}-bin-{c['code'][-6:]}", "kind": "bin-sensor",
                        "component_code": c["code"], "grid_cell_code": c["grid_cell_code"]})
    for n in range(trackers):
        devices.append({"id": f"{device_prefix}-gps-{n + 1:03d}", "kind": "gps-tracker",
                        "vehicle": f"皖P·{rng.randrange(10000, 99999)}", "route": _loop_route(rng, nx, ny, lon0, lat0,
                                                                                                 dlon, dlat)})
    return cells_by_grid, inspector_list, devices


def _loop_route(rng: random.Random, nx: int, ny: int, lon0: float, lat0: float, dlon: float,
                dlat: float) -> list[list[float]]:
    """A closed rectangle along four street lines (a vehicle's round), as lon/lat corners."""
    if nx < 3 or ny < 3:
        xs, ys = [1, max(1, nx - 1)], [1, max(1, ny - 1)]
    else:
        xs = sorted(rng.sample(range(1, nx), 2))
        ys = sorted(rng.sample(range(1, ny), 2))
    corners = [(xs[0], ys[0]), (xs[1], ys[0]), (xs[1], ys[1]), (xs[0], ys[1]), (xs[0], ys[0])]
    return [[_r(lon0 + i * dlon), _r(lat0 + j * dlat)] for i, j in corners]


def load_city_file(directory: Path | str) -> dict[str, Any]:
    return orjson.loads((Path(directory) / "city.json").read_bytes())


def distance_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    dx = (lon1 - lon0) * M_PER_DEG_LAT * math.cos(math.radians((lat0 + lat1) / 2))
    return math.hypot(dx, (lat1 - lat0) * M_PER_DEG_LAT)
