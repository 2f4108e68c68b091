"""Camera list with health, detection history and the latest snapshot (SQL only the API needs)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

_LIST = """
SELECT c.device_id, c.name, d.component_code, d.grid_cell_code, coalesce(c.lon, k.lon) AS lon,
       coalesce(c.lat, k.lat) AS lat, c.onvif_url, c.image_width, c.image_height,
       coalesce(s.reachable, false) AS reachable, s.last_snapshot_at, s.last_event_at, s.last_error,
       (SELECT count(*) FROM camera_rois r WHERE r.device_id = c.device_id) AS roi_count
FROM cameras c JOIN devices d ON d.id = c.device_id
LEFT JOIN components k ON k.code = d.component_code
LEFT JOIN camera_status s ON s.device_id = c.device_id
WHERE (%(id)s::text IS NULL OR c.device_id = %(id)s)
ORDER BY c.device_id
"""


def list_cameras(conn: psycopg.Connection, device_id: str | None = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_LIST, {"id": device_id}).fetchall()
    for row in rows:
        row["status"] = {k: row.pop(k) for k in ("reachable", "last_snapshot_at", "last_event_at", "last_error")}
    return rows


def detections(conn: psycopg.Connection, device_id: str, limit: int) -> list[dict[str, Any]]:
    """Newest first, with the case each one is evidence of (the case builder keys evidence by the record)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT d.device_id || ':' || d.seq AS id, d.time, d.kind, d.cleared, d.roi_id, d.event_code, "
            "d.snapshot_id, e.case_id::text AS case_id FROM camera_detections d "
            "LEFT JOIN case_evidence e ON e.source_record_id = 'event:' || d.device_id || ':' || d.seq "
            "WHERE d.device_id = %s ORDER BY d.time DESC, d.seq DESC LIMIT %s", (device_id, limit)).fetchall()


def latest_snapshot(conn: psycopg.Connection, device_id: str) -> bytes | None:
    row = conn.execute("SELECT latest_snapshot FROM camera_status WHERE device_id = %s", (device_id,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None
