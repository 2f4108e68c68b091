"""Track playback: thin a long track to at most `max_points` vertices, keeping each kept vertex's time.

Douglas–Peucker by shapely (`simplify` without topology preservation keeps a subsequence of the
original vertices) on projected metres, with the tolerance found by bisection so that the result
has at most `max_points` vertices; kept vertices are matched back to their index (and so their
timestamp) by walking both sequences.
"""

from __future__ import annotations

import numpy as np
import shapely


def simplify_indices(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of the vertices to keep (first and last always), at most `max_points` of them."""
    n = len(x)
    if n <= max_points or n < 3:
        return np.arange(n)
    max_points = max(max_points, 2)
    coords = np.column_stack([x, y])
    line = shapely.LineString(coords)
    lo, hi = 0.0, float(np.hypot(np.ptp(x), np.ptp(y))) or 1.0
    best = None
    for _ in range(40):
        tol = (lo + hi) / 2
        kept = shapely.get_coordinates(shapely.simplify(line, tol, preserve_topology=False))
        if len(kept) <= max_points:
            best, hi = kept, tol
        else:
            lo = tol
        if best is not None and hi - lo < 0.01:  # a centimetre: close enough
            break
    if best is None:
        best = shapely.get_coordinates(shapely.simplify(line, hi, preserve_topology=False))
    out = []
    j = 0
    for cx, cy in best:
        while j < n and not (coords[j, 0] == cx and coords[j, 1] == cy):
            j += 1
        if j < n:
            out.append(j)
            j += 1
    if not out or out[-1] != n - 1:
        out.append(n - 1)
    return np.array(out)
