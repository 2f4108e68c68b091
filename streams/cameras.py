"""Camera records → the camera tables: detection history, health, latest snapshot, evidence JPEGs as media.

The gateway's poller may not write to the database, so its detections (cg.events, kind
``camera``) and health (cg.status, source ``camera-poller``) carry what must be kept,
the JPEG included (civicgrid.bus.camera_records).  This consumer keeps it:

- a detection's snapshot becomes media under its SHA-256 (file in ``api.media_dir`` + a
  ``media`` row, as ``POST /media`` stores uploads), so the case evidence that names
  ``snapshot_id`` downloads through ``GET /media/{id}``; a row in ``camera_detections``;
- a health record updates ``camera_status`` (and its latest snapshot, when it carries one).

A raw aiokafka consumer group on the worker's batch-consumer runner (streams/batch_consumer.py),
like the sinks: offsets are committed only after the database commit, a database failure
retries the same batch. A record that cannot be read or written is logged and skipped, not
dead-lettered (it stays on the topic and in the device_events sink).
The case for a ``roi_occupied`` event is the case builder's (streams/problems.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg

from civicgrid.bus import camera_records
from civicgrid.bus import topics as t
from civicgrid.bus.dead_letters import Rejected
from civicgrid.bus.device_records import DeviceRecord, StatusRecord
from civicgrid.settings import Settings
from civicgrid.store import cameras as store
from streams.batch_consumer import BatchConsumer, Decoded, Records
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

BATCH, WITHIN_S = 200, 0.2  # records per batch, longest wait for one
# What a record that breaks its batch's transaction raises (a missing field, a bad value, a constraint);
# psycopg.OperationalError is the database failing, retried by the runner.
UNWRITABLE = (KeyError, ValueError, TypeError, psycopg.DataError, psycopg.IntegrityError)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def apply_records(conn: psycopg.Connection, settings: Settings, batch: list[tuple[str, dict[str, Any]]]) -> int:
    """Write one batch of camera records in one transaction; returns the detections written."""
    media_dir = settings.api.media_dir
    detections: list[tuple] = []
    with conn.transaction():
        for topic, rec in batch:
            snapshot = camera_records.snapshot_bytes(rec)
            if topic == t.STATUS:
                status = StatusRecord.decode(rec)
                d = status.detail
                store.record_status(conn, status.device_id, reachable=bool(d.get("reachable")),
                                    last_snapshot_at=_ts(d.get("last_snapshot_at")),
                                    last_event_at=_ts(d.get("last_event_at")), last_error=d.get("last_error"),
                                    detail=d, snapshot=snapshot[1] if snapshot else None,
                                    snapshot_at=_ts((status.snapshot or {}).get("taken_at")) if snapshot else None)
                continue
            found = camera_records.detection_of(rec)
            if found is None:
                continue
            kind, cleared = found
            event = DeviceRecord.decode(rec)
            if snapshot is not None:
                store.store_media(conn, media_dir, snapshot[1])
            store.record_event_seen(conn, event.device_id, event.ts, snapshot[1] if snapshot else None)
            data = event.data
            detections.append((event.ts, event.device_id, event.seq, kind, cleared, data.get("roi_id"),
                               data.get("category_code"), data.get("snapshot_id"), data))
        return store.record_detections(conn, detections)


class CameraRecorder:
    """The camera consumer group (``<app_id>-cameras``) over cg.events and cg.status, on the batch-consumer runner."""

    def __init__(self, settings: Settings, metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.detections_written = 0
        self._conn: psycopg.Connection | None = None
        self._consumer = BatchConsumer(settings, self, name="cameras", group=f"{settings.streams.app_id}-cameras",
                                       topics=(t.EVENTS, t.STATUS), max_records=BATCH, within_s=WITHIN_S,
                                       dead_letters=None, metrics=(metrics or WorkerMetrics()).role("cameras"))

    def stop(self) -> None:
        self._consumer.stop()

    async def run(self) -> None:
        self.settings.api.media_dir.mkdir(parents=True, exist_ok=True)
        await self._consumer.run()

    def decode(self, records: Records) -> Decoded[list[tuple[str, dict[str, Any]]]]:
        """The camera records among the batch's events and health reports, with their topic."""
        batch: list[tuple[str, dict[str, Any]]] = []
        unreadable: list[Rejected] = []
        for tp, messages in records.items():
            for msg in messages:
                try:
                    rec = orjson.loads(msg.value)
                    if rec.get("kind") == "camera" and (tp.topic == t.EVENTS or rec.get("source") == "camera-poller"):
                        batch.append((tp.topic, rec))
                except (orjson.JSONDecodeError, AttributeError) as exc:
                    unreadable.append(Rejected(msg.value or b"", f"kafka:{tp.topic}",
                                               f"unreadable record at {msg.offset}: {exc}"))
        return Decoded(batch, unreadable)

    async def handle(self, batch: list[tuple[str, dict[str, Any]]]) -> Sequence[Rejected]:
        """One transaction; a record that breaks it is found by writing the others one by one, and refused."""
        if not batch:
            return ()
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = await asyncio.to_thread(self._connect)
        try:
            self.detections_written += await asyncio.to_thread(apply_records, conn, self.settings, batch)
            return ()
        except UNWRITABLE as exc:
            log.error("cameras: a batch failed (%s); writing its records one by one", exc)
        refused: list[Rejected] = []
        for topic, rec in batch:
            try:
                self.detections_written += await asyncio.to_thread(apply_records, conn, self.settings, [(topic, rec)])
            except UNWRITABLE as bad:
                refused.append(Rejected(orjson.dumps(rec), f"kafka:{topic}", f"{type(bad).__name__}: {bad}",
                                        str(rec["device_id"]) if rec.get("device_id") else None))
        return refused

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.db.url.get_secret_value(), autocommit=True)

    async def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
