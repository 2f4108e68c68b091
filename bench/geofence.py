"""Point → cell lookups per second: civicgrid's GridIndex against plain shapely 2.

Standalone (no services): a synthetic county of 2,500 jittered cells of about
10,000 m² each (docs/domain.md, the unit grid) and 1 M uniformly random points over its bounding box
plus a 5 % margin. Prints figures; the last line is one JSON object (docs/performance.md,
"How the benchmarks report"). The baseline is the plain shapely STRtree measured in the same run.
"""

from __future__ import annotations

import json
import time

import numpy as np
import shapely

from civicgrid.domain.geofence import GridIndex, exact_lookup_indices
from civicgrid.domain.synthetic import jittered_grid

N_POINTS = 1_000_000
SIDE = 50  # 50 × 50 = 2,500 cells
REPEATS = 3


def best_rate(fn, n: int, repeats: int = REPEATS) -> float:
    """Points per second of the fastest of `repeats` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    cells = jittered_grid(SIDE, SIDE, seed=42)
    t0 = time.perf_counter()
    index = GridIndex(cells)
    build_s = time.perf_counter() - t0
    xmin, ymin, xmax, ymax = shapely.total_bounds(index.geometries)
    mx, my = (xmax - xmin) * 0.05, (ymax - ymin) * 0.05
    rng = np.random.default_rng(7)
    lon = rng.uniform(xmin - mx, xmax + mx, N_POINTS)
    lat = rng.uniform(ymin - my, ymax + my, N_POINTS)
    lon_list, lat_list = lon.tolist(), lat.tolist()

    batched = best_rate(lambda: index.lookup_indices(lon, lat), N_POINTS)
    batched_codes = best_rate(lambda: index.lookup_many(lon, lat), N_POINTS)

    def single() -> None:
        lookup = index.lookup
        for x, y in zip(lon_list, lat_list, strict=True):
            lookup(x, y)

    single_rate = best_rate(single, N_POINTS, repeats=1)

    # The baseline (docs/architecture.md): STRtree.query(points, predicate="within"),
    # counting the creation of the point objects.
    tree = shapely.STRtree(index.geometries)
    base_batched = best_rate(lambda: tree.query(shapely.points(lon, lat), predicate="within"), N_POINTS)
    n_single = 100_000

    def base_single() -> None:
        query = tree.query
        for x, y in zip(lon_list[:n_single], lat_list[:n_single], strict=True):
            query(shapely.Point(x, y), predicate="within")

    base_single_rate = best_rate(base_single, n_single, repeats=1)

    got = index.lookup_indices(lon, lat)
    ref = exact_lookup_indices(index.geometries, lon, lat)
    result = {
        "cells": len(index),
        "points": N_POINTS,
        "single_points_per_s": round(single_rate),
        "batched_points_per_s": round(batched),
        "batched_codes_points_per_s": round(batched_codes),
        "baseline_single_points_per_s": round(base_single_rate),
        "baseline_batched_points_per_s": round(base_batched),
        "ceiling_batched_points_per_s": round(base_batched),
        "ratio": round(batched / base_batched, 2),
        "build_s": round(build_s, 3),
        "raster_pixels": index.pixel_count,
        "edge_pixel_share": round(index.edge_pixel_count / index.pixel_count, 4),
        "outside_share": round(float((got < 0).mean()), 4),
        "mismatches_vs_shapely": int((got != ref).sum()),
    }
    print(f"GridIndex built in {build_s:.2f} s over {len(index)} cells")
    print(f"batched {batched / 1e6:.1f} M points/s, single {single_rate / 1e6:.2f} M points/s")
    print(f"shapely STRtree: batched {base_batched / 1e6:.2f} M/s, single {base_single_rate / 1e6:.3f} M/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
