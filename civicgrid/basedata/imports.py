"""Imports of the component and address databases from GeoJSON, CSV or Excel in the city's CRS (docs/basedata.md).

An import is all or nothing: every row is checked first, and a file with any error is refused with each error at
its row and field (``row 7, state: 'broken' is not one of …``); nothing is written. Then, in one transaction,
components are added or updated by their code — each change one history row (action ``import``, the file as the
reason) — and addresses are added (the same kind, text and point again is kept once; civicgrid/store/addresses.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from shapely.geometry import shape

from civicgrid.basedata import registry
from civicgrid.basedata.crs import CityCrs
from civicgrid.basedata.tables import InvalidImport, Row, RowError, read_rows
from civicgrid.domain.components import InvalidComponentId, parse_component_id
from civicgrid.store.addresses import KINDS, AddressEntry, import_addresses

# Columns an export writes that are the registry's own bookkeeping, not attributes, when a file comes back.
_NOT_ATTRIBUTES = ("lon", "lat", "changed_at", "retired_at", "state_case_id")
SAME_POINT_M = 0.01
_CHUNK = 1000  # components per pipelined batch (and per progress line)
Progress = Callable[[str, int, int], None]  # stage, done, total
_COMPONENT_FIELDS = ("code", "category_code", "name", "department_id", "owner", "maintainer", "state", "data_source",
                     "recorded_on", "grid_cell_code")


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    rows: int
    added: int
    updated: int
    unchanged: int
    crs: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "crs": self.crs}


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def import_file(conn: psycopg.Connection, kind: str, data: bytes, fmt: str, crs: CityCrs | None,
                change: registry.Change, *, name: str = "file", prefixes: Sequence[str] = (),
                progress: Progress = _quiet, crs_given_as: str = "crs= says") -> ImportResult:
    """Read, check and import a file of `kind` (components or addresses); InvalidImport lists every error. `crs`
    None: the CRS a GeoJSON file declares, else WGS 84 (`tables.read_rows`); the result says which was used."""
    crs, read = read_rows(data, fmt, crs, name=name, given_as=crs_given_as)
    rows = list(read)
    progress("read", len(rows), len(rows))
    if kind == "components":
        return _components(conn, rows, crs, change, progress)
    if kind == "addresses":
        return _addresses(conn, rows, crs, name, prefixes, progress)
    raise InvalidImport([RowError(name, None, f"unknown kind {kind!r}: components or addresses")])


def _row_error(row: Row) -> RowError | None:
    err = row.fields.get("_error")
    return RowError(row.ref, err[0], err[1]) if err else None


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _component(row: Row, departments: set[str], cells: set[str]) -> tuple[dict[str, Any], list[RowError]]:
    """A row as the registry's fields, or its errors."""
    errors: list[RowError] = []
    err = _row_error(row)
    if err:
        errors.append(err)
    f = {k: v for k, v in row.fields.items() if k != "_error"}
    code = str(f.get("code", "")).strip()
    if code.endswith(".0") and code[:-2].isdigit():  # Excel stores a 16-digit code typed as a number
        code = code[:-2]
    try:
        parse_component_id(code)
    except InvalidComponentId as exc:
        errors.append(RowError(row.ref, "code", str(exc) if code else "missing (16 digits)"))
    if row.geometry is None and not err:
        errors.append(RowError(row.ref, "geometry", "missing: the component's point (lon/lat, easting/northing, "
                                                    "a GeoJSON geometry or wkt)"))
    values: dict[str, Any] = {"code": code}
    for k in _COMPONENT_FIELDS[1:]:
        if f.get(k) not in (None, ""):
            values[k] = f[k] if isinstance(f[k], date) else str(f[k]).strip()
    if "recorded_on" in values:
        try:
            values["recorded_on"] = _date(values["recorded_on"])
        except ValueError:
            errors.append(RowError(row.ref, "recorded_on", f"{values['recorded_on']!r} is not a date (YYYY-MM-DD)"))
    try:
        checked = registry.checked_values({k: v for k, v in values.items() if k in registry.EDITABLE})
        values.update(checked)
    except registry.ComponentRefused as exc:
        errors.append(RowError(row.ref, exc.field, exc.message))
    if values.get("department_id") and values["department_id"] not in departments:
        errors.append(RowError(row.ref, "department_id", f"no department {values['department_id']!r}"))
    if values.get("grid_cell_code") and values["grid_cell_code"] not in cells:
        errors.append(RowError(row.ref, "grid_cell_code", f"no unit grid cell {values['grid_cell_code']!r}"))
    if row.geometry is not None:
        geom = shape(row.geometry)
        point = geom.representative_point() if geom.geom_type != "Point" else geom
        values["lon"], values["lat"] = float(point.coords[0][0]), float(point.coords[0][1])
    values["attributes"] = {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
                            for k, v in f.items() if k not in _COMPONENT_FIELDS and k not in _NOT_ATTRIBUTES}
    return values, errors


def _components(conn: psycopg.Connection, rows: list[Row], crs: CityCrs, change: registry.Change,
                progress: Progress) -> ImportResult:
    departments = {r[0] for r in conn.execute("SELECT id FROM departments").fetchall()}
    cells = {r[0] for r in conn.execute("SELECT code FROM grid_cells").fetchall()}
    checked: list[tuple[str, dict[str, Any]]] = []
    errors: list[RowError] = []
    seen: dict[str, str] = {}
    for row in rows:
        values, row_errors = _component(row, departments, cells)
        if values["code"] in seen and not row_errors:
            row_errors.append(RowError(row.ref, "code", f"{values['code']} again (first at {seen[values['code']]})"))
        seen.setdefault(values["code"], row.ref)
        errors.extend(row_errors)
        checked.append((row.ref, values))
    if errors:
        raise InvalidImport(errors)
    added = updated = unchanged = 0
    history: list[tuple[Any, ...]] = []
    with conn.transaction():
        existing = {r["code"]: r for r in _snapshots(conn, [v["code"] for _, v in checked])}
        for ref, values in checked:
            before = existing.get(values["code"])
            if before is not None and before["retired_at"] is not None:
                raise InvalidImport([RowError(ref, "code", f"component {values['code']} is retired; it takes no more "
                                                           f"changes (give the new object a new code)")])
            if before is not None and _same_point(before, values):
                values["lon"], values["lat"] = before["lon"], before["lat"]
        for start in range(0, len(checked), _CHUNK):
            chunk = [values for _, values in checked[start:start + _CHUNK]]
            for values, after in zip(chunk, _upsert_many(conn, chunk, existing, change.at), strict=True):
                before = existing.get(values["code"])
                old, new = registry.diff(before, after)
                if new:
                    added, updated = (added + 1, updated) if before is None else (added, updated + 1)
                    history.append((values["code"], change.at, change.actor, "add" if before is None else "import",
                                    change.reason, None if old is None else Jsonb(old), Jsonb(new)))
                else:
                    unchanged += 1
            progress("components", start + len(chunk), len(checked))
        with conn.cursor() as cur:  # one history row per changed component, sent in a pipeline
            cur.executemany("INSERT INTO component_history (component_code, at, actor, action, reason, before, after) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s)", history)
    return ImportResult("components", len(rows), added, updated, unchanged, crs.code)


def _same_point(before: dict[str, Any], values: dict[str, Any]) -> bool:
    """Within a centimetre: a point that went out to a projected CRS and came back (rounded to millimetres) is
    where it was, not a move for the history."""
    if before["lon"] is None or before["lat"] is None:
        return False
    dx = (values["lon"] - before["lon"]) * 111_320.0 * math.cos(math.radians(before["lat"]))
    dy = (values["lat"] - before["lat"]) * 110_574.0
    return math.hypot(dx, dy) < SAME_POINT_M


def _snapshots(conn: psycopg.Connection, codes: list[str]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT code, {', '.join(registry.FIELDS)} FROM components WHERE code = ANY(%s) FOR UPDATE",
                           (codes,)).fetchall()


def _upsert_many(conn: psycopg.Connection, chunk: list[dict[str, Any]], existing: dict[str, dict[str, Any]],
                 at: datetime) -> list[dict[str, Any]]:
    """Each component of `chunk` inserted or updated; the rows as they are now, in the chunk's order. Rows with the
    same statement (a CSV's rows all have the same columns) go in one pipelined executemany with RETURNING: a round
    trip per row cost about 1 ms."""
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, values in enumerate(chunk):
        sql, params = _upsert(values, existing.get(values["code"]), at)
        groups.setdefault(sql, []).append((i, params))
    out: list[dict[str, Any] | None] = [None] * len(chunk)
    with conn.cursor(row_factory=dict_row) as cur:
        for sql, members in groups.items():
            cur.executemany(sql, [params for _, params in members], returning=True)
            for i, _ in members:
                out[i] = cur.fetchone()
                cur.nextset()
    assert all(r is not None for r in out)
    return out  # type: ignore[return-value]


def _upsert(values: dict[str, Any], before: dict[str, Any] | None, at: datetime) -> tuple[str, dict[str, Any]]:
    """The statement that inserts a new component, or updates the fields the file gives (a column the file leaves
    out is kept), returning the row as it is then; and its parameters."""
    returning = f" RETURNING code, {', '.join(registry.FIELDS)}, state_case_id"
    given = [k for k in _COMPONENT_FIELDS[1:] if k in values]
    params = {**values, "at": at}
    if before is None:
        params.setdefault("category_code", f"C{values['code'][6:10]}")
        cols = sorted(set(given) | {"category_code"} - {"grid_cell_code"})
        cell = "%(grid_cell_code)s" if "grid_cell_code" in values else registry.CELL_AT
        return (f"INSERT INTO components (code, lon, lat, grid_cell_code, attributes, changed_at, "
                f"{', '.join(cols)}) VALUES (%(code)s, %(lon)s, %(lat)s, {cell}, %(attrs)s, %(at)s, "
                f"{', '.join(f'%({c})s' for c in cols)}){returning}", {**params, "attrs": Jsonb(values["attributes"])})
    moved = (before["lon"], before["lat"]) != (values["lon"], values["lat"])
    sets = [f"{c} = %({c})s" for c in given if c != "grid_cell_code"]
    if "grid_cell_code" in values:
        sets.append("grid_cell_code = %(grid_cell_code)s")
    elif moved:
        sets.append(f"grid_cell_code = {registry.CELL_AT}")
    sets += ["lon = %(lon)s", "lat = %(lat)s", "attributes = attributes || %(attrs)s"]
    if "state" in values:
        sets.append("state_case_id = NULL")
    changed = "changed_at = CASE WHEN (lon, lat) IS DISTINCT FROM (%(lon)s, %(lat)s) THEN %(at)s ELSE changed_at END"
    return (f"UPDATE components SET {changed}, {', '.join(sets)} WHERE code = %(code)s{returning}",
            {**params, "attrs": Jsonb(values["attributes"])})


def _addresses(conn: psycopg.Connection, rows: list[Row], crs: CityCrs, name: str, prefixes: Sequence[str],
               progress: Progress) -> ImportResult:
    entries, errors = [], []
    for row in rows:
        err = _row_error(row)
        if err:
            errors.append(err)
            continue
        f = row.fields
        kind = str(f.get("kind") or "door_plate").strip()
        text = str(f.get("address") or f.get("name") or "").strip()
        if kind not in KINDS:
            errors.append(RowError(row.ref, "kind", f"{kind!r} is not one of {', '.join(KINDS)}"))
        if not text:
            errors.append(RowError(row.ref, "address", "missing: the address as it is written"))
        if row.geometry is None:
            errors.append(RowError(row.ref, "geometry", "missing: a point (a road segment: a line, as wkt)"))
        elif (kind == "road_segment") != (row.geometry["type"] == "LineString"):
            wanted = "LineString" if kind == "road_segment" else "Point"
            errors.append(RowError(row.ref, "geometry", f"a {kind} is a {wanted}, not a {row.geometry['type']}"))
        numbers: dict[str, int | None] = {}
        for k in ("number_from", "number_to"):
            try:
                numbers[k] = None if f.get(k) in (None, "") else int(float(str(f[k])))
            except ValueError:
                errors.append(RowError(row.ref, k, f"{f[k]!r} is not a house number"))
        parity = f.get("parity") or None
        parity = {"单": "odd", "双": "even", "单双": "both"}.get(str(parity), parity) if parity else None
        if parity not in (None, "odd", "even", "both"):
            errors.append(RowError(row.ref, "parity", f"{parity!r} is not odd, even or both"))
        if not errors or errors[-1].ref != row.ref:
            entries.append(AddressEntry(kind, text, row.geometry or {}, numbers.get("number_from"),
                                        numbers.get("number_to"), parity))
    if errors:
        raise InvalidImport(errors)
    added = import_addresses(conn, entries, prefixes=prefixes, source=name,
                             progress=lambda done: progress("addresses", done, len(entries)))
    progress("addresses", len(entries), len(entries))
    return ImportResult("addresses", len(rows), added, 0, len(entries) - added, crs.code)
