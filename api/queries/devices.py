"""Device status and command records (the registry itself is civicgrid.store.devices)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from civicgrid.profiles import DeviceProfile

_STATUS_SQL = """
SELECT d.id, d.kind, d.profile, d.enabled, d.component_code, d.grid_cell_code, d.created_at,
       greatest(d.last_seen_at, t.time) AS last_seen_at, b.battery_pct,
       (SELECT count(*) FROM (SELECT DISTINCT ON (a.alarm_id) a.action FROM alarms a WHERE a.device_id = d.id
                              ORDER BY a.alarm_id, a.time DESC) latest WHERE latest.action = 'raise') AS open_alarms
FROM devices d
LEFT JOIN LATERAL (SELECT time FROM telemetry WHERE device_id = d.id ORDER BY time DESC LIMIT 1) t ON true
LEFT JOIN LATERAL (SELECT coalesce(payload -> 'data' ->> 'battery_pct', payload ->> 'battery_pct')::float
                   AS battery_pct FROM telemetry WHERE device_id = d.id
                   AND (payload -> 'data' ? 'battery_pct' OR payload ? 'battery_pct')
                   ORDER BY time DESC LIMIT 1) b ON true
"""


def device_status(conn: psycopg.Connection, profiles: dict[str, DeviceProfile], now: datetime, *,
                  device_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    where, params = "WHERE TRUE", {}
    if device_id is not None:
        where += " AND d.id = %(id)s"
        params["id"] = device_id
    if kind is not None:
        where += " AND d.kind = %(kind)s"
        params["kind"] = kind
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_STATUS_SQL + where + " ORDER BY d.id LIMIT 5000", params).fetchall()
    for row in rows:
        profile = profiles.get(row["profile"])
        window = timedelta(seconds=profile.offline_after_s if profile else 900)
        row["online"] = bool(row["enabled"] and row["last_seen_at"] and now - row["last_seen_at"] <= window)
    return rows


COMMAND_COLUMNS = ("command_id::text AS command_id, device_id, name, args, issued_by, issued_at, timeout_s, status, "
                   "detail, updated_at")


def get_command(conn: psycopg.Connection, device_id: str, command_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {COMMAND_COLUMNS} FROM device_commands WHERE device_id = %s "
                           "AND command_id = %s", (device_id, command_id)).fetchone()


def list_commands(conn: psycopg.Connection, device_id: str, limit: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {COMMAND_COLUMNS} FROM device_commands WHERE device_id = %s "
                           "ORDER BY issued_at DESC LIMIT %s", (device_id, limit)).fetchall()
