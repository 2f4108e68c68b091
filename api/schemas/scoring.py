"""Evaluation tables and patrol coverage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RatioOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"numerator": 45, "denominator": 50}]})

    numerator: int
    denominator: int


class ScoreRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "rank": 1, "subject": "sanitation", "score": 92.5, "grade": "A",
        "indicators": {"closing_rate": 0.95, "on_time_disposal_rate": 0.9, "not_rework_rate": 0.97,
                       "case_count_score": 0.75},
        "ratios": {"closing_rate": {"numerator": 190, "denominator": 200}}}]})

    rank: int
    subject: str
    score: float
    grade: str
    indicators: dict[str, float]
    ratios: dict[str, RatioOut]


class ScoreTable(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "level": "department", "period": "month", "start": "2026-10-31T16:00:00Z", "end": "2026-11-30T16:00:00Z",
        "cases": 1234, "rows": []}]})

    level: str
    period: str
    start: datetime
    end: datetime
    cases: int
    rows: list[ScoreRow]


class CoverageRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "day": "2026-11-24", "inspector_user_id": 7, "username": "inspector1", "responsibility_grid_id": "G1",
        "segments_required": 40, "segments_met": 36, "cells_visited": 55, "plan_met_pct": 90.0,
        "inside_grid_s": 36000, "outside_grid_s": 600, "distance_m": 18400, "detail": {}}]})

    day: date
    inspector_user_id: int
    username: str
    responsibility_grid_id: str | None
    segments_required: int
    segments_met: int
    cells_visited: int
    plan_met_pct: float
    inside_grid_s: float
    outside_grid_s: float
    distance_m: float
    detail: dict[str, Any]
