"""The rule pack as one Excel workbook: every table a sheet with Chinese headers, read back with errors by cell.

Cities keep their catalogue, limits and weights in Excel, so the pack goes out as a workbook (`civicgrid rules
export --xlsx`, GET /admin/rules/template.xlsx) and comes back in (`civicgrid rules load FILE.xlsx`, an upload to
POST /admin/rules). A workbook read here becomes the same tables a pack directory holds and is checked by the same
rules (civicgrid/cases/pack_check.py); each error is then said where the person editing will look for it — the
sheet and cell, e.g. ``处置时限!D7``, and the column's header — rather than the YAML file's row.

An exported workbook reads back to the same content, so to the same digest: uploading it unchanged stores no new
version. Excel has one kind of number, so a whole number that was written as a decimal (a weight of ``1.0``) is
formatted ``0.0`` and read back as a decimal. Collections are always written whole: a table that left out its
``areas`` comes back with ``areas: {}``, the same rules under another digest.

A workbook comes from a person's upload: its size, its unzipped size and its rows are bounded before openpyxl
builds it, and any sheet or column not named here is an error, not ignored (a misspelt 结案条件 column would
otherwise drop every closing condition without a word).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from civicgrid.cases.pack import Content, InvalidPack, RulePack, from_tables
from civicgrid.cases.pack_check import TABLES, PackError
from civicgrid.cases.pack_excel_read import SHEET_TABLES, Reader
from civicgrid.cases.pack_sheets import (
    ACTIONS,
    BANDS,
    CALENDAR,
    CALENDAR_KEYS,
    CATALOGUE,
    CATEGORY_COLUMNS,
    DEDICATED,
    GRADES,
    INDICATORS,
    KINDS,
    LEVELS,
    LIGHTS,
    LIMITS,
    MAX_ROWS,
    OTHER,
    PATROL,
    PERMISSIONS,
    README,
    RESPONSIBILITY,
    ROLES,
    SHEETS,
    STEPS,
    TABLE_NAMES,
    UNITS,
    WEIGHTS,
    code_of,
    label_of,
)

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_WORKBOOK_BYTES = 4 * 1024 * 1024  # the shipped pack is about 20 kB; Harbin's 173 categories are far below this
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # a zip bomb is refused before openpyxl inflates it


# -- writing -------------------------------------------------------------------------------------------------------

def _put(ws: Worksheet, values: list[Any]) -> None:
    """One row; a whole float is formatted ``0.0`` so it reads back as a float (the digest tells 1 from 1.0)."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, float) and cell.value.is_integer():
            cell.number_format = "0.0"


def _text_or_json(value: Any) -> Any:
    """A 其他设置 value: numbers and flags as cells, text as itself unless it would read back as JSON, the rest JSON."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False)


def _sheet(wb: Workbook, title: str) -> Worksheet:
    ws: Worksheet = wb.create_sheet(title)
    ws.append([c.header for c in SHEETS[title]])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for i, column in enumerate(SHEETS[title], start=1):
        ws.column_dimensions[get_column_letter(i)].width = 30 if column.key.endswith("condition") else 14
    return ws


def _limit_row(kind: str, name: str, area: str | None, limit: Mapping[str, Any]) -> list[Any]:
    return [KINDS[kind], label_of(STEPS, name) if kind == "step" else name, area, limit.get("amount"),
            label_of(UNITS, limit.get("unit"))]


def _choices(ws: Worksheet, column: int, options: list[str]) -> None:
    """A drop-down for the column's cells (typing anything else is still read, and refused with its cell)."""
    rule = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
    rule.add(f"{get_column_letter(column)}2:{get_column_letter(column)}{MAX_ROWS}")
    ws.add_data_validation(rule)


def _readme(wb: Workbook, header: str) -> None:
    readme = wb.active
    assert readme is not None
    readme.title = README
    for line in (header, "每张表一个工作表；修改后可用 civicgrid rules load 文件.xlsx 或管理接口上传。",
                 "处置时限的单位：" + "、".join(UNITS.values()) + "（工作时间按工作日历计算）。",
                 "部件事件目录：每个小类必须填写立案条件和结案条件（大类可留空）。",
                 "角色权限：在允许的角色下填 ✓，空白表示不允许。", "案件数得分：最后一档的上限留空（其余所有案件数）。",
                 "责任分解表、巡查计划：没有数据行时不属于规则包，沿用数据库中现有的表；有数据行时整表替换。",
                 "其他设置：其余各表的单项设置，值为数字、文字或 JSON。"):
        readme.append([line])
    readme.column_dimensions["A"].width = 100


def _catalogue(wb: Workbook, content: Content) -> None:
    ws = _sheet(wb, CATALOGUE)
    for row in content["catalogue"].get("categories", []):
        _put(ws, [row.get(c.key) for c in CATEGORY_COLUMNS])
    _choices(ws, 4, ["A", "B", "C", "D", "E", "F"])


def _limits(wb: Workbook, content: Content) -> None:
    ws, limits = _sheet(wb, LIMITS), content["time_limits"]
    for kind, key in (("step", "steps"), ("disposal_class", "disposal_classes"), ("category", "categories")):
        for name, limit in (limits.get(key) or {}).items():
            _put(ws, _limit_row(kind, name, None, limit))
    for area, classes in (limits.get("areas") or {}).items():
        for name, limit in classes.items():
            _put(ws, _limit_row("area", name, area, limit))
    for name, share in (limits.get("light") or {}).items():
        _put(ws, [KINDS["light"], label_of(LIGHTS, name), None, share, None])
    _choices(ws, 1, list(KINDS.values()))
    _choices(ws, 5, list(UNITS.values()))


def _calendar(wb: Workbook, content: Content) -> None:
    ws, calendar = _sheet(wb, CALENDAR), content["working_calendar"]
    for key, (zh, kind, note) in CALENDAR_KEYS.items():
        if key in calendar:
            value = calendar[key]
            _put(ws, [zh, ", ".join(str(v) for v in value) if kind == "list" and value is not None else value, note])


def _permissions(wb: Workbook, content: Content) -> None:
    ws = _sheet(wb, PERMISSIONS)
    for action, roles in content["permissions"].get("actions", {}).items():
        _put(ws, [action, ACTIONS.get(action), *("✓" if role in roles else None for role in ROLES)])


def _scoring(wb: Workbook, content: Content) -> None:
    scoring = content["scoring"]
    ws = _sheet(wb, WEIGHTS)
    for level, weights in scoring.get("composites", {}).items():
        for indicator, weight in weights.items():
            _put(ws, [label_of(LEVELS, level), indicator, INDICATORS.get(indicator), weight])
    ws = _sheet(wb, BANDS)
    for band in scoring.get("case_count_bands", []):
        _put(ws, [band.get("max"), band.get("score")])
    ws = _sheet(wb, GRADES)
    for grade in scoring.get("grades", []):
        _put(ws, [grade.get("grade"), grade.get("min")])


def _duties(wb: Workbook, content: Content) -> None:
    """Both sheets always, so the template offers them; without rows they stand for "not in the pack"."""
    for title, table, key in ((RESPONSIBILITY, "responsibility", "rules"), (PATROL, "patrol_plans", "plans")):
        ws = _sheet(wb, title)
        for row in (content.get(table) or {}).get(key, []):
            _put(ws, [row.get(c.key) for c in SHEETS[title]])


def _other(wb: Workbook, content: Content) -> None:
    ws = _sheet(wb, OTHER)
    for table, data in content.items():
        for key, value in data.items():
            if key not in DEDICATED.get(table, set()):
                _put(ws, [table, key, _text_or_json(value), TABLE_NAMES.get(table)])


def export_workbook(content: Content, header: str) -> bytes:
    """The pack's tables as one .xlsx workbook that `read_workbook` reads back to the same content."""
    wb = openpyxl.Workbook()
    _readme(wb, header)
    for write in (_catalogue, _limits, _calendar, _permissions, _scoring, _duties, _other):
        write(wb, content)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- reading -------------------------------------------------------------------------------------------------------

def _open(data: bytes, name: str) -> Workbook:
    if len(data) > MAX_WORKBOOK_BYTES:
        raise InvalidPack([PackError(name, None, None, f"{len(data)} bytes: a workbook may have at most "
                                                       f"{MAX_WORKBOOK_BYTES}")])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(i.file_size for i in zf.infolist()) > MAX_UNZIPPED_BYTES:
                raise InvalidPack([PackError(name, None, None, "unzips to more than "
                                                               f"{MAX_UNZIPPED_BYTES} bytes")])
        return openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except InvalidPack:
        raise
    except Exception as exc:  # openpyxl raises whatever its zip and XML readers raise on a damaged file
        raise InvalidPack([PackError(name, None, None, f"not an Excel .xlsx workbook ({type(exc).__name__})")]) \
            from None


def read_workbook(data: bytes, name: str, source: str | None = None) -> RulePack:
    """A pack from an .xlsx workbook (`name` says which in errors). A sheet left out is the shipped table (the
    scoring table: 评价权重); 责任分解表 or 巡查计划 without rows is no such table (the database's stays).
    Raises `InvalidPack` with every error, each at its sheet and cell."""
    wb = _open(data, name)
    r = Reader(wb, name)
    for title in wb.sheetnames:
        if title not in SHEETS and title != README:
            r.error(title, None, "not a sheet of the rule pack (sheets: " + ", ".join([README, *SHEETS]) + ")")
    tables: dict[str, Any] = {}
    for title, (table, read) in SHEET_TABLES.items():
        if title in wb.sheetnames and (sheet := read(r)) is not None:  # None: a duty sheet without rows
            tables[table] = sheet
    if OTHER in wb.sheetnames:
        for _, values, refs in r.rows(OTHER):
            table = code_of(TABLE_NAMES, values.get("table")) or str(values.get("table"))
            key = str(values.get("key"))
            if table in tables and key in DEDICATED.get(table, set()):
                r.error(refs["key"], "键", f"{key!r} of {table} has a sheet of its own")
                continue
            tables.setdefault(table, {})[key] = values.get("value")
            r.place(table, None, {key: refs.get("value", refs["key"])}, refs["key"])
    if r.errors:
        raise InvalidPack(r.errors)
    try:
        return from_tables(tables, source or name)
    except InvalidPack as exc:
        raise InvalidPack([_at_cell(r, e) for e in exc.errors]) from None


def _at_cell(r: Reader, error: PackError) -> PackError:
    """A pack error (file, row, field) said at the workbook's cell, with the pack's words kept after it."""
    cell = (r.cells.get((error.file, error.row, error.field)) or r.cells.get((error.file, error.row, None))
            or r.cells.get((error.file, None, error.field)))
    if cell is None:
        sheet = next((t for t, (table, _) in SHEET_TABLES.items() if f"{table}.yaml" == error.file), OTHER)
        cell = sheet if error.file in {f"{t}.yaml" for t in TABLES} else OTHER
    header = _header_of(cell, error.field)
    where = ", ".join(p for p in (error.file.removesuffix(".yaml"), error.row) if p)
    return PackError(r.name, cell, header, f"{error.message} ({where})")


def _header_of(cell: str, field: str | None) -> str | None:
    """The header of the column a cell reference like 处置时限!D7 is in, else the pack's field name."""
    match = re.fullmatch(r"(.+)!([A-Z]+)\d+", cell)
    if match and match.group(1) in SHEETS:
        column = openpyxl.utils.column_index_from_string(match.group(2))
        sheet = SHEETS[match.group(1)]
        if column <= len(sheet):
            return sheet[column - 1].header
    return field
