"""Chinese addresses brought to one written form (civicgrid/domain/addresses.py)."""

from __future__ import annotations

import pytest

from civicgrid.domain.addresses import AddressParts, grams, normalize, parse, strip_divisions

CITY = ("安徽省", "六安市", "舒城县", "城关镇")


@pytest.mark.parametrize("said", [
    "人民路12号",
    "人民路１２号",  # full-width digits
    "人民路12號",  # traditional 号
    "人民路十二号",  # Chinese numerals
    "人民路 12 号",  # spaces
    "人民路12号。",  # punctuation
    "舒城县人民路12号",  # the county said first
    "安徽省六安市舒城县城关镇人民路12号",  # every division said
    "城关镇舒城县人民路12号",  # in another order
])
def test_the_ways_people_say_one_address_meet(said: str) -> None:
    assert normalize(said, CITY) == "人民路12号"


def test_units_buildings_and_rooms_in_numerals_and_variants() -> None:
    assert normalize("梅河路一百零五号2幢三单元五〇二室") == "梅河路105号2栋3单元502室"
    assert normalize("梅河路105号B座") == "梅河路105号b栋"
    assert normalize("梅河路十二之三号") == "梅河路12-3号"


def test_a_numeral_that_is_part_of_a_name_stays() -> None:
    assert normalize("十里铺三号") == "十里铺3号"
    assert normalize("七星路5号") == "七星路5号"


def test_a_name_is_not_stripped_down_to_nothing() -> None:
    assert normalize("舒城县", CITY) == "舒城县"


def test_parse_reads_road_number_building_unit_room() -> None:
    assert parse(normalize("人民路十二之三号2栋3单元502室")) == AddressParts("人民路", 12, 3, 2, 3, 502)
    assert parse("解放大道7号") == AddressParts("解放大道", 7, None, None, None, None)
    assert parse("人民路") == AddressParts("人民路", None, None, None, None, None)
    assert parse("十里铺") == AddressParts(None, None, None, None, None, None)  # 里 is not a road here
    assert parse("建设路口").road is None  # a landmark


def test_generic_divisions_are_stripped_without_the_city_names() -> None:
    assert strip_divisions(normalize("安徽省六安市舒城县人民路12号")) == "人民路12号"
    assert strip_divisions("人民路12号") == "人民路12号"


def test_grams_are_character_bigrams() -> None:
    assert grams("人民路12号") == {"人民", "民路", "路1", "12", "2号"}
    assert grams("路") == {"路"}
    assert grams("") == set()


def test_a_lane_and_the_house_in_it_are_read_shanghai_style() -> None:
    lane = parse(normalize("人民路一百弄五号"))
    assert (lane.road, lane.lane, lane.number) == ("人民路", 100, 5)
    assert lane.plate() == ("人民路100弄", 5)  # the house is numbered within its lane
    assert lane.entrance() == ("人民路", 100)  # and the lane where 100号 would be on the road
    assert parse("解放路3巷8号").plate() == ("解放路3弄", 8)  # 巷 numbered like 弄
    only = parse("人民路100弄")
    assert (only.lane, only.number, only.plate(), only.entrance()) == (100, None, ("人民路", 100), None)
    assert only.street == "人民路100弄"  # a road segment of the lane itself is keyed so
    named = parse("石板巷12号")  # a road whose own name ends in 巷
    assert (named.road, named.lane, named.plate()) == ("石板巷", None, ("石板巷", 12))


@pytest.mark.parametrize(("said", "written"), [
    ("桃溪镇人民路5号", "人民路5号"),
    ("干汊河乡人民路5号", "人民路5号"),
    ("古城街道东街8号", "东街8号"),
    ("新镇路5号", "新镇路5号"),  # 镇 inside a road's own name
    ("水乡大道3号", "水乡大道3号"),
    ("镇海路1号", "镇海路1号"),
    ("人民街道口", "人民街道口"),  # nothing left worth a road after it
    ("桃溪镇", "桃溪镇"),
])
def test_a_town_or_street_office_not_configured_is_stripped_before_the_road(said: str, written: str) -> None:
    assert normalize(said, CITY) == written
