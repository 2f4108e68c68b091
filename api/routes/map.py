"""/map: what the operator console draws — the city's own cells and streets as the base map,
responsibility grids, components as vector tiles, devices with status, inspectors' positions.

There is no internet basemap. `api.console_tile_url` may name a Chinese provider's raster tiles
(drawn in GCJ-02); the console then asks for overlays with ``crs=gcj02`` and they are
converted here (civicgrid.domain.coords), once, on the server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.auth import ANY_ROLE, require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.queries import map as q
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.profiles import load_profiles

router = APIRouter(prefix="/map", tags=["map"])
Anyone = Annotated[User, Depends(require(*ANY_ROLE))]
Watchers = Annotated[User, Depends(require(Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER))]
CrsQ = Annotated[q.Crs, Query(description="wgs84 (default) or gcj02 (over a Chinese provider's tiles)")]
GEOJSON = {200: {"content": {"application/geo+json": {"example": {"type": "FeatureCollection", "features": []}}}}}


def _geojson(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/geo+json", headers={"Cache-Control": "no-store"})


@router.get("/config", summary="Map settings: optional tile URL, overlay CRS, the city's bounds, time zone")
def config(ctx: Ctx, db: Db, user: Anyone) -> dict[str, Any]:
    tile_url = ctx.settings.api.console_tile_url
    return {"tile_url": tile_url, "overlay_crs": "gcj02" if tile_url else "wgs84", "bounds": q.bounds(db),
            "time_zone": "Asia/Shanghai"}


@router.get("/cells", summary="Unit grid cells (GeoJSON) with the caller's open cases per cell", responses=GEOJSON)
def cells(db: Db, user: Anyone, crs: CrsQ = "wgs84",
          bbox: Annotated[str | None, Query(pattern=r"^-?[0-9]{1,3}(\.[0-9]{1,20})?(,-?[0-9]{1,3}(\.[0-9]{1,20})?){3}$",
                                            description="west,south,east,north (WGS-84)")] = None) -> Response:
    box = tuple(float(v) for v in bbox.split(",")) if bbox else None
    return _geojson(q.cells(db, user, crs, box))  # type: ignore[arg-type]


@router.get("/streets", summary="Road segments (GeoJSON LineStrings with road_class)", responses=GEOJSON)
def streets(db: Db, user: Anyone, crs: CrsQ = "wgs84") -> Response:
    return _geojson(q.streets(db, crs))


@router.get("/grids", summary="Responsibility grids (GeoJSON, the union of their cells)", responses=GEOJSON)
def grids(db: Db, user: Anyone, crs: CrsQ = "wgs84") -> Response:
    return _geojson(q.grids(db, crs))


@router.get("/tiles/components/{z}/{x}/{y}.pbf", summary="Components as a Mapbox Vector Tile (layer `components`)",
            responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}}})
def component_tile(db: Db, user: Anyone, z: Annotated[int, Path(ge=0, le=22)], x: Annotated[int, Path(ge=0)],
                   y: Annotated[int, Path(ge=0)], crs: CrsQ = "wgs84") -> Response:
    if x >= 2 ** z or y >= 2 ** z:
        raise ApiError(422, "bad-tile", f"tile {z}/{x}/{y} lies outside the world")
    return Response(q.component_tile(db, z, x, y, crs), media_type="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "private, max-age=60"})


@router.get("/devices", summary="Fixed devices with status (alarm, online, offline, disabled)", responses=GEOJSON)
def devices(ctx: Ctx, db: Db, user: Watchers, crs: CrsQ = "wgs84") -> Response:
    return _geojson(q.devices(db, load_profiles(ctx.settings.profiles_dir), datetime.now(UTC), crs))


@router.get("/inspectors", summary="Inspectors' live positions: the latest track point per handheld/tracker",
            responses=GEOJSON)
def inspectors(db: Db, user: Watchers, crs: CrsQ = "wgs84",
               within_s: Annotated[int, Query(ge=60, le=7 * 86400)] = 3600) -> Response:
    return _geojson(q.inspectors(db, datetime.now(UTC) - timedelta(seconds=within_s), crs))
