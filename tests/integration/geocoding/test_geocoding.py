"""The geocoding database (civicgrid/store/addresses.py) on the real PostgreSQL with PostGIS: hand-made addresses
of a few streets, found again as people say them, and points turned back into the nearest address and road."""

from __future__ import annotations

import itertools
import random
import uuid

import psycopg
import pytest

from civicgrid.store.addresses import AddressEntry, geocode, import_addresses, resolve, reverse_geocode

pytestmark = pytest.mark.integration

CITY = ("安徽省", "六安市", "舒城县", "城关镇")
# Each test's town has streets of its own (random names) in a place of its own: the table is shared.
LON0, LAT = 116.95, 31.46
_PLACES = itertools.count(random.randrange(1000))


@pytest.fixture
def town(db: psycopg.Connection) -> dict[str, str]:
    """Two roads with door plates 1-20, a road segment with odd and even sides, and a landmark."""
    draw = uuid.uuid4().int
    # Six characters: with three (1,000 names) two of a session's towns shared their streets about one run in six
    # (a door plate found in the other town, seen in CI).
    tag = "".join("甲乙丙丁戊己庚辛壬癸"[(draw >> (4 * i)) % 10] for i in range(6))
    # Towns 5 km apart, each in a place of its own: drawn at random among 1,000 places, two of a session's towns
    # stood on the same spot about one run in ten, and reverse geocoding named the other town's door plate (CI).
    lon = LON0 + next(_PLACES) * 0.05
    road, other = f"{tag}人民路", f"{tag}梅河路"
    entries = [AddressEntry("door_plate", f"舒城县{road}{n}号", _point(lon, n * 0.0001, 0)) for n in range(1, 21)]
    entries += [AddressEntry("door_plate", f"{other}{n}号", _point(lon, n * 0.0001, 0.002)) for n in range(1, 21)]
    entries += [AddressEntry("road_segment", f"{tag}春秋路", {"type": "LineString", "coordinates": [
        [lon, LAT + 0.004], [lon + 0.01, LAT + 0.004]]}, number_from=1, number_to=99, parity="odd"),
                AddressEntry("road_segment", f"{tag}春秋路", {"type": "LineString", "coordinates": [
                    [lon, LAT + 0.0041], [lon + 0.01, LAT + 0.0041]]}, number_from=2, number_to=100, parity="even"),
                AddressEntry("landmark", f"{tag}中心广场", _point(lon, 0.005, 0.006))]
    assert import_addresses(db, entries, prefixes=CITY, source="test") == len(entries)
    return {"tag": tag, "road": road, "other": other, "lon": lon}


def _point(lon: float, dx: float, dy: float) -> dict:
    return {"type": "Point", "coordinates": [lon + dx, LAT + dy]}


@pytest.mark.parametrize("said", ["{road}12号", "{road}十二号", "安徽省六安市舒城县{road}12号", "{road}１２號",
                                  "{road}12号3单元502室", "城关镇 {road} 12 号"])
def test_an_address_as_people_say_it_finds_its_door_plate(db: psycopg.Connection, town: dict, said: str) -> None:
    best = geocode(db, said.format(**town), prefixes=CITY)[0]
    assert best.address == f"舒城县{town['road']}12号" and best.score >= 0.95
    assert (best.lon, best.lat) == pytest.approx((town["lon"] + 0.0012, LAT))


def test_a_typo_still_finds_the_road_and_number_first(db: psycopg.Connection, town: dict) -> None:
    typo = town["road"].replace("人民", "人明")
    candidates = geocode(db, f"{typo}12号", prefixes=CITY)
    assert candidates[0].address == f"舒城县{town['road']}12号", candidates
    assert candidates[0].score > candidates[1].score


def test_a_number_on_a_road_segment_is_placed_along_it_on_its_side(db: psycopg.Connection, town: dict) -> None:
    odd = geocode(db, f"{town['tag']}春秋路51号", prefixes=CITY)[0]
    even = geocode(db, f"{town['tag']}春秋路50号", prefixes=CITY)[0]
    assert odd.kind == even.kind == "road_segment" and odd.score == even.score == 0.9
    assert odd.lon == pytest.approx(town["lon"] + 0.005) and odd.lat == pytest.approx(LAT + 0.004)
    assert even.lon == pytest.approx(town["lon"] + 0.01 * 48 / 98) and even.lat == pytest.approx(LAT + 0.0041)


def test_a_landmark_by_name_and_nothing_for_nonsense(db: psycopg.Connection, town: dict) -> None:
    assert geocode(db, f"{town['tag']}中心广场")[0].kind == "landmark"
    assert geocode(db, "qqqq") == []
    assert geocode(db, "  ") == []


def test_a_house_in_a_lane_and_a_town_not_configured(db: psycopg.Connection, town: dict) -> None:
    """人民路100弄5号 is house 5 of the lane numbered 100 off 人民路 (Shanghai-style): its own door plate, not
    人民路5号; a lane whose houses are not in the database is placed at its entrance, for an operator to confirm.
    A town the city did not configure (桃溪镇) is left out like a configured one."""
    lon, road = town["lon"], town["road"]
    lane = [AddressEntry("door_plate", f"{road}14弄{n}号", _point(lon, 0.0014 + n * 0.00002, -0.0005))
            for n in (3, 5)]
    assert import_addresses(db, lane, prefixes=CITY) == 2
    best = geocode(db, f"桃溪镇{road}十四弄五号", prefixes=CITY)[0]
    assert best.address == f"{road}14弄5号" and best.score >= 0.95
    assert (best.lon, best.lat) == pytest.approx((lon + 0.0015, LAT - 0.0005))
    entrance = geocode(db, f"{road}16弄5号", prefixes=CITY)[0]  # no door plates of lane 16: 人民路16号
    assert entrance.address == f"舒城县{road}16号" and entrance.score == 0.8
    assert geocode(db, f"桃溪镇{road}5号", prefixes=CITY)[0].address == f"舒城县{road}5号"
    # A house that is not there is not filed at its neighbour one digit apart in writing (21号 → 2号 scored 0.95).
    assert resolve(db, f"{road}21号", prefixes=CITY) is None


def test_reverse_geocoding_names_the_nearest_door_plate_and_road(db: psycopg.Connection, town: dict) -> None:
    near = reverse_geocode(db, town["lon"] + 0.0012, LAT + 0.0001)
    assert near.address == f"舒城县{town['road']}12号" and near.address_distance_m == pytest.approx(11.1, abs=0.5)
    assert near.road is None  # the road segments lie 430 m north, beyond the 200 m radius
    on_road = reverse_geocode(db, town["lon"] + 0.003, LAT + 0.0039)
    assert on_road.road == f"{town['tag']}春秋路" and on_road.road_distance_m == pytest.approx(11.1, abs=0.5)
    far = reverse_geocode(db, LON0 - 1, LAT + 1)
    assert far.address is None and far.road is None


def test_importing_the_same_addresses_again_adds_nothing(db: psycopg.Connection, town: dict) -> None:
    again = [AddressEntry("door_plate", f"舒城县{town['road']}{n}号", _point(town["lon"], n * 0.0001, 0))
             for n in range(1, 21)]
    assert import_addresses(db, again, prefixes=CITY) == 0
    assert len({c.address_id for c in geocode(db, f"{town['road']}7号", prefixes=CITY, limit=50)
                if c.address.endswith(f"{town['road']}7号")}) == 1


def test_city_load_brings_the_towns_address_layer_and_its_prefixes(db: psycopg.Connection, tmp_path) -> None:
    """A city directory's addresses.geojson (the synthetic town's layer: simulators/addresses.py) is loaded by
    `city load`, normalised with city.json's address_prefixes, so a caller saying the county first finds it."""
    import random

    import orjson

    from civicgrid.store.city import load_city
    from simulators.addresses import town_addresses

    name = "".join("甲乙丙丁戊己庚辛壬癸"[int(c, 16) % 10] for c in uuid.uuid4().hex[:3]) + "大道"
    street = {"id": "S-T", "name": name, "coords": [(LON0 + 2, LAT), (LON0 + 2, LAT + 0.005)]}
    features = town_addresses([street], random.Random(1), landmarks=0)
    (tmp_path / "addresses.geojson").write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    (tmp_path / "city.json").write_bytes(orjson.dumps({"address_prefixes": ["舒城县", "城关镇"]}))
    counts = load_city(db, tmp_path)
    assert counts["addresses"] == len(features)
    plate = next(f for f in features if f["properties"]["address"] == f"{name}11号")
    best = geocode(db, f"舒城县城关镇{name}十一号", prefixes=("舒城县", "城关镇"))[0]
    assert best.address == f"{name}11号" and best.score == 1.0
    assert [best.lon, best.lat] == pytest.approx(plate["geometry"]["coordinates"])
    assert load_city(db, tmp_path)["addresses"] == 0  # loaded again: nothing new
