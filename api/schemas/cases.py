"""Case request and response bodies (snake_case JSON, every model with an OpenAPI example)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.geocoding import ReverseAnswer
from civicgrid.domain.case_state import Source
from civicgrid.domain.time_limits import Unit

CategoryCode = Annotated[str, Field(pattern=r"^[CE][0-9]{4}$", examples=["E0102"],
                                    description="Typed category code (C component, E event) = Open311 service_code")]
CellCode = Annotated[str, Field(pattern=r"^[0-9]{14,15}$", examples=["34152300100103"])]
MediaId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="id returned by POST /media")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]

_CASE_EXAMPLE: dict[str, Any] = {
    "id": "0b9c1a52-3f0e-4d5e-9a57-7f4f0c7d2a11", "case_no": "20261124-0B9C1A52", "state": "dispatched",
    "source": "inspector", "category_code": "E0102", "category_name": "暴露垃圾", "disposal_class": "B",
    "grid_cell_code": "34152300100103", "component_code": None, "lon": 116.95, "lat": 31.46,
    "address": "城关镇人民路 12 号", "description": "路边垃圾堆放", "department_id": "sanitation",
    "reported_at": "2026-11-24T01:00:00Z", "disposal_deadline": "2026-11-24T06:30:00Z", "closed_at": None,
    "close_type": None, "rework_count": 0, "return_count": 0, "postpone_count": 0, "pending": None, "version": 4,
}


class CaseReport(BaseModel):
    """A new problem (上报) from an inspector's handheld, an operator, or a leader."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category_code": "E0102", "description": "路边垃圾堆放", "lon": 116.95, "lat": 31.46,
        "address": "城关镇人民路 12 号", "media_ids": []}]})

    category_code: CategoryCode
    description: Annotated[str, Field(max_length=2000)] | None = None
    source: Source | None = Field(None, description="default: the reporter's role (inspector, leader) or hotline")
    grid_cell_code: CellCode | None = None
    component_code: Annotated[str, Field(pattern=r"^[0-9]{16}$")] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    media_ids: Annotated[list[MediaId], Field(max_length=20)] = []
    client_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="idempotency key: a retried report with the same client_ref returns the same case")


class PhoneCall(BaseModel):
    """A 12319 call logged by an operator (source hotline)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "caller_name": "王先生", "caller_phone": "13800000000", "category_code": "E0505",
        "description": "小区门口车辆乱停", "address": "城关镇人民路 12 号"}]})

    caller_name: Annotated[str, Field(max_length=100)] | None = None
    caller_phone: Annotated[str, Field(max_length=40)] | None = None
    category_code: CategoryCode
    description: Text
    address: Annotated[str, Field(max_length=500)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    grid_cell_code: CellCode | None = None


class CasePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CASE_EXAMPLE]})

    id: str
    case_no: str | None
    state: str
    source: str
    category_code: str
    category_name: str | None
    disposal_class: str | None
    grid_cell_code: str | None
    component_code: str | None
    lon: float | None
    lat: float | None
    address: str | None
    description: str | None
    department_id: str | None
    centre_id: str | None = Field(None, description="the centre handling it (levels, docs/centres.md); none: the "
                                                    "top, the whole city")
    reported_at: datetime
    disposal_deadline: datetime | None
    closed_at: datetime | None
    close_type: str | None
    rework_count: int
    return_count: int
    postpone_count: int
    pending: str | None = Field(None, description="a department request awaiting the dispatcher: return/postpone")
    version: int
    rules_version: int | None = Field(None, description="the rules version the case was filed under: its limits, "
                                                        "calendar and class stay that version's (docs/rules.md)")
    verified: bool = Field(False, description="核实属实: a verification confirmed the report")
    check_passed: bool = Field(False, description="核查通过 since the latest (re)dispatch: the case may be closed")
    accepted_at: datetime | None = Field(None, description="受理: when an operator accepted the report")
    dispatched_at: datetime | None = Field(None, description="the latest dispatch or rework: the disposal clock's "
                                                             "start")
    merged_into: str | None = Field(None, description="合并: the id of the open case this repeat report joined")
    unlocated: bool = Field(False, description="came without a place (an address that did not resolve, or none) and "
                                               "not placed yet: not filed nor dispatched until an operator places "
                                               "it (POST /intake/unlocated/{id}/place)")
    light: Literal["green", "yellow", "red"] | None = Field(
        None, description="time-limit light of the most urgent running step (accept, verify, file, dispatch, "
                          "dispose, check, close): yellow past the pack's warning share, red past the deadline, as "
                          "the deadline watch last read the case; before it has, disposal's alone (none before "
                          "dispatch and once closed)")
    light_step: str | None = Field(None, description="the step the light is for (docs/rules.md)")


class CaseEventPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "seq": 2, "at": "2026-11-24T01:10:00Z", "action": "file", "from_state": "reported", "to_state": "filed",
        "actor": "leader1", "role": "shift_leader", "note": None, "data": {"category": "E0102"}}]})

    seq: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor: str | None
    role: str | None
    note: str | None
    data: dict[str, Any]


class EvidencePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "kind": "photo", "at": "2026-11-24T01:00:00Z", "device_id": None,
        "data": {"media_id": "9f" * 32, "content_type": "image/jpeg"}}]})

    id: int
    kind: str
    at: datetime
    device_id: str | None
    data: dict[str, Any]


class CaseDetail(CasePublic):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_CASE_EXAMPLE, "allowed_actions": ["sign", "request_return", "request_postpone"],
        "suggested_department_id": "sanitation", "light": "green", "timeline": [], "evidence": []}]})

    allowed_actions: list[str] = Field(description="actions the caller's role may take now")
    suggested_department_id: str | None = Field(description="from the responsibility table / component owner")
    nearest: ReverseAnswer | None = Field(None, description="reverse geocoding of the case's point: the nearest "
                                                            "address and road within 200 m, and the cell there; "
                                                            "none without a point")
    timeline: list[CaseEventPublic] = Field(description="the newest 500 entries, oldest first")
    evidence: list[EvidencePublic] = Field(description="the newest 500 rows, oldest first")
    timeline_total: int = 0
    evidence_total: int = 0


class CaseList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_CASE_EXAMPLE], "next_cursor": None}]})

    items: list[CasePublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# ------------------------------------------------------------------ action bodies
class ActionIn(BaseModel):
    """Common to every action: an optional note and photos/voice notes uploaded before (POST /media)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已处理", "media_ids": []}]})

    note: Annotated[str, Field(max_length=2000)] | None = None
    media_ids: Annotated[list[MediaId], Field(max_length=20)] = []
    public_note: Annotated[str, Field(max_length=500, description=(
        "for the citizen: Open311's status_notes shows the newest one. `note`, a reason and every other "
        "field stay internal (a leader's instruction is not for the public)"))] | None = None


class TaskIn(ActionIn):
    """派核实 / 派核查: the task goes to an inspector's handheld as a command."""

    inspector_user_id: Annotated[int, Field(description="the inspector to send; default: an inspector of the "
                                                        "case cell's responsibility grid")] | None = None


class ReasonIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "现场未发现问题"}]})

    reason: Text


class NoteIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已清理完毕", "media_ids": []}]})

    note: Text


class FileIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category_code": "E0102", "disposal_class": "B", "grid_cell_code": "34152300100103"}]})

    category_code: CategoryCode | None = Field(None, description="default: the reported category")
    disposal_class: Literal["A", "B", "C", "D", "E", "F"] | None = None
    grid_cell_code: CellCode | None = None


class MergeIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "into": "20261124-0B9C1A52", "note": "同一问题的重复来电"}]})

    into: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$", description=(
        "the open case this report repeats: its id or case number"))]


class DispatchIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"department_id": "sanitation"}]})

    department_id: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="default: the suggested department (responsibility table)")


class TransferIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"centre_id": "district-2", "reason": "问题位于相邻城区"}]})

    centre_id: Annotated[str, Field(min_length=1, max_length=100, description="the centre that takes the case")]
    reason: Text


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 1, "unit": "days"}]})

    amount: Annotated[float, Field(gt=0, le=365)]
    unit: Unit


class PostponeIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "extension": {"amount": 1, "unit": "days"}, "reason": "需要采购材料"}]})

    extension: LimitIn
    reason: Text


class CloseIn(ActionIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"close_type": None, "note": "结案"}]})

    close_type: Literal["normal", "overdue", "special"] | None = Field(None, description="default: from deadline")
