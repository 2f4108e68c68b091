"""Streets → road segments, road classes of real exports, the projection, track thinning, simulated routes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from civicgrid.domain.patrol import Projection, split_streets
from civicgrid.domain.patrol.network import road_class_of, streets_from_geojson
from civicgrid.domain.patrol.playback import simplify_indices
from simulators.patrol_routes import truncate
from tests.unit.patrol.helpers import PROJ, STREETS, lonlat, street


def lengths(segments) -> dict[str, float]:
    return {s.id: round(s.length_m, 1) for s in segments}


def test_streets_are_cut_at_their_crossings() -> None:
    assert lengths(split_streets(STREETS, PROJ)) == {
        "M:001": 100.0, "M:002": 100.0, "M:003": 100.0, "S1:001": 100.0, "S1:002": 100.0, "S2:001": 100.0,
        "S2:002": 100.0}


def test_short_pieces_merge_and_long_ones_are_cut_equally() -> None:
    streets = [street("A", "main", (0, 0), (610, 0)), street("B", "alley", (10, -50), (10, 50)),
               street("C", "alley", (300, -50), (300, 50))]
    segs = {s.id: s for s in split_streets(streets, PROJ, max_length_m=250, min_length_m=20)}
    # the crossing 10 m from A's start would leave a 10 m stub: merged; 300 → 610 is cut in two equal parts
    assert {k: v for k, v in lengths(segs.values()).items() if k.startswith("A")} == \
        {"A:001": 150.0, "A:002": 150.0, "A:003": 155.0, "A:004": 155.0}
    assert [s.street_seq for s in segs.values() if s.street_id == "A"] == [1, 2, 3, 4]
    assert segs["A:001"].coords[0] == pytest.approx(lonlat(0, 0), abs=1e-7)


def test_a_real_export_loads_with_osm_classes_and_multilines() -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"osm_id": 42, "name": "人民路", "highway": "primary"},
         "geometry": {"type": "MultiLineString", "coordinates": [[lonlat(0, 0), lonlat(100, 0)],
                                                                 [lonlat(200, 0), lonlat(300, 0)]]}},
        {"type": "Feature", "properties": {"fclass": "tertiary"},
         "geometry": {"type": "LineString", "coordinates": [lonlat(50, -50), lonlat(50, 50)]}},
        {"type": "Feature", "properties": {"road_class": "次干路"},
         "geometry": {"type": "Point", "coordinates": [0, 0]}},  # not a line: not a street
    ]}
    streets = streets_from_geojson(fc)
    assert [(s.id, s.name, s.road_class) for s in streets] == [("42.1", "人民路", "main"), ("42.2", "人民路", "main"),
                                                                ("street-00002", None, "secondary")]
    assert road_class_of({"highway": "residential"}) == "alley"
    assert road_class_of({"road_class": "次干路"}) == "secondary"


def test_the_projection_is_the_gauss_kruger_zone_in_metres() -> None:
    p = Projection(116.94)
    assert p.central_meridian == 117
    x, y = p.forward([117.0, 117.0], [31.0, 31.001])
    assert float(x[0]) == pytest.approx(500_000.0, abs=1e-6) and float(y[1] - y[0]) == pytest.approx(110.85, abs=0.05)


def test_a_long_track_is_thinned_keeping_its_ends_and_real_vertices() -> None:
    t = np.linspace(0, 20 * np.pi, 5000)
    x, y = t * 10, np.sin(t) * 50
    keep = simplify_indices(x, y, 200)
    assert 2 <= len(keep) <= 200 and keep[0] == 0 and keep[-1] == 4999
    assert list(keep) == sorted(set(keep.tolist()))
    line = shapely.LineString(np.column_stack([x[keep], y[keep]]))
    assert shapely.hausdorff_distance(line, shapely.LineString(np.column_stack([x, y]))) < 20
    assert list(simplify_indices(x[:50], y[:50], 200)) == list(range(50))


def test_a_route_is_truncated_by_length() -> None:
    route = [[0, 0], [10, 0], [10, 10], [0, 10]]
    assert truncate(route, 0.5) == [[0, 0], [10, 0], [10, 5.0]]
    assert truncate(route, 1.0) == route
