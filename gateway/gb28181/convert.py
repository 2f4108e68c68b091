"""A device's alarm → the `cg.events` record's data (the gb28181-camera profile's event fields). Pure.

The alarm's own Longitude/Latitude win; without them the channel's position from the device's catalog is used,
so a stream can place the event in its cell as any located device event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.gb28181.manscdp import ALARM_METHODS, Alarm, Channel


def event_data(alarm: Alarm, channel: Channel | None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": alarm.type, "source": "gb28181", "alarm_method": ALARM_METHODS[alarm.method],
                            "channel_id": alarm.channel_id}
    optional = {"alarm_type": alarm.alarm_type, "alarm_priority": alarm.priority, "description": alarm.description,
                "event_type": alarm.event_type, "channel_name": channel.name if channel else None}
    data.update({k: v for k, v in optional.items() if v is not None})
    pos = alarm.position or ((channel.lon, channel.lat) if channel and channel.lon is not None
                             and channel.lat is not None else None)
    if pos is not None:
        data.update(lon=pos[0], lat=pos[1])
    return data


def event_seq(alarm: Alarm, at: datetime) -> int:
    """Unique per device within one alarm time: the milliseconds and the alarm's SN (the sinks' key is
    (device_id, seq, time), and a repeated MESSAGE, with the same SN, is the same event)."""
    return int(at.timestamp() * 1000) * 1024 + alarm.sn % 1024
