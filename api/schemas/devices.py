"""Device registry, status and command bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

DeviceIdStr = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["bin-0001"])]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "bin-0001", "kind": "bin-sensor", "component_code": None, "grid_cell_code": None}]})

    id: DeviceIdStr
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
    profile: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)] | None = None
    component_code: Annotated[str, Field(pattern=r"^[0-9]{16}$")] | None = None
    grid_cell_code: Annotated[str, Field(pattern=r"^[0-9]{14,15}$")] | None = None
    inspector_user_id: Annotated[int, Field(ge=1, le=2**62)] | None = None


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    enabled: bool


class DeviceStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "bin-0001", "kind": "bin-sensor", "profile": "bin-sensor", "enabled": True,
        "component_code": "3415230305000001", "grid_cell_code": "34152300100103", "online": True,
        "last_seen_at": "2026-11-24T01:00:00Z", "battery_pct": 88.0, "open_alarms": 1,
        "created_at": "2026-11-01T00:00:00Z"}]})

    id: str
    kind: str
    profile: str
    enabled: bool
    component_code: str | None
    grid_cell_code: str | None
    online: bool = Field(description="seen within reporting interval × offline tolerance (profile)")
    last_seen_at: datetime | None
    battery_pct: float | None
    open_alarms: int
    created_at: datetime


class DeviceSecret(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"device_id": "bin-0001", "secret": "x7Kq…"}]})

    device_id: str
    secret: str = Field(description="the MQTT password; shown once, only its hash is stored")


MAX_COMMAND_ARGS_BYTES = 4096


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "set_interval", "args": {"seconds": 300}, "timeout_s": 60}]})

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    args: Annotated[dict[str, Any], Field(max_length=32, description="at most 32 keys, 4 KiB as JSON")] = {}
    timeout_s: Annotated[float, Field(gt=0, le=86400)] = 60.0

    @field_validator("args")
    @classmethod
    def _small(cls, args: dict[str, Any]) -> dict[str, Any]:
        # A command travels to a device over MQTT, often a constrained one: keep it small.
        if len(orjson.dumps(args)) > MAX_COMMAND_ARGS_BYTES:
            raise ValueError(f"args are over {MAX_COMMAND_ARGS_BYTES} bytes as JSON")
        return args


class CommandStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "command_id": "5f0c6a1e-2b8e-4f4a-9d55-2a0f8b0b7c11", "device_id": "bin-0001", "name": "set_interval",
        "args": {"seconds": 300}, "issued_by": "operator1", "issued_at": "2026-11-24T01:00:00Z", "timeout_s": 60,
        "status": "acked", "detail": "", "updated_at": "2026-11-24T01:00:01Z"}]})

    command_id: str
    device_id: str
    name: str
    args: dict[str, Any]
    issued_by: str | None
    issued_at: datetime
    timeout_s: float
    status: Literal["queued", "sent", "acked", "failed", "timed_out"]
    detail: str
    updated_at: datetime
