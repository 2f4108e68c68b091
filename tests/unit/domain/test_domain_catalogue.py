"""Category codes and the CJ/T 214 catalogue; the 16-digit component identifier."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicgrid.domain.catalogue import (
    Catalogue,
    CategoryCode,
    InvalidCatalogue,
    InvalidCategoryCode,
    Kind,
    UnknownCategory,
    default_catalogue,
    format_category_code,
    parse_category_code,
)
from civicgrid.domain.components import (
    Component,
    ComponentId,
    ComponentState,
    DataSource,
    InvalidComponentId,
    component_ids_in_label,
    format_component_id,
    parse_component_id,
)
from civicgrid.domain.time_limits import DisposalClass

# Every minor the catalogue lists (docs/domain.md).
DOMAIN_MINORS = (
    [f"C01{n:02d}" for n in range(1, 28)]
    + ["C0201", "C0203", "C0205", "C0206", "C0208", "C0209", "C0211", "C0212", "C0213"]
    + ["C0301", "C0302", "C0304", "C0305", "C0306", "C0307", "C0401", "C0402", "C0405", "C0406", "C0407"]
    + ["C0501", "C0502"]
    + [f"E01{n:02d}" for n in range(1, 9)]
    + ["E0201", "E0202", "E0204", "E0301", "E0302", "E0401", "E0402", "E0403", "E0404"]
    + ["E0501", "E0502", "E0503", "E0504", "E0505", "E0506", "E0507", "E0510"]
)


def test_default_catalogue_has_every_listed_category() -> None:
    cat = default_catalogue()
    assert cat is default_catalogue()  # loaded once
    for code in DOMAIN_MINORS:
        assert code in cat, code
    for code in ["C01", "C02", "C03", "C04", "C05", "C06", "E01", "E02", "E03", "E04", "E05"]:
        assert code in cat
        assert f"{code}99" in cat  # "other" in every major


def test_every_minor_has_its_filing_and_closing_conditions_and_an_implied_other_has_general_ones() -> None:
    """The shipped catalogue is a 立案结案标准 as centres publish it: every minor says when a report is filed and
    when the case may close; a major's implied minor 99 says it in general words for its kind."""
    cat = default_catalogue()
    minors = [c for c in cat if not c.code.is_major]
    assert len(minors) == len(DOMAIN_MINORS) + 11
    for category in minors:
        assert category.filing_condition.strip() and category.closing_condition.strip(), category.code
    assert "2厘米" in cat.get("C0101").filing_condition and "0.5平方米" in cat.get("E0102").filing_condition
    assert "1立方米" in cat.get("E0103").filing_condition and "盲道" in cat.get("E0505").filing_condition
    other_part, other_event = cat.get("C0499"), cat.get("E0499")
    assert "园林绿化" in other_part.filing_condition and "破损" in other_part.filing_condition
    assert "突发事件" in other_event.filing_condition and other_event.closing_condition != other_part.closing_condition
    assert not cat.get("C04").filing_condition  # a major is a group


def test_lookup_by_code_and_name() -> None:
    cat = default_catalogue()
    cover = cat.get("C0101")
    assert (cover.zh, cover.en, cover.disposal_class) == ("上水井盖", "Water-supply manhole cover", DisposalClass.A)
    assert cover.kind is Kind.COMPONENT
    assert cover.filing_condition and cover.closing_condition
    assert cat.get(CategoryCode(Kind.EVENT, "04", "03")).en == "Gas leak"
    assert cat.by_name("暴露垃圾").code == parse_category_code("E0102")
    assert cat.by_name("litter bin").code == parse_category_code("C0305")
    assert cat.by_name("市容环境").code == parse_category_code("C03")  # first code of a shared name
    assert cat.get("E0499").disposal_class is DisposalClass.A  # inherited from the major
    assert cat.get("C0499").zh == "其他园林绿化"
    with pytest.raises(UnknownCategory):
        cat.get("C0198")
    with pytest.raises(UnknownCategory):
        cat.by_name("不存在")
    with pytest.raises(InvalidCategoryCode):
        cat.get("X0101")


def test_majors_and_minors() -> None:
    cat = default_catalogue()
    assert [str(c.code) for c in cat.majors("E")] == ["E01", "E02", "E03", "E04", "E05"]
    assert [str(c.code) for c in cat.minors("E04")] == ["E0401", "E0402", "E0403", "E0404", "E0499"]
    assert len(cat) == len(list(cat))


def test_city_extends_and_overrides_without_code_changes() -> None:
    local = {
        "categories": [
            {"code": "E21", "zh": "地方事件", "en": "Local events", "disposal_class": "D"},
            {"code": "E2101", "zh": "共享单车堆积", "en": "Shared bikes piled up"},
            {"code": "E0102", "zh": "暴露垃圾", "en": "Exposed garbage", "disposal_class": "C"},
        ]
    }
    cat = default_catalogue().merged(local)
    assert cat.get("E2101").disposal_class is DisposalClass.D
    assert cat.get("E2199").en == "Other (Local events)"
    assert cat.get("E0102").disposal_class is DisposalClass.C
    assert default_catalogue().get("E0102").disposal_class is DisposalClass.B  # default untouched


@pytest.mark.parametrize(
    "data",
    [
        {"categories": [{"code": "C0101", "zh": "x", "en": "x"}]},  # minor without major
        {"categories": [{"code": "C01", "zh": "x", "en": "x", "colour": "red"}]},  # unknown key
        {"categories": [{"code": "C01", "zh": "x", "en": "x", "disposal_class": "Z"}]},
        {"cats": []},
    ],
)
def test_invalid_catalogue_data(data: dict) -> None:
    with pytest.raises(InvalidCatalogue):
        Catalogue.from_mapping(data)


def test_invalid_code_in_catalogue_data() -> None:
    with pytest.raises(InvalidCategoryCode):
        Catalogue.from_mapping({"categories": [{"code": "C1", "zh": "x", "en": "x"}]})


@pytest.mark.parametrize("code", ["C", "C1", "C001", "X0101", "c0101", "C0000", "C0100", "C00", "C010101", ""])
def test_bad_category_codes(code: str) -> None:
    with pytest.raises(InvalidCategoryCode):
        parse_category_code(code)


def test_category_code_parts() -> None:
    code = parse_category_code("E0505")
    assert (code.kind, code.major, code.minor, code.is_major) == (Kind.EVENT, "05", "05", False)
    assert str(code.major_code) == "E05"
    assert format_category_code("C", 1, 1) == "C0101"
    assert format_category_code(Kind.EVENT, 4) == "E04"
    with pytest.raises(InvalidCategoryCode):
        parse_category_code(101)  # type: ignore[arg-type]


@given(st.sampled_from("CE"), st.integers(1, 99), st.one_of(st.none(), st.integers(1, 99)))
def test_category_code_round_trip(kind: str, major: int, minor: int | None) -> None:
    code = format_category_code(kind, major, minor)
    assert str(parse_category_code(code)) == code


# --- component identifiers ---------------------------------------------------------------

def test_component_id_example() -> None:
    cid = parse_component_id("3415230101000001", default_catalogue())
    assert cid == ComponentId("341523", "01", "01", "000001")
    assert str(cid.category) == "C0101"
    assert format_component_id("341523", "C0101", 1) == "3415230101000001"
    assert format_component_id("341523", CategoryCode(Kind.COMPONENT, "03", "05"), 42) == "3415230305000042"


@pytest.mark.parametrize(
    ("code", "part"),
    [
        ("341523010100001", "length"),
        ("34152301010000x1", "characters"),
        ("0015230101000001", "county"),
        ("3415230001000001", "major"),
        ("3415230100000001", "minor"),
        ("3415230101000000", "serial"),
    ],
)
def test_bad_component_ids(code: str, part: str) -> None:
    with pytest.raises(InvalidComponentId) as info:
        parse_component_id(code)
    assert info.value.part == part


def test_component_id_category_must_be_in_catalogue() -> None:
    assert parse_component_id("3415230198000001")  # well-formed
    with pytest.raises(InvalidComponentId, match="category"):
        parse_component_id("3415230198000001", default_catalogue())
    with pytest.raises(InvalidComponentId, match="type"):
        parse_component_id(3415230101000001)  # type: ignore[arg-type]


def test_format_component_id_rejects_events_majors_and_serials() -> None:
    with pytest.raises(UnknownCategory):
        format_component_id("341523", "E0101", 1)
    with pytest.raises(UnknownCategory):
        format_component_id("341523", "C01", 1)
    with pytest.raises(InvalidComponentId):
        format_component_id("341523", "C0101", 0)


@given(st.sampled_from(["341523", "110101", "440305"]), st.integers(1, 99), st.integers(1, 99), st.integers(1, 999_999))
def test_component_id_round_trip(county: str, major: int, minor: int, serial: int) -> None:
    code = format_component_id(county, f"C{major:02d}{minor:02d}", serial)
    parsed = parse_component_id(code)
    assert str(parsed) == code
    assert int(parsed.serial) == serial


def test_component_attributes() -> None:
    comp = Component(
        parse_component_id("3415230101000001"), "上水井盖", "34152300100103", 116.95, 31.46,
        supervising_department="水务局", state=ComponentState.DAMAGED, first_recorded=date(2024, 1, 2),
        data_source=DataSource.SURVEY,
    )
    assert comp.state.value == "damaged"
    assert comp.data_source is DataSource.SURVEY


@pytest.mark.parametrize(("text", "ids"), [
    ("CG:3415230101000001", ["3415230101000001"]),
    ("https://cg.example.cn/c/3415230102000017?src=qr", ["3415230102000017"]),
    ("3415230101000001 / 3415230101000001 / 3415230118000007", ["3415230101000001", "3415230118000007"]),
    ("34152301010000011", []),  # 17 digits: a longer serial, not an id
    ("tel 13800000000", []),
    ("0000000101000001", []),  # no such county
    ("3415230100000001", []),  # minor 00
    ("", []),
])
def test_component_ids_in_label(text: str, ids: list[str]) -> None:
    assert component_ids_in_label(text) == ids
