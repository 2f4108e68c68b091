"""Helpers of the base-data tests: component codes unique to a test run, points inside the API tests' cells."""

from __future__ import annotations

import io
import math
import random

from openpyxl import Workbook

# Known WGS 84 points inside the API tests' cells (tests/support/api_fixtures.py CELLS: 116.940–116.944 E,
# 31.460–31.4636 N).
POINTS = [(116.94050, 31.46040), (116.94170, 31.46070), (116.94260, 31.46150), (116.94380, 31.46300),
          (116.94120, 31.46330)]


def codes(n: int, category: str = "0101") -> list[str]:
    """Fresh 16-digit component codes (Shucheng, `category`), random serials: the database is shared by the run."""
    start = random.randrange(1, 999_000)
    return [f"341523{category}{start + i:06d}" for i in range(n)]


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance of two nearby WGS 84 points in metres (local equirectangular: exact to millimetres at 100 m)."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(lat)
    dy = (a[1] - b[1]) * 110_574.0
    return math.hypot(dx, dy)


def xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
