"""Intake bodies: the sources, a leader's instruction, a transfer, capture and file, placing an unlocated case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.cameras import Point
from api.schemas.cases import CategoryCode, CellCode, MediaId, PhoneCall, Text


class SourcePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "camera", "name": "视频抓拍", "name_en": "Video capture",
        "description": "a camera's detection, or an operator's capture from the video wall"}]})

    code: str
    name: str
    name_en: str
    description: str


_PLACE = {"address": "城关镇人民路12号", "lon": None, "lat": None, "grid_cell_code": None}


class CallIn(PhoneCall):
    """A 12319/12345 call taken in the console: the caller is kept on the case (and told when it closes if they
    asked for a callback); an address without a point is geocoded, and one that does not resolve leaves the case
    unlocated."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "caller_name": "王先生", "caller_phone": "13800000000", "callback": True, "category_code": "E0505",
        "description": "小区门口车辆乱停", "address": "城关镇人民路12号", "media_ids": []}]})

    callback: bool = Field(False, description="the caller wants to be told when the case closes")
    media_ids: Annotated[list[MediaId], Field(max_length=20)] = Field(default_factory=list)
    client_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="idempotency key: the same call filed twice (a double click) returns the same case")


class _Placed(BaseModel):
    """Where: a point, a cell or an address (geocoded; unresolved → unlocated)."""

    category_code: CategoryCode
    address: Annotated[str, Field(max_length=500)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    grid_cell_code: CellCode | None = None
    media_ids: Annotated[list[MediaId], Field(max_length=20)] = []
    client_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class InstructionIn(_Placed):
    """领导批示: a leader's instruction, recorded by an operator (it came by phone or on paper) or by the leader."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "leader": "张县长", "instruction": "人民路占道经营问题请立即处理", "category_code": "E0504", **_PLACE}]})

    leader: Annotated[str, Field(min_length=1, max_length=100, description="who gave the instruction")]
    instruction: Text


class TransferIn(_Placed):
    """转办: a case another body (12345 centre, a bureau, a street office) hands over, with its own reference.
    The same body and reference twice is the same case (200, not a second one); the body is kept as the case's
    caller, told when it closes if it asked."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "from_body": "县12345政务服务热线", "reference": "ZB-2026-001234", "description": "群众反映路灯不亮",
        "category_code": "C0118", "contact_phone": "0564-8888888", "callback": True, **_PLACE}]})

    from_body: Annotated[str, Field(min_length=1, max_length=200, description="the body that transferred it")]
    reference: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                                    description="that body's number of the case")]
    description: Text
    contact_phone: Annotated[str, Field(max_length=40)] | None = None
    callback: bool = Field(False, description="the body wants to hear when the case closes (办结反馈)")


class CaptureIn(BaseModel):
    """Capture and file (视频抓拍): a case from a camera's latest snapshot with the region the operator drew; the
    snapshot is the evidence, the camera's point and cell the case's place."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "device_id": "sim-cam-001", "category_code": "E0504", "description": "店外经营",
        "region": [[180, 430], [560, 430], [560, 560], [180, 560]]}]})

    device_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    category_code: CategoryCode
    description: Annotated[str, Field(max_length=2000)] | None = None
    region: Annotated[list[Point], Field(min_length=3, max_length=64, description="[[x, y], …] snapshot pixels")]
    client_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class PlaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "lon": 116.95, "lat": 31.46, "address": "人民路12号"}]})

    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    address: Annotated[str, Field(max_length=500, description="what the map pick's reverse geocoding said")] \
        | None = None


class PlacedPublic(BaseModel):
    case_id: str
    grid_cell_code: str
    lon: float
    lat: float


class UnlocatedCase(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "0b9c1a52-3f0e-4d5e-9a57-7f4f0c7d2a11", "case_no": "20261124-0B9C1A52", "state": "reported",
        "source": "hotline", "category_code": "E0505", "category_name": "机动车乱停放", "address": "老街那边",
        "description": "车辆乱停", "reported_at": "2026-11-24T01:00:00Z"}]})

    id: str
    case_no: str | None
    state: str
    source: str
    category_code: str
    category_name: str | None
    address: str | None
    description: str | None
    reported_at: datetime


class CategoryOption(BaseModel):
    """A minor category with its search keys: Chinese, English, the code, pinyin initials and full pinyin."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "E0102", "name": "暴露垃圾", "name_en": "Exposed garbage", "group": "市容环境",
        "initials": ["bllj", "pllj"], "pinyin": "baolulaji", "disposal_class": "B"}]})

    code: str
    name: str
    name_en: str
    group: str | None = Field(description="the major category's name")
    initials: list[str] = Field(description="first letters of the name's pinyin, each reading of a heteronym")
    pinyin: str
    disposal_class: str
