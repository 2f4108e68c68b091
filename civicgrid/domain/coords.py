"""WGS-84 ↔ GCJ-02 (and BD-09) coordinate conversion (docs/domain.md §7).

GPS delivers WGS-84; AMap and Tencent tiles are drawn in GCJ-02 ("Mars
coordinates"), Baidu in BD-09. No PyPI package for this is actively maintained (the
well-known ones, eviltransform, prcoords, coord-convert, last released 2018–2019), and
the published algorithm is twenty lines, so it is implemented here, vectorised with
numpy, and tested against known point pairs. Outside China the offset is not applied
(coordinates pass through unchanged), as every public implementation does.
GCJ-02 → WGS-84 has no closed form; it is inverted by fixed-point iteration to
about 1e-9° (0.1 mm).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

# Krasovsky 1940 ellipsoid, as in the published algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

Num = TypeVar("Num", float, np.ndarray)


def out_of_china(lon: Num, lat: Num) -> Num:
    """True where the point is outside the rough box the GCJ-02 offset applies to."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    out = ~((lon_a >= 72.004) & (lon_a <= 137.8347) & (lat_a >= 0.8293) & (lat_a <= 55.8271))
    return out if out.ndim else bool(out)  # type: ignore[return-value]


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _pair(lon: Num, lat: Num) -> tuple[np.ndarray, np.ndarray, bool]:
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return lon_a, lat_a, lon_a.ndim == 0 and lat_a.ndim == 0


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Num, Num]:
    if scalar:
        return float(lon), float(lat)  # type: ignore[return-value]
    return lon, lat  # type: ignore[return-value]


def wgs84_to_gcj02(lon: Num, lat: Num) -> tuple[Num, Num]:
    """WGS-84 lon/lat (GPS) → GCJ-02 lon/lat (AMap, Tencent). Scalars or arrays."""
    lon_a, lat_a, scalar = _pair(lon, lat)
    dlon, dlat = _delta(lon_a, lat_a)
    keep = out_of_china(lon_a, lat_a)
    return _out(np.where(keep, lon_a, lon_a + dlon), np.where(keep, lat_a, lat_a + dlat), scalar)


def gcj02_to_wgs84(lon: Num, lat: Num, *, tolerance: float = 1e-10, max_iter: int = 30) -> tuple[Num, Num]:
    """GCJ-02 → WGS-84 by iterating w ← w + (g − f(w)) until f(w) matches g within `tolerance` degrees."""
    g_lon, g_lat, scalar = _pair(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - np.asarray(f_lon), g_lat - np.asarray(f_lat)
        w_lon, w_lat = w_lon + e_lon, w_lat + e_lat
        if np.all(np.abs(e_lon) < tolerance) and np.all(np.abs(e_lat) < tolerance):
            break
    return _out(w_lon, w_lat, scalar)


def gcj02_to_bd09(lon: Num, lat: Num) -> tuple[Num, Num]:
    """GCJ-02 → BD-09 (Baidu maps)."""
    x, y, scalar = _pair(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon: Num, lat: Num) -> tuple[Num, Num]:
    """BD-09 → GCJ-02 (the published approximate inverse, within about 1e-6°)."""
    bx, by, scalar = _pair(lon, lat)
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta), z * np.sin(theta), scalar)


def wgs84_to_bd09(lon: Num, lat: Num) -> tuple[Num, Num]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Num, lat: Num) -> tuple[Num, Num]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
