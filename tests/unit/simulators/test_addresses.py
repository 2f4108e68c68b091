"""The synthetic town's address layer (simulators/addresses.py): plates on both sides, and road segments whose
interpolation puts a number where its plate stands."""

from __future__ import annotations

import random

import pytest
from shapely.geometry import LineString, shape

from simulators.addresses import PLATE_SPACING_M, town_addresses

STREETS = [{"id": "S-NS-001", "name": "南北1路", "coords": [(116.95, 31.46), (116.95, 31.47)]},
           {"id": "S-EW-001", "name": "东西1街", "coords": [(116.94, 31.465), (116.96, 31.465)]}]


def _by_kind(features: list[dict], kind: str) -> list[dict]:
    return [f for f in features if f["properties"]["kind"] == kind]


def test_plates_every_50_m_odd_on_the_left_even_on_the_right() -> None:
    features = town_addresses(STREETS, random.Random(1), landmarks=2)
    plates = {f["properties"]["address"]: f["geometry"]["coordinates"] for f in _by_kind(features, "door_plate")}
    ns_length_m = 0.01 * 110_574
    assert sum(a.startswith("南北1路") for a in plates) == 2 * int(ns_length_m // PLATE_SPACING_M)
    assert plates["南北1路1号"][0] < 116.95 < plates["南北1路2号"][0]  # going north: odd west, even east
    assert plates["东西1街1号"][1] > 31.465 > plates["东西1街2号"][1]  # going east: odd north, even south
    assert plates["南北1路3号"][1] - plates["南北1路1号"][1] == pytest.approx(PLATE_SPACING_M / 110_574, rel=1e-3)
    assert len(_by_kind(features, "landmark")) == 2


def test_a_number_interpolated_on_its_road_segment_lands_on_its_plate() -> None:
    features = town_addresses(STREETS, random.Random(1))
    plates = {f["properties"]["address"]: f["geometry"]["coordinates"] for f in _by_kind(features, "door_plate")}
    for segment in _by_kind(features, "road_segment"):
        p = segment["properties"]
        line = shape(segment["geometry"])
        assert isinstance(line, LineString)
        for number in range(p["number_from"], p["number_to"] + 1, 2):
            at = line.interpolate((number - p["number_from"]) / (p["number_to"] - p["number_from"]), normalized=True)
            assert (at.x, at.y) == pytest.approx(plates[f"{p['address']}{number}号"], abs=1e-6)
