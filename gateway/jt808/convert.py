"""A decoded location report → the track record's data and the events its alarm bits raise or clear.

Pure (no I/O, the gateway's clock comes in): the session keeps an `AlarmEdges` per connection.

Datum: JT/T 808 carries the receiver's own geodetic coordinates in 1e-6 degrees, with the hemisphere in status
bits 2-3. GPS receivers give WGS-84 and BeiDou ones CGCS2000, which agree within centimetres (docs/domain.md §7),
so they pass unchanged, as any tracker's positions do. The standard applies no map offset; a fleet whose
firmware reports GCJ-02 anyway is set with ``jt808.coordinate_system = "gcj02"`` and converted back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from civicgrid.domain.coords import gcj02_to_wgs84
from gateway.jt808.location import (
    ALARM_BITS,
    LOAD_NAMES,
    STATUS_ACC_ON,
    STATUS_LOAD,
    VIDEO_ALARM_BITS,
    Location,
    item_fields,
)

AREA_BIT = 20  # 进出区域: its events say in or out (item 0x12), not raised and cleared
_EVENT_KEYS = ("alarm_flags", "overspeed_area_type", "overspeed_area_id", "area_type", "area_id", "area_direction",
               "video_alarm_flags", "video_lost_channels", "video_blocked_channels", "storage_fault_flags",
               "abnormal_driving", "fatigue_level")
VIDEO_CODE = 64  # event codes 64-95 raise a video alarm bit (item 0x14), 96-127 clear it


def track_data(loc: Location, coordinate_system: str = "wgs84", blind_area: bool = False) -> dict[str, Any]:
    """The track record's `data` (the vehicle-terminal profile's track fields)."""
    data: dict[str, Any] = {"source": "jt808", "fix_valid": loc.positioned}
    if loc.positioned:
        lon, lat = loc.lon, loc.lat
        if coordinate_system == "gcj02":
            lon, lat = gcj02_to_wgs84(lon, lat)
            lon, lat = round(lon, 7), round(lat, 7)
        data.update(lat=lat, lon=lon, speed_mps=round(loc.speed_dkmh / 36.0, 3), heading_deg=loc.direction,
                    altitude_m=loc.altitude_m)
    else:  # no fix: the receiver alive but lost; its coordinates are not a position
        data.update(lat=None, lon=None, speed_mps=None, heading_deg=None, altitude_m=None)
    load_shift, _ = STATUS_LOAD
    data.update(alarm_flags=loc.alarm, status_flags=loc.status, acc_on=bool(loc.status & STATUS_ACC_ON),
                load=LOAD_NAMES[(loc.status >> load_shift) & 0b11])
    if blind_area:
        data["blind_area"] = True
    data.update(item_fields(loc.items))
    return data


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    type: str
    code: int  # 0-31: the bit raised, 32-63: cleared (64-127 the same for item 0x14); unique within one fix time
    data: dict[str, Any]

    def seq(self, ts_ms: int) -> int:
        return ts_ms * 128 + self.code


@dataclass(slots=True)
class AlarmEdges:
    """One terminal's last alarm flags and area, to send an event only when something changes."""

    alarm: int = 0
    area: tuple[int, str] | None = None
    video: int = 0  # item 0x14's flags as last sent
    seen: bool = field(default=False)

    def events(self, loc: Location, track: dict[str, Any]) -> list[AlarmEvent]:
        changed = loc.alarm ^ self.alarm if self.seen else loc.alarm
        self.alarm, self.seen = loc.alarm, True
        video = track.get("video_alarm_flags", self.video)
        video_changed, self.video = video ^ self.video, video
        if not changed and not video_changed and "area_id" not in track:  # most reports (bench/jt808.py: ~10 µs)
            return []
        base = {"alarm_flags": loc.alarm}
        if track.get("fix_valid"):
            base.update(lat=track["lat"], lon=track["lon"], speed_mps=track["speed_mps"])
        base.update({k: track[k] for k in _EVENT_KEYS if k in track})
        out: list[AlarmEvent] = []
        for bit, name in ALARM_BITS.items():
            if bit == AREA_BIT or not changed >> bit & 1:
                continue
            raised = bool(loc.alarm >> bit & 1)
            out.append(AlarmEvent(name if raised else f"{name}_cleared", bit if raised else 32 + bit,
                                  {**base, "type": name if raised else f"{name}_cleared"}))
        for bit, name in VIDEO_ALARM_BITS.items():
            if video_changed >> bit & 1:
                raised = bool(video >> bit & 1)
                kind = name if raised else f"{name}_cleared"
                out.append(AlarmEvent(kind, VIDEO_CODE + bit + (0 if raised else 32), {**base, "type": kind}))
        area = (track["area_id"], track["area_direction"]) if "area_id" in track else None
        if area is not None and area != self.area:
            entered = area[1] == "in"
            kind = "area_entered" if entered else "area_left"
            out.append(AlarmEvent(kind, AREA_BIT if entered else 32 + AREA_BIT, {**base, "type": kind}))
        elif area is None and self.area is None and changed >> AREA_BIT & 1:  # a terminal that never says where
            raised = bool(loc.alarm >> AREA_BIT & 1)
            kind = "area" if raised else "area_cleared"
            out.append(AlarmEvent(kind, AREA_BIT if raised else 32 + AREA_BIT, {**base, "type": kind}))
        if area is not None:
            self.area = area
        return out
