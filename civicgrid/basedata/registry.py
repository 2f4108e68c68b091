"""The component registry kept current: add, edit, move, retire — each change one row of `component_history`
(who, when, why, the fields before and after), in the same transaction as the change (migration 0018).

A component is never deleted: devices and cases name it, and its history must stay readable. Retiring it stamps
`retired_at`; it then leaves the exports and the lists of current components, and accepts no more changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from civicgrid.domain.components import ComponentState, InvalidComponentId, parse_component_id

# The fields a component's history compares (the row's columns, less the generated ones).
FIELDS = ("category_code", "name", "department_id", "owner", "maintainer", "grid_cell_code", "state", "lon", "lat",
          "data_source", "recorded_on", "attributes", "retired_at")
EDITABLE = ("category_code", "name", "department_id", "owner", "maintainer", "grid_cell_code", "state",
            "data_source", "recorded_on", "attributes")
STATE_NAMES = {"完好": "intact", "破损": "damaged", "丢失": "missing", "占用": "occupied"}
CELL_AT = ("(SELECT code FROM grid_cells WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)) "
            "ORDER BY code LIMIT 1)")


class ComponentRefused(ValueError):
    """A change the registry refuses, with the field it is about (→ 422 in the API, an error line in the CLI)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


class ComponentNotFound(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no component {code}")
        self.code = code


class ComponentExists(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"component {code} exists already (edit it, or pick another serial)")
        self.code = code


@dataclass(frozen=True, slots=True)
class Change:
    """Who makes a change, when and why (the reason is required: the history is read by people)."""

    actor: str
    at: datetime
    reason: str


def snapshot(conn: psycopg.Connection, code: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The component's fields as the history records them (None when unknown); `lock` holds the row."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT code, {', '.join(FIELDS)}, state_case_id FROM components WHERE code = %s"
                          f"{' FOR UPDATE' if lock else ''}", (code,)).fetchone()
    return row


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The fields that changed, before and after (all of `after` for a new component)."""
    if before is None:
        return None, {k: _jsonable(after[k]) for k in FIELDS if after.get(k) is not None}
    changed = [k for k in FIELDS if before.get(k) != after.get(k)]
    return {k: _jsonable(before.get(k)) for k in changed}, {k: _jsonable(after.get(k)) for k in changed}


def record(conn: psycopg.Connection, code: str, action: str, change: Change, before: Mapping[str, Any] | None,
           after: Mapping[str, Any], *, case: tuple[str, int] | None = None) -> bool:
    """One history row for a change that changed something; False (no row) when nothing changed or the case event
    was applied already."""
    old, new = diff(before, after)
    if not new:
        return False
    row = conn.execute(
        "INSERT INTO component_history (component_code, at, actor, action, reason, before, after, case_id, case_seq) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (code, change.at, change.actor, action, change.reason, None if old is None else Jsonb(old), Jsonb(new),
         case[0] if case else None, case[1] if case else None)).fetchone()
    return row is not None


def _reason(change: Change) -> None:
    if not change.reason.strip():
        raise ComponentRefused("reason", "say why (the history is read by people)")


def checked_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checked editable values: state by its English or Chinese name, category a component minor (C + 4 digits)."""
    out = dict(fields)
    unknown = sorted(set(out) - set(EDITABLE))
    if unknown:
        raise ComponentRefused(unknown[0], f"not an editable field (editable: {', '.join(EDITABLE)})")
    if "state" in out:
        state = STATE_NAMES.get(str(out["state"]), str(out["state"]))
        if state not in {s.value for s in ComponentState}:
            raise ComponentRefused("state", f"{out['state']!r} is not one of intact 完好, damaged 破损, missing 丢失, "
                                            f"occupied 占用")
        out["state"] = state
    if "category_code" in out and not (isinstance(out["category_code"], str)
                                       and len(out["category_code"]) == 5 and out["category_code"][0] == "C"
                                       and out["category_code"][1:].isdigit()):
        raise ComponentRefused("category_code", f"{out['category_code']!r} is not a component category (C + 4 digits)")
    if "attributes" in out and not isinstance(out["attributes"], dict):
        raise ComponentRefused("attributes", "an object of the component's other attributes")
    return out


def _check_refs(conn: psycopg.Connection, values: Mapping[str, Any]) -> None:
    if values.get("department_id") and conn.execute("SELECT 1 FROM departments WHERE id = %s",
                                                    (values["department_id"],)).fetchone() is None:
        raise ComponentRefused("department_id", f"no department {values['department_id']!r}")
    if values.get("grid_cell_code") and conn.execute("SELECT 1 FROM grid_cells WHERE code = %s",
                                                     (values["grid_cell_code"],)).fetchone() is None:
        raise ComponentRefused("grid_cell_code", f"no unit grid cell {values['grid_cell_code']!r}")


def add(conn: psycopg.Connection, code: str, lon: float, lat: float, fields: Mapping[str, Any],
        change: Change) -> dict[str, Any]:
    """A new component at a point (its cell: the one holding the point, unless given)."""
    _reason(change)
    try:
        parse_component_id(code)
    except InvalidComponentId as exc:
        raise ComponentRefused("code", str(exc)) from None
    values = checked_values(fields)
    values.setdefault("category_code", f"C{code[6:10]}")
    _check_refs(conn, values)
    with conn.transaction():
        if snapshot(conn, code) is not None:
            raise ComponentExists(code)
        params = {"code": code, "lon": lon, "lat": lat, "state": "intact", **values,
                  "attributes": Jsonb(values.get("attributes") or {})}
        cols = [c for c in EDITABLE if c in params and c != "grid_cell_code"]
        cell = "%(grid_cell_code)s" if values.get("grid_cell_code") else CELL_AT
        conn.execute(f"INSERT INTO components (code, lon, lat, grid_cell_code, changed_at, {', '.join(cols)}) VALUES "
                     f"(%(code)s, %(lon)s, %(lat)s, {cell}, %(at)s, {', '.join(f'%({c})s' for c in cols)})",
                     {**params, "at": change.at})
        after = snapshot(conn, code)
        assert after is not None
        record(conn, code, "add", change, None, after)
    return after


def _current(conn: psycopg.Connection, code: str) -> dict[str, Any]:
    before = snapshot(conn, code, lock=True)
    if before is None:
        raise ComponentNotFound(code)
    if before["retired_at"] is not None:
        raise ComponentRefused(None, f"component {code} was retired on {before['retired_at']:%Y-%m-%d}; it takes no "
                                     f"more changes")
    return before


def edit(conn: psycopg.Connection, code: str, fields: Mapping[str, Any], change: Change) -> dict[str, Any]:
    """Change attributes (name, departments, state …); the point is changed by `move`."""
    _reason(change)
    values = checked_values(fields)
    if not values:
        raise ComponentRefused(None, "nothing to change")
    _check_refs(conn, values)
    with conn.transaction():
        before = _current(conn, code)
        params = {**values, "code": code, "at": change.at}
        if "attributes" in values:
            params["attributes"] = Jsonb(values["attributes"])
        sets = ", ".join(f"{c} = %({c})s" for c in values)
        # A state set by hand is no longer the state a case set: that case's close leaves it alone.
        extra = ", state_case_id = NULL" if "state" in values else ""
        conn.execute(f"UPDATE components SET {sets}, changed_at = %(at)s{extra} WHERE code = %(code)s", params)
        after = snapshot(conn, code)
        assert after is not None
        record(conn, code, "edit", change, before, after)
    return after


def move(conn: psycopg.Connection, code: str, lon: float, lat: float, change: Change, *,
         grid_cell_code: str | None = None) -> dict[str, Any]:
    """A new point (surveyed again, or the object was moved); its cell follows unless given."""
    _reason(change)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ComponentRefused("lon/lat", f"({lon}, {lat}) is not a WGS 84 point")
    _check_refs(conn, {"grid_cell_code": grid_cell_code})
    with conn.transaction():
        before = _current(conn, code)
        cell = "%(grid_cell_code)s" if grid_cell_code else CELL_AT
        conn.execute(f"UPDATE components SET lon = %(lon)s, lat = %(lat)s, grid_cell_code = {cell}, "
                     "changed_at = %(at)s WHERE code = %(code)s",
                     {"lon": lon, "lat": lat, "grid_cell_code": grid_cell_code, "at": change.at, "code": code})
        after = snapshot(conn, code)
        assert after is not None
        record(conn, code, "move", change, before, after)
    return after


def retire(conn: psycopg.Connection, code: str, change: Change) -> dict[str, Any]:
    """Take a component out of service (removed, replaced, merged): kept, marked, no longer current."""
    _reason(change)
    with conn.transaction():
        before = _current(conn, code)
        conn.execute("UPDATE components SET retired_at = %s, changed_at = %s WHERE code = %s",
                     (change.at, change.at, code))
        after = snapshot(conn, code)
        assert after is not None
        record(conn, code, "retire", change, before, after)
    return after


def history(conn: psycopg.Connection, code: str, limit: int = 200) -> list[dict[str, Any]]:
    """The component's changes, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT h.id, h.at, h.actor, h.action, h.reason, h.before, h.after, h.case_id::text AS case_id, "
            "h.case_seq, c.case_no FROM component_history h LEFT JOIN cases c ON c.id = h.case_id "
            "WHERE h.component_code = %s ORDER BY h.at DESC, h.id DESC LIMIT %s", (code, limit)).fetchall()


def find(conn: psycopg.Connection, q: str | None, cell_prefix: str | None, state: str | None, include_retired: bool,
         limit: int) -> tuple[list[dict[str, Any]], int]:
    """Components whose code starts with `q` or whose name holds it, in a cell prefix, in a state; and how many
    match in all. A county's registry is tens of thousands of rows: a scan of it answers in milliseconds."""
    where, params = [], []
    if not include_retired:
        where.append("retired_at IS NULL")
    if q:
        where.append("(code LIKE %s OR name ILIKE %s)")
        params += [q.replace("%", "").replace("_", "") + "%", "%" + q.replace("%", r"\%").replace("_", r"\_") + "%"]
    if cell_prefix:
        where.append("grid_cell_code LIKE %s")
        params.append(cell_prefix + "%")
    if state:
        where.append("state = %s")
        params.append(state)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT code, {', '.join(FIELDS)}, state_case_id, count(*) OVER () AS total "
                           f"FROM components {clause} ORDER BY code LIMIT %s", (*params, limit)).fetchall()
    total = rows[0].pop("total") if rows else 0
    for r in rows[1:]:
        r.pop("total")
    return rows, int(total)
