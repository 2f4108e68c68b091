"""The synthetic town's address layer (``addresses.geojson``, loaded by `city load`; docs/geocoding.md).

Every street gets door plates (门牌) every `PLATE_SPACING_M` metres, odd numbers on its left (west or north)
side and even numbers on its right, `SIDE_OFFSET_M` off the centre line, as Chinese towns number them; a road
segment per side with the whole range, for numbers between the plates; and a handful of landmarks (标志物) at
street points. The names are the streets' own (南北3路, 东西5街), so a hotline caller in the simulated town can
be geocoded to the same cells the devices report from.
"""

from __future__ import annotations

import math
import random
from typing import Any

PLATE_SPACING_M = 50.0
SIDE_OFFSET_M = 8.0
M_PER_DEG_LAT = 110_574.0
LANDMARKS = ("县人民医院", "城关一小", "中心广场", "汽车站", "农贸市场", "县政府", "文化馆", "龙舒公园")


def town_addresses(streets: list[dict[str, Any]], rng: random.Random, landmarks: int = len(LANDMARKS)
                   ) -> list[dict[str, Any]]:
    """GeoJSON features: door plates and road segments along `streets` (id, name, coords), and landmarks."""
    features: list[dict[str, Any]] = []
    for street in streets:
        (x0, y0), (x1, y1) = street["coords"][0], street["coords"][-1]
        m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(y0))
        dx, dy = (x1 - x0) * m_per_deg_lon, (y1 - y0) * M_PER_DEG_LAT
        length = math.hypot(dx, dy)
        # The left normal (-uy, ux) in metres, then in degrees.
        nx, ny = -dy / length, dx / length
        plates = int(length // PLATE_SPACING_M)
        for side, sign, first in (("odd", 1, 1), ("even", -1, 2)):
            ox = sign * SIDE_OFFSET_M * nx / m_per_deg_lon
            oy = sign * SIDE_OFFSET_M * ny / M_PER_DEG_LAT
            for k in range(plates):
                t = (k + 0.5) * PLATE_SPACING_M / length
                point = [round(x0 + t * (x1 - x0) + ox, 7), round(y0 + t * (y1 - y0) + oy, 7)]
                features.append(_feature("door_plate", f"{street['name']}{first + 2 * k}号",
                                         {"type": "Point", "coordinates": point}))
            if plates > 1:  # from the first plate to the last: a number between two plates lands between them
                t0, t1 = 0.5 * PLATE_SPACING_M / length, (plates - 0.5) * PLATE_SPACING_M / length
                line = [[round(x0 + t * (x1 - x0) + ox, 7), round(y0 + t * (y1 - y0) + oy, 7)] for t in (t0, t1)]
                features.append(_feature("road_segment", street["name"], {"type": "LineString", "coordinates": line},
                                         number_from=first, number_to=first + 2 * (plates - 1), parity=side))
    for name in LANDMARKS[:landmarks]:
        street = rng.choice(streets)
        (x0, y0), (x1, y1) = street["coords"][0], street["coords"][-1]
        t = rng.uniform(0.1, 0.9)
        features.append(_feature("landmark", name, {"type": "Point", "coordinates": [
            round(x0 + t * (x1 - x0), 7), round(y0 + t * (y1 - y0), 7)]}))
    return features


def _feature(kind: str, address: str, geometry: dict[str, Any], **numbers: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"kind": kind, "address": address, **numbers}}
