"""GB/T 28181 channel catalogues (table ``gb28181_channels``, migration 0029; docs/gb28181.md).

The one table a gateway process writes: a device's catalogue is registry data the device declares about itself
(which channels it has, where they are), not a reading; it is replaced whole by each complete Catalog response and
read back by the gateway at start (channel names and positions for alarms) and by whoever lists a device's
channels. Readings and alarms still go only through Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_COLUMNS = ("channel_id", "name", "manufacturer", "model", "owner", "civil_code", "address", "parent_id", "parental",
            "status", "lon", "lat", "extra")


def replace_channels(conn: psycopg.Connection, device_id: str, catalog_sn: int,
                     channels: Sequence[Mapping[str, Any]]) -> None:
    """The device's channels become exactly `channels` (each a mapping with the columns above)."""
    with conn.transaction():
        conn.execute("DELETE FROM gb28181_channels WHERE device_id = %s", (device_id,))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO gb28181_channels (device_id, catalog_sn, {', '.join(_COLUMNS)}) "
                f"VALUES (%s, %s, {', '.join(['%s'] * len(_COLUMNS))})",
                [(device_id, catalog_sn, *(Jsonb(c.get(k) or {}) if k == "extra" else c.get(k) for k in _COLUMNS))
                 for c in channels])


def device_channels(conn: psycopg.Connection, device_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored channel (of one device), as mappings with `device_id` and the columns above."""
    where, args = ("WHERE device_id = %s", (device_id,)) if device_id else ("", ())
    rows = conn.execute(f"SELECT device_id, {', '.join(_COLUMNS)} FROM gb28181_channels {where} "
                        "ORDER BY device_id, channel_id", args).fetchall()
    return [dict(zip(("device_id", *_COLUMNS), row, strict=True)) for row in rows]
