"""Who handles what where, as tables of the rule pack: the responsibility table (责任分解表) and the patrol plans.

Both name things the database holds — departments, grid cells, inspectors, responsibility grids — so they are
checked in two steps: here, without a database, each row's shape and the rules a table states by itself (a typed
category code the pack's catalogue has, a grid prefix of digits, a working window that parses and ends after it
starts, no row twice); then, when a version is stored, that every name exists (civicgrid/store/pack_duties.py),
each error naming the file, the row and the field as the other tables' do.

Unlike the other tables, these two have no shipped default that a missing file stands for: a pack without them
leaves the database's tables as they are (loaded from city.json, edited through /responsibility), and a pack with
one replaces that table whole when its version is stored. An empty list is therefore refused: it would not say
"keep today's table" but "nobody is responsible for anything".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from civicgrid.domain.catalogue import Catalogue, InvalidCategoryCode, parse_category_code
from civicgrid.domain.working_calendar import parse_period

DUTY_TABLES = ("responsibility", "patrol_plans")
SEED_PLAN_FROM = "2000-01-01"  # a plan without valid_from stands from the start, as city.json's seeded plans do


class ResponsibilityRow(BaseModel):
    """A rule: cases of `category_code` (a minor, or a major for all its minors) in the cells whose code starts with
    `grid_prefix` ('' for the whole city) go to `department_id`; the longest prefix, then the exact category, wins."""

    model_config = ConfigDict(extra="forbid")
    category_code: str
    grid_prefix: str = Field("", pattern=r"^[0-9]{0,15}$")
    department_id: str = Field(min_length=1)
    note: str | None = None


class ResponsibilityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[ResponsibilityRow] = Field(min_length=1)


class PatrolPlanRow(BaseModel):
    """An inspector's standing plan: the grid walked, the working window and the passes each road class needs."""

    model_config = ConfigDict(extra="forbid")
    inspector: str = Field(min_length=1)  # the inspector's username
    grid: str = Field(min_length=1)  # a responsibility grid's id
    window: str = "07:30-18:30"  # HH:MM-HH:MM, as the calendar's periods (unquoted 18:30 is a number in YAML)
    main_road_passes: int = Field(5, ge=0, le=100)
    secondary_road_passes: int = Field(4, ge=0, le=100)
    valid_from: date = date.fromisoformat(SEED_PLAN_FROM)
    valid_to: date | None = None

    @field_validator("window")
    @classmethod
    def _window(cls, text: str) -> str:
        try:
            start, end = parse_period(text)
        except ValueError:
            raise ValueError(f"a patrol window is written HH:MM-HH:MM, e.g. 07:30-18:30, not {text!r}") from None
        if not start < end:
            raise ValueError(f"a patrol window ends after it starts: {text!r}")
        return text


class PatrolPlansFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plans: list[PatrolPlanRow] = Field(min_length=1)


def rule_row(index: int, data: Mapping[str, Any] | None = None) -> str:
    """A responsibility row in words: ``rule 3 (E0102 @ 3415)``."""
    rows = data.get("rules") if isinstance(data, Mapping) else None
    row = rows[index] if isinstance(rows, list) and index < len(rows) else None
    if isinstance(row, Mapping) and isinstance(row.get("category_code"), str):
        where = f" @ {row['grid_prefix']}" if row.get("grid_prefix") else ""
        return f"rule {index + 1} ({row['category_code']}{where})"
    return f"rule {index + 1}"


def plan_row(index: int, data: Mapping[str, Any] | None = None) -> str:
    """A patrol plan in words: ``plan 2 (insp01)``."""
    rows = data.get("plans") if isinstance(data, Mapping) else None
    row = rows[index] if isinstance(rows, list) and index < len(rows) else None
    name = row.get("inspector") if isinstance(row, Mapping) else None
    return f"plan {index + 1}" + (f" ({name})" if isinstance(name, str) else "")


def _rows(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    rows = data.get(key)
    return [(i, r) for i, r in enumerate(rows) if isinstance(r, Mapping)] if isinstance(rows, list) else []


Problem = tuple[str, str | None, str]  # (row, field, message): the pack check adds the file


def responsibility_problems(data: Mapping[str, Any]) -> list[Problem]:
    """What a responsibility table says wrong by itself: a code that is not one, a (category, prefix) twice."""
    out: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, row in _rows(data, "rules"):
        code, prefix = row.get("category_code"), row.get("grid_prefix") or ""
        if not isinstance(code, str):
            continue  # the model names it
        try:
            parse_category_code(code)
        except InvalidCategoryCode as exc:
            out.append((rule_row(i, data), "category_code", exc.reason))
            continue
        key = (code, str(prefix))
        if key in seen:
            out.append((rule_row(i, data), "grid_prefix", f"{code} in {prefix or 'the whole city'} is given already, "
                                                          f"by rule {seen[key]}: which department would it be?"))
        seen.setdefault(key, i + 1)
    return out


def patrol_problems(data: Mapping[str, Any]) -> list[Problem]:
    """What the patrol plans say wrong by themselves (the window is the model's): a plan that ends before it begins,
    an inspector's two plans from the same day."""
    out: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, row in _rows(data, "plans"):
        start, end = str(row.get("valid_from") or SEED_PLAN_FROM), row.get("valid_to")
        if end is not None and str(end) < start:
            out.append((plan_row(i, data), "valid_to", f"{end} is before valid_from {start}"))
        name = row.get("inspector")
        if isinstance(name, str):
            if (name, start) in seen:
                out.append((plan_row(i, data), "valid_from", f"{name} has a plan from {start} already, plan "
                                                             f"{seen[(name, start)]}: one plan a day per inspector"))
            seen.setdefault((name, start), i + 1)
    return out


def catalogue_problems(data: Mapping[str, Any], catalogue: Catalogue) -> list[Problem]:
    """A rule for a category the pack's catalogue does not have would never match a case."""
    out: list[Problem] = []
    for i, row in _rows(data, "rules"):
        code = row.get("category_code")
        if isinstance(code, str) and code not in catalogue:
            try:
                parse_category_code(code)
            except InvalidCategoryCode:
                continue  # named already
            out.append((rule_row(i, data), "category_code", f"{code} is not in the catalogue"))
    return out
