"""/basedata: the component and address databases kept current (基础数据资源管理; docs/basedata.md).

Imports take the file as the request body — GeoJSON (``application/geo+json`` or ``application/json``), CSV
(``text/csv``) or Excel (the .xlsx media type) — in the CRS the query names (``crs=EPSG:4548``). The whole file is
checked first; a file with errors is answered 422 with each error's row and field, and nothing is written.
The base-data role is admin's (the roles of docs/domain.md have no other that maintains the registry).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.auth import require
from api.deps import Ctx, Db
from api.errors import ApiError
from api.schemas.basedata import ImportResult
from api.users import User
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
                     crs: CrsQuery = "EPSG:4326",
                     format: Annotated[Literal["geojson", "csv", "xlsx"] | None, Query(
                         description="default: from the media type")] = None,
                     name: Annotated[str, Query(max_length=200, description="the file's name, kept as the "
                                                                            "source")] = "upload",
                     reason: Annotated[str | None, Query(max_length=500)] = None) -> ImportResult:
    city = crs_of(crs)
    media, data = body
    try:
        fmt = format or format_of(name, media if media not in ("", "application/octet-stream") else None)
        change = Change(user.username, ctx.clock.now(), reason or f"import {name} ({crs})")
        result = import_file(db, kind, data, fmt, city, change, name=name, prefixes=ctx.settings.address_prefixes)
    except InvalidImport as exc:
        raise ApiError(422, "invalid-import", f"the file is refused, nothing was imported: {exc.total} error(s)",
                       errors=[e.as_json() for e in exc.errors]) from None
    return ImportResult(**result.as_json())

