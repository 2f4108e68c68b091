"""Component and event categories (CJ/T 214) and their typed codes.

Components and events share numeric codes, so civicgrid writes a typed code (docs/domain.md
§3): `C` or `E` + major (2) [+ minor (2)], e.g. `C0101`, `E0102`, `E04`. The same
string is the Open311 `service_code`. The categories themselves are data
(`catalogue.yaml`, shipped here and loaded once); a city extends or overrides them
with a mapping of the same shape, without code changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from civicgrid.domain.errors import DomainError
from civicgrid.domain.time_limits import DisposalClass

OTHER_MINOR = "99"  # "other" in every major (CJ/T 214)
_CODE_RE = re.compile(r"([CE])(\d{2})(\d{2})?")


class Kind(StrEnum):
    COMPONENT = "C"  # 部件
    EVENT = "E"  # 事件


class InvalidCategoryCode(DomainError):
    def __init__(self, code: object, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"invalid category code {code!r}: {reason}")


class UnknownCategory(DomainError):
    """A well-formed category code or name that the catalogue does not list."""


class InvalidCatalogue(DomainError):
    """Catalogue data that does not have the documented shape."""


@dataclass(frozen=True, slots=True, order=True)
class CategoryCode:
    """A typed category code; `minor` is None for a major category."""

    kind: Kind
    major: str
    minor: str | None = None

    def __str__(self) -> str:
        return f"{self.kind.value}{self.major}{self.minor or ''}"

    @property
    def is_major(self) -> bool:
        return self.minor is None

    @property
    def major_code(self) -> CategoryCode:
        return CategoryCode(self.kind, self.major)


def parse_category_code(code: str) -> CategoryCode:
    """Parse `C01`, `C0101`, `E0102` …; the major and minor must not be 00."""
    if not isinstance(code, str):
        raise InvalidCategoryCode(code, "a category code is a string such as 'C0101'")
    m = _CODE_RE.fullmatch(code)
    if m is None:
        raise InvalidCategoryCode(code, "expected C or E, 2 major digits and optionally 2 minor digits")
    kind, major, minor = m.groups()
    if major == "00":
        raise InvalidCategoryCode(code, "major 00 does not exist")
    if minor == "00":
        raise InvalidCategoryCode(code, "minor 00 does not exist")
    return CategoryCode(Kind(kind), major, minor)


def format_category_code(kind: Kind | str, major: int | str, minor: int | str | None = None) -> str:
    """Build a typed code from its parts (numbers are zero-padded) and validate it."""
    code = f"{Kind(kind).value}{int(major):02d}" + ("" if minor is None else f"{int(minor):02d}")
    parse_category_code(code)
    return code


@dataclass(frozen=True, slots=True)
class Category:
    code: CategoryCode
    zh: str
    en: str
    disposal_class: DisposalClass
    filing_condition: str = ""
    closing_condition: str = ""

    @property
    def kind(self) -> Kind:
        return self.code.kind


class CategoryEntry(BaseModel):
    """One entry of a catalogue file (the boundary: pydantic, extra keys refused; the rule pack reports its errors
    by row, civicgrid/cases/pack_check.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    zh: str
    en: str
    disposal_class: DisposalClass | None = None
    filing_condition: str = ""
    closing_condition: str = ""


class CatalogueFile(BaseModel):
    """A catalogue file: `categories`, a list of entries; optionally `area_classes`, a category's disposal class in
    an area class (``{core: {E0103: B}}``: in core streets; the cells of an area class are the time limits')."""

    model_config = ConfigDict(extra="forbid")
    categories: list[CategoryEntry]
    area_classes: dict[str, dict[str, DisposalClass]] = {}


class Catalogue:
    """The categories of one city, looked up by typed code or by name."""

    def __init__(self, entries: list[CategoryEntry],
                 area_classes: Mapping[str, Mapping[str, DisposalClass]] | None = None) -> None:
        self._area_classes = {a: dict(m) for a, m in (area_classes or {}).items()}
        self._entries = {e.code: e for e in entries}
        for code in self._entries:
            parse_category_code(code)
        self._by_code: dict[str, Category] = {}
        for code in sorted(self._entries):
            parsed = parse_category_code(code)
            if parsed.is_major:
                self._add(parsed, self._entries[code], None)
        for code in sorted(self._entries):
            parsed = parse_category_code(code)
            if not parsed.is_major:
                major = self._by_code.get(str(parsed.major_code))
                if major is None:
                    raise InvalidCatalogue(f"category {code} has no major {parsed.major_code}")
                self._add(parsed, self._entries[code], major)
        for major in [c for c in self._by_code.values() if c.code.is_major]:
            other = CategoryCode(major.code.kind, major.code.major, OTHER_MINOR)
            if str(other) not in self._by_code:
                filing, closing = _other_conditions(major)
                self._by_code[str(other)] = Category(
                    other, f"其他{major.zh}", f"Other ({major.en})", major.disposal_class, filing, closing
                )
        self._by_code = dict(sorted(self._by_code.items()))
        self._by_name: dict[str, Category] = {}
        for cat in self._by_code.values():
            # Majors come first in code order, so a minor with its major's name (C03 and
            # E01 are both 市容环境) never shadows it; names map to the first code.
            self._by_name.setdefault(cat.zh, cat)
            self._by_name.setdefault(cat.en.casefold(), cat)

    def _add(self, code: CategoryCode, entry: CategoryEntry, major: Category | None) -> None:
        cls = entry.disposal_class or (major.disposal_class if major else DisposalClass.C)
        self._by_code[str(code)] = Category(
            code, entry.zh, entry.en, cls, entry.filing_condition, entry.closing_condition
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalogue:
        return cls(_parse(data), _parse_file(data).area_classes)

    def disposal_class_in(self, code: str | CategoryCode, area: str | None) -> DisposalClass:
        """The category's disposal class in an area class: its own there, else its major's there, else its class.
        Raises `UnknownCategory` like `get`."""
        category = self.get(code)
        there = self._area_classes.get(area or "", {})
        return there.get(str(category.code)) or there.get(str(category.code.major_code)) or category.disposal_class

    def merged(self, local: Mapping[str, Any]) -> Catalogue:
        """A new catalogue with a city's entries added; an entry with an existing code replaces it."""
        entries = dict(self._entries)
        for entry in _parse(local):
            entries[entry.code] = entry
        return Catalogue(list(entries.values()))

    def __contains__(self, code: object) -> bool:
        return str(code) in self._by_code

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str | CategoryCode) -> Category:
        """The category with this typed code; raises `UnknownCategory` (or `InvalidCategoryCode`)."""
        key = str(code) if isinstance(code, CategoryCode) else str(parse_category_code(code))
        try:
            return self._by_code[key]
        except KeyError:
            raise UnknownCategory(f"category {key} is not in the catalogue") from None

    def by_name(self, name: str) -> Category:
        """Look up by Chinese name or (case-insensitive) English name."""
        cat = self._by_name.get(name) or self._by_name.get(name.casefold())
        if cat is None:
            raise UnknownCategory(f"no category is named {name!r}")
        return cat

    def majors(self, kind: Kind | str) -> list[Category]:
        kind = Kind(kind)
        return [c for c in self if c.code.is_major and c.kind is kind]

    def minors(self, major: str | CategoryCode) -> list[Category]:
        """The minor categories under a major code such as `C01`."""
        m = self.get(major).code
        return [c for c in self if not c.code.is_major and c.code.major_code == m]


def _other_conditions(major: Category) -> tuple[str, str]:
    """The filing and closing conditions of a major's implied minor 99: general words for its kind, as centres
    publish them for 其他 (a pack requires conditions on the minors it lists; this one it does not list)."""
    if major.kind is Kind.COMPONENT:
        return (f"{major.zh}类中本类各小类未列明的部件破损、缺失、移位、倾斜、污损或功能异常",
                "部件已修复、补齐或更换，功能正常，外观整洁")
    return (f"{major.zh}类中本类各小类未列明、影响市容环境、公共秩序或公共安全的问题",
            "问题已处置到位，现场恢复正常")


def _parse_file(data: Mapping[str, Any]) -> CatalogueFile:
    try:
        return CatalogueFile.model_validate(data)
    except ValidationError as exc:
        raise InvalidCatalogue(f"catalogue data: {exc}") from exc


def _parse(data: Mapping[str, Any]) -> list[CategoryEntry]:
    return _parse_file(data).categories


@functools.cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped with civicgrid (read once per process)."""
    text = resources.files("civicgrid.domain").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return Catalogue.from_mapping(yaml.safe_load(text))
