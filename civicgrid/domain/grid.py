"""Unit grid cell codes (CJ/T 213) and the roll-ups they encode.

A cell code is county (6, GB/T 2260) + street/town (3, GB/T 10114) + community (3)
+ cell sequence (2 by the national standard, 3 in Beijing's local standard: the
width is a parameter). Prefixes select the roll-up levels, so region statistics are
string slicing, not a lookup. Responsibility grids (责任网格) group cells for patrol;
they are city data, not encoded in the cell code, so they live in `ResponsibilityGrids`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from civicgrid.domain.errors import DomainError

COUNTY_LEN = 6
STREET_LEN = 3
COMMUNITY_LEN = 3
DEFAULT_CELL_WIDTH = 2
STREET_PREFIX_LEN = COUNTY_LEN + STREET_LEN
COMMUNITY_PREFIX_LEN = STREET_PREFIX_LEN + COMMUNITY_LEN


class InvalidGridCode(DomainError):
    """A grid code whose `part` (county, street, community, cell, length) is wrong."""

    def __init__(self, code: str, part: str, reason: str) -> None:
        self.code = code
        self.part = part
        self.reason = reason
        super().__init__(f"invalid grid code {code!r}: {part}: {reason}")


class Level(StrEnum):
    """Roll-up levels of the region evaluation (CJ/T 292 区域评价)."""

    COUNTY = "county"
    STREET = "street"
    COMMUNITY = "community"
    CELL = "cell"


class StreetKind(StrEnum):
    """What the GB/T 10114 street code range says the unit is."""

    STREET = "street"  # 001-099 街道
    TOWN = "town"  # 100-199 镇
    TOWNSHIP = "township"  # 200-399 乡 (incl. ethnic townships)
    OTHER = "other"  # 400-599 farms, development zones and other 政企合一 units


def street_kind(street: str) -> StreetKind:
    """Classify a 3-digit street code by its GB/T 10114 range."""
    n = int(street)
    if n < 100:
        return StreetKind.STREET
    if n < 200:
        return StreetKind.TOWN
    if n < 400:
        return StreetKind.TOWNSHIP
    return StreetKind.OTHER


def validate_county_code(county: str, *, code: str | None = None) -> str:
    """Check a 6-digit GB/T 2260 county-level code; returns it unchanged."""
    shown = county if code is None else code
    if len(county) != COUNTY_LEN or not county.isdigit() or not county.isascii():
        raise InvalidGridCode(shown, "county", f"expected 6 digits, got {county!r}")
    # GB/T 2260 province codes run 11..82; a county code ending in 00 is a prefecture
    # or province total, never a county that owns cells.
    if not 11 <= int(county[:2]) <= 82:
        raise InvalidGridCode(shown, "county", f"province part {county[:2]} is not 11-82")
    if county[4:] == "00":
        raise InvalidGridCode(shown, "county", "ends in 00, which is a prefecture, not a county")
    return county


@dataclass(frozen=True, slots=True, order=True)
class GridCode:
    """A parsed unit grid cell code. Ordering is the code string's, i.e. lowest code first."""

    county: str
    street: str
    community: str
    cell: str

    def __str__(self) -> str:
        return self.county + self.street + self.community + self.cell

    @property
    def street_code(self) -> str:
        """The 9-digit street/town prefix (street-level roll-up)."""
        return self.county + self.street

    @property
    def community_code(self) -> str:
        """The 12-digit community prefix (community-level roll-up)."""
        return self.county + self.street + self.community

    @property
    def street_kind(self) -> StreetKind:
        return street_kind(self.street)

    def at(self, level: Level) -> str:
        """The code of this cell's region at `level` (a prefix of the full code)."""
        return roll_up(str(self), level)


def parse_grid_code(code: str, *, cell_width: int = DEFAULT_CELL_WIDTH) -> GridCode:
    """Parse and validate a cell code, naming the wrong part on failure."""
    if not isinstance(code, str):
        raise InvalidGridCode(repr(code), "type", "a grid code is a string of digits")
    expected = COMMUNITY_PREFIX_LEN + cell_width
    if len(code) != expected:
        raise InvalidGridCode(code, "length", f"expected {expected} digits, got {len(code)}")
    if not (code.isdigit() and code.isascii()):
        raise InvalidGridCode(code, "characters", "only the digits 0-9 are allowed")
    county = validate_county_code(code[:COUNTY_LEN], code=code)
    street = code[COUNTY_LEN:STREET_PREFIX_LEN]
    if not 1 <= int(street) <= 599:
        raise InvalidGridCode(code, "street", f"{street} is not in 001-599 (GB/T 10114)")
    community = code[STREET_PREFIX_LEN:COMMUNITY_PREFIX_LEN]
    if community == "000":
        raise InvalidGridCode(code, "community", "sequence 000 is not used; communities start at 001")
    cell = code[COMMUNITY_PREFIX_LEN:]
    if int(cell) == 0:
        raise InvalidGridCode(code, "cell", f"sequence {cell} is not used; cells start at 1")
    return GridCode(county, street, community, cell)


def format_grid_code(
    county: str, street: int | str, community: int | str, cell: int | str, *, cell_width: int = 2
) -> str:
    """Build a cell code from its parts (numbers are zero-padded) and validate it."""
    code = f"{county}{int(street):03d}{int(community):03d}{int(cell):0{cell_width}d}"
    parse_grid_code(code, cell_width=cell_width)
    return code


def is_valid_grid_code(code: str, *, cell_width: int = DEFAULT_CELL_WIDTH) -> bool:
    try:
        parse_grid_code(code, cell_width=cell_width)
    except InvalidGridCode:
        return False
    return True


_PREFIX = {
    Level.COUNTY: COUNTY_LEN,
    Level.STREET: STREET_PREFIX_LEN,
    Level.COMMUNITY: COMMUNITY_PREFIX_LEN,
}


def roll_up(code: str, level: Level | str) -> str:
    """The region code containing a cell at `level`; the cell level returns the code itself."""
    level = Level(level)
    if level is Level.CELL:
        return code
    n = _PREFIX[level]
    if len(code) < n:
        raise InvalidGridCode(code, "length", f"too short for the {level} level ({n} digits)")
    return code[:n]


def count_by(codes: Iterable[str], level: Level | str) -> dict[str, int]:
    """Count cell codes (e.g. of cases) per region at `level`, sorted by region code."""
    counts = Counter(roll_up(c, level) for c in codes)
    return dict(sorted(counts.items()))


class UnknownResponsibilityGrid(DomainError):
    """A cell that no responsibility grid covers, or a grid name that does not exist."""


@dataclass(frozen=True, slots=True)
class ResponsibilityGrids:
    """Responsibility grids (责任网格): named groups of cells patrolled by one inspector team.

    Built from city data (`{"grid name": [cell codes...]}`); a cell belongs to one grid.
    """

    cells_by_grid: Mapping[str, frozenset[str]]
    grid_by_cell: Mapping[str, str]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Iterable[str]]) -> ResponsibilityGrids:
        cells_by_grid: dict[str, frozenset[str]] = {}
        grid_by_cell: dict[str, str] = {}
        for grid, cells in data.items():
            members = frozenset(cells)
            for cell in members:
                if cell in grid_by_cell:
                    raise DomainError(
                        f"cell {cell} is in responsibility grids {grid_by_cell[cell]!r} and {grid!r}"
                    )
                grid_by_cell[cell] = grid
            cells_by_grid[grid] = members
        return cls(cells_by_grid, grid_by_cell)

    def grid_of(self, cell_code: str) -> str | None:
        """The responsibility grid of a cell, or None when no grid covers it."""
        return self.grid_by_cell.get(cell_code)

    def cells_of(self, grid: str) -> frozenset[str]:
        try:
            return self.cells_by_grid[grid]
        except KeyError:
            raise UnknownResponsibilityGrid(f"no responsibility grid named {grid!r}") from None

    def count_by_grid(self, codes: Iterable[str]) -> dict[str, int]:
        """Count cell codes per responsibility grid; cells outside every grid count under ''."""
        counts = Counter(self.grid_by_cell.get(c, "") for c in codes)
        return dict(sorted(counts.items()))
