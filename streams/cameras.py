"""Camera records → the camera tables: detection history, health, latest snapshot, evidence JPEGs as media.

The gateway's poller may not write to the database, so its detections (cg.events, kind
``camera``) and health (cg.status, source ``camera-poller``) carry what must be kept,
the JPEG included (civicgrid.bus.camera_records).  This consumer keeps it:

- a detection's snapshot becomes media under its SHA-256 (file in ``api.media_dir`` + a
  ``media`` row, as ``POST /media`` stores uploads), so the case evidence that names
  ``snapshot_id`` downloads through ``GET /media/{id}``; a row in ``camera_detections``;
- a health record updates ``camera_status`` (and its latest snapshot, when it carries one).

A raw aiokafka consumer group like the sinks (streams/sinks.py): offsets are committed only
after the database commit, a database failure retries the same batch, a record that cannot
be read is logged and skipped (it stays on the topic and in the device_events sink).
The case for a ``roi_occupied`` event is the case builder's (streams/problems.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer

from civicgrid.bus import camera_records, clients
from civicgrid.bus import topics as t
from civicgrid.settings import Settings
from civicgrid.store import cameras as store

log = logging.getLogger(__name__)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def apply_records(conn: psycopg.Connection, settings: Settings, batch: list[tuple[str, dict[str, Any]]]) -> int:
    """Write one batch of camera records in one transaction; returns the detections written."""
    media_dir = settings.api.media_dir
    detections: list[tuple] = []
    with conn.transaction():
        for topic, rec in batch:
            device_id = rec["device_id"]
            snapshot = camera_records.snapshot_bytes(rec)
            if topic == t.STATUS:
                d = rec.get("detail") or {}
                store.record_status(conn, device_id, reachable=bool(d.get("reachable")),
                                    last_snapshot_at=_ts(d.get("last_snapshot_at")),
                                    last_event_at=_ts(d.get("last_event_at")), last_error=d.get("last_error"),
                                    detail=d, snapshot=snapshot[1] if snapshot else None,
                                    snapshot_at=_ts(rec["snapshot"].get("taken_at")) if snapshot else None)
                continue
            found = camera_records.detection_of(rec)
            if found is None:
                continue
            kind, cleared = found
            at = datetime.fromisoformat(rec["ts"])
            if snapshot is not None:
                store.store_media(conn, media_dir, snapshot[1])
            store.record_event_seen(conn, device_id, at, snapshot[1] if snapshot else None)
            data = rec["data"]
            detections.append((at, device_id, rec["seq"], kind, cleared, data.get("roi_id"),
                               data.get("category_code"), data.get("snapshot_id"), data))
        return store.record_detections(conn, detections)


class CameraRecorder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.detections_written = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        s = self.settings
        s.api.media_dir.mkdir(parents=True, exist_ok=True)
        consumer = AIOKafkaConsumer(t.EVENTS, t.STATUS, **clients.aiokafka(
            s.kafka, group_id=f"{s.streams.app_id}-cameras", enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=200, **s.streams.group_timing_ms()))
        await consumer.start()
        conn: psycopg.Connection | None = None
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=200)
                batch = []
                for tp, messages in batches.items():
                    for msg in messages:
                        try:
                            rec = orjson.loads(msg.value)
                            if rec.get("kind") == "camera" and (tp.topic == t.EVENTS
                                                                or rec.get("source") == "camera-poller"):
                                batch.append((tp.topic, rec))
                        except (orjson.JSONDecodeError, AttributeError) as exc:
                            log.warning("cameras: unreadable %s record at %s: %s", tp.topic, msg.offset, exc)
                if batch:
                    conn = await self._write_until_done(conn, batch)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()
            if conn is not None:
                conn.close()

    async def _write_until_done(self, conn: psycopg.Connection | None, batch) -> psycopg.Connection:
        backoff = 0.5
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await asyncio.to_thread(psycopg.connect, self.settings.db.url.get_secret_value(),
                                                   autocommit=True)
                self.detections_written += await asyncio.to_thread(apply_records, conn, self.settings, batch)
                return conn
            except psycopg.OperationalError as exc:
                log.warning("cameras: database unavailable (%s); retrying the batch in %.1f s", exc, backoff)
                if conn is not None:
                    conn.close()
                conn = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            except (KeyError, ValueError, TypeError, psycopg.DataError, psycopg.IntegrityError) as exc:
                # A record that breaks the batch: write the others one by one, skip the bad one.
                log.error("cameras: a batch failed (%s); writing its records one by one", exc)
                for item in batch:
                    try:
                        self.detections_written += await asyncio.to_thread(apply_records, conn, self.settings, [item])
                    except (KeyError, ValueError, TypeError, psycopg.DataError, psycopg.IntegrityError) as bad:
                        log.error("cameras: skipped an unreadable %s record of %s: %s", item[0],
                                  item[1].get("device_id"), bad)
                return conn
