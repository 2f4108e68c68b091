"""A case's step clocks (civicgrid/domain/step_deadlines.py) as the API gives them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StepDeadline(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "step": "dispatch", "started_at": "2026-12-07T01:10:00Z", "deadline": "2026-12-07T01:40:00Z",
        "ended_at": None, "status": "running", "on_time": None, "share_used": 0.83, "light": "yellow",
        "limit": {"amount": 30, "unit": "minutes"}}]})

    step: Literal["accept", "verify", "file", "dispatch", "check", "close"]
    started_at: datetime
    deadline: datetime = Field(description="the step's limit added on the working calendar from its start, the "
                                           "time the case stood suspended left out (suspended now: as if resumed now)")
    ended_at: datetime | None
    status: Literal["running", "on_time", "late", "cut"] = Field(
        description="running; done on time; done late; or cut short by the end of the case (not judged)")
    on_time: bool | None
    share_used: float = Field(description="elapsed / limit up to now (or the end), suspension left out")
    light: Literal["green", "yellow", "red"] = Field(description="by the pack's shares (yellow from 80 %)")
    limit: dict[str, float | str]


class StepDeadlines(BaseModel):
    case_id: str
    rules_version: int | None = Field(description="the rule-pack version whose limits and calendar count these "
                                                  "clocks: the one the case was filed under")
    now: datetime
    steps: list[StepDeadline]
