"""Evaluation tables and patrol coverage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RatioOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"numerator": 45, "denominator": 50}]})

    numerator: int
    denominator: int


class ScoreRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "rank": 1, "subject": "sanitation", "score": 92.5, "grade": "A",
        "indicators": {"closing_rate": 0.95, "on_time_disposal_rate": 0.9, "rework_rate": None,
                       "not_rework_rate": None, "case_count_score": 0.75},
        "ratios": {"closing_rate": {"numerator": 190, "denominator": 200},
                   "on_time_disposal_rate": {"numerator": 180, "denominator": 200},
                   "rework_rate": {"numerator": 0, "denominator": 0},
                   "not_rework_rate": {"numerator": 0, "denominator": 0}},
        "counted": {"closing_rate": 0.95, "on_time_disposal_rate": 0.9, "not_rework_rate": 1.0,
                    "case_count_score": 0.75},
        "weights": {"case_count_score": 0.1, "closing_rate": 0.3, "on_time_disposal_rate": 0.3,
                    "not_rework_rate": 0.3}}]})

    rank: int
    subject: str
    score: float | None = Field(description="the composite, 0–100; null when nothing was due for any weighted rate "
                                            "and the pack's empty_rate is exclude")
    grade: str | None
    indicators: dict[str, float | None] = Field(description="each indicator as a fraction; null: nothing was due "
                                                            "(0/0), shown as —")
    ratios: dict[str, RatioOut] = Field(description="every rate's numerator and denominator")
    counted: dict[str, float] = Field(description="what each weighted indicator counted for in the composite "
                                                  "(a rate with nothing due at the pack's empty_rate)")
    weights: dict[str, float] = Field(description="the weights this row's composite applied (the table's, scaled "
                                                  "up when an indicator was excluded)")


class ScoreTable(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "level": "department", "period": "month", "start": "2026-10-31T16:00:00Z", "end": "2026-11-30T16:00:00Z",
        "cases": 1234, "composite": "department",
        "weights": {"case_count_score": 0.1, "closing_rate": 0.3, "on_time_disposal_rate": 0.3,
                    "not_rework_rate": 0.3},
        "empty_rate": 1.0, "rules_version": 3, "case_rules_versions": [2, 3], "rows": []}]})

    level: str
    period: str
    start: datetime
    end: datetime
    cases: int
    composite: str = Field(description="whose weights scored the table: region, department or the post's role")
    weights: dict[str, float] = Field(description="the composite's weights in the rule pack")
    empty_rate: float | Literal["exclude"] = Field(description="what a rate with nothing due counts for: a share "
                                                               "of full marks, or exclude (its weight shared among "
                                                               "the others)")
    rules_version: int = Field(description="the rule-pack version whose weights, bands and grades scored the table")
    case_rules_versions: list[int] = Field(description="the versions the period's cases were filed under")
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
