"""The stream worker: its roles (alarm detection with the telemetry rows or alone, case building, sinks, deadline
watch, outbox relay, cameras, patrol) wired once, each an asyncio task in one process.

Built by `StreamWorker(settings)` (no module-level state: settings come from the composition root). Every role
that reads Kafka is a plain aiokafka consumer group of its own (``<app_id>-<role>``) that commits its offsets
after its effect is durable (docs/streams.md), so several workers share each role's partitions and a killed
worker's partitions move to the others after ``streams.session_timeout_s``. The process has one librdkafka
producer (alarms, alarm state, dead letters, patrol alarms and the outbox relay share it) and one database pool.
Its metrics and health (streams/metrics.py, streams/health.py) are served on ``streams.metrics_port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from confluent_kafka import Producer
from psycopg_pool import ConnectionPool

from civicgrid.bus import clients
from civicgrid.bus.dead_letters import DeadLetters
from civicgrid.cases import CaseService
from civicgrid.cases.deadlines import Round
from civicgrid.cases.rulebook import RuleBook
from civicgrid.clock import PlatformClock
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store.outbox import relay_once
from streams.geo import GeoResolver
from streams.health import WorkerHealth, serve
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)
PRODUCER: dict[str, Any] = {**clients.IDEMPOTENT, "linger.ms": 2, "log_level": 3}  # as the gateways'


class StreamWorker:
    """The roles of ``streams.roles``; `run()` until `stop()` (SIGTERM/SIGINT in streams/worker.py)."""

    def __init__(self, settings: Settings) -> None:
        s = self.streams = settings.streams
        self.settings = settings
        self.geo = GeoResolver(settings)
        self.pool = ConnectionPool(settings.db.url.get_secret_value(), min_size=1, max_size=4, open=False)
        self.producer = Producer(clients.librdkafka(settings.kafka, PRODUCER))
        self.dead_letters = DeadLetters(self.producer, s.app_id)
        self.cases = CaseService(RuleBook(settings.rules_dir, loaded_by="worker"))  # docs/rules.md
        self.clock = PlatformClock.from_settings(settings.clock)  # the deadline watch's "now" (civicgrid/clock.py)
        self.metrics = m = WorkerMetrics()
        self.runners: dict[str, Any] = {}  # role → its runner (for tests and metrics)
        self._timers: list[tuple[str, float, Callable[[], Awaitable[None]]]] = []
        self._stop = asyncio.Event()

        roles = set(s.roles)
        if "alarms" in roles:
            from streams.alarm_detection import AlarmDetector

            self.runners["alarms"] = AlarmDetector(settings, load_profiles(settings.profiles_dir), self.producer,
                                                   metrics=m)
        if "cases" in roles:
            from streams.case_builder import CaseBuilder

            self.runners["cases"] = CaseBuilder(settings, self.pool, self.cases, self.geo, self.dead_letters, m)
        if "telemetry" in roles:  # alarm detection that writes the telemetry rows too (streams/telemetry.py)
            from streams.telemetry import TelemetryJob

            self.runners["telemetry"] = TelemetryJob(settings, load_profiles(settings.profiles_dir), self.producer,
                                                     self.dead_letters, metrics=m)
        if "sinks" in roles:
            from streams.sinks import SinkRunner, sink_topics

            self.runners["sinks"] = SinkRunner(settings, self.dead_letters, m,
                                               topics=sink_topics(telemetry_job_here="telemetry" in roles))
        if "cameras" in roles:  # camera detections, health and snapshots (streams/cameras.py)
            from streams.cameras import CameraRecorder

            self.runners["cameras"] = CameraRecorder(settings, m)
        if "patrol" in roles:  # cg.tracks → track_points, patrol coverage and patrol alarms (streams/patrol.py)
            from streams.patrol import PatrolRunner

            self.runners["patrol"] = PatrolRunner(settings, self.producer, self.dead_letters, m)
        if "deadlines" in roles:
            self._timers.append(("deadline watch", s.deadline_scan_s, self._watch_deadlines))
        if "outbox" in roles:
            self._timers.append(("outbox relay", s.outbox_poll_s, self._relay_outbox))
        self.health = WorkerHealth(m, list(self.runners), [name for name, _, _ in self._timers])

    def stop(self) -> None:
        self._stop.set()
        for runner in self.runners.values():
            runner.stop()

    async def run(self) -> None:
        """Serve metrics and health, open the pool, start every role, log ``Worker: Ready``; on stop, let each role
        finish its batch."""
        server = serve(self.streams.metrics_host, self.streams.metrics_port, self.metrics, self.health)
        heartbeat = asyncio.ensure_future(self._beat())
        try:
            await self._run()
        finally:
            heartbeat.cancel()
            if server is not None:
                server.shutdown()
                server.server_close()

    async def _beat(self) -> None:
        """The event loop's heartbeat: /healthz fails when it stops (a stuck loop serves nothing else either)."""
        while True:
            self.health.beat()
            await asyncio.sleep(1.0)

    async def _role(self, name: str, runner: Any) -> None:
        """A role's task: ``failed`` in the health report when it ends with an error (then the worker stops)."""
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.metrics.role(name).stopped("failed", f"{type(exc).__name__}: {exc}"[:300])
            raise

    async def _run(self) -> None:
        await asyncio.to_thread(self.pool.open, True, 30)
        await asyncio.to_thread(self.geo.refresh, True)
        log.info("streams: database pool open, grid index %s",
                 f"with {len(self.geo.index.codes)} cells" if self.geo.index else "empty (no grid cells yet)")
        tasks = [asyncio.ensure_future(self._role(name, runner)) for name, runner in self.runners.items()]
        tasks += [asyncio.ensure_future(self._every(name, every_s, tick)) for name, every_s, tick in self._timers]
        log.info("Worker: Ready (roles %s)", ", ".join(self.streams.roles))
        try:
            stopped = asyncio.ensure_future(self._stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise RuntimeError("a stream worker role ended") from task.exception()
        finally:
            self.stop()
            _, late = await asyncio.wait(tasks, timeout=30) if tasks else (set(), set())
            for task in late:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*late, return_exceptions=True)
            await asyncio.to_thread(self.producer.flush, 10)
            await asyncio.to_thread(self.pool.close)

    async def _every(self, name: str, every_s: float, tick: Callable[[], Awaitable[None]]) -> None:
        """`tick` every `every_s` until stopped; a failing round is logged and the next one comes."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every_s)
            if self._stop.is_set():
                return
            try:
                await tick()
                self.health.timer_round(name, None)
            except psycopg.OperationalError as exc:
                log.warning("%s: database unavailable (%s); next round in %s s", name, exc, every_s)
                self.health.timer_round(name, f"database unavailable: {exc}")
            except Exception as exc:
                log.exception("%s failed; next round in %s s", name, every_s)
                self.health.timer_round(name, f"{type(exc).__name__}: {exc}")

    async def _watch_deadlines(self) -> None:
        """Each step's warning (预警) and overdue event (超期), once per instance (civicgrid/cases/deadlines.py)."""
        def escalate() -> Round:
            with self.pool.connection() as conn:
                return self.cases.watch_deadlines(conn, self.clock.now())

        done = await asyncio.to_thread(escalate)
        if done.events:
            log.info("deadline watch: %d warning(s), %d overdue event(s)", done.warnings, done.overdue)

    async def _relay_outbox(self) -> None:
        """The case outbox → cg.case-events and cg.commands, in order (civicgrid/store/outbox.py)."""
        def relay() -> int:
            total = 0
            with self.pool.connection() as conn:
                while n := relay_once(conn, self.producer):
                    total += n
            return total

        await asyncio.to_thread(relay)
