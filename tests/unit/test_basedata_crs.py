"""The city's CRS as pyproj converts it, checked against values published independently of pyproj."""

from __future__ import annotations

import pytest

from civicgrid.basedata.crs import ConflictingCrs, UnknownCrs, city_crs, declared_crs, file_crs

# GRS 80 (the CGCS2000 ellipsoid has its a and 1/f): the meridian quadrant Q, equator to pole, is 10 001 965.7293 m
# (Moritz, "Geodetic Reference System 1980", Bulletin Géodésique 1980/2000). A transverse Mercator's northing on its
# central meridian is the meridian arc, so the pole's northing is Q.
GRS80_MERIDIAN_QUADRANT_M = 10_001_965.7293


def test_epsg_4548_matches_its_published_definition() -> None:
    gk = city_crs("EPSG:4548")
    assert gk.name == "CGCS2000 / 3-degree Gauss-Kruger CM 117E" and gk.projected
    _, northing = gk.from_wgs84(117.0, 90.0)
    assert northing == pytest.approx(GRS80_MERIDIAN_QUADRANT_M, abs=0.001)
    # The central meridian 117° E carries the false easting, 500 000 m, at every latitude.
    assert gk.from_wgs84(117.0, 31.46)[0] == pytest.approx(500_000.0, abs=0.001)
    assert gk.from_wgs84(117.0, 0.0) == pytest.approx((500_000.0, 0.0), abs=0.001)


@pytest.mark.parametrize("point", [(116.9405, 31.4604), (117.3, 31.9), (115.6, 25.0)])
def test_a_round_trip_through_epsg_4548_stays_within_a_millimetre(point: tuple[float, float]) -> None:
    gk = city_crs("4548")
    lon, lat = gk.to_wgs84(*gk.from_wgs84(*point))
    assert (lon, lat) == pytest.approx(point, abs=1e-8)


def test_a_point_outside_the_zone_is_not_covered_and_an_unknown_crs_is_refused() -> None:
    gk = city_crs("EPSG:4548")
    assert gk.covers(116.94, 31.46) and not gk.covers(*gk.to_wgs84(39_495_247.0, 3_481_977.0))
    with pytest.raises(UnknownCrs, match="unknown coordinate reference system"):
        city_crs("EPSG:99999")
    with pytest.raises(UnknownCrs, match="neither a geographic nor a projected"):
        city_crs("EPSG:4978")  # geocentric


def test_a_geojson_files_own_crs_member_is_read_as_an_epsg_code() -> None:
    def named(name: str) -> dict[str, object]:
        return {"type": "FeatureCollection", "features": [], "crs": {"type": "name", "properties": {"name": name}}}

    assert declared_crs(named("urn:ogc:def:crs:EPSG::4548")) == "EPSG:4548"  # as the exports write it
    assert declared_crs(named("urn:ogc:def:crs:OGC:1.3:CRS84")) == "EPSG:4326"  # as GDAL writes WGS 84
    assert declared_crs({"type": "FeatureCollection", "features": []}) is None
    with pytest.raises(UnknownCrs):
        declared_crs(named("urn:ogc:def:crs:EPSG::99999"))


def test_a_file_is_read_in_the_crs_it_declares_else_the_one_given_else_wgs84_and_never_in_a_guess() -> None:
    gk, cgcs = city_crs("EPSG:4548"), city_crs("EPSG:4490")
    assert file_crs("EPSG:4548", None, name="a.geojson", given_as="--crs says") is gk
    assert file_crs("EPSG:4548", gk, name="a.geojson", given_as="--crs says") is gk
    assert file_crs(None, cgcs, name="a.csv", given_as="--crs says") is cgcs
    assert file_crs(None, None, name="a.csv", given_as="--crs says").code == "EPSG:4326"
    with pytest.raises(ConflictingCrs, match=r"^a\.geojson says EPSG:4548 \(its crs member\), --crs says EPSG:4490"):
        file_crs("EPSG:4548", cgcs, name="a.geojson", given_as="--crs says")
