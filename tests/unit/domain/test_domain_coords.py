"""WGS-84 ↔ GCJ-02 ↔ BD-09 against published point pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicgrid.domain.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# (wgs lon, wgs lat, gcj lon, gcj lat): eviltransform's test pairs (Shanghai, Shenzhen,
# Beijing) and coordtransform's README example.
PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), PAIRS)
def test_wgs84_to_gcj02_known_pairs(wlon: float, wlat: float, glon: float, glat: float) -> None:
    assert wgs84_to_gcj02(wlon, wlat) == pytest.approx((glon, glat), abs=1e-9)
    assert gcj02_to_wgs84(glon, glat) == pytest.approx((wlon, wlat), abs=1e-8)


def test_arrays() -> None:
    w = np.array(PAIRS)
    lon, lat = wgs84_to_gcj02(w[:, 0], w[:, 1])
    assert np.allclose(lon, w[:, 2], atol=1e-9) and np.allclose(lat, w[:, 3], atol=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(lon, lat)
    assert np.allclose(back_lon, w[:, 0], atol=1e-8) and np.allclose(back_lat, w[:, 1], atol=1e-8)


def test_bd09_known_pairs() -> None:
    # coordtransform's README: gcj02tobd09 / bd09togcj02 of (116.404, 39.915)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-9)
    lon, lat = wgs84_to_bd09(116.404, 39.915)
    assert bd09_to_wgs84(lon, lat) == pytest.approx((116.404, 39.915), abs=1e-5)


def test_outside_china_is_unchanged() -> None:
    assert out_of_china(2.35, 48.85) is True
    assert out_of_china(116.4, 39.9) is False
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)
    assert out_of_china(np.array([2.35, 116.4]), np.array([48.85, 39.9])).tolist() == [True, False]


@given(st.floats(73.0, 135.0), st.floats(18.0, 53.0))
def test_round_trip_within_a_millimetre(lon: float, lat: float) -> None:
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert abs(glon - lon) < 0.01 and abs(glat - lat) < 0.01  # the offset is a few hundred metres at most
    assert gcj02_to_wgs84(glon, glat) == pytest.approx((lon, lat), abs=1e-8)
