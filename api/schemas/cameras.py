"""Camera list/status, regions of interest and detection history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Point = Annotated[list[Annotated[int, Field(ge=0, le=100_000)]], Field(min_length=2, max_length=2)]


class CameraStatus(BaseModel):
    reachable: bool = Field(description="the poller's latest health report says it answered")
    last_snapshot_at: datetime | None
    last_event_at: datetime | None
    last_error: str | None = Field(description="e.g. `unauthorized: …` or `unreachable: …`; null when healthy")


class CameraPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device_id": "sim-cam-001", "name": "人民路口 1", "component_code": "3415230118000001",
        "grid_cell_code": "34152300100103", "lon": 116.95, "lat": 31.47, "onvif_url": "http://127.0.0.1:18201",
        "status": {"reachable": True, "last_snapshot_at": "2026-11-24T01:00:00Z", "last_event_at": None,
                   "last_error": None}, "roi_count": 2}]})

    device_id: str
    name: str
    component_code: str | None
    grid_cell_code: str | None
    lon: float | None
    lat: float | None
    onvif_url: str = Field(description="the camera's ONVIF address; never credentials")
    status: CameraStatus
    roi_count: int


class RoiIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "stall", "name": "店外摊点区", "event_code": "E0502",
        "polygon": [[180, 430], [560, 430], [560, 560], [180, 560]], "dwell_s": 300}]})

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    event_code: Annotated[str, Field(pattern=r"^[CE][0-9]{4}$", description="catalogue minor code to report")]
    polygon: Annotated[list[Point], Field(min_length=3, max_length=64, description="[[x, y], …] image pixels")]
    dwell_s: Annotated[float, Field(ge=0, le=86_400, description="seconds something must stay before an event")]


class RoiPublic(RoiIn):
    id: str


class CameraDetail(CameraPublic):
    rois: list[RoiPublic]
    image_width: int | None
    image_height: int | None


class DetectionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "sim-cam-001:1764000000000000", "time": "2026-11-24T01:00:00Z", "kind": "occupancy",
        "cleared": False, "roi_id": "stall", "event_code": "E0502", "snapshot_id": "ab" * 32,
        "case_id": "0b9f5f0e-2c1f-4b5e-9a39-1f7c8d1e2a3b"}]})

    id: str
    time: datetime
    kind: Literal["occupancy", "tamper_covered", "tamper_defocus", "tamper_moved", "motion", "qr"]
    cleared: bool
    roi_id: str | None
    event_code: str | None
    snapshot_id: str | None = Field(description="a media id: GET /media/{id}")
    case_id: str | None = Field(description="the case this detection is evidence of, if any")
