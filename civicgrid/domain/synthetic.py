"""A deterministic synthetic unit grid, for tests, benchmarks and the simulated city.

Cells are the quads of a jittered lattice: neighbours share their vertices exactly,
so the grid has no gaps or overlaps (as CJ/T 213 requires of real grids) while the
edges are not axis-aligned. Codes follow the 14-digit layout: 8×8 blocks of cells
form a community, each row of blocks a street.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from civicgrid.domain.grid import format_grid_code

_M_PER_DEG_LAT = 110_574.0
_BLOCK = 8  # cells per community side: 64 cells keeps the 2-digit sequence valid


def jittered_grid(
    nx: int,
    ny: int,
    *,
    lon0: float = 116.94,
    lat0: float = 31.46,
    cell_m: float = 100.0,
    jitter: float = 0.25,
    seed: int = 0,
    county: str = "341523",
) -> list[tuple[str, shapely.Polygon]]:
    """`nx * ny` quads of about `cell_m`² each, south-west corner at (lon0, lat0).

    `jitter` moves every inner lattice vertex by up to that share of a cell side;
    below 0.5 the quads stay simple and convex enough to be valid polygons.
    Returns (code, polygon) pairs in lon/lat (WGS 84), sorted by code.
    """
    rng = np.random.default_rng(seed)
    dlat = cell_m / _M_PER_DEG_LAT
    dlon = cell_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    gx, gy = np.meshgrid(np.arange(nx + 1, dtype=float), np.arange(ny + 1, dtype=float))
    jx = rng.uniform(-jitter, jitter, gx.shape)
    jy = rng.uniform(-jitter, jitter, gy.shape)
    # Keep the outer boundary straight so the city's outline is a rectangle.
    jx[:, [0, -1]] = 0.0
    jy[[0, -1], :] = 0.0
    lon = lon0 + (gx + jx) * dlon
    lat = lat0 + (gy + jy) * dlat
    cells: list[tuple[str, shapely.Polygon]] = []
    for j in range(ny):
        for i in range(nx):
            ring = [
                (lon[j, i], lat[j, i]),
                (lon[j, i + 1], lat[j, i + 1]),
                (lon[j + 1, i + 1], lat[j + 1, i + 1]),
                (lon[j + 1, i], lat[j + 1, i]),
            ]
            street = j // _BLOCK + 1
            community = i // _BLOCK + 1
            seq = (j % _BLOCK) * _BLOCK + (i % _BLOCK) + 1
            cells.append((format_grid_code(county, street, community, seq), shapely.Polygon(ring)))
    cells.sort(key=lambda c: c[0])
    return cells


def to_feature_collection(cells: list[tuple[str, shapely.Polygon]]) -> dict[str, Any]:
    """GeoJSON FeatureCollection with the cell code in `properties.code`."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": code},
                "geometry": shapely.geometry.mapping(geom),
            }
            for code, geom in cells
        ],
    }
