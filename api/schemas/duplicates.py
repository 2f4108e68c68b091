"""Duplicate candidates of a report and the link of a report to one (api/routes/duplicates.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.cases import MediaId


class DuplicateCandidate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "0b9c1a52-7f3e-4c1e-9a55-2f0c5e1b7d10", "case_no": "20261206-0B9C1A52", "state": "dispatched",
        "category_code": "E0102", "distance_m": 18.4, "reported_at": "2026-12-06T09:00:00Z",
        "description": "路边垃圾堆放", "address": "人民路 12 号", "callers": 2}]})

    case_id: str
    case_no: str
    state: str
    category_code: str
    distance_m: float
    reported_at: datetime
    description: str | None
    address: str | None
    callers: int = Field(description="people already on the case: its first caller and those linked to it")


class LinkIn(BaseModel):
    """A report linked to an open case instead of being filed: who reported, and whether they want a callback."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "channel": "hotline", "caller_name": "王先生", "caller_phone": "13800000000", "callback": True,
        "description": "门口垃圾三天没人清"}]})

    channel: str = Field(default="hotline", pattern=r"^(hotline|inspector|leader|transfer|camera|open311)$")
    caller_name: str | None = Field(default=None, max_length=100)
    caller_phone: str | None = Field(default=None, max_length=40)
    caller_email: str | None = Field(default=None, max_length=200)
    callback: bool = Field(default=False, description="tell the caller when the case closes (docs/notify.md)")
    description: str | None = Field(default=None, max_length=4000)
    media_ids: Annotated[list[MediaId], Field(max_length=20, description="the report's photos and voice notes, "
                                                                         "uploaded first (POST /media)")] = []


class LinkedPublic(BaseModel):
    case_id: str
    case_no: str
    caller_id: int
