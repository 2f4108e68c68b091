"""Camera records on Kafka: detections on ``cg.events``, health on ``cg.status``, with the JPEG inside.

A camera event is an ordinary device record (`device_records.DeviceRecord`, kind ``camera``)
whose ``data`` follows device-profiles/camera.yaml, so the alarm rules (tamper), the
event sink and the case builder (``roi_occupied`` with a ``category_code``) read it like
any other.  The snapshot travels in the same record, beside ``data``:

    "snapshot": {"id": <sha256 hex>, "content_type": "image/jpeg", "taken_at", "width", "height", "jpeg_b64"}

Why in the record: the gateway must not write to the database, and one record carrying
both the detection and its evidence cannot arrive without it.  The streams store the JPEG
as media under its SHA-256 (the same id as an upload through ``POST /media``), so
``data.snapshot_id`` is a media id.  Snapshots are a few tens to a few hundred KB
(``cameras.max_snapshot_bytes``), under Kafka's 1 MB default record limit.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from civicgrid.bus.device_records import DeviceRecord, StatusRecord

# detection kind (history, API) ↔ event type in data (device profile), both directions.
_EVENT_OF = {"occupancy": ("roi_occupied", "roi_cleared"), "tamper_covered": ("tamper", "tamper_cleared"),
             "tamper_defocus": ("tamper", "tamper_cleared"), "tamper_moved": ("tamper", "tamper_cleared"),
             "motion": ("motion", "motion"), "qr": ("qr_code", "qr_code")}
_TAMPER = {"tamper_covered": "covered", "tamper_defocus": "defocus", "tamper_moved": "moved"}
DETECTION_KINDS = tuple(_EVENT_OF)


def snapshot_part(jpeg: bytes, taken_at: datetime, width: int | None, height: int | None) -> dict[str, Any]:
    return {"id": hashlib.sha256(jpeg).hexdigest(), "content_type": "image/jpeg", "taken_at": taken_at,
            "width": width, "height": height, "jpeg_b64": base64.b64encode(jpeg).decode("ascii")}


def snapshot_bytes(record: dict[str, Any]) -> tuple[str, bytes] | None:
    """(id, JPEG) of a record's snapshot, checked against its id; None if it carries none."""
    snap = record.get("snapshot")
    if not snap:
        return None
    jpeg = base64.b64decode(snap["jpeg_b64"])
    if hashlib.sha256(jpeg).hexdigest() != snap["id"]:
        raise ValueError("snapshot bytes do not match their id")
    return snap["id"], jpeg


def camera_event(*, device_id: str, seq: int, ts: datetime, received_at: datetime, kind: str, cleared: bool = False,
                 links: dict[str, Any], roi_id: str | None = None, event_code: str | None = None,
                 score: float | None = None, occupied_s: float | None = None, text: str | None = None,
                 onvif_topic: str | None = None, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """A detection as a cg.events record (`kind` one of DETECTION_KINDS)."""
    raise_type, clear_type = _EVENT_OF[kind]
    data: dict[str, Any] = {"type": clear_type if cleared else raise_type}
    if kind in _TAMPER:
        data["tamper"] = _TAMPER[kind]
    optional = {"roi_id": roi_id, "category_code": None if cleared else event_code, "score": score,
                "occupied_s": occupied_s, "text": text, "onvif_topic": onvif_topic,
                "snapshot_id": snapshot["id"] if snapshot else None}
    data.update({k: v for k, v in optional.items() if v is not None})
    return DeviceRecord(device_id=device_id, kind="camera", profile="camera", channel="event", seq=seq, ts=ts,
                        received_at=received_at, data=data, snapshot=snapshot, **links).as_json()


def detection_of(record: dict[str, Any]) -> tuple[str, bool] | None:
    """(detection kind, cleared) of a camera cg.events record; None for one that is not a detection."""
    data = record.get("data") or {}
    kind = {"roi_occupied": "occupancy", "roi_cleared": "occupancy", "motion": "motion", "qr_code": "qr"}.get(
        data.get("type", ""))
    if data.get("type") in ("tamper", "tamper_cleared"):
        kind = f"tamper_{data.get('tamper', 'covered')}"
    if kind not in _EVENT_OF:
        return None
    return kind, data["type"] in ("roi_cleared", "tamper_cleared")


def camera_status(*, device_id: str, ts: datetime, reachable: bool, last_snapshot_at: datetime | None,
                  last_event_at: datetime | None, last_error: str | None, extra: dict[str, Any] | None = None,
                  snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-camera health (cg.status): online/offline plus what the console shows."""
    detail = {"reachable": reachable, "last_snapshot_at": last_snapshot_at, "last_event_at": last_event_at,
              "last_error": last_error, **(extra or {})}
    state = "online" if reachable else "offline"
    return StatusRecord(device_id=device_id, kind="camera", profile="camera", state=state, ts=ts, retained=False,
                        source="camera-poller", detail=detail, snapshot=snapshot).as_json()
