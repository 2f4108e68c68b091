"""Duplicate candidates of a report and the link of a report to one (api/routes/duplicates.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    """A report linked to an open case instead of being filed: who reported, and whether they want a callback.
    A leader's instruction (channel ``leader``) names the leader and says the instruction in `description`; a
    transfer (channel ``transfer``) names the body and its reference, its contact in `caller_phone`
    (civicgrid/cases/referrals.py)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "channel": "hotline", "caller_name": "王先生", "caller_phone": "13800000000", "callback": True,
        "description": "门口垃圾三天没人清"}, {
        "channel": "transfer", "from_body": "县12345政务服务热线", "reference": "ZB-2026-001234",
        "caller_phone": "0564-8888888", "callback": True, "description": "群众反映门口堆物"}]})

    channel: str = Field(default="hotline", pattern=r"^(hotline|inspector|leader|transfer|camera|open311)$")
    caller_name: str | None = Field(default=None, max_length=100)
    caller_phone: str | None = Field(default=None, max_length=40)
    caller_email: str | None = Field(default=None, max_length=200)
    callback: bool = Field(default=False, description="tell the caller when the case closes (docs/notify.md)")
    description: str | None = Field(default=None, max_length=4000)
    media_ids: Annotated[list[MediaId], Field(max_length=20, description="the report's photos and voice notes, "
                                                                         "uploaded first (POST /media)")] = []
    leader: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="channel leader: who gave the instruction (required there, refused elsewhere)")
    from_body: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="channel transfer: the body that transferred it (required there)")
    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = Field(
        default=None, description="channel transfer: that body's number of the case (required there)")

    @model_validator(mode="after")
    def _source_details(self) -> LinkIn:
        """The details a leader's instruction or a transfer must carry, and only they."""
        needed = {"leader": ("leader", "description"), "transfer": ("from_body", "reference")}.get(self.channel, ())
        if missing := [name for name in needed if not getattr(self, name)]:
            raise ValueError(f"a {self.channel} link needs {' and '.join(missing)}")
        if stray := [name for name in ("leader", "from_body", "reference")
                     if getattr(self, name) is not None and name not in needed]:
            raise ValueError(f"{', '.join(stray)}: only for channel "
                             f"{'leader' if stray[0] == 'leader' else 'transfer'}, not {self.channel}")
        return self


class LinkedPublic(BaseModel):
    case_id: str
    case_no: str
    caller_id: int
