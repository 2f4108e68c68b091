"""/map: what the operator console draws — the city's own cells and streets as the base map,
responsibility grids, components as vector tiles, devices with status, inspectors' positions.

There is no internet basemap. `api.console_tile_url` may name a Chinese provider's raster tiles
(drawn in GCJ-02); the console then asks for overlays with ``crs=gcj02`` and they are
converted here (civicgrid.domain.coords), once, on the server.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.auth import ANY_ROLE, require, require_or_handheld
from api.deps import Ctx, Db
from api.errors import ApiError
from api.queries import map as q
from api.users import User
from civicgrid.domain.case_state import Role
from civicgrid.profiles import load_profiles

router = APIRouter(prefix="/map", tags=["map"])
Anyone = Annotated[User, Depends(require(*ANY_ROLE))]
# The tiles are the base map of the handheld app's map pick too, read with the device's credentials (docs/handheld.md).
AnyoneOrHandheld = Annotated[User, Depends(require_or_handheld(*ANY_ROLE))]
Watchers = Annotated[User, Depends(require(Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER, Role.LEADER))]
CrsQ = Annotated[q.Crs, Query(description="wgs84 (default) or gcj02 (over a Chinese provider's tiles)")]
GZIP_MIN_BYTES = 1024
MVT: dict[int | str, dict[str, Any]] = {200: {"content": {"application/vnd.mapbox-vector-tile": {}}}}
GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/geo+json": {"example": {"type": "FeatureCollection", "features": []}}}}}


# How long a browser may reuse an answer before asking again (it then revalidates with the ETag: 304, no body).
# Cells and streets change with base-data imports only; components with the cases that set their state.
TILE_MAX_AGE = {"components": 60, "cells": 300, "streets": 300}
LAYER = "(components|cells|streets)"
LIVE = "no-store"  # open cases, devices, inspectors: always fresh


def _encoded(request: Request, body: bytes, media_type: str, cache_control: str) -> Response:
    """`body` with an ETag (304 when the browser already has it) and gzip when the client takes it.

    The console's first render waits for these answers: GeoJSON and tiles shrink 4–10× compressed. Compressed
    here rather than by a middleware so the feed's event stream and the static files (pre-compressed at build,
    api/static_console.py) are left alone."""
    headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if cache_control != LIVE:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        headers["ETag"] = etag
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=5, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


def _geojson(request: Request, data: dict[str, Any], cache_control: str = LIVE) -> Response:
    return _encoded(request, orjson.dumps(data), "application/geo+json", cache_control)


@router.get("/config", summary="Map settings: optional tile URL, overlay CRS, the city's bounds, time zone")
def config(ctx: Ctx, db: Db, user: Anyone) -> dict[str, Any]:
    tile_url = ctx.settings.api.console_tile_url
    return {"tile_url": tile_url, "overlay_crs": "gcj02" if tile_url else "wgs84", "bounds": q.bounds(db),
            "time_zone": "Asia/Shanghai"}


@router.get("/cells", summary="Unit grid cells (GeoJSON) with the caller's open cases per cell", responses=GEOJSON)
def cells(request: Request, db: Db, user: Anyone, crs: CrsQ = "wgs84",
          bbox: Annotated[str | None, Query(pattern=r"^-?[0-9]{1,3}(\.[0-9]{1,20})?(,-?[0-9]{1,3}(\.[0-9]{1,20})?){3}$",
                                            description="west,south,east,north (WGS-84)")] = None) -> Response:
    box = tuple(float(v) for v in bbox.split(",")) if bbox else None
    return _geojson(request, q.cells(db, user, crs, box))  # type: ignore[arg-type]


@router.get("/streets", summary="Road segments (GeoJSON LineStrings with road_class)", responses=GEOJSON)
def streets(request: Request, db: Db, user: Anyone, crs: CrsQ = "wgs84") -> Response:
    return _geojson(request, q.streets(db, crs), f"private, max-age={TILE_MAX_AGE['streets']}")


@router.get("/grids", summary="Responsibility grids (GeoJSON, the union of their cells)", responses=GEOJSON)
def grids(request: Request, db: Db, user: Anyone, crs: CrsQ = "wgs84") -> Response:
    return _geojson(request, q.grids(db, crs), f"private, max-age={TILE_MAX_AGE['cells']}")


@router.get("/open-cases", summary="The caller's open cases per cell code (cells without any left out)")
def open_cases(db: Db, user: Anyone) -> Response:
    return Response(orjson.dumps({"cells": q.open_cases_by_cell(db, user)}), media_type="application/json",
                    headers={"Cache-Control": LIVE})


@router.get("/tiles/{layers}/{z}/{x}/{y}.pbf", summary="Components, cells and/or streets as a Mapbox Vector Tile "
            "(one layer each, named as in the path)", responses=MVT)
def vector_tile(request: Request, db: Db, user: AnyoneOrHandheld,
                layers: Annotated[str, Path(pattern=f"^{LAYER}(,{LAYER}){{0,2}}$",
                                            description="one or more of components, cells, streets, comma-separated "
                                                        "(the console asks for all three in one request per tile)")],
                z: Annotated[int, Path(ge=0, le=22)], x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)],
                crs: CrsQ = "wgs84") -> Response:
    if x >= 2 ** z or y >= 2 ** z:
        raise ApiError(422, "bad-tile", f"tile {z}/{x}/{y} lies outside the world")
    names: list[q.TileLayer] = list(dict.fromkeys(layers.split(",")))  # type: ignore[arg-type]  # the pattern's
    # A tile is a list of layers: tiles of one layer each, concatenated, are one tile with all of them.
    body = b"".join(q.vector_tile(db, name, z, x, y, crs) for name in names)
    return _encoded(request, body, "application/vnd.mapbox-vector-tile",
                    f"private, max-age={min(TILE_MAX_AGE[name] for name in names)}")


@router.get("/devices", summary="Fixed devices with status (alarm, online, offline, disabled)", responses=GEOJSON)
def devices(request: Request, ctx: Ctx, db: Db, user: Watchers, crs: CrsQ = "wgs84") -> Response:
    return _geojson(request, q.devices(db, load_profiles(ctx.settings.profiles_dir), datetime.now(UTC), crs))


@router.get("/inspectors", summary="Inspectors' live positions: the latest track point per handheld/tracker",
            responses=GEOJSON)
def inspectors(request: Request, db: Db, user: Watchers, crs: CrsQ = "wgs84",
               within_s: Annotated[int, Query(ge=60, le=7 * 86400)] = 3600) -> Response:
    return _geojson(request, q.inspectors(db, datetime.now(UTC) - timedelta(seconds=within_s), crs))
