"""The handheld web app's pairing (docs/handheld.md): the supervisor's request and what the console shows."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.patrol import InspectorCoverage


class PairingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"inspector": "zhang.wei"}]})

    inspector: Annotated[str, Field(min_length=1, max_length=64, description="the inspector's username")]


class PairingOut(BaseModel):
    device_id: str = Field(description="the new handheld device, registered and linked to the inspector")
    inspector: str = Field(description="the inspector's display name (or username)")
    link: str = Field(description="the app's URL with the credentials in its fragment: open it on the phone")
    qr_svg: str = Field(description="the link as a QR code (SVG), for the phone's camera")
    mqtt_url: str | None = Field(description="the MQTT-over-WebSockets URL given to the phone (None: the app's "
                                             "host on ws_port)")
    ws_port: int


class HandheldMe(BaseModel):
    device_id: str
    inspector: str
    responsibility_grid_id: str | None


class HandheldPlace(BaseModel):
    grid_cell_code: str | None = Field(description="the unit grid cell at the point (None: outside every cell)")
    address: str | None = Field(description="the nearest address within 100 m, if the address database has one")


class HandheldPlan(BaseModel):
    responsibility_grid_id: str
    window_start: time = Field(description="the patrol window, city time (UTC+8)")
    window_end: time
    main_road_passes: int = Field(description="passes required of every main road segment of the grid a day")
    secondary_road_passes: int


class HandheldPatrol(BaseModel):
    """The phone's patrol card: today's plan and the coverage so far (docs/patrol.md's figures)."""

    day: date = Field(description="the city's day (UTC+8)")
    plan: HandheldPlan | None = Field(description="the plan in force today (None: the inspector has none)")
    coverage: InspectorCoverage | None = Field(description="today's coverage so far (None: no plan, nothing walked)")
