"""The rule pack's validation: every error of every table, each naming its file, its row and its field in words.

A city edits these tables by hand (and later in Excel and the console), so one error at a time would make loading
a pack a guessing game. Each table is checked against its file model (the domain's pydantic boundary:
`CatalogueFile`, `TimeLimitsFile`, `CalendarFile`, `PermissionsFile`, `ScoringFile`), pydantic's locations are
translated into the table's own words (``category 12 (E0103)``, ``step accept``, ``action file``), and the rules
the models cannot state (a category's code, duplicates, a minor without its major or without its filing and closing
conditions, a class without a limit, overlapping working periods, weights that do not add up to 1) are checked row by
row after them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from civicgrid.cases.duplicates import DuplicatesFile
from civicgrid.cases.pack_duties import (
    PatrolPlansFile,
    Problem,
    ResponsibilityFile,
    patrol_problems,
    plan_row,
    responsibility_problems,
    rule_row,
)
from civicgrid.domain.case_state import Action
from civicgrid.domain.catalogue import (
    OTHER_MINOR,
    Catalogue,
    CatalogueFile,
    CategoryCode,
    InvalidCategoryCode,
    parse_category_code,
)
from civicgrid.domain.permissions import PermissionsFile
from civicgrid.domain.scoring import ScoringFile
from civicgrid.domain.time_limits import DisposalClass, TimeLimitsFile
from civicgrid.domain.working_calendar import CalendarFile, parse_period

Loc = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class PackError:
    """One thing wrong with a pack: in `file`, at `row` (None: the file as a whole), in `field`."""

    file: str
    row: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file, *([self.row] if self.row else []), *([f"field {self.field}"] if self.field else [])]
        return f"{', '.join(where)}: {self.message}"

    def as_json(self) -> dict[str, str | None]:
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}


def _words(error: ErrorDetails) -> str:
    """pydantic's message, said for a person editing a table."""
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("enum", "literal_error"):
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{value!r} is not one of {expected}"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":  # our own validators' messages name the value already
        return message
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message} (got {value!r})"
    return message


def _is_key(loc: Loc) -> bool:
    """pydantic marks an error in a mapping's key (not its value) with a trailing ``[key]``."""
    return bool(loc) and loc[-1] == "[key]"


def _field(parts: Sequence[int | str]) -> str | None:
    names = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in parts if p != "[key]"]
    return ".".join(names) or None


# -- where an error is, per table: (row, field) from pydantic's location ------------------------------------------

def _catalogue_where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
    if len(loc) >= 2 and loc[0] == "categories" and isinstance(loc[1], int):
        return _category_row(data, loc[1]), _field(loc[2:])
    if len(loc) >= 3 and loc[0] == "area_classes":
        return f"area {loc[1]}, category {loc[2]}", "area_classes"
    return None, _field(loc)


def _category_row(data: Mapping[str, Any], index: int) -> str:
    rows = data.get("categories")
    row = rows[index] if isinstance(rows, list) and index < len(rows) else None
    code = row.get("code") if isinstance(row, Mapping) else None
    return f"category {index + 1}" + (f" ({code})" if isinstance(code, str) else "")


_LIMIT_ROWS = {"steps": "step", "disposal_classes": "disposal class", "categories": "category", "light": "light"}


def _limits_where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
    if len(loc) >= 2 and loc[0] in _LIMIT_ROWS:
        return f"{_LIMIT_ROWS[str(loc[0])]} {loc[1]}", _field(loc[2:])
    if len(loc) >= 3 and loc[0] == "areas":
        return f"area {loc[1]}, class {loc[2]}", _field(loc[3:])
    if len(loc) == 2 and loc[0] == "areas":
        return f"area {loc[1]}", None
    if len(loc) >= 3 and loc[0] == "area_categories":
        return f"area {loc[1]}, category {loc[2]}", _field(loc[3:])
    if len(loc) >= 2 and loc[0] == "area_cells":
        return f"area {loc[1]}", "area_cells" + (f" item {loc[2] + 1}" if len(loc) >= 3 and isinstance(loc[2], int)
                                                 else "")
    return None, _field(loc)


_CALENDAR_ROWS = {"periods": "period", "weekdays": "weekday", "holidays": "holiday", "workdays": "make-up workday"}


def _calendar_where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
    if len(loc) == 2 and loc[0] in _CALENDAR_ROWS and isinstance(loc[1], int):
        return f"{_CALENDAR_ROWS[str(loc[0])]} {loc[1] + 1}", str(loc[0])
    return None, _field(loc)


def _permissions_where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
    if len(loc) >= 2 and loc[0] == "actions":
        field = f"role {loc[2] + 1}" if len(loc) >= 3 and isinstance(loc[2], int) else None
        return f"action {loc[1]}", field
    return None, _field(loc)


def _scoring_where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
    if len(loc) >= 2 and loc[0] == "composites":
        return f"composite {loc[1]}", _field(loc[2:])
    if len(loc) >= 2 and loc[0] in ("case_count_bands", "grades") and isinstance(loc[1], int):
        return f"{'case-count band' if loc[0] == 'case_count_bands' else 'grade'} {loc[1] + 1}", _field(loc[2:])
    return None, _field(loc)


# -- what the models cannot say ------------------------------------------------------------------------------------

# They read the raw data defensively (a row the model refused is skipped here), so a file with a wrong type in
# one row still has its duplicate codes or missing classes reported in the same load.

def _rows(data: Mapping[str, Any], key: str) -> list[Any]:
    rows = data.get(key)
    return rows if isinstance(rows, list) else []


def _catalogue_rules(file: str, data: Mapping[str, Any]) -> list[PackError]:
    entries = [(i, row.get("code")) for i, row in enumerate(_rows(data, "categories")) if isinstance(row, Mapping)]
    parsed: dict[int, CategoryCode] = {}
    errors: list[PackError] = []
    if isinstance(data.get("categories"), list) and not entries:
        errors.append(PackError(file, None, "categories", "no category: a case could not be filed under anything"))
    for i, code in entries:
        if not isinstance(code, str):
            continue  # the model names it
        try:
            parsed[i] = parse_category_code(code)
        except InvalidCategoryCode as exc:
            errors.append(PackError(file, f"category {i + 1} ({code})", "code", exc.reason))
    for i, row in enumerate(_rows(data, "categories")):
        for name, words in (("zh", "Chinese"), ("en", "English")):
            if isinstance(row, Mapping) and isinstance(row.get(name), str) and not row[name].strip():
                errors.append(PackError(file, _category_row(data, i), name, f"empty: every category needs its "
                                        f"{words} name (a case is shown and searched by it)"))
        if isinstance(row, Mapping) and i in parsed and not parsed[i].is_major:
            errors += _condition_rules(file, _category_row(data, i), row)
    errors += _area_class_rules(file, data, {str(c) for c in parsed.values()})
    majors = {str(c) for c in parsed.values() if c.is_major}
    seen: dict[str, int] = {}
    for i, code in sorted(parsed.items()):
        row = f"category {i + 1} ({code})"
        if str(code) in seen:
            errors.append(PackError(file, row, "code", f"{code} is listed already, as category {seen[str(code)]}"))
        seen.setdefault(str(code), i + 1)
        if not code.is_major and str(code.major_code) not in majors:
            errors.append(PackError(file, row, "code", f"its major category {code.major_code} is not in the file"))
    return errors


_CONDITIONS = (("filing_condition", "filing condition (立案条件: what a report must show to be filed as a case)"),
               ("closing_condition", "closing condition (结案条件: what the check must find before the case is "
                                     "closed)"))


def _condition_rules(file: str, row: str, entry: Mapping[str, Any]) -> list[PackError]:
    """A minor's filing and closing conditions are the centre's published standard: operators file and checkers
    close by them, so a minor without one (left out or blank) is a gap in the standard, not a default. A major is a
    group and needs none; a major's implied minor 99 has general wording (civicgrid/domain/catalogue.py)."""
    errors: list[PackError] = []
    for name, words in _CONDITIONS:
        value = entry.get(name)
        if value is None:
            errors.append(PackError(file, row, name, f"missing: every minor category needs its {words}"))
        elif isinstance(value, str) and not value.strip():  # another type: the model names it
            errors.append(PackError(file, row, name, f"empty: every minor category needs its {words}"))
    return errors


def _area_class_rules(file: str, data: Mapping[str, Any], listed: set[str]) -> list[PackError]:
    """A category's class in an area class is for a category the file lists (or a major's minor 99 "other")."""
    errors: list[PackError] = []
    areas = data.get("area_classes")
    for area, classes in areas.items() if isinstance(areas, Mapping) else ():
        for code in classes if isinstance(classes, Mapping) else ():
            row = f"area {area}, category {code}"
            try:
                parsed = parse_category_code(str(code))
            except InvalidCategoryCode as exc:
                errors.append(PackError(file, row, "area_classes", exc.reason))
                continue
            if str(parsed) not in listed and not (parsed.minor == OTHER_MINOR and str(parsed.major_code) in listed):
                errors.append(PackError(file, row, "area_classes", f"{code} is not in the catalogue"))
    return errors


def _limits_rules(file: str, data: Mapping[str, Any]) -> list[PackError]:
    classes = data.get("disposal_classes")
    given = set(classes) if isinstance(classes, Mapping) else set()
    errors = [PackError(file, f"disposal class {c.value}", None, "no limit (every class A–F needs one)")
              for c in DisposalClass if c.value not in given]
    categories = data.get("categories")
    for code in categories if isinstance(categories, Mapping) else ():
        try:
            parse_category_code(str(code))
        except InvalidCategoryCode as exc:
            errors.append(PackError(file, f"category {code}", None, exc.reason))
    by_area = data.get("area_categories")
    for area, limits in by_area.items() if isinstance(by_area, Mapping) else ():
        for code in limits if isinstance(limits, Mapping) else ():
            try:
                parse_category_code(str(code))
            except InvalidCategoryCode as exc:
                errors.append(PackError(file, f"area {area}, category {code}", None, exc.reason))
    return errors + _light_rules(file, data.get("light"))


def limits_in_catalogue(data: Mapping[str, Any], catalogue: Catalogue) -> list[PackError]:
    """A category's own limit (everywhere, or in an area) for a category the pack's catalogue does not have would
    never apply: a category removed from the catalogue and left in the limits, say."""
    errors: list[PackError] = []
    categories = data.get("categories")
    by_area = data.get("area_categories")
    named = [(f"category {code}", code) for code in (categories if isinstance(categories, Mapping) else ())]
    for area, limits in by_area.items() if isinstance(by_area, Mapping) else ():
        named += [(f"area {area}, category {code}", code) for code in (limits if isinstance(limits, Mapping) else ())]
    for row, code in named:
        if str(code) not in catalogue:
            errors.append(PackError("time_limits.yaml", row, None, f"{code} is not in the catalogue: its limit would "
                                    "never apply"))
    return errors


def _light_rules(file: str, light: Any) -> list[PackError]:
    """The light's shares of a limit used: each above 0, yellow before red (the deadline watch warns at yellow;
    one at or after the red would never warn)."""
    shares = {k: v for k, v in light.items() if isinstance(v, int | float) and not isinstance(v, bool)} \
        if isinstance(light, Mapping) else {}
    errors = [PackError(file, f"light {name}", None, f"{share} is not above 0: a share of the limit used")
              for name, share in shares.items() if share <= 0]
    yellow, red = shares.get("yellow", 0.8), shares.get("red", 1.0)
    if not errors and yellow >= red:
        errors.append(PackError(file, "light yellow", None,
                                f"{yellow} is not below red's {red}: the yellow light warns before the red"))
    return errors


def _calendar_rules(file: str, data: Mapping[str, Any]) -> list[PackError]:
    errors: list[PackError] = []
    previous: tuple[int, time] | None = None
    for i, text in enumerate(_rows(data, "periods")):
        try:
            start, end = parse_period(str(text))
        except ValueError:
            continue  # the model names it
        if previous is not None and start < previous[1]:
            errors.append(PackError(file, f"period {i + 1}", "periods", f"starts before period {previous[0]} ends: "
                                    "periods are in order and do not overlap"))
        previous = (i + 1, end)
    # A day cannot be both off and worked: which one the calendar took would be a guess (dates as written,
    # compared after the model's checks have passed, so '2026-10-09' and a YAML date are the same day).
    workdays = {str(d): i + 1 for i, d in enumerate(_rows(data, "workdays"))}
    for i, day in enumerate(_rows(data, "holidays")):
        if str(day) in workdays:
            errors.append(PackError(file, f"holiday {i + 1}", "holidays", f"{day} is also make-up workday "
                                    f"{workdays[str(day)]}: a day is either a holiday or a working day"))
    return errors


def _scoring_rules(file: str, data: Mapping[str, Any]) -> list[PackError]:
    errors: list[PackError] = []
    composites = data.get("composites")
    for level, weights in composites.items() if isinstance(composites, Mapping) else ():
        values = list(weights.values()) if isinstance(weights, Mapping) else []
        if all(isinstance(w, int | float) for w in values) and abs(sum(values) - 1.0) > 1e-6:
            errors.append(PackError(file, f"composite {level}", None, f"the weights add up to {sum(values):g}, not 1"))
    bands = _rows(data, "case_count_bands")
    if bands and isinstance(bands[-1], Mapping) and bands[-1].get("max") is not None:
        errors.append(PackError(file, f"case-count band {len(bands)}", "max",
                                "the last band must have max: null (every larger count)"))
    errors += _ascending(file, "case-count band", "max", [b.get("max") if isinstance(b, Mapping) else None
                                                         for b in bands[:-1]], "larger than")
    errors += _ascending(file, "grade", "min", [-g["min"] if isinstance(g, Mapping) and _number(g.get("min"))
                                               else None for g in _rows(data, "grades")], "smaller than")
    return errors


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ascending(file: str, row: str, field: str, values: list[Any], words: str) -> list[PackError]:
    """Bands are read first to last and the first that fits wins, so a band after a wider one is never reached: each
    band's bound must be `words` the one before (grades' minimums are passed negated, to be checked the same way)."""
    errors: list[PackError] = []
    previous: tuple[int, float] | None = None
    for i, value in enumerate(values):
        if not _number(value):
            continue  # the model names it (or it is the open last band)
        if previous is not None and value <= previous[1]:
            errors.append(PackError(file, f"{row} {i + 1}", field, f"{abs(value):g} is not {words} "
                                    f"{abs(previous[1]):g} of {row} {previous[0]}: the bands are read in order, so "
                                    "this one is never reached"))
        previous = (i + 1, value)
    return errors


def _permissions_rules(file: str, data: Mapping[str, Any]) -> list[PackError]:
    """The table replaces the shipped one whole, and an action it leaves out would be allowed to nobody (not even
    the admin): that is a forgotten row, not a rule."""
    actions = data.get("actions")
    if not isinstance(actions, Mapping):
        return []
    return [PackError(file, f"action {a.value}", None, "missing: list the roles that may take it")
            for a in Action if a.value not in actions]


def _duty_where(key: str, row: Callable[[int, Mapping[str, Any]], str]) \
        -> Callable[[Mapping[str, Any], Loc], tuple[str | None, str | None]]:
    def where(data: Mapping[str, Any], loc: Loc) -> tuple[str | None, str | None]:
        if len(loc) >= 2 and loc[0] == key and isinstance(loc[1], int):
            return row(loc[1], data), _field(loc[2:])
        return None, _field(loc)
    return where


def _problems(check: Callable[[Mapping[str, Any]], list[Problem]]) -> Callable[[str, Mapping[str, Any]],
                                                                                list[PackError]]:
    return lambda file, data: [PackError(file, row, field, message) for row, field, message in check(data)]


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the pack: its file, its model, where its rows are, and its own rules. An `optional` table has
    no shipped default: a pack without it leaves what the database holds (civicgrid/cases/pack_duties.py)."""

    name: str
    model: type[BaseModel]
    where: Callable[[Mapping[str, Any], Loc], tuple[str | None, str | None]]
    rules: Callable[[str, Mapping[str, Any]], list[PackError]]
    optional: bool = False

    @property
    def file(self) -> str:
        return f"{self.name}.yaml"

    def check(self, data: Any) -> list[PackError]:
        """Every error of this table's data (empty: it builds)."""
        if not isinstance(data, Mapping):
            return [PackError(self.file, None, None, f"must be a mapping of keys to values, not {type(data).__name__}")]
        errors = []
        try:
            self.model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                row, field = self.where(data, loc)
                message = _words(error)
                if _is_key(loc):
                    message = f"unknown name: {message}"
                errors.append(PackError(self.file, row, field, message))
        return errors + self.rules(self.file, data)


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("catalogue", CatalogueFile, _catalogue_where, _catalogue_rules),
    Table("time_limits", TimeLimitsFile, _limits_where, _limits_rules),
    Table("working_calendar", CalendarFile, _calendar_where, _calendar_rules),
    Table("permissions", PermissionsFile, _permissions_where, _permissions_rules),
    Table("scoring", ScoringFile, _scoring_where, _scoring_rules),
    Table("duplicates", DuplicatesFile, lambda data, loc: (None, _field(loc)), lambda file, data: []),
    Table("responsibility", ResponsibilityFile, _duty_where("rules", rule_row), _problems(responsibility_problems),
          optional=True),
    Table("patrol_plans", PatrolPlansFile, _duty_where("plans", plan_row), _problems(patrol_problems),
          optional=True),
)}
