"""A city's rule pack: its catalogue, time limits, working calendar, permissions and scoring as one validated whole.

A pack is a directory of YAML files with the shapes of the tables shipped in civicgrid/domain/ (catalogue.yaml,
time_limits.yaml, working_calendar.yaml, permissions.yaml, scoring.yaml); a file left out means the shipped table,
so a county that only runs round-the-clock duty writes one file. The responsibility table and the patrol plans
(responsibility.yaml, patrol_plans.yaml: civicgrid/cases/pack_duties.py) have no shipped table: left out, the
database's stay. Loading checks every table at once and refuses
the pack with all its errors (civicgrid/cases/pack_check.py), so a pack that loads always builds one `Rules`.

The pack's content — every table as plain JSON, the shipped ones filled in — is what the database stores per
version (civicgrid/store/rule_packs.py) and what its digest is taken over: loading the same files twice, or a pack
exported and loaded back, gives the same digest and so no new version.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from civicgrid.cases.duplicates import DuplicateRule
from civicgrid.cases.pack_check import TABLES, PackError, limits_in_catalogue
from civicgrid.cases.pack_duties import catalogue_problems
from civicgrid.cases.rules import Rules
from civicgrid.domain.catalogue import Catalogue
from civicgrid.domain.errors import DomainError
from civicgrid.domain.permissions import Permissions
from civicgrid.domain.scoring import Scoring
from civicgrid.domain.time_limits import TimeLimits
from civicgrid.domain.working_calendar import WorkingCalendar

Content = Mapping[str, Any]
SHIPPED = "shipped defaults"


class InvalidPack(ValueError):
    """A pack that does not load; `errors` lists every problem found, each with its file, row and field."""

    def __init__(self, errors: list[PackError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the rule pack:\n" + "\n".join(f"  {e}" for e in errors))


@dataclass(frozen=True, slots=True)
class RulePack:
    """A validated pack: its content (every table), where it came from, and the `Rules` it builds."""

    content: Content
    source: str
    rules: Rules = field(compare=False, repr=False)

    @property
    def digest(self) -> str:
        return digest(self.content)


def digest(content: Content) -> str:
    """SHA-256 of the content as canonical JSON (sorted keys): equal tables, equal digest."""
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _plain(value: Any) -> Any:
    """YAML's values as JSON's: dates as ISO text, keys as text (what the database keeps and gives back)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@functools.cache
def _shipped_table(name: str) -> Any:
    text = resources.files("civicgrid.domain").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return _plain(yaml.safe_load(text) or {})


@functools.cache
def shipped_pack() -> RulePack:
    """The tables shipped with civicgrid (docs/domain.md): the fallback pack, stored as version 1."""
    return from_tables({}, SHIPPED)


def from_tables(tables: Mapping[str, Any], source: str) -> RulePack:
    """A pack from tables already parsed (the admin API's JSON, a stored version); missing ones are shipped.
    Raises `InvalidPack` with every error."""
    errors = [PackError(f"{name}.yaml", None, None, f"not a table of the rule pack (tables: {', '.join(TABLES)})")
              for name in tables if name not in TABLES]
    content = {name: _plain(tables[name]) if name in tables else _shipped_table(name) for name in TABLES
               if name in tables or not TABLES[name].optional}  # an optional table left out: the database's stays
    for name, table in TABLES.items():
        if name in content:
            errors += table.check(content[name])
    if errors:
        raise InvalidPack(errors)
    try:
        rules = build_rules(content)
    except DomainError as exc:  # the checks above are meant to leave nothing for this
        raise InvalidPack([PackError("pack", None, None, str(exc))]) from exc
    errors = limits_in_catalogue(content["time_limits"], rules.catalogue)
    if "responsibility" in content:
        errors += [PackError("responsibility.yaml", row, field, message)
                   for row, field, message in catalogue_problems(content["responsibility"], rules.catalogue)]
    if errors:
        raise InvalidPack(errors)
    return RulePack(content, source, rules)


def load_pack(directory: Path) -> RulePack:
    """Read a pack directory: one YAML file per table, a missing file meaning the shipped table."""
    if not directory.is_dir():
        raise InvalidPack([PackError(str(directory), None, None, "no such directory")])
    tables: dict[str, Any] = {}
    errors: list[PackError] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.stem not in TABLES or path.suffix != ".yaml":
            errors.append(PackError(path.name, None, None, "not a file of the rule pack (files: "
                                    f"{', '.join(f'{t}.yaml' for t in TABLES)})"))
            continue
        try:
            tables[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            errors.append(PackError(path.name, None, None, "not UTF-8 text"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            row = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
            errors.append(PackError(path.name, row, None, f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
    try:
        pack = from_tables(tables, str(directory.resolve()))
    except InvalidPack as exc:
        errors += exc.errors
    if errors:
        raise InvalidPack(errors)
    return pack


def build_rules(content: Content) -> Rules:
    """The one `Rules` object of a pack's content (checked: see `from_tables`)."""
    return Rules(catalogue=Catalogue.from_mapping(content["catalogue"]),
                 limits=TimeLimits.from_mapping(content["time_limits"]),
                 calendar=WorkingCalendar.from_mapping(content["working_calendar"]),
                 permissions=Permissions.from_mapping(content["permissions"]),
                 scoring=Scoring.from_mapping(content["scoring"]),
                 duplicates=DuplicateRule.from_mapping(content.get("duplicates")))  # absent in versions before it


def export_pack(content: Content, directory: Path, header: str) -> list[Path]:
    """Write the pack's tables as YAML files that load back to the same content (and digest)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in [t for t in TABLES if t in content]:
        path = directory / f"{name}.yaml"
        body = yaml.safe_dump(content[name], allow_unicode=True, sort_keys=False, width=120)
        path.write_text(f"# {header}\n{body}", encoding="utf-8")
        written.append(path)
    return written


def counts(content: Content) -> dict[str, str]:
    """How much each table holds, in words (`civicgrid rules show`, GET /admin/rules)."""
    limits, cal, scoring = content["time_limits"], content["working_calendar"], content["scoring"]
    calendar = "round the clock" if cal.get("round_the_clock") else (
        f"{len(cal.get('periods') or ())} periods a day, {len(cal.get('holidays') or ())} holidays, "
        f"{len(cal.get('workdays') or ())} make-up workdays")
    return {
        "catalogue": f"{len(content['catalogue']['categories'])} categories",
        "time_limits": f"{len(limits.get('steps') or {})} steps, {len(limits.get('disposal_classes') or {})} "
                       f"classes, {len(limits.get('areas') or {})} areas, {len(limits.get('categories') or {})} "
                       "category limits",
        "working_calendar": calendar,
        "permissions": f"{len(content['permissions']['actions'])} actions",
        "scoring": f"{len(scoring['composites'])} composites, {len(scoring['case_count_bands'])} count bands, "
                   f"{len(scoring['grades'])} grades",
        "responsibility": f"{len(content['responsibility']['rules'])} rules" if "responsibility" in content
                          else "not in the pack: the database's table",
        "patrol_plans": f"{len(content['patrol_plans']['plans'])} plans" if "patrol_plans" in content
                        else "not in the pack: the database's plans",
    }
