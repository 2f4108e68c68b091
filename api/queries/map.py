"""The console map's reads: cells with open-case counts, streets, responsibility grids, component
vector tiles (PostGIS ``ST_AsMVT``), devices with a status colour, inspectors' latest positions.

Geometry leaves here as GeoJSON in WGS-84, or in GCJ-02 when the console draws over a Chinese
provider's tiles (``crs="gcj02"``, converted by civicgrid.domain.coords). Vector tiles are built
in Web Mercator from ``components.geom_3857`` (migration 0006); in GCJ-02 the tile's points are
shifted by the offset at the tile's centre, which varies by well under a metre across a tile at
the zoom levels components are drawn (≥ 12).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import orjson
import psycopg
import shapely
from psycopg.rows import dict_row

from api.queries.cases import scope_sql
from api.users import User
from civicgrid.domain.coords import wgs84_to_gcj02
from civicgrid.profiles import DeviceProfile

Crs = Literal["wgs84", "gcj02"]
OPEN_STATES = ("reported", "verifying", "filed", "dispatched", "disposing", "disposed", "checking")
EARTH_M = 20037508.342789244  # half the Web Mercator world width


def _to_gcj(xy: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def geometry_out(geometry: dict[str, Any], crs: Crs) -> dict[str, Any]:
    if crs == "wgs84":
        return geometry
    return shapely.geometry.mapping(shapely.transform(shapely.geometry.shape(geometry), _to_gcj))


def point_out(lon: float, lat: float, crs: Crs) -> list[float]:
    if crs == "wgs84":
        return [lon, lat]
    glon, glat = wgs84_to_gcj02(lon, lat)
    return [round(float(glon), 7), round(float(glat), 7)]


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def bounds(conn: psycopg.Connection) -> list[float] | None:
    """[west, south, east, north] of the city's cells (else its components), WGS-84."""
    row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                       "(SELECT ST_Extent(geom) AS e FROM grid_cells) x").fetchone()
    if row is None or row[0] is None:
        row = conn.execute("SELECT min(lon), min(lat), max(lon), max(lat) FROM components").fetchone()
    return None if row is None or row[0] is None else [float(v) for v in row]


def cells(conn: psycopg.Connection, user: User, crs: Crs, bbox: tuple[float, float, float, float] | None,
          ) -> dict[str, Any]:
    """Unit grid cells with the caller's open cases per cell (scope as the case list)."""
    scope, params = scope_sql(user)
    where = "TRUE"
    if bbox is not None:
        where = "g.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)"
        params = {**params, "w": bbox[0], "s": bbox[1], "e": bbox[2], "n": bbox[3]}
    rows = conn.execute(
        f"SELECT g.code, g.name, g.responsibility_grid_id, g.geometry, coalesce(o.n, 0) FROM grid_cells g "
        f"LEFT JOIN (SELECT c.grid_cell_code, count(*) AS n FROM cases c WHERE c.state = ANY(%(open)s) "
        f"AND {scope} GROUP BY 1) o ON o.grid_cell_code = g.code WHERE {where} ORDER BY g.code",
        {**params, "open": list(OPEN_STATES)}).fetchall()
    return collection([{"type": "Feature", "id": i, "geometry": geometry_out(geom, crs),
                        "properties": {"code": code, "name": name, "grid": grid, "open_cases": n}}
                       for i, (code, name, grid, geom, n) in enumerate(rows)])


def streets(conn: psycopg.Connection, crs: Crs) -> dict[str, Any]:
    """Road segments (patrol's table, migration 0004); empty until that table exists."""
    if conn.execute("SELECT to_regclass('road_segments')").fetchone()[0] is None:
        return collection([])
    rows = conn.execute("SELECT id, street_id, name, road_class, geometry, length_m FROM road_segments "
                        "ORDER BY id").fetchall()
    return collection([{"type": "Feature", "geometry": geometry_out(geom, crs),
                        "properties": {"id": str(sid), "street_id": street, "name": name, "road_class": cls,
                                       "length_m": length}}
                       for sid, street, name, cls, geom, length in rows])


def grids(conn: psycopg.Connection, crs: Crs) -> dict[str, Any]:
    """Responsibility grids as the union of their cells' outlines."""
    rows = conn.execute(
        "SELECT r.id, r.name, count(g.code), ST_AsGeoJSON(ST_Union(g.geom), 7) FROM responsibility_grids r "
        "JOIN grid_cells g ON g.responsibility_grid_id = r.id GROUP BY r.id, r.name ORDER BY r.id").fetchall()
    return collection([{"type": "Feature", "geometry": geometry_out(orjson.loads(geom), crs),
                        "properties": {"id": gid, "name": name, "cells": n}}
                       for gid, name, n, geom in rows if geom])


def tile_center_offset_m(z: int, x: int, y: int) -> tuple[float, float]:
    """GCJ-02 − WGS-84 at the tile's centre, in Web Mercator metres."""
    n = 2 ** z
    lon = (x + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    glon, glat = wgs84_to_gcj02(lon, lat)

    def merc(lo: float, la: float) -> tuple[float, float]:
        return lo * EARTH_M / 180.0, math.log(math.tan(math.pi / 4 + math.radians(la) / 2)) * EARTH_M / math.pi

    (x0, y0), (x1, y1) = merc(lon, lat), merc(float(glon), float(glat))
    return x1 - x0, y1 - y0


TileLayer = Literal["components", "cells", "streets"]
# One query per layer; each selects `geom` (Web Mercator) and the properties from the rows whose geometry
# touches `wide` (the tile with a margin), shifted back by the GCJ-02 offset.
_TILE_ROWS: dict[str, str] = {
    # Retired components keep their rows (migration 0018) but are no longer on the street.
    "components": "SELECT c.code, c.category_code AS category, coalesce(c.name, '') AS name, c.state, "
                  "coalesce(c.department_id, '') AS department, c.geom_3857 AS geom FROM components c "
                  "WHERE c.geom_3857 && %(wide)s AND c.retired_at IS NULL",
    "cells": "SELECT g.code, coalesce(g.name, '') AS name, coalesce(g.responsibility_grid_id, '') AS grid, "
             "g.geom_3857 AS geom FROM grid_cells g WHERE g.geom_3857 && %(wide)s",
    # A street's pieces joined back into one line and simplified to half a pixel of this zoom: the patrol's
    # segmentation (one row per ~50 m) is not drawn.
    "streets": "SELECT r.street_id, min(r.name) AS name, r.road_class, "
               "ST_Simplify(ST_LineMerge(ST_Collect(r.geom_3857)), %(tolerance)s, true) AS geom "
               "FROM road_segments r WHERE r.geom_3857 && %(wide)s GROUP BY r.street_id, r.road_class",
}
_TILE_SQL = ("WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env), "
             "rows AS ({rows}), "
             "mvt AS (SELECT rows.*, ST_AsMVTGeom(ST_Translate(rows.geom, %(dx)s, %(dy)s), b.env, 4096, 64, true) "
             "AS tile_geom FROM rows, bounds b) "
             "SELECT ST_AsMVT(mvt.*, %(layer)s, 4096, 'tile_geom') FROM (SELECT {columns}, tile_geom FROM mvt "
             "WHERE tile_geom IS NOT NULL) mvt")
_TILE_COLUMNS = {"components": "code, category, name, state, department", "cells": "code, name, grid",
                 "streets": "street_id, name, road_class"}
# Below this zoom a component is a dot of 1.5–3 px: its tile carries what colours it (its state) and not its code,
# name, category and department (a unique code per dot was most of a tile: 100,000 components in a city's view were
# 4.7 MB of tiles, 1.1 MB with category and state; every property is more for MapLibre's worker to decode before
# the first render). The console zooms in on a click there.
COMPONENT_DETAIL_ZOOM = 15
COMPONENT_MIN_ZOOM = 12  # below, a city's components would be one tile of dots under a pixel apart: none sent


def vector_tile(conn: psycopg.Connection, layer: TileLayer, z: int, x: int, y: int, crs: Crs) -> bytes:
    """One Mapbox Vector Tile (one layer, named as `layer`; extent 4096, buffer 64) of the current rows."""
    if layer == "components" and z < COMPONENT_MIN_ZOOM:
        return b""
    dx, dy = tile_center_offset_m(z, x, y) if crs == "gcj02" else (0.0, 0.0)
    world = 2 * EARTH_M / 2 ** z  # the tile's width in metres
    sql = _TILE_SQL.format(rows=_TILE_ROWS[layer].replace(
        "%(wide)s", "ST_Translate(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.02), -%(dx)s, -%(dy)s)"),
        columns="state" if layer == "components" and z < COMPONENT_DETAIL_ZOOM else _TILE_COLUMNS[layer])
    row = conn.execute(sql, {"z": z, "x": x, "y": y, "dx": dx, "dy": dy, "layer": layer,
                             "tolerance": world / 4096 * 4}).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def open_cases_by_cell(conn: psycopg.Connection, user: User) -> dict[str, int]:
    """The caller's open cases per cell (scope as the case list), cells without any left out."""
    scope, params = scope_sql(user)
    rows = conn.execute(f"SELECT c.grid_cell_code, count(*) FROM cases c WHERE c.state = ANY(%(open)s) AND {scope} "
                        f"AND c.grid_cell_code IS NOT NULL GROUP BY 1", {**params, "open": list(OPEN_STATES)})
    return dict(rows.fetchall())


_DEVICES_SQL = """
SELECT d.id, d.kind, d.enabled, d.component_code, d.grid_cell_code, greatest(d.last_seen_at, t.time) AS last_seen_at,
       coalesce(c.lon, ST_X(ST_PointOnSurface(g.geom))) AS lon, coalesce(c.lat, ST_Y(ST_PointOnSurface(g.geom))) AS lat,
       d.profile, EXISTS (SELECT 1 FROM (SELECT DISTINCT ON (a.alarm_id) a.action FROM alarms a
                          WHERE a.device_id = d.id ORDER BY a.alarm_id, a.time DESC) x WHERE x.action = 'raise')
       AS alarm
FROM devices d
LEFT JOIN components c ON c.code = d.component_code
LEFT JOIN grid_cells g ON g.code = coalesce(d.grid_cell_code, c.grid_cell_code)
LEFT JOIN LATERAL (SELECT time FROM telemetry WHERE device_id = d.id ORDER BY time DESC LIMIT 1) t ON true
WHERE d.kind NOT IN ('handheld', 'gps-tracker') AND coalesce(c.lon, ST_X(ST_PointOnSurface(g.geom))) IS NOT NULL
ORDER BY d.id
"""


def devices(conn: psycopg.Connection, profiles: dict[str, DeviceProfile], now: datetime, crs: Crs,
            ) -> dict[str, Any]:
    """Fixed devices at their component (else their cell) with status alarm | online | offline | disabled."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_DEVICES_SQL).fetchall()
    features = []
    for r in rows:
        profile = profiles.get(r["profile"])
        window = timedelta(seconds=profile.offline_after_s if profile else 900)
        online = bool(r["last_seen_at"] and now - r["last_seen_at"] <= window)
        status = ("disabled" if not r["enabled"] else "alarm" if r["alarm"] else "online" if online else "offline")
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": point_out(r["lon"], r["lat"],
                                                                                                   crs)},
                         "properties": {"id": r["id"], "kind": r["kind"], "status": status,
                                        "component_code": r["component_code"],
                                        "last_seen_at": r["last_seen_at"] and r["last_seen_at"].isoformat()}})
    return collection(features)


def inspectors(conn: psycopg.Connection, since: datetime, crs: Crs) -> dict[str, Any]:
    """The latest track point of each handheld/tracker (within `since`), with its inspector."""
    rows = conn.execute(
        "SELECT d.id, d.kind, u.id, coalesce(u.display_name, u.username), u.responsibility_grid_id, t.time, t.lon, "
        "t.lat, t.speed_mps FROM devices d LEFT JOIN users u ON u.id = d.inspector_user_id "
        "CROSS JOIN LATERAL (SELECT time, lon, lat, speed_mps FROM track_points p WHERE p.device_id = d.id "
        "AND p.time >= %s ORDER BY p.time DESC LIMIT 1) t WHERE d.kind IN ('handheld', 'gps-tracker') ORDER BY d.id",
        (since,)).fetchall()
    return collection([{"type": "Feature", "geometry": {"type": "Point", "coordinates": point_out(lon, lat, crs)},
                        "properties": {"device_id": dev, "kind": kind, "inspector_user_id": uid, "inspector": name,
                                       "grid": grid, "at": at.isoformat(), "speed_mps": speed}}
                       for dev, kind, uid, name, grid, at, lon, lat, speed in rows])
