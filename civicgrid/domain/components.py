"""The 16-digit component identifier (CJ/T 214) and a component's attributes.

Identifier = county (6, GB/T 2260) + major (2) + minor (2) + serial (6), e.g.
`3415230101000001`: Shucheng, water-supply manhole cover no. 1. The major and minor
are a component category, i.e. the typed code `C` + major + minor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from civicgrid.domain.catalogue import Catalogue, CategoryCode, Kind, UnknownCategory, parse_category_code
from civicgrid.domain.errors import DomainError
from civicgrid.domain.grid import InvalidGridCode, validate_county_code

COMPONENT_ID_LEN = 16


class InvalidComponentId(DomainError):
    """A component identifier whose `part` (length, county, major, minor, serial, category) is wrong."""

    def __init__(self, code: str, part: str, reason: str) -> None:
        self.code = code
        self.part = part
        self.reason = reason
        super().__init__(f"invalid component id {code!r}: {part}: {reason}")


@dataclass(frozen=True, slots=True, order=True)
class ComponentId:
    county: str
    major: str
    minor: str
    serial: str

    def __str__(self) -> str:
        return self.county + self.major + self.minor + self.serial

    @property
    def category(self) -> CategoryCode:
        """The typed category code of the component, e.g. C0101."""
        return CategoryCode(Kind.COMPONENT, self.major, self.minor)


def parse_component_id(code: str, catalogue: Catalogue | None = None) -> ComponentId:
    """Parse and validate; with a catalogue, the category must also be listed in it."""
    if not isinstance(code, str):
        raise InvalidComponentId(repr(code), "type", "a component id is a string of digits")
    if len(code) != COMPONENT_ID_LEN:
        raise InvalidComponentId(code, "length", f"expected 16 digits, got {len(code)}")
    if not (code.isdigit() and code.isascii()):
        raise InvalidComponentId(code, "characters", "only the digits 0-9 are allowed")
    try:
        validate_county_code(code[:6])
    except InvalidGridCode as exc:
        raise InvalidComponentId(code, "county", exc.reason) from None
    major, minor, serial = code[6:8], code[8:10], code[10:]
    if major == "00":
        raise InvalidComponentId(code, "major", "major 00 does not exist")
    if minor == "00":
        raise InvalidComponentId(code, "minor", "minor 00 does not exist")
    if serial == "000000":
        raise InvalidComponentId(code, "serial", "serials start at 000001")
    cid = ComponentId(code[:6], major, minor, serial)
    if catalogue is not None and cid.category not in catalogue:
        raise InvalidComponentId(code, "category", f"{cid.category} is not in the catalogue")
    return cid


_ID_RUN = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")


def component_ids_in_label(text: str) -> list[str]:
    """The valid component ids a label's text names, in order, each once.

    Labels differ by city and supplier: `CG:3415230101000001`, the bare id, or a URL
    ending in it; any run of exactly 16 digits that parses as an id counts, so a phone
    number or a longer serial on the same label does not.
    """
    found: list[str] = []
    for run in _ID_RUN.findall(text):
        try:
            parse_component_id(run)
        except InvalidComponentId:
            continue
        if run not in found:
            found.append(run)
    return found


def format_component_id(county: str, category: str | CategoryCode, serial: int) -> str:
    """Build an identifier from a county code, a component category (`C0101`) and a serial number."""
    cat = category if isinstance(category, CategoryCode) else parse_category_code(str(category))
    if cat.kind is not Kind.COMPONENT or cat.minor is None:
        raise UnknownCategory(f"{cat} is not a component minor category (C + major + minor)")
    if not 1 <= serial <= 999_999:
        raise InvalidComponentId(f"{county}{cat.major}{cat.minor}?", "serial", f"{serial} is not 1-999999")
    code = f"{county}{cat.major}{cat.minor}{serial:06d}"
    parse_component_id(code)
    return code


class ComponentState(StrEnum):
    INTACT = "intact"  # 完好
    DAMAGED = "damaged"  # 破损
    MISSING = "missing"  # 丢失
    OCCUPIED = "occupied"  # 占用


class DataSource(StrEnum):
    SURVEY = "survey"  # 实测
    MAP = "map"  # 地形图
    FIELD_MAPPING = "field_mapping"  # 调绘
    OTHER = "other"  # 其它


@dataclass(frozen=True, slots=True)
class Component:
    """A registered public object with the CJ/T 214 attributes."""

    id: ComponentId
    name: str
    cell: str
    lon: float
    lat: float
    supervising_department: str = ""  # 主管部门
    owner: str = ""  # 权属单位
    maintainer: str = ""  # 养护单位
    state: ComponentState = ComponentState.INTACT
    first_recorded: date | None = None
    changed: date | None = None
    data_source: DataSource = DataSource.SURVEY
    photo: str | None = None
    note: str = ""
