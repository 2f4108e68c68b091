"""GridIndex: point → cell, tie-breaks, outside points, batched == exact shapely."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.domain.errors import DomainError
from civicgrid.domain.geofence import OUTSIDE, GridIndex, InvalidCellGeometry, exact_lookup_indices
from civicgrid.domain.grid import InvalidGridCode
from civicgrid.domain.synthetic import jittered_grid, to_feature_collection

# A 3 × 2 grid of 1/8-degree squares: every edge and vertex is exactly representable,
# so points built from these numbers lie exactly on the shared boundaries.
S = 0.125
X0, Y0 = 117.0, 31.0


def square(i: int, j: int) -> shapely.Polygon:
    return shapely.box(X0 + i * S, Y0 + j * S, X0 + (i + 1) * S, Y0 + (j + 1) * S)


SQUARES = [(f"3415230010010{j * 3 + i + 1}", square(i, j)) for j in range(2) for i in range(3)]


@pytest.fixture(scope="module")
def squares() -> GridIndex:
    return GridIndex(SQUARES, max_pixels=4096)


@pytest.fixture(scope="module")
def jittered() -> GridIndex:
    return GridIndex(jittered_grid(12, 10, seed=3), max_pixels=40_000)


def test_interior_points(squares: GridIndex) -> None:
    assert squares.lookup(X0 + 0.5 * S, Y0 + 0.5 * S) == "34152300100101"
    assert squares.lookup(X0 + 2.5 * S, Y0 + 1.5 * S) == "34152300100106"
    assert squares.lookup_index(X0 + 1.5 * S, Y0 + 0.5 * S) == 1


@pytest.mark.parametrize(
    ("x", "y", "code"),
    [
        (X0 + S, Y0 + 0.5 * S, "34152300100101"),  # edge between 01 and 02
        (X0 + 2 * S, Y0 + 1.5 * S, "34152300100105"),  # edge between 05 and 06
        (X0 + 0.5 * S, Y0 + S, "34152300100101"),  # edge between 01 and 04
        (X0 + S, Y0 + S, "34152300100101"),  # vertex shared by 01, 02, 04, 05
        (X0 + 2 * S, Y0 + S, "34152300100102"),  # vertex shared by 02, 03, 05, 06
        (X0, Y0, "34152300100101"),  # outer corner
        (X0 + 3 * S, Y0 + 2 * S, "34152300100106"),  # outer corner
    ],
)
def test_shared_boundary_lowest_code_wins(squares: GridIndex, x: float, y: float, code: str) -> None:
    assert squares.lookup(x, y) == code
    assert squares.lookup_many(np.array([x]), np.array([y]))[0] == code


@pytest.mark.parametrize(
    ("x", "y"),
    [(X0 - 1e-9, Y0 + 0.1), (X0 + 3 * S + 1e-9, Y0), (0.0, 0.0), (1e300, -1e300), (math.nan, Y0),
     (X0, math.inf), (-math.inf, Y0)],
)
def test_outside_every_cell_is_none(squares: GridIndex, x: float, y: float) -> None:
    assert squares.lookup(x, y) is None
    assert squares.lookup_index(x, y) == OUTSIDE
    assert squares.lookup_indices(np.array([x]), np.array([y])).tolist() == [OUTSIDE]
    assert squares.lookup_many(np.array([x]), np.array([y])).tolist() == [None]


def test_codes_for_maps_minus_one_to_none(squares: GridIndex) -> None:
    assert squares.codes_for(np.array([0, -1, 5])).tolist() == ["34152300100101", None, "34152300100106"]
    assert len(squares) == 6


def test_overlapping_cells_lowest_code_wins() -> None:
    big = ("34152300100199", shapely.box(0, 0, 10, 10))
    small = ("34152300100150", shapely.box(2, 2, 4, 4))
    index = GridIndex([big, small], max_pixels=400, cell_width=2)
    assert index.lookup(3, 3) == "34152300100150"
    assert index.lookup(1, 1) == "34152300100199"
    xs = np.linspace(-1, 11, 97)
    gx, gy = np.meshgrid(xs, xs)
    got = index.lookup_indices(gx.ravel(), gy.ravel())
    assert got.tolist() == exact_lookup_indices(index.geometries, gx.ravel(), gy.ravel()).tolist()


def test_polygon_with_hole_and_multipolygon() -> None:
    ring = shapely.Polygon(shapely.box(0, 0, 4, 4).exterior.coords, [shapely.box(1, 1, 3, 3).exterior.coords])
    parts = shapely.MultiPolygon([shapely.box(1, 1, 3, 3), shapely.box(5, 5, 6, 6)])
    index = GridIndex([("34152300100101", ring), ("34152300100102", parts)], max_pixels=1000)
    assert index.lookup(0.5, 0.5) == "34152300100101"
    assert index.lookup(2, 2) == "34152300100102"
    assert index.lookup(5.5, 5.5) == "34152300100102"
    assert index.lookup(1, 2) == "34152300100101"  # hole boundary: both, lowest wins
    assert index.lookup(4.5, 4.5) is None


def test_from_geojson_and_jittered_grid() -> None:
    cells = jittered_grid(3, 2, seed=1)
    index = GridIndex.from_geojson(to_feature_collection(cells), max_pixels=2000)
    assert index.codes == tuple(c for c, _ in cells)
    centroid = shapely.centroid(cells[4][1])
    assert index.lookup(centroid.x, centroid.y) == cells[4][0]


def test_jittered_grid_tiles_without_gaps_or_overlaps() -> None:
    cells = jittered_grid(9, 9, seed=5, cell_m=100)
    union = shapely.union_all([g for _, g in cells])
    assert math.isclose(union.area, sum(g.area for _, g in cells), rel_tol=1e-9)
    assert union.geom_type == "Polygon"
    assert len({c for c, _ in cells}) == 81
    assert cells[0][0] == "34152300100101"


def test_fixed_pixel_size() -> None:
    index = GridIndex(jittered_grid(4, 4, seed=2), pixel_m=5.0)
    assert index.pixel_count > 80 * 80


@pytest.mark.parametrize(
    ("cells", "error"),
    [
        ([], DomainError),
        ([("34152300100101", shapely.box(0, 0, 1, 1))] * 2, InvalidCellGeometry),
        ([("34152300100101", shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))], InvalidCellGeometry),
        ([("34152300100101", shapely.Point(0, 0))], InvalidCellGeometry),
        ([("34152300100101", shapely.Polygon())], InvalidCellGeometry),
        ([("bad", shapely.box(0, 0, 1, 1))], InvalidGridCode),
    ],
)
def test_bad_cells_are_rejected(cells: list, error: type[Exception]) -> None:
    with pytest.raises(error):
        GridIndex(cells)


def test_geojson_without_code_is_rejected() -> None:
    fc = {"features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}
    with pytest.raises(InvalidCellGeometry, match=r"properties\.code"):
        GridIndex.from_geojson(fc)


def test_unvalidated_codes_allowed_when_cell_width_none() -> None:
    index = GridIndex([("b", shapely.box(0, 0, 1, 1)), ("a", shapely.box(1, 0, 2, 1))], cell_width=None)
    assert index.lookup(1, 0.5) == "a"


def _special_points(index: GridIndex) -> tuple[np.ndarray, np.ndarray]:
    """All vertices and edge midpoints of the cells (points exactly on boundaries)."""
    coords = shapely.get_coordinates(shapely.boundary(index.geometries))
    mids = (coords[:-1] + coords[1:]) / 2
    pts = np.concatenate([coords, mids])
    return pts[:, 0], pts[:, 1]


def test_boundary_points_match_exact(jittered: GridIndex) -> None:
    lon, lat = _special_points(jittered)
    exact = exact_lookup_indices(jittered.geometries, lon, lat)
    assert jittered.lookup_indices(lon, lat).tolist() == exact.tolist()
    assert [jittered.lookup_index(x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)] == exact.tolist()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), share_special=st.floats(0, 1))
def test_batched_equals_exact_shapely(jittered: GridIndex, seed: int, n: int, share_special: float) -> None:
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = shapely.total_bounds(jittered.geometries)
    lon = rng.uniform(xmin - 0.001, xmax + 0.001, n)
    lat = rng.uniform(ymin - 0.001, ymax + 0.001, n)
    sx, sy = _special_points(jittered)
    k = int(n * share_special)
    pick = rng.integers(0, len(sx), k)
    lon[:k], lat[:k] = sx[pick], sy[pick]
    exact = exact_lookup_indices(jittered.geometries, lon, lat)
    assert jittered.lookup_indices(lon, lat).tolist() == exact.tolist()
    assert [jittered.lookup_index(x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)] == exact.tolist()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 24), st.integers(0, 16)), min_size=1, max_size=60))
def test_square_grid_lattice_points(squares: GridIndex, ticks: list[tuple[int, int]]) -> None:
    """Points on a 1/64-degree lattice: many fall exactly on edges and vertices."""
    lon = np.array([X0 - S + t * S / 4 for t, _ in ticks])
    lat = np.array([Y0 - S + u * S / 4 for _, u in ticks])
    exact = exact_lookup_indices(squares.geometries, lon, lat)
    assert squares.lookup_indices(lon, lat).tolist() == exact.tolist()
