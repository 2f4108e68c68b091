"""``civicgrid cameras``: poll every registered ONVIF camera, analyse its snapshots, report on Kafka.

One asyncio task per camera (`CameraWorker`): connect (ONVIF), subscribe to its PullPoint,
then until stopped: a snapshot every ``snapshot_interval_s`` and one at once on a motion or
tamper event from the camera; each snapshot goes through the camera's `FrameAnalyzer`, and
each detection leaves as one ``cg.events`` record with its JPEG (civicgrid.bus.camera_records).
Health (reachable, last snapshot, last event, last error) goes on ``cg.status`` when it
changes and every ``health_every_s``.

Failures back off: an unreachable camera is retried after ``retry_backoff_s``, doubling to
``max_backoff_s``; refused credentials after ``auth_backoff_s``, doubling likewise (a camera
that locks accounts after repeated failures must not be hammered), and the refusal is
reported on ``cg.status`` with ``last_error: unauthorized``.

The gateway never writes to the database: the registry is read (every
``registry_refresh_s``, so edited ROIs apply within that time) and everything else leaves
on Kafka.  The analysis runs in worker threads (OpenCV releases the GIL), one hop per snapshot.

Per-camera cost, so one process serves a thousand cameras (docs/performance.md, "Cameras"):
the snapshots of all cameras share one HTTP connection pool (`snapshot_pool`), a snapshot is
decoded at reduced scale and one identical to the previous is not analysed again
(analysis.py), and a camera's JPEG is kept only while its health record still has to carry it.
Connecting is the costliest thing a camera does (six SOAP calls and the library's service
clients, tens of milliseconds of CPU): at most `CONNECTS_AT_ONCE` cameras connect at a time,
so a poller starting (or taking over) a thousand cameras keeps serving those already
connected, whose PullPoint renewals and long polls would otherwise time out behind the crowd;
and each camera's snapshots keep a phase of their own within the interval (from its device
id), so a thousand cameras do not all take theirs in the same second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import cv2
import psycopg
from confluent_kafka import Producer

from civicgrid.bus import camera_records, clients, records
from civicgrid.bus import topics as t
from civicgrid.metrics_http import serve_metrics
from civicgrid.settings import CameraSettings, KafkaSettings, Settings
from civicgrid.store.cameras import CameraEntry, gateway_cameras
from civicgrid.store.db import connect
from gateway.cameras.analysis import AnalysisConfig, Detection, FrameAnalyzer, rois_from_json
from gateway.cameras.credentials import CredentialError, resolve_password
from gateway.cameras.decoding import decode_jpeg
from gateway.cameras.leases import CameraLeases
from gateway.cameras.metrics import PollerMetrics
from gateway.cameras.onvif_client import CameraAuthError, CameraError, OnvifClient, snapshot_pool

log = logging.getLogger(__name__)

Emit = Callable[[str, bytes, bytes], None]
CONNECTS_AT_ONCE = 4
# The reason codes of `CameraWorker._failed` (a metric label each; anything else counts as "other").
FAILURE_REASONS = frozenset({"credentials", "unauthorized", "unreachable", "snapshot-too-large", "error"})


class KafkaEmitter:
    """librdkafka producer; `send` never blocks the event loop for long (a full queue waits on deliveries)."""

    def __init__(self, kafka: KafkaSettings, on_error: Callable[[], None] | None = None) -> None:
        self.producer = Producer(clients.librdkafka(kafka, {"acks": "all", "linger.ms": 5, "log_level": 3}))
        self.errors = 0
        self.on_error = on_error

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.errors += 1
            if self.on_error is not None:
                self.on_error()
            log.error("Kafka refused a camera record for %s: %s", msg.topic(), err)

    def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=self._delivered)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.producer.poll(0)

    def flush(self, timeout_s: float = 10.0) -> int:
        return self.producer.flush(timeout_s)


@dataclass(slots=True)
class Health:
    reachable: bool = False
    last_snapshot_at: datetime | None = None
    last_event_at: datetime | None = None
    last_error: str | None = None
    connects: int = 0
    auth_failures: int = 0
    snapshots: int = 0


def _next_seq() -> int:
    # Microseconds since the epoch: increasing per camera across restarts; the sinks dedup on it.
    return time.time_ns() // 1000


class CameraWorker:
    def __init__(self, entry: CameraEntry, settings: Settings, emit: Emit, poller_id: str = "",
                 metrics: PollerMetrics | None = None, http: aiohttp.ClientSession | None = None,
                 connect_slots: asyncio.Semaphore | None = None) -> None:
        self.entry = entry
        self.connect_slots = connect_slots  # shared by the poller's cameras (None: no limit)
        self.http = http  # the poller's shared snapshot pool (None: the camera's client opens its own)
        self.poller_id = poller_id  # on every health record: which poller holds the camera
        self.metrics = metrics or PollerMetrics()
        self.settings = settings
        self.cfg: CameraSettings = settings.cameras
        self.emit = emit
        self.health = Health()
        self.analyzer = self._analyzer(entry)
        self._last_status = 0.0
        self._last_status_snapshot = 0.0
        self._latest: tuple[bytes, datetime] | None = None  # only while a health record is due to carry it
        self._info = None

    def _analyzer(self, entry: CameraEntry) -> FrameAnalyzer:
        return FrameAnalyzer(rois_from_json(entry.rois), AnalysisConfig(qr_every=self.cfg.qr_every))

    @property
    def device_id(self) -> str:
        return self.entry.device_id

    def update(self, entry: CameraEntry) -> None:
        """New registry data with the same address and credentials: new ROIs apply from the next frame."""
        if entry.rois != self.entry.rois:
            self.analyzer = self._analyzer(entry)
        self.entry = entry

    # -- Kafka ---------------------------------------------------------------------------
    def _links(self) -> dict:
        return {"component_code": self.entry.component_code, "grid_cell_code": self.entry.grid_cell_code,
                "inspector_user_id": None}

    def send_status(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < self.cfg.health_every_s:
            return
        self._last_status = now
        snapshot = None
        if self._latest is not None and self._health_snapshot_due(now):
            self._last_status_snapshot = now
            snapshot = self._snapshot_part(*self._latest)
            self._latest = None
        h = self.health
        extra = {**self.analyzer.last, "model": getattr(self._info, "model", None), "poller": self.poller_id}
        record = camera_records.camera_status(device_id=self.device_id, ts=datetime.now(UTC), reachable=h.reachable,
                                              last_snapshot_at=h.last_snapshot_at, last_event_at=h.last_event_at,
                                              last_error=h.last_error, extra=extra, snapshot=snapshot)
        self.emit(t.STATUS, self.device_id.encode(), records.dumps(record))

    def _health_snapshot_due(self, now: float) -> bool:
        return now - self._last_status_snapshot >= self.cfg.health_snapshot_every_s

    def _snapshot_part(self, jpeg: bytes, taken_at: datetime) -> dict:
        if len(jpeg) > self.cfg.max_snapshot_bytes:
            jpeg = shrink_jpeg(jpeg, self.cfg.max_snapshot_bytes)
        info = self._info
        return camera_records.snapshot_part(jpeg, taken_at, getattr(info, "width", None), getattr(info, "height", None))

    def send_detection(self, det: Detection, jpeg: bytes | None, taken_at: datetime, onvif_topic: str | None = None):
        now = datetime.now(UTC)
        snapshot = self._snapshot_part(jpeg, taken_at) if jpeg is not None and not det.cleared else None
        record = camera_records.camera_event(
            device_id=self.device_id, seq=_next_seq(), ts=taken_at, received_at=now, kind=det.kind,
            cleared=det.cleared, links=self._links(), roi_id=det.roi_id, event_code=det.event_code, score=det.score,
            occupied_s=det.occupied_s, text=det.text, onvif_topic=onvif_topic, snapshot=snapshot)
        self.emit(t.EVENTS, self.device_id.encode(), records.dumps(record))
        self.metrics.detection(det.kind).inc()
        self.health.last_event_at = taken_at
        log.info("camera %s: %s%s%s", self.device_id, det.kind, " cleared" if det.cleared else "",
                 f" in {det.roi_id} ({det.event_code})" if det.roi_id else "")

    # -- the loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        backoff = None
        while not stop.is_set():
            url = urlsplit(self.entry.onvif_url)
            try:
                password = resolve_password(self.entry.password_ref, self.cfg.secrets_file)
            except CredentialError as exc:
                self._failed(f"credentials: {exc}")
                await _wait(stop, self.cfg.registry_refresh_s)
                continue
            client = OnvifClient(url.hostname or "", url.port or 80, self.entry.username, password,
                                 timeout_s=self.cfg.connect_timeout_s,
                                 max_snapshot_bytes=self.cfg.max_fetched_snapshot_bytes, http=self.http)
            self.health.connects += 1
            try:
                async with self.connect_slots or contextlib.nullcontext():
                    self._info = await client.connect()
                    if self._info.pullpoint:
                        await client.subscribe()
                self.health.reachable, self.health.last_error = True, None
                backoff = None
                log.info("camera %s connected: %s %s, %sx%s", self.device_id, self._info.manufacturer,
                         self._info.model, self._info.width, self._info.height)
                self.send_status(force=True)
                await self._poll(client, stop)
            except CameraAuthError as exc:
                self.health.auth_failures += 1
                backoff = min(self.cfg.max_backoff_s, backoff * 2 if backoff else self.cfg.auth_backoff_s)
                self._failed(f"unauthorized: {exc}")
                log.warning("camera %s refused our credentials; next attempt in %.0f s", self.device_id, backoff)
            except CameraError as exc:
                backoff = min(self.cfg.max_backoff_s, backoff * 2 if backoff else self.cfg.retry_backoff_s)
                self._failed(f"{exc.reason}: {exc}")
                log.warning("camera %s: %s; next attempt in %.0f s", self.device_id, exc, backoff)
            except Exception as exc:  # a bug or an odd frame must not stop this camera (nor the others) for good
                backoff = min(self.cfg.max_backoff_s, backoff * 2 if backoff else self.cfg.retry_backoff_s)
                self._failed(f"error: {type(exc).__name__}: {exc}")
                log.exception("camera %s: poller error; reconnecting in %.0f s", self.device_id, backoff)
            finally:
                await client.close()
            if backoff:
                await _wait(stop, backoff)

    def _failed(self, error: str) -> None:
        reason = error.split(":", 1)[0]
        self.metrics.failure(reason if reason in FAILURE_REASONS else "other").inc()
        changed = self.health.reachable or self.health.last_error != error
        self.health.reachable, self.health.last_error = False, error[:300]
        self.send_status(force=changed)

    async def _poll(self, client: OnvifClient, stop: asyncio.Event) -> None:
        interval = self.entry.snapshot_interval_s or self.cfg.snapshot_interval_s
        next_snapshot = time.monotonic() + snapshot_phase(self.device_id, interval)
        while not stop.is_set():
            if time.monotonic() >= next_snapshot:
                # On a fixed cadence: a PullMessages answered late does not push every later snapshot back; a
                # camera more than one interval behind takes one at once and starts again from now, not a burst.
                next_snapshot = max(next_snapshot + interval, time.monotonic())
                await self._analyse(client)
            self.send_status()
            wait = max(0.05, min(next_snapshot - time.monotonic(), self.cfg.pull_timeout_s))
            if client.info is not None and client.info.pullpoint:
                if client.subscription_lost:
                    await client.subscribe()
                for event in await client.pull(wait):
                    if event.state and (event.is_motion or event.is_tamper):
                        await self._analyse(client, event.topic)
            else:
                await _wait(stop, wait)

    async def _analyse(self, client: OnvifClient, onvif_topic: str | None = None) -> None:
        jpeg = await client.snapshot()
        taken_at = datetime.now(UTC)
        self.health.last_snapshot_at = taken_at
        if self._latest is not None or self._health_snapshot_due(time.monotonic()):
            self._latest = (jpeg, taken_at)  # the next health record carries it
        self.health.snapshots += 1
        self.metrics.snapshots.inc()
        try:
            detections = await asyncio.to_thread(self.analyzer.analyse_jpeg, jpeg, taken_at.timestamp())
        except ValueError as exc:
            log.warning("camera %s sent a snapshot that is not an image (%d bytes): %s", self.device_id, len(jpeg),
                        exc)
            return
        if onvif_topic is not None and "Motion" in onvif_topic:
            detections.insert(0, Detection("motion"))
        for det in detections:
            self.send_detection(det, jpeg, taken_at, onvif_topic)


def snapshot_phase(device_id: str, interval_s: float) -> float:
    """Seconds before a camera's first snapshot: the same for a camera every time, spread evenly over the
    interval across cameras."""
    return zlib.crc32(device_id.encode()) % 1000 / 1000 * interval_s


def shrink_jpeg(jpeg: bytes, limit: int) -> bytes:
    """Re-encode (lower quality, then half size) until the JPEG fits in `limit` bytes."""
    frame = decode_jpeg(jpeg)
    for scale, quality in ((1.0, 70), (1.0, 50), (0.5, 70), (0.5, 40), (0.25, 40)):
        img = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= limit:
            return buf.tobytes()
    raise ValueError(f"cannot fit a snapshot in {limit} bytes")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class CameraPoller:
    """The registry's enabled cameras this poller holds, one `CameraWorker` each; registry changes applied as
    they come.

    `shared`: the poller is one of several and holds the cameras of the leases its Kafka group gives it
    (gateway/cameras/leases.py), taking and letting go of cameras as pollers come and go; otherwise (tests,
    the benchmark) it polls every camera.
    """

    def __init__(self, settings: Settings, emit: Emit | None = None, *, shared: bool = False) -> None:
        self.settings = settings
        self.metrics = PollerMetrics()
        self._kafka = KafkaEmitter(settings.kafka, self.metrics.kafka_errors.inc) if emit is None else None
        self.emit: Emit = emit or self._kafka
        self.workers: dict[str, tuple[CameraWorker, asyncio.Task, asyncio.Event]] = {}
        self.ready = asyncio.Event()
        self.poller_id = f"{socket.gethostname()}:{os.getpid()}"
        self.leases = CameraLeases(settings.kafka, settings.cameras, self._leases_changed) if shared else None
        self._lock = asyncio.Lock()  # a refresh and a rebalance's handover one at a time
        self._leases_task: asyncio.Task | None = None
        self._http: aiohttp.ClientSession | None = None  # every camera's snapshots (opened in `run`)
        self._connect_slots = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.metrics.cameras.set_function(lambda: len(self.workers))
        self.metrics.reachable.set_function(lambda: sum(w.health.reachable for w, _, _ in list(self.workers.values())))
        self.metrics.leases.set_function(lambda: len(self.leases.held) if self.leases else 0)

    def _holds(self, device_id: str) -> bool:
        return self.leases is None or self.leases.holds(device_id)

    def _load(self) -> list[CameraEntry]:
        with connect(self.settings.db, autocommit=True) as conn:
            cameras = gateway_cameras(conn)
        return [c for c in cameras if self._holds(c.device_id)]

    async def refresh(self) -> None:
        async with self._lock:
            entries = {e.device_id: e for e in await asyncio.to_thread(self._load)}
            for device_id in list(self.workers):
                worker = self.workers[device_id][0]
                entry = entries.get(device_id)
                same_address = entry is not None and (entry.onvif_url, entry.username, entry.password_ref) == (
                    worker.entry.onvif_url, worker.entry.username, worker.entry.password_ref)
                if same_address and self._holds(device_id):
                    worker.update(entry)
                    continue
                await self._stop_worker(device_id)
            for device_id, entry in entries.items():
                if device_id not in self.workers and self._holds(device_id):
                    worker = CameraWorker(entry, self.settings, self.emit, self.poller_id, self.metrics, self._http,
                                          self._connect_slots)
                    stop = asyncio.Event()
                    self.workers[device_id] = (worker, asyncio.create_task(worker.run(stop), name=device_id), stop)
            if self.leases is None or self.leases.assigned.is_set():
                self.ready.set()

    async def _stop_worker(self, device_id: str) -> None:
        _, task, stop = self.workers.pop(device_id)
        stop.set()
        await asyncio.wait({task}, timeout=15)

    async def _leases_changed(self, held: frozenset[int]) -> None:
        """A rebalance: cameras of lost leases stop before the group hands them on (no database needed); an
        assignment starts the cameras of the leases won."""
        async with self._lock:
            for device_id in [d for d in self.workers if not self._holds(d)]:
                await self._stop_worker(device_id)
        try:
            await self.refresh()
        except psycopg.Error as exc:
            log.warning("camera registry unavailable (%s); the next refresh starts the cameras", exc)

    async def run(self, stop: asyncio.Event) -> None:
        leases = asyncio.create_task(self.leases.run(stop), name="camera-leases") if self.leases else None
        self._leases_task = leases
        self._http = snapshot_pool()
        try:
            while not stop.is_set():
                try:
                    await self.refresh()
                except psycopg.Error as exc:
                    log.warning("camera registry unavailable (%s); retrying", exc)
                await _wait(stop, self.settings.cameras.registry_refresh_s)
        finally:
            for _, _, worker_stop in self.workers.values():
                worker_stop.set()
            if self.workers:
                await asyncio.wait([task for _, task, _ in self.workers.values()], timeout=20)
            if leases is not None:
                await leases
            await self._http.close()
            if self._kafka is not None:
                self._kafka.flush()

    def health(self) -> dict[str, Health]:
        return {device_id: worker.health for device_id, (worker, _, _) in self.workers.items()}

    def status(self) -> dict:
        """The poller's /healthz: ready once it knows its leases (and its registry was read), and its lease
        keeper alive."""
        keeper_alive = self._leases_task is None or not self._leases_task.done()
        workers = list(self.workers.values())
        return {"ok": self.ready.is_set() and keeper_alive, "poller": self.poller_id, "cameras": len(workers),
                "reachable": sum(w.health.reachable for w, _, _ in workers),
                "leases": None if self.leases is None else len(self.leases.held)}


def run(settings: Settings) -> None:
    """Run the poller until SIGINT/SIGTERM (``civicgrid cameras``)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        poller = CameraPoller(settings, shared=True)
        cfg = settings.cameras
        server = None
        try:
            server = serve_metrics(cfg.metrics_host, cfg.metrics_port, poller.metrics.registry,
                                   {"/healthz": poller.status}, "camera-metrics-http")
        except OSError as exc:  # a second poller on this host with the same port: it still polls
            log.warning("camera poller metrics not served on %s:%s: %s", cfg.metrics_host, cfg.metrics_port, exc)
        try:
            await poller.run(stop)
        finally:
            if server is not None:
                server.shutdown()

    asyncio.run(main())
