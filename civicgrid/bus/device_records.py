"""``cg.telemetry``, ``cg.events``, ``cg.tracks``, ``cg.reports`` and ``cg.status``: what a device said, typed.

The gateway (and the camera poller, for cameras) writes these after validating against the
device's profile; the streams read them. `DeviceRecord` is one accepted message of a channel,
with the registry's links (component, grid cell, inspector) so readers need no lookup;
`StatusRecord` is presence. A camera's record may carry its snapshot beside ``data``
(civicgrid/bus/camera_records.py). Each record carries its schema version ``v``; `decode`
refuses one without what every reader relies on (ValueError), and its reader dead-letters it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicgrid.bus import records

VERSION = 1
STATES = ("online", "offline")


def _data(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    return value


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class DeviceRecord:
    device_id: str
    kind: str
    profile: str
    channel: str  # telemetry | event | track | report
    seq: int
    ts: datetime  # the device's time (checked against the gateway's clock)
    received_at: datetime
    data: dict[str, Any]
    component_code: str | None = None
    grid_cell_code: str | None = None
    inspector_user_id: int | None = None
    snapshot: dict[str, Any] | None = None  # a camera event's JPEG

    def as_json(self) -> dict[str, Any]:
        out = {"v": VERSION, "device_id": self.device_id, "kind": self.kind, "profile": self.profile,
               "channel": self.channel, "seq": self.seq, "ts": self.ts, "received_at": self.received_at,
               "data": self.data, "component_code": self.component_code, "grid_cell_code": self.grid_cell_code,
               "inspector_user_id": self.inspector_user_id}
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        return out

    def encode(self) -> bytes:
        return records.dumps(self.as_json())

    @classmethod
    def decode(cls, value: Mapping[str, Any] | bytes) -> DeviceRecord:
        d = records.loads(value) if isinstance(value, bytes) else value
        try:  # positional and few conversions: this runs for every device message in three consumers
            ts = records.time_of(d["ts"])
            received_at = d.get("received_at")
            kind = d["kind"]
            seq = d["seq"]
            if type(seq) is not int:
                seq = int(seq)
            return cls(d["device_id"], kind, d.get("profile") or kind, d.get("channel") or "", seq, ts,
                       records.time_of(received_at) if received_at else ts, _data(d["data"], "data"),
                       d.get("component_code"), d.get("grid_cell_code"), d.get("inspector_user_id"), d.get("snapshot"))
        except KeyError as exc:
            raise ValueError(f"device record without {exc.args[0]!r}") from None


@dataclass(slots=True)  # not frozen: a frozen init costs ~2.5 µs a record on the hot path (bench/records.py)
class StatusRecord:
    """Presence: ``online``/``offline`` from the device, its Last Will, or silence (streams), or a camera's health."""

    device_id: str
    kind: str | None
    state: str
    ts: datetime
    retained: bool
    source: str  # device | silence | camera-poller
    profile: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"status {self.state!r} is not one of {STATES}")

    def as_json(self) -> dict[str, Any]:
        out = {"v": VERSION, "device_id": self.device_id, "kind": self.kind, "profile": self.profile or self.kind,
               "state": self.state, "ts": self.ts, "retained": self.retained, "source": self.source,
               "detail": self.detail}
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        return out

    def encode(self) -> bytes:
        return records.dumps(self.as_json())

    @classmethod
    def decode(cls, value: Mapping[str, Any] | bytes) -> StatusRecord:
        d = records.loads(value) if isinstance(value, bytes) else value
        try:
            return cls(device_id=str(d["device_id"]), kind=d.get("kind"), state=str(d["state"]),
                       ts=records.time_of(d["ts"]),
                       retained=bool(d.get("retained")), source=str(d.get("source") or "device"),
                       profile=d.get("profile"), detail=_data(d.get("detail") or {}, "detail"),
                       snapshot=d.get("snapshot"))
        except KeyError as exc:
            raise ValueError(f"status record without {exc.args[0]!r}") from None
