"""Reading the rule pack's workbook: each sheet back into its table, every cell's error at its cell.

The reader also remembers which cell holds which row of the pack in the pack's own words (``step accept``,
``category 12 (E0103)``), so the checks the pack makes afterwards (civicgrid/cases/pack_check.py) can be said at
the cell too (civicgrid/cases/pack_excel.py). Any sheet or column not named in pack_sheets.py is an error, not
ignored: a misspelt 结案条件 column would otherwise drop every closing condition without a word.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

from civicgrid.cases.pack_check import PackError
from civicgrid.cases.pack_duties import plan_row, rule_row
from civicgrid.cases.pack_sheets import (
    ACTIONS,
    BANDS,
    CALENDAR,
    CALENDAR_KEYS,
    CATALOGUE,
    GRADES,
    KINDS,
    LEVELS,
    LIGHTS,
    LIMITS,
    MAX_ROWS,
    NO,
    PATROL,
    PERMISSIONS,
    RESPONSIBILITY,
    ROLES,
    SHEETS,
    STEPS,
    UNITS,
    WEIGHTS,
    YES,
    Column,
    code_of,
)


class Reader:
    """Reads the sheets, converting cells and collecting every error; remembers which cell holds which pack row,
    so the pack's own checks can be said by cell too."""

    def __init__(self, wb: Workbook, name: str) -> None:
        self.wb, self.name = wb, name
        self.errors: list[PackError] = []
        self.cells: dict[tuple[str, str | None, str | None], str] = {}

    def error(self, where: str, header: str | None, message: str) -> None:
        self.errors.append(PackError(self.name, where, header, message))

    def place(self, table: str, row: str | None, fields: Mapping[str, str], whole: str) -> None:
        """Pack row `row` of `table` (its label in pack_check's words) is the sheet row `whole`, field by field."""
        self.cells.setdefault((f"{table}.yaml", row, None), whole)
        for field, cell in fields.items():
            self.cells.setdefault((f"{table}.yaml", row, field), cell)

    def rows(self, title: str) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
        """(row number, values by key, cell reference by key) of each non-empty row of a sheet."""
        columns = SHEETS[title]
        if title not in self.wb.sheetnames:
            self.error(title, None, "the sheet is missing")
            return
        ws = self.wb[title]
        header = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1), ())]
        by_header = {c.header: c for c in columns} | {c.key: c for c in columns}
        at: dict[str, int] = {}
        for i, text in enumerate(header):
            if text is None or str(text).strip() == "":
                continue
            column = by_header.get(str(text).strip())
            if column is None:
                self.error(f"{title}!{get_column_letter(i + 1)}1", str(text), "unknown column (columns: "
                           + ", ".join(c.header for c in columns) + ")")
            else:
                at[column.key] = i
        for column in columns:
            if column.required and column.key not in at:
                self.error(f"{title}!1:1", column.header, "the column is missing")
        if ws.max_row > MAX_ROWS:
            self.error(title, None, f"{ws.max_row} rows: at most {MAX_ROWS} are read")
            return
        for cells in ws.iter_rows(min_row=2):
            row = int(cells[0].row or 0) if cells else 0
            values: dict[str, Any] = {}
            refs: dict[str, str] = {}
            for column in columns:
                if column.key not in at or column.kind == "info":
                    continue
                cell = cells[at[column.key]] if at[column.key] < len(cells) else None
                refs[column.key] = f"{title}!{get_column_letter(at[column.key] + 1)}{row}"
                values[column.key] = self._value(cell, column, refs[column.key])
            if any(v is not None for v in values.values()):
                yield row, values, refs

    def _value(self, cell: Cell | Any, column: Column, ref: str) -> Any:
        value = getattr(cell, "value", None)
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date() if value.time() == datetime.min.time() else value
        if isinstance(value, int) and not isinstance(value, bool) and "." in str(getattr(cell, "number_format", "")):
            value = float(value)  # written as 1.0 (see pack_excel._put)
        if column.kind == "number":
            return self._number(value, column, ref)
        if column.kind == "flag":
            return self._flag(value, column, ref)
        return _any(value) if column.kind == "any" else _text(value)

    def _number(self, value: Any, column: Column, ref: str) -> int | float | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: int | float = value
        else:
            try:
                number = int(str(value))
            except ValueError:
                try:
                    number = float(str(value))
                except ValueError:
                    number = math.nan
        if not math.isfinite(number):
            self.error(ref, column.header, f"{value!r} is not a number")
            return None
        return number

    def _flag(self, value: Any, column: Column, ref: str) -> bool | None:
        text = str(value).strip().lower()
        if text in YES or text in NO:
            return text in YES
        self.error(ref, column.header, f"{value!r}: write ✓ where the role may take the action, else leave empty")
        return None

    def code(self, table: dict[str, str], value: Any, ref: str, header: str) -> str | None:
        """A name written in Chinese or as its code; an unknown one is an error at its cell."""
        code = code_of(table, value)
        if code is None and value is not None:
            self.error(ref, header, f"{value!r} is not one of " + ", ".join(table.values()))
        return code


def _any(value: Any) -> Any:
    """A value of 其他设置 or 工作日历: a number or flag as it is, text as JSON when it reads as JSON, else text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.isoformat() if isinstance(value, date) else value


def _text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _catalogue(r: Reader) -> dict[str, Any]:
    categories: list[dict[str, Any]] = []
    for row, values, refs in r.rows(CATALOGUE):
        categories.append({k: v for k, v in values.items() if v is not None})
        code = values.get("code")
        r.place("catalogue", f"category {len(categories)}" + (f" ({code})" if code else ""), refs,
                f"{CATALOGUE}!A{row}:F{row}")
    return {"categories": categories}


_LIMIT_KEYS = {"step": "steps", "disposal_class": "disposal_classes", "category": "categories", "area": "areas",
               "light": "light"}
_LIMIT_ROWS = {"step": "step", "disposal_class": "disposal class", "category": "category", "light": "light"}


def _limits(r: Reader) -> dict[str, Any]:
    out: dict[str, Any] = {key: {} for key in _LIMIT_KEYS.values()}
    seen: dict[tuple[str, str | None, str], int] = {}
    for row, values, refs in r.rows(LIMITS):
        kind = r.code(KINDS, values.get("kind"), refs.get("kind", ""), "类型")
        name = values.get("name")
        if kind is None or name is None:
            continue
        if kind == "step":
            name = code_of(STEPS, name) or name
        elif kind == "light":
            name = code_of(LIGHTS, name) or name
        area = values.get("area") if kind == "area" else None
        if (kind, area, name) in seen:
            r.error(refs["name"], "名称", f"{name!r} is listed already, in row {seen[kind, area, name]}")
            continue
        seen[kind, area, name] = row
        if kind == "area" and area is None:
            r.error(refs.get("area", f"{LIMITS}!C{row}"), "区域", "missing: the area whose class limit this is")
            continue
        whole = refs.get("name", f"{LIMITS}!B{row}")  # a row's own errors are about its name
        if kind == "light":
            out["light"][name] = values.get("amount")
            r.place("time_limits", f"light {name}", {}, refs.get("amount", whole))
            continue
        limit = {"amount": values.get("amount"),
                 "unit": r.code(UNITS, values.get("unit"), refs.get("unit", whole), "单位")}
        limit = {k: v for k, v in limit.items() if v is not None}
        target = out["areas"].setdefault(area, {}) if kind == "area" else out[_LIMIT_KEYS[kind]]
        target[name] = limit
        label = f"area {area}, class {name}" if kind == "area" else f"{_LIMIT_ROWS[kind]} {name}"
        r.place("time_limits", label, refs, whole)
    return out


_SPLIT = re.compile(r"[,，、;；\s]+")


def _calendar(r: Reader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rows = {"periods": "period", "weekdays": "weekday", "holidays": "holiday", "workdays": "make-up workday"}
    for row, values, refs in r.rows(CALENDAR):
        key = code_of({k: zh for k, (zh, _, _) in CALENDAR_KEYS.items()}, values.get("key"))
        if key is None:
            r.error(refs["key"], "项目", f"{values.get('key')!r} is not one of "
                    + ", ".join(zh for zh, _, _ in CALENDAR_KEYS.values()))
            continue
        value, cell = values.get("value"), refs.get("value", f"{CALENDAR}!B{row}")
        if CALENDAR_KEYS[key][1] == "list":
            items = (value if isinstance(value, list) else [value] if isinstance(value, int | float | date)
                     else _SPLIT.split(str(value or "").strip()))
            value = [v if not isinstance(v, str) or not v.isdigit() or key != "weekdays" else int(v)
                     for v in items if v != ""]
            value = [v.isoformat() if isinstance(v, date) else v for v in value]
            for i in range(len(value)):
                r.place("working_calendar", f"{rows[key]} {i + 1}", {key: cell}, cell)
        out[key] = value
        r.place("working_calendar", None, {key: cell}, cell)
    return out


def _permissions(r: Reader) -> dict[str, Any]:
    actions: dict[str, list[str]] = {}
    for row, values, refs in r.rows(PERMISSIONS):
        action = code_of(ACTIONS, values.get("action")) or values.get("action")
        if action is None:
            r.error(f"{PERMISSIONS}!A{row}", "操作", "missing: which action the marks of this row allow")
            continue
        roles = [role for role in ROLES if values.get(role)]
        actions[str(action)] = roles
        r.place("permissions", f"action {action}", {f"role {i + 1}": refs[role] for i, role in enumerate(roles)},
                refs.get("action", f"{PERMISSIONS}!A{row}"))
    return {"actions": actions}


def _scoring(r: Reader) -> dict[str, Any]:
    composites: dict[str, dict[str, Any]] = {}
    rows: dict[str, list[int]] = {}
    for row, values, refs in r.rows(WEIGHTS):
        level = str(code_of(LEVELS, values.get("level")) or values.get("level"))
        composites.setdefault(level, {})[str(values.get("indicator"))] = values.get("weight")
        rows.setdefault(level, []).append(row)
        r.place("scoring", f"composite {level}", {str(values.get("indicator")): refs.get("weight", "")}, "")
    for level, numbers in rows.items():  # a level's own errors (weights not adding up to 1) are about its weights
        r.cells[("scoring.yaml", f"composite {level}", None)] = f"{WEIGHTS}!D{min(numbers)}:D{max(numbers)}"
    bands, grades = [], []
    for row, values, refs in r.rows(BANDS):
        bands.append({"max": values.get("max"), **({"score": values["score"]} if values.get("score") is not None
                                                  else {})})
        r.place("scoring", f"case-count band {len(bands)}", refs, f"{BANDS}!A{row}:B{row}")
    for row, values, refs in r.rows(GRADES):
        grades.append({k: v for k, v in values.items() if v is not None})
        r.place("scoring", f"grade {len(grades)}", refs, f"{GRADES}!A{row}:B{row}")
    return {"composites": composites, "case_count_bands": bands, "grades": grades}


def _duty_rows(r: Reader, title: str, table: str, key: str,
               label: Callable[[int, Mapping[str, Any]], str]) -> dict[str, Any] | None:
    rows: list[dict[str, Any]] = []
    last = get_column_letter(len(SHEETS[title]))
    for row, values, refs in r.rows(title):
        rows.append({k: v for k, v in values.items() if v is not None})
        r.place(table, label(len(rows) - 1, {key: rows}), refs, f"{title}!A{row}:{last}{row}")
    return {key: rows} if rows else None  # no rows: not in the pack, the database's table stays


def _responsibility(r: Reader) -> dict[str, Any] | None:
    return _duty_rows(r, RESPONSIBILITY, "responsibility", "rules", rule_row)


def _patrol_plans(r: Reader) -> dict[str, Any] | None:
    return _duty_rows(r, PATROL, "patrol_plans", "plans", plan_row)


SHEET_TABLES: dict[str, tuple[str, Callable[[Reader], dict[str, Any] | None]]] = {
    CATALOGUE: ("catalogue", _catalogue), LIMITS: ("time_limits", _limits), CALENDAR: ("working_calendar", _calendar),
    PERMISSIONS: ("permissions", _permissions), WEIGHTS: ("scoring", _scoring),
    RESPONSIBILITY: ("responsibility", _responsibility), PATROL: ("patrol_plans", _patrol_plans)}
