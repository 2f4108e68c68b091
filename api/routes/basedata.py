"""/basedata: the component and address databases kept current (基础数据资源管理; docs/basedata.md).

Imports take the file as the request body — GeoJSON (``application/geo+json`` or ``application/json``), CSV
(``text/csv``) or Excel (the .xlsx media type) — in the CRS the query names (``crs=EPSG:4548``) or a GeoJSON
file's own ``crs`` member declares (both, and different: refused, naming both). The whole file is
checked first; a file with errors is answered 422 with each error's row and field, and nothing is written.
The base-data role is admin's (the roles of docs/domain.md have no other that maintains the registry).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError, not_found
from api.schemas.basedata import (
    ComponentCreate,
    ComponentList,
    ComponentMove,
    ComponentPublic,
    ComponentRetire,
    ComponentUpdate,
    HistoryItem,
    HistoryList,
    ImportResult,
    Point,
)
from api.users import User
from civicgrid.basedata import exports, registry
from civicgrid.basedata.crs import CityCrs, UnknownCrs, city_crs
from civicgrid.basedata.imports import import_file
from civicgrid.basedata.registry import Change
from civicgrid.basedata.tables import InvalidImport, format_of
from civicgrid.domain.case_state import Role

router = APIRouter(prefix="/basedata", tags=["basedata"])
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Kind = Literal["components", "addresses"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CrsQuery = Annotated[str, Query(max_length=40, description="the file's CRS: EPSG:4326, EPSG:4490, EPSG:4548 …")]


def crs_of(code: str) -> CityCrs:
    try:
        return city_crs(code)
    except UnknownCrs as exc:
        raise ApiError(422, "unknown-crs", str(exc)) from None


async def _body(request: Request) -> tuple[str, bytes]:
    """The body and its media type (read here, bounded by api/body_limit.py; parsed in the route's thread)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower(), await request.body()


_IMPORT_BODY = {"required": True, "content": {
    "application/geo+json": {"schema": {"type": "object"}},
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}}}}


@router.post("/{kind}/import", summary="Import components or addresses from GeoJSON, CSV or Excel, in the file's CRS",
             openapi_extra={"requestBody": _IMPORT_BODY},
             responses={422: {"description": "refused, nothing written: `errors` lists each row and field"}})
def import_base_data(kind: Kind, ctx: Ctx, db: Db, user: Admin, body: Annotated[tuple[str, bytes], Depends(_body)],
                     crs: Annotated[str | None, Query(max_length=40, description=(
                         "the file's CRS: EPSG:4326, EPSG:4490, EPSG:4548 …; default: the one a GeoJSON file's "
                         "own crs member names (a different one here is refused), else EPSG:4326"))] = None,
                     format: Annotated[Literal["geojson", "csv", "xlsx"] | None, Query(
                         description="default: from the media type")] = None,
                     name: Annotated[str, Query(max_length=200, description="the file's name, kept as the "
                                                                            "source")] = "upload",
                     reason: Annotated[str | None, Query(max_length=500)] = None) -> ImportResult:
    city = crs_of(crs) if crs is not None else None
    media, data = body
    try:
        fmt = format or format_of(name, media if media not in ("", "application/octet-stream") else None)
        change = Change(user.username, ctx.clock.now(), reason or f"import {name}" + (f" ({crs})" if crs else ""))
        result = import_file(db, kind, data, fmt, city, change, name=name, prefixes=ctx.settings.address_prefixes)
    except InvalidImport as exc:
        raise ApiError(422, "invalid-import", f"the file is refused, nothing was imported: {exc.total} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
    return ImportResult(**result.as_json())



# ------------------------------------------------------------------ the component registry
Readers = Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.LEADER))]
_REFUSED = {422: {"description": "refused: `field` says which"}, 404: {"description": "no such component"}}


@contextmanager
def _registry_errors() -> Iterator[None]:
    """The registry's refusals as HTTP, here (they are this router's only)."""
    try:
        yield
    except registry.ComponentRefused as exc:
        raise ApiError(422, "component-refused", str(exc), field=exc.field) from None
    except registry.ComponentNotFound as exc:
        raise not_found("component", exc.code) from None
    except registry.ComponentExists as exc:
        raise ApiError(409, "component-exists", str(exc)) from None


def _wgs84(point: Point) -> tuple[float, float]:
    """The body's point in WGS 84 (lon/lat as given, or converted from its CRS)."""
    city = crs_of(point.crs)
    if point.easting is not None and point.northing is not None:
        x, y = point.easting, point.northing
    elif point.lon is not None and point.lat is not None:
        x, y = point.lon, point.lat
    else:
        raise ApiError(422, "component-refused", "give the point: lon and lat, or easting and northing with crs",
                       field="lon/lat")
    lon, lat = city.to_wgs84(x, y) if city.code != "EPSG:4326" else (x, y)
    if not city.covers(lon, lat):
        raise ApiError(422, "component-refused", f"({x}, {y}) is outside {city.code}'s area ({city.name})",
                       field="lon/lat")
    return lon, lat


def _public(row: dict[str, Any]) -> ComponentPublic:
    return ComponentPublic(**{**row, "state_case_id": None if row.get("state_case_id") is None
                              else str(row["state_case_id"])})


@router.get("/components", summary="Find components by code or name, cell, state (current ones unless asked)")
def list_components(db: Db, user: Readers,
                    q: Annotated[str | None, Query(max_length=100, description="code prefix or part of the "
                                                                                "name")] = None,
                    cell_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
                    state: Annotated[Literal["intact", "damaged", "missing", "occupied"] | None, Query()] = None,
                    include_retired: bool = False,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ComponentList:
    rows, total = registry.find(db, q, cell_prefix, state, include_retired, limit)
    return ComponentList(items=[_public(r) for r in rows], total=total)


@router.get("/components/{code}", summary="One component", responses=_REFUSED)
def get_component(code: str, db: Db, user: Readers) -> ComponentPublic:
    row = registry.snapshot(db, code)
    if row is None:
        raise not_found("component", code)
    return _public(row)


@router.get("/components/{code}/history", summary="A component's changes, newest first: who, when, why, "
                                                   "before and after", responses=_REFUSED)
def component_history(code: str, db: Db, user: Readers) -> HistoryList:
    if registry.snapshot(db, code) is None:
        raise not_found("component", code)
    return HistoryList(code=code, items=[HistoryItem(**r) for r in registry.history(db, code)])


@router.post("/components", status_code=201, summary="Add a component", responses={
    **_REFUSED, 409: {"description": "the code exists already"}})
def add_component(body: ComponentCreate, ctx: Ctx, db: Db, user: Admin) -> ComponentPublic:
    lon, lat = _wgs84(body)
    with _registry_errors():
        return _public(registry.add(db, body.code, lon, lat, body.given(),
                                    Change(user.username, ctx.clock.now(), body.reason)))


@router.patch("/components/{code}", summary="Edit a component's attributes (state, name, departments …)",
              responses=_REFUSED)
def edit_component(code: str, body: ComponentUpdate, ctx: Ctx, db: Db, user: Admin) -> ComponentPublic:
    with _registry_errors():
        return _public(registry.edit(db, code, body.given(), Change(user.username, ctx.clock.now(), body.reason)))


@router.post("/components/{code}/move", summary="Move a component to a new point (its cell follows)",
             responses=_REFUSED)
def move_component(code: str, body: ComponentMove, ctx: Ctx, db: Db, user: Admin) -> ComponentPublic:
    lon, lat = _wgs84(body)
    with _registry_errors():
        return _public(registry.move(db, code, lon, lat, Change(user.username, ctx.clock.now(), body.reason),
                                     grid_cell_code=body.grid_cell_code))


@router.post("/components/{code}/retire", summary="Retire a component (kept with its history, no longer current)",
             responses=_REFUSED)
def retire_component(code: str, body: ComponentRetire, ctx: Ctx, db: Db, user: Admin) -> ComponentPublic:
    with _registry_errors():
        return _public(registry.retire(db, code, Change(user.username, ctx.clock.now(), body.reason)))


# ------------------------------------------------------------------ exports
Exporters = Annotated[User, Depends(require(Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.LEADER,
                                            Role.DEPARTMENT))]


@router.get("/export/{kind}.{fmt}", summary="The component or address database as GeoJSON or Excel, in a CRS",
            response_class=Response, responses={200: {"content": {
                exports.GEOJSON: {"schema": {"type": "object"}},
                exports.XLSX: {"schema": {"type": "string", "format": "binary"}}},
                "description": "an attachment (部件-EPSG4548-20261206.xlsx); the workbook's columns are the ones an "
                               "import reads"}})
def export_base_data(kind: Kind, fmt: Literal["geojson", "xlsx"], ctx: Ctx, db: Db, user: Exporters,
                     crs: CrsQuery = "EPSG:4326", include_retired: bool = False) -> Response:
    city = crs_of(crs)
    now = ctx.clock.now()
    data = exports.export(db, kind, fmt, city, now, include_retired=include_retired)
    return Response(data, media_type=exports.GEOJSON if fmt == "geojson" else exports.XLSX,
                    headers={"Content-Disposition": exports.file_name(kind, fmt, city, now.date())})
