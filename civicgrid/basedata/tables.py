"""A base-data file read into located rows: GeoJSON, CSV or Excel (.xlsx), coordinates converted to WGS 84.

Every row keeps where it came from (``feature 3``, ``row 7``, ``Sheet1!row 7``), so an error names the row and the
field. Sizes are bounded before anything is parsed (hostile input is the normal case, docs/security.md).

Coordinates:
- GeoJSON: the geometry's coordinates in the file's CRS, x first (easting or longitude);
- CSV and Excel: a point in ``lon``/``lat`` (经度/纬度) for a geographic CRS, ``easting``/``northing`` (东坐标/北坐标)
  for a projected one, or any geometry as WKT in ``wkt`` (a road segment's line). ``x``/``y`` are refused: in
  Chinese survey practice X is the northing, and a guess would put every point in the wrong place.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import shapely
import shapely.wkt
from openpyxl import load_workbook
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape

from civicgrid.basedata.crs import (
    WGS84,
    CityCrs,
    ConflictingCrs,
    OutsideArea,
    UnknownCrs,
    city_crs,
    declared_crs,
    file_crs,
    geometries_to_wgs84,
    outside_message,
)

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # an .xlsx is a zip: bounded before openpyxl inflates it
MAX_ROWS = 500_000
MAX_ERRORS = 50  # reported per import; the rest are counted
FORMATS = ("geojson", "csv", "xlsx")

# Column names a department's sheet may use, to the one name here (lower-cased, stripped).
ALIASES = {"经度": "lon", "longitude": "lon", "lng": "lon", "纬度": "lat", "latitude": "lat",
           "东坐标": "easting", "north": "northing", "east": "easting", "北坐标": "northing",
           "编码": "code", "部件编码": "code", "部件标识码": "code", "名称": "name", "部件名称": "name",
           "类别": "category_code", "小类": "category_code", "主管部门": "department_id", "权属单位": "owner",
           "养护单位": "maintainer", "状态": "state", "部件状态": "state", "数据来源": "data_source",
           "初始日期": "recorded_on", "单元网格": "grid_cell_code", "地址": "address", "类型": "kind",
           "起始门牌": "number_from", "终止门牌": "number_to", "单双号": "parity", "几何": "wkt", "geometry": "wkt",
           "变更时间": "changed_at", "道路": "road"}


@dataclass(frozen=True, slots=True)
class RowError:
    """One refused value: where (``row 7``), which field, what is wrong."""

    ref: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.ref}, {self.field}: {self.message}" if self.field else f"{self.ref}: {self.message}"

    def as_json(self) -> dict[str, str | None]:
        return {"row": self.ref, "field": self.field, "message": self.message}


class InvalidImport(ValueError):
    """The file is refused as a whole (nothing is written): every error found, up to MAX_ERRORS, and how many."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = errors[:MAX_ERRORS]
        self.total = total if total is not None else len(errors)
        more = f" (first {len(self.errors)} shown)" if self.total > len(self.errors) else ""
        super().__init__(f"{self.total} error(s){more}: " + "; ".join(str(e) for e in self.errors[:5]))


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the file: its reference, its other fields, its geometry in WGS 84 (GeoJSON dict) or None."""

    ref: str
    fields: dict[str, Any]
    geometry: dict[str, Any] | None


def format_of(name: str, declared: str | None = None) -> str:
    """The file's format from `declared` (geojson, csv, xlsx, or a media type) or its name's suffix."""
    hint = (declared or "").lower()
    for fmt, marks in (("geojson", ("geojson", "geo+json", "json")), ("csv", ("csv",)),
                       ("xlsx", ("xlsx", "spreadsheetml"))):
        if any(m in hint for m in marks):
            return fmt
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    found = {"geojson": "geojson", "json": "geojson", "csv": "csv", "xlsx": "xlsx"}.get(suffix)
    if found is None:
        raise InvalidImport([RowError(name, None, f"cannot tell the format: name the file .geojson, .csv or .xlsx "
                                                   f"(or say --format {'|'.join(FORMATS)})")])
    return found


def read_rows(data: bytes, fmt: str, crs: CityCrs | None, *, name: str = "file",
              given_as: str = "crs= says") -> tuple[CityCrs, Iterator[Row]]:
    """The CRS the file is read in and its rows with their geometry converted from it to WGS 84; InvalidImport for
    a file that cannot be read at all. The CRS is `crs`, or for GeoJSON the one its own ``crs`` member declares
    (`crs.file_crs`: both, and different, is refused naming both; neither: WGS 84). Errors of single rows are raised
    by the caller, which collects them (`collect`)."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidImport([RowError(name, None, f"{len(data)} bytes is over the limit of {MAX_FILE_BYTES}")])
    if fmt not in FORMATS:
        raise InvalidImport([RowError(name, None, f"format {fmt!r} is not one of {', '.join(FORMATS)}")])
    if fmt == "geojson":
        doc = _geojson_document(data, name)
        try:
            used = file_crs(declared_crs(doc), crs, name=name, given_as=given_as)
        except (ConflictingCrs, UnknownCrs) as exc:
            raise InvalidImport([RowError(name, "crs", str(exc))]) from None
        return used, _rows_in_wgs84(_geojson_rows(doc), used, name)
    used = crs if crs is not None else city_crs(WGS84)
    reader = _csv_rows if fmt == "csv" else _xlsx_rows
    return used, _rows_in_wgs84(reader(data, name, used), used, name)


def _rows_in_wgs84(raws: Iterator[Raw], crs: CityCrs, name: str) -> Iterator[Row]:
    batch: list[Raw] = []
    for n, raw in enumerate(raws):
        if n >= MAX_ROWS:
            raise InvalidImport([RowError(name, None, f"more than {MAX_ROWS} rows: split the file")])
        batch.append(raw)
        if len(batch) == _BATCH:
            yield from _in_wgs84(batch, crs)
            batch = []
    yield from _in_wgs84(batch, crs)


_BATCH = 10_000


def _in_wgs84(batch: list[Raw], crs: CityCrs) -> Iterator[Row]:
    """The rows with their geometry in WGS 84: the points of a batch in one call to PROJ (a call per point cost
    ~0.4 ms a row), other shapes one by one."""
    points = [i for i, (_, _, g) in enumerate(batch) if _is_point(g)]
    converted: dict[int, dict[str, Any] | None] = {}
    if points:
        coords = [(batch[i][2] or {})["coordinates"][:2] for i in points]
        xy = np.asarray(coords, dtype=np.float64)
        lonlat = crs.to_wgs84_array(xy)
        inside = crs.covers_array(lonlat)
        for k, i in enumerate(points):
            fields = batch[i][1]
            if inside[k]:
                converted[i] = {"type": "Point", "coordinates": (float(lonlat[k, 0]), float(lonlat[k, 1]))}
            else:
                fields["_error"] = ("geometry", outside_message(xy[k, 0], xy[k, 1], crs))
                converted[i] = None
    for i, (ref, fields, geometry) in enumerate(batch):
        if i in converted:
            yield Row(ref, fields, converted[i])
        else:
            yield Row(ref, fields, _converted(geometry, crs, fields) if geometry else None)


def _is_point(geometry: Any) -> bool:
    """A plain, finite 2-D GeoJSON point (anything else goes through shapely, which names what is wrong)."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return False
    c = geometry.get("coordinates")
    return (isinstance(c, list | tuple) and len(c) in (2, 3)
            and all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in c[:2]))


Raw = tuple[str, dict[str, Any], dict[str, Any] | None]


def _geojson_document(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidImport([RowError(name, None, f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"),
                                                                                             list):
        raise InvalidImport([RowError(name, None, "not a GeoJSON FeatureCollection")])
    return doc


def _geojson_rows(doc: dict[str, Any]) -> Iterator[Raw]:
    for n, feature in enumerate(doc["features"]):
        ref = f"feature {n}"
        if not isinstance(feature, dict):
            yield ref, {"_error": "not a GeoJSON Feature"}, None
            continue
        props = feature.get("properties") or {}
        fields = {_column(k): v for k, v in props.items()} if isinstance(props, dict) else {}
        geometry = feature.get("geometry")
        yield ref, fields, geometry or None


def _csv_rows(data: bytes, name: str, crs: CityCrs) -> Iterator[Raw]:
    text = None
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK unless told otherwise
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise InvalidImport([RowError(name, None, "not UTF-8 or GB18030 text")])
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InvalidImport([RowError(name, None, "empty: no header row")])
    yield from _table_rows(header, ((f"row {n}", r) for n, r in enumerate(reader, 2)), name, crs)


def _xlsx_rows(data: bytes, name: str, crs: CityCrs) -> Iterator[Raw]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unzipped = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise InvalidImport([RowError(name, None, "not an Excel workbook (.xlsx)")]) from None
    if unzipped > MAX_UNZIPPED_BYTES:
        raise InvalidImport([RowError(name, None, f"unzips to {unzipped} bytes, over {MAX_UNZIPPED_BYTES}")])
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InvalidImport([RowError(name, None, f"not a readable Excel workbook: {exc}")]) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise InvalidImport([RowError(name, None, f"sheet {sheet.title!r} is empty: no header row")])
    body = ((f"{sheet.title}!row {n}", ["" if v is None else v for v in r]) for n, r in enumerate(rows, 2))
    yield from _table_rows(["" if h is None else str(h) for h in header], body, name, crs)
    book.close()


def _column(header: str) -> str:
    key = str(header).strip().lower()
    return ALIASES.get(key, ALIASES.get(str(header).strip(), key))


def _table_rows(header: list[str], rows: Iterator[tuple[str, list[Any]]], name: str, crs: CityCrs) -> Iterator[Raw]:
    columns = [_column(h) for h in header]
    if {"x", "y"} & set(columns):
        raise InvalidImport([RowError(name, "x/y", "ambiguous columns: in Chinese survey practice X is the northing; "
                                                   "name them easting/northing (or lon/lat)")])
    for ref, values in rows:
        if not any(v not in ("", None) for v in values):
            continue  # blank line
        fields = {c: v for c, v in zip(columns, values, strict=False) if c and v not in ("", None)}
        geometry = _table_geometry(fields, crs)
        yield ref, fields, geometry


def _table_geometry(fields: dict[str, Any], crs: CityCrs) -> dict[str, Any] | None:
    if "wkt" in fields:
        try:
            geom = shapely.wkt.loads(str(fields.pop("wkt")))
        except ShapelyError as exc:
            fields["_error"] = ("wkt", f"not WKT: {exc}")
            return None
        return dict(mapping(geom))
    first, second = ("easting", "northing") if crs.projected else ("lon", "lat")
    other = ("lon", "lat") if crs.projected else ("easting", "northing")
    if first not in fields and second not in fields:
        if other[0] in fields or other[1] in fields:
            fields["_error"] = (other[0], f"{crs.code} is {'projected' if crs.projected else 'geographic'}: "
                                          f"give {first}/{second}, not {other[0]}/{other[1]} (or say the file's --crs)")
        return None
    try:
        x, y = float(fields.pop(first)), float(fields.pop(second))
    except KeyError as exc:
        fields["_error"] = (exc.args[0], "missing (both coordinates are needed)")
        return None
    except (TypeError, ValueError):
        fields["_error"] = (f"{first}/{second}", "not a number")
        return None
    return {"type": "Point", "coordinates": [x, y]}


def _converted(geometry: Any, crs: CityCrs, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The geometry in WGS 84, or None with `_error` set on the fields (shape, finite numbers, inside the CRS's area
    of use — a point far outside means the file is not in that CRS)."""
    try:
        geom = shape(geometry)
    except (ShapelyError, AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        fields["_error"] = ("geometry", f"not a GeoJSON geometry: {exc}")
        return None
    if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
        fields["_error"] = ("geometry", "empty, or a coordinate is not a finite number")
        return None
    try:
        (converted,) = geometries_to_wgs84([geom], crs)
    except OutsideArea as exc:
        fields["_error"] = ("geometry", str(exc))
        return None
    return dict(mapping(converted))
