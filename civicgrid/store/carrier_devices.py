"""Which of our devices a carrier platform's device id names (table ``carrier_devices``, docs/carriers.md).

Written by the CLI (``civicgrid devices bind-carrier``), read by the carrier gateway (gateway/carriers/) and, as
each device's `CarrierAddress`, by every gateway's registry (gateway/registry.py): a bound device's commands go
through its platform, not MQTT. A change notifies the registries (``civicgrid_devices``) so they reload it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import psycopg

from civicgrid.store.devices import CHANGE_CHANNEL, DeviceNotFound

Platform = Literal["ctwing", "onenet"]
PLATFORMS: tuple[Platform, ...] = ("ctwing", "onenet")

# The device's latest binding, as a registry row's last three columns (gateway/registry.py).
ADDRESS_JOIN = ("LEFT JOIN LATERAL (SELECT platform, carrier_device_id, imei FROM carrier_devices c "
                "WHERE c.device_id = devices.id ORDER BY created_at DESC LIMIT 1) carrier ON true")
ADDRESS_COLUMNS = "carrier.platform, carrier.carrier_device_id, carrier.imei"


@dataclass(frozen=True, slots=True)
class CarrierAddress:
    """Where a device is reached for downlink: its platform, the platform's id for it, and (OneNET) its IMEI."""

    platform: Platform
    carrier_device_id: str
    imei: str | None = None


def bind(conn: psycopg.Connection, platform: Platform, carrier_device_id: str, device_id: str,
         imei: str | None = None) -> None:
    """Name `device_id` as the platform's `carrier_device_id` (again: moves the id to this device)."""
    if conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone() is None:
        raise DeviceNotFound(device_id)
    previous = conn.execute("SELECT device_id FROM carrier_devices WHERE platform = %s AND carrier_device_id = %s",
                            (platform, carrier_device_id)).fetchone()
    conn.execute(
        "INSERT INTO carrier_devices (platform, carrier_device_id, device_id, imei) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (platform, carrier_device_id) DO UPDATE SET device_id = EXCLUDED.device_id,"
        " imei = EXCLUDED.imei, created_at = now()",
        (platform, carrier_device_id, device_id, imei))
    for changed in {device_id, *(previous or ())}:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANGE_CHANNEL, changed))


def unbind(conn: psycopg.Connection, platform: Platform, carrier_device_id: str) -> bool:
    cur = conn.execute("DELETE FROM carrier_devices WHERE platform = %s AND carrier_device_id = %s "
                       "RETURNING device_id", (platform, carrier_device_id))
    row = cur.fetchone()
    if row is not None:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANGE_CHANNEL, row[0]))
    return row is not None


def device_of(conn: psycopg.Connection, platform: Platform, carrier_device_id: str) -> str | None:
    row = conn.execute("SELECT device_id FROM carrier_devices WHERE platform = %s AND carrier_device_id = %s",
                       (platform, carrier_device_id)).fetchone()
    return None if row is None else str(row[0])
