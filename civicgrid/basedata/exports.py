"""Exports of the component and address databases for the departments that ask for them (docs/basedata.md):
GeoJSON or Excel, in the CRS they work in.

The Excel sheet uses the column names the import reads (部件编码, 东坐标 …; civicgrid/basedata/tables.py), so an
export edited and sent back imports as it is: each attribute of a component is a column of its own, and a road
segment's line is WKT in 几何. GeoJSON in WGS 84 is RFC 7946; in another CRS it carries the legacy ``crs`` member
(``urn:ogc:def:crs:EPSG::4548``) that GDAL and QGIS read, coordinates easting (or longitude) first.
"""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
import psycopg
import shapely
from openpyxl import Workbook
from psycopg.rows import dict_row
from shapely.geometry import mapping, shape

from civicgrid.basedata.crs import CityCrs
from civicgrid.basedata.state_rule import ZH

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GEOJSON = "application/geo+json"
_COMPONENT_COLUMNS = [("code", "部件编码"), ("name", "部件名称"), ("category_code", "类别"),
                      ("department_id", "主管部门"), ("owner", "权属单位"), ("maintainer", "养护单位"),
                      ("grid_cell_code", "单元网格"), ("state", "状态"), ("data_source", "数据来源"),
                      ("recorded_on", "初始日期")]
KIND_ZH = {"components": "部件", "addresses": "地址"}


def _round(crs: CityCrs) -> int:
    return 3 if crs.projected else 8  # millimetres, or about a millimetre in degrees


def _project(geometry: dict[str, Any], crs: CityCrs) -> dict[str, Any]:
    if crs.code == "EPSG:4326":
        return geometry
    digits = _round(crs)
    return dict(mapping(shapely.transform(shape(geometry), lambda xy: np.round(crs.from_wgs84_array(xy), digits))))


def components(conn: psycopg.Connection, *, include_retired: bool = False) -> Iterator[dict[str, Any]]:
    where = "" if include_retired else "WHERE retired_at IS NULL"
    with conn.cursor(row_factory=dict_row) as cur:
        yield from cur.execute(f"SELECT code, name, category_code, department_id, owner, maintainer, grid_cell_code, "
                               f"state, data_source, recorded_on, lon, lat, attributes, changed_at, retired_at "
                               f"FROM components {where} ORDER BY code")


def addresses(conn: psycopg.Connection) -> Iterator[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        yield from cur.execute("SELECT id, kind, address, road, number_from, number_to, parity, "
                               "ST_AsGeoJSON(geom, 9) AS geojson FROM addresses ORDER BY id")


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def geojson(kind: str, rows: Iterator[dict[str, Any]], crs: CityCrs) -> bytes:
    """A FeatureCollection in `crs` (RFC 7946 in WGS 84; with the legacy `crs` member otherwise)."""
    features = []
    for row in rows:
        if kind == "components":
            props = {k: _jsonable(row[k]) for k, _ in _COMPONENT_COLUMNS}
            props.update({"changed_at": _jsonable(row["changed_at"]), "retired_at": _jsonable(row["retired_at"]),
                          **(row["attributes"] or {})})
            geometry = None if row["lon"] is None else {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        else:
            props = {k: row[k] for k in ("kind", "address", "road", "number_from", "number_to", "parity")}
            geometry = orjson.loads(row["geojson"])
        features.append({"type": "Feature", "id": props.get("code", row.get("id")),
                         "geometry": None if geometry is None else _project(geometry, crs), "properties": props})
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs.code != "EPSG:4326":
        authority, number = crs.code.split(":")
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:{authority}::{number}"}}
    return orjson.dumps(doc)


def workbook(kind: str, rows: Iterator[dict[str, Any]], crs: CityCrs, now: datetime) -> bytes:
    """One sheet of rows with the import's column names, and a sheet saying the CRS and when."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(KIND_ZH[kind])
    xy = ("东坐标", "北坐标") if crs.projected else ("经度", "纬度")
    digits = _round(crs)
    data = list(rows)
    if kind == "components":
        extra = sorted({k for r in data for k in (r["attributes"] or {})} - {h for _, h in _COMPONENT_COLUMNS})
        sheet.append([h for _, h in _COMPONENT_COLUMNS] + list(xy) + ["变更时间"] + extra)
        for r in data:
            x, y = crs.from_wgs84(r["lon"], r["lat"]) if r["lon"] is not None else (None, None)
            values = [ZH.get(r[k], r[k]) if k == "state" else r[k] for k, _ in _COMPONENT_COLUMNS]
            attrs = r["attributes"] or {}
            changed = r["changed_at"].replace(tzinfo=None) if r["changed_at"] else None
            sheet.append(values + [None if x is None else round(x, digits), None if y is None else round(y, digits),
                                   changed] + [_cell(attrs.get(k)) for k in extra])
    else:
        sheet.append(["类型", "地址", "道路", *xy, "几何", "起始门牌", "终止门牌", "单双号"])
        for r in data:
            geometry = _project(orjson.loads(r["geojson"]), crs)
            point = geometry["type"] == "Point"
            x, y = geometry["coordinates"] if point else (None, None)
            wkt = None if point else shapely.to_wkt(shape(geometry), rounding_precision=digits)
            sheet.append([r["kind"], r["address"], r["road"], x, y, wkt, r["number_from"], r["number_to"],
                          r["parity"]])
    about = book.create_sheet("说明")
    about.append(["坐标系 CRS", crs.code, crs.name])
    about.append(["导出时间 exported", now.replace(tzinfo=None).isoformat(timespec="seconds")])
    about.append(["行数 rows", len(data)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else orjson.dumps(value).decode()


def export(conn: psycopg.Connection, kind: str, fmt: str, crs: CityCrs, now: datetime, *,
           include_retired: bool = False) -> bytes:
    """The `kind` database (components, addresses) as `fmt` (geojson, xlsx) in `crs`."""
    if kind not in KIND_ZH:
        raise ValueError(f"unknown kind {kind!r}: components or addresses")
    rows = components(conn, include_retired=include_retired) if kind == "components" else addresses(conn)
    if fmt == "geojson":
        return geojson(kind, rows, crs)
    if fmt == "xlsx":
        return workbook(kind, rows, crs, now)
    raise ValueError(f"unknown format {fmt!r}: geojson or xlsx")


def file_name(kind: str, fmt: str, crs: CityCrs, on: date) -> str:
    """An attachment's Content-Disposition: 部件-EPSG4548-20261206.xlsx, with an ASCII name for old clients."""
    tag = crs.code.replace(":", "")
    chinese = f"{KIND_ZH[kind]}-{tag}-{on:%Y%m%d}.{fmt}"
    return (f"attachment; filename=\"{kind}-{tag}-{on:%Y%m%d}.{fmt}\"; "
            f"filename*=UTF-8''{urllib.parse.quote(chinese, safe='')}")
