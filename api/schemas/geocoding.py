"""Answers of /geocode: candidates for an address, and the nearest address to a point (docs/geocoding.md)."""

from __future__ import annotations

from pydantic import BaseModel


class GeocodeCandidate(BaseModel):
    address: str
    kind: str  # door_plate, building, landmark, road_segment
    score: float  # 0-1: 1 the same address, 0.95 the same road and number, 0.9 interpolated on a road segment
    lon: float
    lat: float
    grid_cell_code: str | None  # the unit grid cell the point lies in, None outside every cell


class GeocodeAnswer(BaseModel):
    query: str
    normalized: str  # the query in the one written form it was matched in
    candidates: list[GeocodeCandidate]


class ReverseAnswer(BaseModel):
    address: str | None  # the nearest address point within the radius
    address_distance_m: float | None
    road: str | None  # the nearest road within the radius
    road_distance_m: float | None
    grid_cell_code: str | None
