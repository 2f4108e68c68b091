"""Camera registry rows, regions of interest, health, detections and snapshot media (SQL used by several services).

The CLI/city loader and the API write the registry (`upsert_camera`, `replace_rois`); the
gateway's poller only reads it (`gateway_cameras`); the streams write what the poller
reports on Kafka (`record_status`, `record_detections`, `store_media`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.store import media


class CameraNotFound(LookupError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"no camera {device_id!r}")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class CameraEntry:
    """What the gateway needs to poll a camera (never the password itself: its reference)."""

    device_id: str
    name: str
    onvif_url: str
    username: str
    password_ref: str
    component_code: str | None
    grid_cell_code: str | None
    snapshot_interval_s: float | None
    image_width: int | None
    image_height: int | None
    rois: list[dict[str, Any]] = field(default_factory=list)


def upsert_camera(conn: psycopg.Connection, device_id: str, *, name: str, onvif_url: str, username: str,
                  password_ref: str, lon: float | None = None, lat: float | None = None,
                  image_width: int | None = None, image_height: int | None = None,
                  snapshot_interval_s: float | None = None) -> None:
    conn.execute(
        "INSERT INTO cameras (device_id, name, onvif_url, username, password_ref, lon, lat, image_width, "
        "image_height, snapshot_interval_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (device_id) DO UPDATE SET name = EXCLUDED.name, onvif_url = EXCLUDED.onvif_url, "
        "username = EXCLUDED.username, password_ref = EXCLUDED.password_ref, lon = EXCLUDED.lon, lat = EXCLUDED.lat, "
        "image_width = EXCLUDED.image_width, image_height = EXCLUDED.image_height, "
        "snapshot_interval_s = EXCLUDED.snapshot_interval_s, updated_at = now()",
        (device_id, name, onvif_url.rstrip("/"), username, password_ref, lon, lat, image_width, image_height,
         snapshot_interval_s))


def get_rois(conn: psycopg.Connection, device_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT id, name, event_code, polygon, dwell_s FROM camera_rois WHERE device_id = %s "
                        "ORDER BY position, id", (device_id,)).fetchall()
    return [{"id": r[0], "name": r[1], "event_code": r[2], "polygon": r[3], "dwell_s": r[4]} for r in rows]


def replace_rois(conn: psycopg.Connection, device_id: str, rois: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make the camera's regions exactly `rois` (ids kept, missing ids generated); returns them."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM cameras WHERE device_id = %s FOR UPDATE", (device_id,)).fetchone() is None:
            raise CameraNotFound(device_id)
        conn.execute("DELETE FROM camera_rois WHERE device_id = %s", (device_id,))
        for position, roi in enumerate(rois):
            roi_id = roi.get("id") or f"roi-{uuid.uuid4().hex[:8]}"
            conn.execute("INSERT INTO camera_rois (device_id, id, position, name, event_code, polygon, dwell_s) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (device_id, roi_id, position, roi["name"], roi["event_code"],
                          Jsonb([[int(x), int(y)] for x, y in roi["polygon"]]), float(roi["dwell_s"])))
        conn.execute("UPDATE cameras SET updated_at = now() WHERE device_id = %s", (device_id,))
    return get_rois(conn, device_id)


def gateway_cameras(conn: psycopg.Connection) -> list[CameraEntry]:
    """Enabled camera devices with their ONVIF address and regions (the poller's registry read)."""
    rows = conn.execute(
        "SELECT c.device_id, c.name, c.onvif_url, c.username, c.password_ref, d.component_code, d.grid_cell_code, "
        "c.snapshot_interval_s, c.image_width, c.image_height, coalesce((SELECT jsonb_agg(jsonb_build_object("
        "'id', r.id, 'name', r.name, 'event_code', r.event_code, 'polygon', r.polygon, 'dwell_s', r.dwell_s) "
        "ORDER BY r.position, r.id) FROM camera_rois r WHERE r.device_id = c.device_id), '[]'::jsonb) "
        "FROM cameras c JOIN devices d ON d.id = c.device_id WHERE d.enabled AND d.kind = 'camera' "
        "ORDER BY c.device_id").fetchall()
    return [CameraEntry(device_id, name, url, username, password_ref, component, cell, interval_s, width, height,
                        rois=list(rois))
            for device_id, name, url, username, password_ref, component, cell, interval_s, width, height, rois in rows]


def record_status(conn: psycopg.Connection, device_id: str, *, reachable: bool, last_snapshot_at: datetime | None,
                  last_event_at: datetime | None, last_error: str | None, detail: dict[str, Any],
                  snapshot: bytes | None = None, snapshot_at: datetime | None = None) -> None:
    """The camera's latest health (and latest snapshot, when the record carries one)."""
    conn.execute(
        "INSERT INTO camera_status AS s (device_id, reachable, last_snapshot_at, last_event_at, last_error, detail, "
        "latest_snapshot, latest_snapshot_at, updated_at) "
        "SELECT %(id)s, %(reachable)s, %(snap_at)s, %(event_at)s, %(error)s, %(detail)s, %(jpeg)s, %(jpeg_at)s, now() "
        "WHERE EXISTS (SELECT 1 FROM devices WHERE id = %(id)s) "
        "ON CONFLICT (device_id) DO UPDATE SET reachable = EXCLUDED.reachable, "
        "last_snapshot_at = greatest(s.last_snapshot_at, EXCLUDED.last_snapshot_at), "
        "last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), last_error = EXCLUDED.last_error, "
        "detail = EXCLUDED.detail, latest_snapshot = coalesce(EXCLUDED.latest_snapshot, s.latest_snapshot), "
        "latest_snapshot_at = coalesce(EXCLUDED.latest_snapshot_at, s.latest_snapshot_at), updated_at = now()",
        {"id": device_id, "reachable": reachable, "snap_at": last_snapshot_at, "event_at": last_event_at,
         "error": last_error, "detail": Jsonb(detail), "jpeg": snapshot, "jpeg_at": snapshot_at if snapshot else None})


def record_event_seen(conn: psycopg.Connection, device_id: str, at: datetime, snapshot: bytes | None) -> None:
    """A detection arrived: it is the camera's latest event (and, with a JPEG, its latest snapshot)."""
    conn.execute(
        "INSERT INTO camera_status AS s (device_id, reachable, last_event_at, last_snapshot_at, latest_snapshot, "
        "latest_snapshot_at) SELECT %(id)s, true, %(at)s, %(snap_at)s, %(jpeg)s, %(snap_at)s "
        "WHERE EXISTS (SELECT 1 FROM devices WHERE id = %(id)s) "
        "ON CONFLICT (device_id) DO UPDATE SET last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at), "
        "latest_snapshot = CASE WHEN EXCLUDED.latest_snapshot_at >= coalesce(s.latest_snapshot_at, '-infinity') "
        "THEN EXCLUDED.latest_snapshot ELSE s.latest_snapshot END, "
        "latest_snapshot_at = greatest(s.latest_snapshot_at, EXCLUDED.latest_snapshot_at), "
        "last_snapshot_at = greatest(s.last_snapshot_at, EXCLUDED.last_snapshot_at), updated_at = now()",
        {"id": device_id, "at": at, "jpeg": snapshot, "snap_at": at if snapshot else None})


def record_detections(conn: psycopg.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Rows of (time, device_id, seq, kind, cleared, roi_id, event_code, snapshot_id, payload); idempotent."""
    written = 0
    for row in rows:
        cur = conn.execute("INSERT INTO camera_detections (time, device_id, seq, kind, cleared, roi_id, event_code, "
                           "snapshot_id, payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                           (*row[:8], Jsonb(row[8])))
        written += cur.rowcount
    return written


def store_media(conn: psycopg.Connection, media_dir: Path, data: bytes, content_type: str = "image/jpeg") -> str:
    """Keep a snapshot as media (file + row, laid out by civicgrid/store/media.py as POST /media does); its id."""
    media_id = media.write_file(media_dir, data)
    media.record(conn, media_id, content_type, len(data))
    return media_id


def register_city_cameras(conn: psycopg.Connection, devices: Sequence[dict[str, Any]]) -> int:
    """Camera rows and ROIs for the camera devices of a city.json (its ONVIF password: the device's
    secret in the city's secrets.json, so the reference is ``secrets:<device id>``)."""
    count = 0
    for d in devices:
        if d.get("kind") != "camera" or "onvif_port" not in d:
            continue
        width, height = d.get("image") or (None, None)
        upsert_camera(conn, d["id"], name=d.get("name") or d["id"],
                      onvif_url=f"http://{d.get('onvif_host', '127.0.0.1')}:{d['onvif_port']}",
                      username=d.get("username", "admin"), password_ref=f"secrets:{d['id']}", lon=d.get("lon"),
                      lat=d.get("lat"), image_width=width, image_height=height)
        replace_rois(conn, d["id"], d.get("rois") or [])
        count += 1
    return count
