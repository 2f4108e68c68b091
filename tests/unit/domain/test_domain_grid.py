"""Cell codes (CJ/T 213): parse, format, roll-ups, responsibility grids."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicgrid.domain.errors import DomainError
from civicgrid.domain.grid import (
    GridCode,
    InvalidGridCode,
    Level,
    ResponsibilityGrids,
    StreetKind,
    UnknownResponsibilityGrid,
    count_by,
    format_grid_code,
    is_valid_grid_code,
    parse_grid_code,
    roll_up,
    street_kind,
    validate_county_code,
)


def test_parse_example_from_domain_md() -> None:
    code = parse_grid_code("34152300100103")
    assert code == GridCode("341523", "001", "001", "03")
    assert str(code) == "34152300100103"
    assert code.street_code == "341523001"
    assert code.community_code == "341523001001"
    assert code.street_kind is StreetKind.STREET
    assert code.at(Level.COUNTY) == "341523"
    assert code.at(Level.CELL) == "34152300100103"


@pytest.mark.parametrize(
    ("code", "part"),
    [
        ("3415230010010", "length"),
        ("341523001001033", "length"),
        ("34152300100a03", "characters"),
        ("３４１５２３００１００１０３", "characters"),
        ("99152300100103", "county"),
        ("34150000100103", "county"),
        ("34152300000103", "street"),
        ("34152360000103", "street"),
        ("34152300100003", "community"),
        ("34152300100100", "cell"),
    ],
)
def test_invalid_codes_name_the_wrong_part(code: str, part: str) -> None:
    with pytest.raises(InvalidGridCode) as info:
        parse_grid_code(code)
    assert info.value.part == part
    assert part in str(info.value)
    assert not is_valid_grid_code(code)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidGridCode, match="type"):
        parse_grid_code(34152300100103)  # type: ignore[arg-type]


def test_beijing_three_digit_cell_sequence() -> None:
    code = parse_grid_code("110101001001103", cell_width=3)
    assert code.cell == "103"
    assert format_grid_code("110101", 1, 1, 103, cell_width=3) == "110101001001103"
    assert not is_valid_grid_code("110101001001103")


@pytest.mark.parametrize(
    ("street", "kind"),
    [("001", StreetKind.STREET), ("099", StreetKind.STREET), ("100", StreetKind.TOWN),
     ("250", StreetKind.TOWNSHIP), ("399", StreetKind.TOWNSHIP), ("400", StreetKind.OTHER)],
)
def test_street_kind(street: str, kind: StreetKind) -> None:
    assert street_kind(street) is kind


def test_validate_county_code() -> None:
    assert validate_county_code("341523") == "341523"
    with pytest.raises(InvalidGridCode, match="province"):
        validate_county_code("011523")
    with pytest.raises(InvalidGridCode, match="6 digits"):
        validate_county_code("34152")


def test_format_pads_and_validates() -> None:
    assert format_grid_code("341523", 1, "1", 3) == "34152300100103"
    with pytest.raises(InvalidGridCode):
        format_grid_code("341523", 0, 1, 3)


def test_roll_up_and_count_by() -> None:
    codes = ["34152300100103", "34152300100201", "34152300200101", "34152300100104"]
    assert roll_up(codes[0], "street") == "341523001"
    assert roll_up(codes[0], Level.COMMUNITY) == "341523001001"
    assert count_by(codes, Level.COMMUNITY) == {"341523001001": 2, "341523001002": 1, "341523002001": 1}
    assert count_by(codes, "street") == {"341523001": 3, "341523002": 1}
    assert count_by(codes, Level.COUNTY) == {"341523": 4}
    with pytest.raises(InvalidGridCode):
        roll_up("3415", Level.STREET)


def test_responsibility_grids() -> None:
    grids = ResponsibilityGrids.from_mapping({"G1": ["34152300100101", "34152300100102"], "G2": ["34152300100201"]})
    assert grids.grid_of("34152300100102") == "G1"
    assert grids.grid_of("34152300900101") is None
    assert grids.cells_of("G2") == frozenset({"34152300100201"})
    assert grids.count_by_grid(["34152300100101", "34152300100201", "34152300100101", "x"]) == {
        "": 1, "G1": 2, "G2": 1,
    }
    with pytest.raises(UnknownResponsibilityGrid):
        grids.cells_of("G9")
    with pytest.raises(DomainError, match="G1"):
        ResponsibilityGrids.from_mapping({"G1": ["a"], "G2": ["a"]})


codes = st.builds(
    format_grid_code,
    st.sampled_from(["341523", "110101", "440305", "820001"]),
    st.integers(1, 599),
    st.integers(1, 999),
    st.integers(1, 99),
)


@given(codes)
def test_round_trip(code: str) -> None:
    parsed = parse_grid_code(code)
    assert str(parsed) == code
    assert format_grid_code(parsed.county, parsed.street, parsed.community, parsed.cell) == code
    assert code.startswith(parsed.community_code) and parsed.community_code.startswith(parsed.street_code)


@given(st.text(max_size=16))
def test_parse_never_raises_anything_but_invalid_grid_code(text: str) -> None:
    with contextlib.suppress(InvalidGridCode):
        parse_grid_code(text)
