"""A hand-built street network in metres (projected and back to lon/lat) and tracks walked on it.

Main street M along y = 0 from x = 0 to 300; secondary streets S1 at x = 100 and S2 at x = 200 from
y = -100 to 100. Segments: M:001..003 (100 m each), S1:001/002, S2:001/002 (100 m each).
Cells: A holds x < 160, B x ≥ 160 (y from -150 to 150); grid RG-A = {A}, RG-B = {B}.
Inspector 7 plans RG-A: M:001, M:002 (main, 5 passes), S1:001, S1:002 (secondary, 4) → 18 passes.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import shapely

from civicgrid.domain.geofence import GridIndex
from civicgrid.domain.patrol import Fix, PatrolNetwork, PatrolPlan, PatrolRules, PatrolTracker, Projection, Street
from civicgrid.domain.patrol.network import SegmentIndex, split_streets

PROJ = Projection(117.0)
X0, Y0 = (float(v) for v in PROJ.forward(117.0, 31.5))
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CST).timestamp()  # 08:00 local, inside the 07:30–18:30 window
CELL_A, CELL_B = "34152300101001", "34152300101002"


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = PROJ.inverse(X0 + x, Y0 + y)
    return float(lon), float(lat)


def frame(lon0: float, lat0: float):
    """`lonlat` for metres from another origin (integration tests keep away from other tests' cells)."""
    x0, y0 = (float(v) for v in PROJ.forward(lon0, lat0))

    def at(x: float, y: float) -> tuple[float, float]:
        lon, lat = PROJ.inverse(x0 + x, y0 + y)
        return float(lon), float(lat)

    return at


def street(sid: str, road_class: str, *pts: tuple[float, float]) -> Street:
    return Street(sid, sid, road_class, tuple(lonlat(*p) for p in pts))


STREETS = [street("M", "main", (0, 0), (300, 0)), street("S1", "secondary", (100, -100), (100, 100)),
           street("S2", "secondary", (200, -100), (200, 100))]


def cell(x0: float, x1: float) -> shapely.Polygon:
    return shapely.Polygon([lonlat(x0, -150), lonlat(x1, -150), lonlat(x1, 150), lonlat(x0, 150)])


@functools.cache
def network(plan_grid: str | None = "RG-A") -> PatrolNetwork:
    segs = split_streets(STREETS, PROJ)
    index = SegmentIndex.from_segments([s.id for s in segs], [s.coords for s in segs], PROJ)
    cells = GridIndex([(CELL_A, cell(-100, 160)), (CELL_B, cell(160, 400))])
    seg_grid = {s.id: ("RG-A" if PROJ.forward(*s.coords[0])[0] + PROJ.forward(*s.coords[-1])[0] < 2 * (X0 + 160)
                       else "RG-B") for s in segs}
    plans = {7: PatrolPlan(7, plan_grid)} if plan_grid else {}
    return PatrolNetwork(PROJ, index, {s.id: s.road_class for s in segs}, seg_grid, cells,
                         {CELL_A: "RG-A", CELL_B: "RG-B"}, plans)


def tracker(rules: PatrolRules | None = None, plan_grid: str | None = "RG-A") -> PatrolTracker:
    return PatrolTracker(network(plan_grid), rules or PatrolRules())


class Walker:
    """Emits fixes for device `hh-1` of inspector 7 along straight legs at a speed, one every `every_s`."""

    def __init__(self, start: tuple[float, float] = (0, 0), t: float = T0, every_s: float = 24.0,
                 device: str = "hh-1", inspector: int | None = 7, at=lonlat) -> None:
        self.at = at
        self.x, self.y = start
        self.t = t
        self.every_s = every_s
        self.seq = 0
        self.device, self.inspector = device, inspector
        self.fixes: list[Fix] = []
        self.fix()

    def fix(self, **extra) -> Fix:
        self.seq += 1
        lon, lat = self.at(self.x, self.y)
        ts = datetime.fromtimestamp(self.t, UTC).isoformat()
        f = Fix(self.device, "handheld", self.inspector, self.seq, self.t, ts, extra.pop("lon", lon),
                extra.pop("lat", lat), **extra)
        self.fixes.append(f)
        return f

    def to(self, x: float, y: float, speed: float = 1.25) -> Walker:
        dist = float(np.hypot(x - self.x, y - self.y))
        steps = max(1, round(dist / (speed * self.every_s)))
        x0, y0 = self.x, self.y
        for k in range(1, steps + 1):
            self.x, self.y = x0 + (x - x0) * k / steps, y0 + (y - y0) * k / steps
            self.t += dist / speed / steps
            self.fix()
        return self

    def stay(self, seconds: float) -> Walker:
        for _ in range(round(seconds / self.every_s)):
            self.t += self.every_s
            self.fix()
        return self
