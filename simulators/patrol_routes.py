"""Inspectors' patrol routes along their responsibility grid's streets (main and secondary roads).

The platform cuts streets into road segments and gives each segment the grid of the cell holding its
midpoint (`civicgrid.store.city`); the same functions are used here, so a route walks exactly the
segments the plan requires: each required street's run inside the grid, east–west streets first in
a serpentine from south to north, then north–south streets from west to east. The handheld walks the
route there and back (simulators/mobile.py), so every required segment gets two passes per round.

`truncate` keeps the first part of a route: an inspector told to skip a fraction of the grid
(`skip_fraction`) never walks the rest, and the coverage shows the shortfall.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import shapely

from civicgrid.domain.patrol.network import Projection, RoadSegment, Street, split_streets

REQUIRED = ("main", "secondary")


def grid_routes(streets: Sequence[dict[str, Any]], cell_of: Callable[[float, float], str | None],
                cell_grid: dict[str, str]) -> dict[str, list[list[float]]]:
    """Grid id → a route (lon/lat points) over the grid's main and secondary road segments."""
    typed = [Street(s["id"], s.get("name"), s["road_class"], tuple(tuple(c) for c in s["coords"])) for s in streets]
    if not typed:
        return {}
    segments = split_streets(typed, Projection(typed[0].coords[0][0]))
    runs: dict[str, dict[str, list[RoadSegment]]] = defaultdict(lambda: defaultdict(list))
    for seg in segments:
        if seg.road_class not in REQUIRED:
            continue
        mid = shapely.LineString(seg.coords).interpolate(0.5, normalized=True)
        cell = cell_of(mid.x, mid.y)
        grid = cell_grid.get(cell) if cell else None
        if grid is not None:
            runs[grid][seg.street_id].append(seg)
    return {grid: _serpentine(by_street) for grid, by_street in sorted(runs.items())}


def _spans(segs: list[RoadSegment]) -> list[list[tuple[float, float]]]:
    """Contiguous runs of a street's segments as polylines."""
    out: list[list[tuple[float, float]]] = []
    last = None
    for seg in sorted(segs, key=lambda s: s.street_seq):
        if last is not None and seg.street_seq == last + 1:
            out[-1] += list(seg.coords[1:])
        else:
            out.append(list(seg.coords))
        last = seg.street_seq
    return out


def _serpentine(by_street: dict[str, list[RoadSegment]]) -> list[list[float]]:
    spans = [span for segs in by_street.values() for span in _spans(segs)]

    def east_west(span: list[tuple[float, float]]) -> bool:
        (x0, y0), (x1, y1) = span[0], span[-1]
        return abs(x1 - x0) * math.cos(math.radians(y0)) >= abs(y1 - y0)

    ew = sorted((s for s in spans if east_west(s)), key=lambda s: (s[0][1], s[0][0]))
    ns = sorted((s for s in spans if not east_west(s)), key=lambda s: (s[0][0], s[0][1]))
    route: list[tuple[float, float]] = []
    for k, span in enumerate(ew):
        route += sorted(span, reverse=k % 2 == 1)
    for k, span in enumerate(ns):
        route += sorted(span, key=lambda p: p[1], reverse=k % 2 == 1)
    return [[round(x, 7), round(y, 7)] for x, y in route]


def truncate(points: Sequence[Sequence[float]], keep: float) -> list[list[float]]:
    """The first `keep` (0–1) of the route by length (at least its first two points)."""
    pts = [list(p) for p in points]
    if keep >= 1 or len(pts) < 3:
        return pts
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(pts)]
    target = max(keep, 0.0) * sum(lengths)
    out = [pts[0]]
    for (a, b), d in zip(itertools.pairwise(pts), lengths, strict=True):
        if target <= d:
            f = target / d if d else 0.0
            out.append([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f])
            break
        out.append(b)
        target -= d
    return out if len(out) >= 2 else pts[:2]


def assign_street_routes(devices: list[dict[str, Any]], inspectors: list[dict[str, Any]],
                         routes: dict[str, list[list[float]]]) -> None:
    """Give each handheld the street route of its inspector's grid (kept as it is where the grid has none)."""
    grid_of = {p["username"]: p.get("responsibility_grid_id") for p in inspectors}
    for d in devices:
        route = routes.get(grid_of.get(d.get("inspector")) or "")
        if d["kind"] == "handheld" and route and len(route) >= 2:
            d["route"] = route
