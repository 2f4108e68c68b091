"""The handheld web app's pairing (docs/handheld.md): the supervisor's request and what the console shows."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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
