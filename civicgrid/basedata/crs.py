"""The city's coordinate reference systems, converted to and from WGS 84 with pyproj (docs/basedata.md).

City GIS data is usually CGCS2000 (EPSG:4490, equal to WGS 84 within centimetres) or one of its 3° Gauss–Krüger
projections (Shucheng: central meridian 117° E, EPSG:4548). The database keeps WGS 84 longitude/latitude; files
come and go in whatever CRS the department works in. Coordinates are always handled easting/longitude first
(`always_xy`), because Chinese survey practice names the *northing* X: a file's columns say `easting`/`northing`
or `lon`/`lat`, never the ambiguous `x`/`y`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

WGS84 = "EPSG:4326"
# What the legacy GeoJSON `crs` member calls WGS 84 in longitude/latitude order (GDAL writes it).
_CRS84 = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "OGC:CRS84", "CRS84")


class UnknownCrs(ValueError):
    pass


class OutsideArea(ValueError):
    """A converted point outside the CRS's area of use; `index`: which of the geometries converted held it."""

    def __init__(self, index: int, x: float, y: float, crs: CityCrs) -> None:
        super().__init__(outside_message(x, y, crs))
        self.index = index


@dataclass(frozen=True, slots=True)
class CityCrs:
    """One CRS with its converters to and from WGS 84 and the area (in WGS 84) it is meant for."""

    code: str
    name: str
    projected: bool
    area: tuple[float, float, float, float] | None  # west, south, east, north (degrees)
    _to_wgs84: Transformer
    _from_wgs84: Transformer

    def to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """(easting, northing) or (lon, lat) in this CRS → (lon, lat) in WGS 84."""
        lon, lat = self._to_wgs84.transform(x, y)
        return float(lon), float(lat)

    def from_wgs84(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._from_wgs84.transform(lon, lat)
        return float(x), float(y)

    def to_wgs84_array(self, xy: np.ndarray) -> np.ndarray:
        """An (n, 2) array of (easting, northing) or (lon, lat) → (lon, lat), in one call to PROJ."""
        lon, lat = self._to_wgs84.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    def from_wgs84_array(self, lonlat: np.ndarray) -> np.ndarray:
        x, y = self._from_wgs84.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    def covers_array(self, lonlat: np.ndarray, margin_deg: float = 0.5) -> np.ndarray:
        """`covers` for an (n, 2) array: a boolean per point."""
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        if self.area is not None:
            west, south, east, north = self.area
            ok &= (lon >= west - margin_deg) & (lon <= east + margin_deg)
            ok &= (lat >= south - margin_deg) & (lat <= north + margin_deg)
        return np.asarray(ok, dtype=bool)

    def covers(self, lon: float, lat: float, margin_deg: float = 0.5) -> bool:
        """Whether a converted point lies in (or near) the CRS's area of use: a point far outside means the file's
        coordinates are not in this CRS (a wrong --crs, a zone number left on the easting, swapped columns)."""
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return False
        if self.area is None:
            return True
        west, south, east, north = self.area
        return west - margin_deg <= lon <= east + margin_deg and south - margin_deg <= lat <= north + margin_deg


@lru_cache(maxsize=16)
def city_crs(code: str) -> CityCrs:
    """The CRS named by `code` (``EPSG:4548``, ``epsg:4490``, ``4326``); UnknownCrs when pyproj does not know it or it
    is not a 2-D geographic or projected CRS in degrees or metres."""
    text = code.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        raise UnknownCrs(f"unknown coordinate reference system {code!r}: {exc}") from None
    if not (crs.is_geographic or crs.is_projected):
        raise UnknownCrs(f"{code!r} ({crs.name}) is neither a geographic nor a projected CRS")
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if crs.is_projected and unit not in ("metre", "meter"):
        raise UnknownCrs(f"{code!r} ({crs.name}) measures in {unit!r}; only metres are taken")
    area = crs.area_of_use
    authority = crs.to_authority()
    name = f"{authority[0]}:{authority[1]}" if authority else text
    return CityCrs(name, crs.name, crs.is_projected,
                   (area.west, area.south, area.east, area.north) if area is not None else None,
                   Transformer.from_crs(crs, WGS84, always_xy=True), Transformer.from_crs(WGS84, crs, always_xy=True))


def outside_message(x: float, y: float, crs: CityCrs) -> str:
    """Why a point is refused: the one wording of the imports (each row) and of `city load` (each feature)."""
    return (f"({x}, {y}) is outside {crs.code}'s area ({crs.name}): is the file in another coordinate system, or "
            f"are the columns swapped?")


def geometries_to_wgs84(geometries: Sequence[BaseGeometry], crs: CityCrs) -> list[BaseGeometry]:
    """The geometries converted from `crs` to WGS 84 with every coordinate in one call to PROJ (a call per geometry
    costs ~0.4 ms); OutsideArea for the first coordinate outside the CRS's area, naming its geometry's index."""
    array = np.array(list(geometries), dtype=object)
    if array.size == 0:
        return []
    coords, index = shapely.get_coordinates(array, return_index=True)
    lonlat = crs.to_wgs84_array(coords)
    inside = crs.covers_array(lonlat)
    if not inside.all():
        k = int(np.argmin(inside))
        raise OutsideArea(int(index[k]), float(coords[k, 0]), float(coords[k, 1]), crs)
    return list(shapely.set_coordinates(shapely.transform(array, lambda xy: xy), lonlat))


def declared_crs(document: Mapping[str, Any]) -> str | None:
    """The CRS a GeoJSON document names in its legacy ``crs`` member (RFC 7946 dropped it; GDAL, QGIS and the
    base-data exports write it), as ``EPSG:n``; None when it names none. UnknownCrs for a name pyproj cannot read."""
    member = document.get("crs")
    properties = member.get("properties") if isinstance(member, Mapping) else None
    name = properties.get("name") if isinstance(properties, Mapping) else None
    if not isinstance(name, str):
        return None
    return WGS84 if name in _CRS84 else city_crs(name).code


class ConflictingCrs(ValueError):
    """A file declares one CRS and its caller says another."""


def file_crs(declared: str | None, given: CityCrs | None, *, name: str, given_as: str) -> CityCrs:
    """The CRS a file is read in, the one rule of `city load` and `basedata import`: the one its own ``crs`` member
    declares (`declared_crs`), else the one the caller gave, else WGS 84. Both, and different, is ConflictingCrs
    naming both: one of the two is wrong, and a guess would misplace every feature. `given_as` says where the
    caller's came from (``the load is in``, ``--crs says``)."""
    if declared is not None and given is not None and declared != given.code:
        raise ConflictingCrs(f"{name} says {declared} (its crs member), {given_as} {given.code}: say the CRS the "
                             f"file is in")
    if declared is not None:
        return city_crs(declared)
    return given if given is not None else city_crs(WGS84)


def collection_to_wgs84(document: Mapping[str, Any], crs: CityCrs | None, *, name: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection in WGS 84 (`civicgrid city load`'s files): in the CRS `file_crs` says (its own
    ``crs`` member, else `crs`, the load's, else WGS 84); a point outside the CRS's area is refused, the message
    naming the file and the feature."""
    used = file_crs(declared_crs(document), crs, name=name, given_as="the load is in")
    out = {k: v for k, v in document.items() if k != "crs"}
    if used.code == WGS84:
        return out
    features = list(document.get("features") or [])
    at = [n for n, f in enumerate(features) if isinstance(f, Mapping) and f.get("geometry")]
    shapes = []
    for n in at:
        try:
            shapes.append(shape(features[n]["geometry"]))
        except (ShapelyError, AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{name}, feature {n}: not a GeoJSON geometry: {exc}") from None
    try:
        converted = geometries_to_wgs84(shapes, used)
    except OutsideArea as exc:
        raise ValueError(f"{name}, feature {at[exc.index]}: {exc}") from None
    for n, geometry in zip(at, converted, strict=True):
        features[n] = {**features[n], "geometry": mapping(geometry)}
    out["features"] = features
    return out
