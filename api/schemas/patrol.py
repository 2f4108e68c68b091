"""Patrol coverage per inspector and per grid, track playback and the cell visit heat map."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ClassCoverage(BaseModel):
    required_passes: int
    segments: int
    segments_met: int


class InspectorCoverage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "day": "2026-11-24", "inspector_user_id": 7, "inspector_name": "王伟", "responsibility_grid_id": "RG01",
        "plan_met_pct": 62.5, "segments_required": 120, "segments_met": 40,
        "by_class": {"main": {"required_passes": 5, "segments": 20, "segments_met": 8},
                     "secondary": {"required_passes": 4, "segments": 100, "segments_met": 32}},
        "cells_visited": 210, "inside_grid_s": 30000, "outside_grid_s": 600, "distance_m": 17800,
        "updated_at": "2026-11-24T10:30:00Z", "device_id": "sim-hh-001"}]})

    day: date
    inspector_user_id: int
    inspector_name: str
    responsibility_grid_id: str | None
    plan_met_pct: float
    segments_required: int
    segments_met: int
    by_class: dict[str, ClassCoverage]
    cells_visited: int
    inside_grid_s: float
    outside_grid_s: float
    distance_m: float
    updated_at: datetime | None
    device_id: str | None = None


class GridCoverage(BaseModel):
    """A responsibility grid's day: its inspectors' passes added up against the grid's required segments."""

    day: date
    responsibility_grid_id: str
    inspectors: int
    plan_met_pct: float  # all the grid's inspectors together
    mean_inspector_pct: float
    segments_required: int
    segments_met: int
    by_class: dict[str, ClassCoverage]
    cells_visited: int  # cells of the grid any of its inspectors entered within the window
    cells_in_grid: int
    inside_grid_s: float
    outside_grid_s: float
    distance_m: float


class TrackProperties(BaseModel):
    device_id: str
    times: list[datetime]
    points_total: int
    points_returned: int
    simplified: bool


class TrackFeature(BaseModel):
    type: str = "Feature"
    geometry: dict[str, Any] | None
    properties: TrackProperties


class HeatCell(BaseModel):
    grid_cell_code: str
    visits: int
    inspectors: int
