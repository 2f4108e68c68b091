"""Which of our devices a carrier platform's device id names (table ``carrier_devices``, docs/carriers.md).

Written by the CLI (``civicgrid devices bind-carrier``), read by the carrier gateway (gateway/carriers/).
"""

from __future__ import annotations

from typing import Literal

import psycopg

from civicgrid.store.devices import DeviceNotFound

Platform = Literal["ctwing", "onenet"]
PLATFORMS: tuple[Platform, ...] = ("ctwing", "onenet")


def bind(conn: psycopg.Connection, platform: Platform, carrier_device_id: str, device_id: str) -> None:
    """Name `device_id` as the platform's `carrier_device_id` (again: moves the id to this device)."""
    if conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone() is None:
        raise DeviceNotFound(device_id)
    conn.execute(
        "INSERT INTO carrier_devices (platform, carrier_device_id, device_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (platform, carrier_device_id) DO UPDATE SET device_id = EXCLUDED.device_id",
        (platform, carrier_device_id, device_id))


def unbind(conn: psycopg.Connection, platform: Platform, carrier_device_id: str) -> bool:
    cur = conn.execute("DELETE FROM carrier_devices WHERE platform = %s AND carrier_device_id = %s",
                       (platform, carrier_device_id))
    return cur.rowcount > 0


def device_of(conn: psycopg.Connection, platform: Platform, carrier_device_id: str) -> str | None:
    row = conn.execute("SELECT device_id FROM carrier_devices WHERE platform = %s AND carrier_device_id = %s",
                       (platform, carrier_device_id)).fetchone()
    return None if row is None else str(row[0])
