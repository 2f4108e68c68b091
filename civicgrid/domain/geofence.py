"""`GridIndex`: point (lon, lat, WGS 84) → unit grid cell.

Plain shapely 2 (`STRtree.query(..., predicate="within")`) answers about 1.3 M points/s
batched on this machine kind (docs/architecture.md). We precompute a lookup raster over the city
instead: a pixel that no cell boundary touches lies wholly inside one cell (or
outside all of them), so its answer is a stored integer and a point inside it is
answered by array indexing. Only points in "edge" pixels, the thin band a boundary
crosses, go to the exact GEOS test against the few cells listed for that pixel.

Rules (docs/domain.md §2): a point belongs to every cell whose closed polygon contains it,
and when that is more than one (shared edge or vertex, or overlapping data) the
lowest code wins; a point outside every cell has no cell (`None` / index -1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import shape

from civicgrid.domain.errors import DomainError
from civicgrid.domain.grid import parse_grid_code

OUTSIDE = -1
_M_PER_DEG_LAT = 110_574.0
# Boundary samples are spaced a quarter pixel apart and each marks every pixel within
# an eighth of a pixel (plus a margin for rounding), which provably covers every pixel
# the boundary passes through: see `_mark_edges`.
_SAMPLE_SPACING = 0.25
_HALF_SIDE = _SAMPLE_SPACING / 2 + 1e-6
_PAD = 2  # empty pixel columns/rows around the raster; see `lookup_indices`


class InvalidCellGeometry(DomainError):
    """A cell whose geometry cannot be used for geofencing."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"cell {code}: {reason}")


def check_cell(code: str, geom: Any, *, cell_width: int | None = 2) -> None:
    """Raise `InvalidGridCode` or `InvalidCellGeometry` for a cell a `GridIndex` cannot take.

    Public so that a loader can leave one bad cell out (civicgrid/store/grid_cells.py) by the very
    rules the index enforces, instead of losing the whole index to it. `cell_width=None` skips the code."""
    if cell_width is not None:
        parse_grid_code(code, cell_width=cell_width)
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        raise InvalidCellGeometry(code, f"expected a Polygon or MultiPolygon, got {geom.geom_type}")
    if geom.is_empty or not geom.is_valid:
        raise InvalidCellGeometry(code, shapely.is_valid_reason(geom))


class GridIndex:
    """Point → cell lookups over a fixed set of cells (build once, query many times).

    `max_pixels` bounds the raster's memory (4 bytes each); finer pixels mean a
    thinner edge band and faster batches. `pixel_m` fixes the pixel side instead.
    """

    def __init__(
        self,
        cells: Iterable[tuple[str, Any]],
        *,
        max_pixels: int = 1 << 22,
        pixel_m: float | None = None,
        cell_width: int | None = 2,
    ) -> None:
        pairs = sorted(cells, key=lambda c: c[0])
        if not pairs:
            raise DomainError("a GridIndex needs at least one cell")
        codes = [c for c, _ in pairs]
        if len(set(codes)) != len(codes):
            dup = next(c for i, c in enumerate(codes) if c in codes[:i])
            raise InvalidCellGeometry(dup, "the code appears more than once")
        geoms = np.array([g for _, g in pairs], dtype=object)
        for code, geom in zip(codes, geoms, strict=True):
            check_cell(code, geom, cell_width=cell_width)
        shapely.prepare(geoms)
        self.codes: tuple[str, ...] = tuple(codes)
        self.geometries = geoms
        self._code_array = np.array([*codes, None], dtype=object)  # index -1 → None
        self._build_raster(max_pixels, pixel_m)

    @classmethod
    def from_geojson(cls, collection: Mapping[str, Any], *, code_property: str = "code", **kwargs: Any) -> GridIndex:
        """Build from a GeoJSON FeatureCollection (lon/lat), the code in `properties[code_property]`."""
        cells = []
        for n, feature in enumerate(collection.get("features", ())):
            code = (feature.get("properties") or {}).get(code_property)
            if not isinstance(code, str):
                raise InvalidCellGeometry(f"feature #{n}", f"properties.{code_property} is missing")
            cells.append((code, shape(feature["geometry"])))
        return cls(cells, **kwargs)

    def __len__(self) -> int:
        return len(self.codes)

    # --- building -------------------------------------------------------------------

    def _build_raster(self, max_pixels: int, pixel_m: float | None) -> None:
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.geometries)
        cos_lat = max(math.cos(math.radians((ymin + ymax) / 2)), 1e-6)
        if pixel_m is not None:
            dy = pixel_m / _M_PER_DEG_LAT
        else:
            # Square pixels on the ground: dx = dy / cos(lat).
            area = max((xmax - xmin) * cos_lat, 1e-9) * max(ymax - ymin, 1e-9)
            dy = math.sqrt(area / max(max_pixels, 64))
        dx = dy / cos_lat
        self._x0: float = xmin - _PAD * dx
        self._y0: float = ymin - _PAD * dy
        self._nx: int = math.floor((xmax - self._x0) / dx) + 1 + _PAD
        self._ny: int = math.floor((ymax - self._y0) / dy) + 1 + _PAD
        self._inv_dx = 1.0 / dx
        self._inv_dy = 1.0 / dy
        self.pixel_count = self._nx * self._ny
        edge_pairs = self._mark_edges()
        raster = np.full(self._ny * self._nx, OUTSIDE, dtype=np.int32)
        edge_pixels = np.unique(edge_pairs // len(self.codes))
        is_edge = np.zeros(raster.shape, dtype=bool)
        is_edge[edge_pixels] = True
        inner_pairs = self._fill_interior(raster, is_edge)
        pairs = np.unique(np.concatenate([edge_pairs, inner_pairs]))  # sorted by pixel, then cell
        pair_pixel = pairs // len(self.codes)
        self._cand = (pairs % len(self.codes)).astype(np.int32)
        self._cand_ptr = np.searchsorted(pair_pixel, edge_pixels).astype(np.int64)
        self._cand_ptr = np.append(self._cand_ptr, len(pairs))
        raster[edge_pixels] = -2 - np.arange(len(edge_pixels), dtype=np.int32)
        self.edge_pixel_count = len(edge_pixels)
        self._raster = raster
        self._raster_mv = raster.data
        self._cand_mv = self._cand.data
        self._ptr_mv = self._cand_ptr.data

    def _mark_edges(self) -> np.ndarray:
        """(pixel, cell) keys, as pixel * n + cell, for every pixel a cell's boundary touches.

        A boundary point p lies within 1/8 pixel (Chebyshev) of the nearest sample q when
        samples are 1/4 pixel apart, so the pixel holding p meets the square of half-side
        1/8 around q; that square spans at most 2×2 pixels, all named by its corners.
        """
        n = len(self.codes)
        parts, part_cell = shapely.get_parts(self.geometries, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        u = (coords[:, 0] - self._x0) * self._inv_dx
        v = (coords[:, 1] - self._y0) * self._inv_dy
        same = coord_ring[1:] == coord_ring[:-1]
        seg_cell = part_cell[ring_part[coord_ring[:-1][same]]]
        u0, v0 = u[:-1][same], v[:-1][same]
        du, dv = u[1:][same] - u0, v[1:][same] - v0
        steps = np.ceil(np.maximum(np.abs(du), np.abs(dv)) / _SAMPLE_SPACING).astype(np.int64) + 1
        seg = np.repeat(np.arange(len(steps)), steps)
        k = np.arange(len(seg)) - np.repeat(np.cumsum(steps) - steps, steps)
        t = k / np.maximum(steps[seg] - 1, 1)
        su = u0[seg] + t * du[seg]
        sv = v0[seg] + t * dv[seg]
        keys = []
        for ou in (-_HALF_SIDE, _HALF_SIDE):
            for ov in (-_HALF_SIDE, _HALF_SIDE):
                pix = np.floor(sv + ov).astype(np.int64) * self._nx + np.floor(su + ou).astype(np.int64)
                keys.append(pix * n + seg_cell[seg])
        return np.unique(np.concatenate(keys))

    def _fill_interior(self, raster: np.ndarray, is_edge: np.ndarray) -> np.ndarray:
        """Assign pixels untouched by any boundary to the cell holding their centre.

        Cells are visited from the highest code down so that, where cells overlap,
        the lowest code is written last and wins. Returns (pixel, cell) keys for edge
        pixels whose centre a cell contains: a cell can hold a whole edge pixel
        without its own boundary touching it when cells overlap.
        """
        n = len(self.codes)
        bounds = shapely.bounds(self.geometries)
        inner: list[np.ndarray] = []
        for i in range(n - 1, -1, -1):
            bx0, by0, bx1, by1 = bounds[i]
            i0 = int((bx0 - self._x0) * self._inv_dx)
            i1 = int((bx1 - self._x0) * self._inv_dx)
            j0 = int((by0 - self._y0) * self._inv_dy)
            j1 = int((by1 - self._y0) * self._inv_dy)
            ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1))
            pix = (jj * self._nx + ii).ravel()
            cx = self._x0 + (ii.ravel() + 0.5) / self._inv_dx
            cy = self._y0 + (jj.ravel() + 0.5) / self._inv_dy
            inside = shapely.contains_xy(self.geometries[i], cx, cy)
            edge = is_edge[pix]
            raster[pix[inside & ~edge]] = i
            inner.append(pix[inside & edge] * n + i)
        return np.concatenate(inner) if inner else np.empty(0, dtype=np.int64)

    # --- queries --------------------------------------------------------------------

    def lookup_index(self, lon: float, lat: float) -> int:
        """Index into `codes` of the cell holding the point, or -1 (`OUTSIDE`)."""
        u = (lon - self._x0) * self._inv_dx
        v = (lat - self._y0) * self._inv_dy
        if not (0.0 <= u < self._nx and 0.0 <= v < self._ny):  # also false for NaN
            return OUTSIDE
        value = self._raster_mv[int(v) * self._nx + int(u)]
        if value >= OUTSIDE:
            return value
        edge = -2 - value
        for k in range(self._ptr_mv[edge], self._ptr_mv[edge + 1]):
            cell = self._cand_mv[k]  # ascending, so the first hit is the lowest code
            if shapely.intersects_xy(self.geometries[cell], lon, lat):
                return cell
        return OUTSIDE

    def lookup(self, lon: float, lat: float) -> str | None:
        """Code of the cell holding the point (lowest code on shared boundaries), else None."""
        i = self.lookup_index(lon, lat)
        return None if i < 0 else self.codes[i]

    def lookup_indices(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Vectorised `lookup_index`: int32 array of indices into `codes`, -1 outside."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            # Truncation toward zero maps (-1, 0) to pixel 0, and casting NaN or huge
            # values gives garbage that the clip sends to an edge pixel: the _PAD empty
            # columns and rows on each side make all of those answer OUTSIDE.
            u = lon - self._x0
            u *= self._inv_dx
            iu = u.astype(np.int64)
            np.clip(iu, 0, self._nx - 1, out=iu)
            v = lat - self._y0
            v *= self._inv_dy
            flat = v.astype(np.int64)
            np.clip(flat, 0, self._ny - 1, out=flat)
        flat *= self._nx
        flat += iu
        out = self._raster.take(flat)
        edge_at = np.flatnonzero(out < OUTSIDE)
        if len(edge_at):
            out[edge_at] = self._resolve_edges(-2 - out[edge_at], lon[edge_at], lat[edge_at])
        return out

    def _resolve_edges(self, edge: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Exact test of edge-pixel points against their pixel's candidate cells."""
        start = self._cand_ptr[edge]
        count = self._cand_ptr[edge + 1] - start
        point = np.repeat(np.arange(len(edge)), count)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
        cand = self._cand[np.repeat(start, count) + offset]
        hit = shapely.intersects_xy(self.geometries[cand], lon[point], lat[point])
        hit_point = point[hit]
        hit_cell = cand[hit]
        result = np.full(len(edge), OUTSIDE, dtype=np.int32)
        # Candidates are ascending within a point, so its first hit is its lowest code.
        first = np.ones(len(hit_point), dtype=bool)
        first[1:] = hit_point[1:] != hit_point[:-1]
        result[hit_point[first]] = hit_cell[first]
        return result

    def codes_for(self, indices: np.ndarray) -> np.ndarray:
        """Object array of codes for indices from `lookup_indices`, None where -1."""
        return cast(np.ndarray, self._code_array[np.asarray(indices)])  # numpy types fancy indexing as Any

    def lookup_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Vectorised `lookup`: object array of codes, None for points outside every cell."""
        return self.codes_for(self.lookup_indices(lon, lat))


def exact_lookup_indices(geometries: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The reference answer with plain shapely (`STRtree` + `intersects`), lowest index wins.

    Slower than `GridIndex`; kept for tests and as the benchmark's baseline.
    """
    tree = shapely.STRtree(geometries)
    # Arrays in, an array of points out (the stubs also allow a single Point, for scalars).
    points = cast(np.ndarray, shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)))
    point_idx, cell_idx = tree.query(points, predicate="intersects")
    out = np.full(len(points), len(geometries), dtype=np.int64)
    np.minimum.at(out, point_idx, cell_idx)
    out[out == len(geometries)] = OUTSIDE
    return out.astype(np.int32)
