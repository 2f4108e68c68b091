"""The Faust app of the stream worker: agents, timers, the batched sinks and the outbox relay, wired once.

Built by `build_app(settings)` (no module-level app: settings come from the
composition root).  Faust runs with its own consumer settings except the
session timeout (``streams.session_timeout_s``: how soon a killed worker's
partitions move), and every platform topic is declared with its partition
count before start (`civicgrid.bus.admin.ensure_topics`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import faust
from confluent_kafka import Producer
from psycopg_pool import ConnectionPool

from civicgrid.bus import clients
from civicgrid.bus.dead_letters import DeadLetters
from civicgrid.cases import CaseService, default_rules
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store.outbox import relay_once
from streams.agents import alarms, cases, deadlines
from streams.geo import GeoResolver
from streams.sinks import SinkRunner

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> faust.App:
    s = settings.streams
    brokers = [f"kafka://{hostport.strip()}" for hostport in settings.kafka.bootstrap_servers.split(",")]
    app = faust.App(
        s.app_id, broker=brokers, store="memory://", value_serializer="raw", key_serializer="raw",
        topic_partitions=settings.kafka.partitions, topic_replication_factor=settings.kafka.replication_factor,
        broker_credentials=clients.faust_credentials(settings.kafka),
        web_enabled=False, datadir=str(s.data_dir), broker_session_timeout=s.session_timeout_s,
        broker_heartbeat_interval=s.session_timeout_s / 3,
        consumer_auto_offset_reset="earliest", autodiscover=False, table_cleanup_interval=60.0,
    )
    profiles = load_profiles(settings.profiles_dir)
    geo = GeoResolver(settings)
    pool = ConnectionPool(settings.db.url.get_secret_value(), min_size=1, max_size=4, open=False)
    # One producer per process: the outbox relay, dead letters and patrol alarms share it.
    producer = Producer(clients.librdkafka(settings.kafka, {"linger.ms": 2, "log_level": 3}))
    dead_letters = DeadLetters(producer, s.app_id)
    sinks = SinkRunner(settings, dead_letters)
    cases_service = CaseService(default_rules())

    roles = set(s.roles)
    if "alarms" in roles:
        alarms.register(app, profiles)
    if "cases" in roles:
        cases.register(app, pool, cases_service, geo, timedelta(seconds=s.merge_window_s), dead_letters)
    if "deadlines" in roles:
        deadlines.register(app, pool, cases_service, s.deadline_scan_s)

    @app.task
    async def start_io() -> None:
        await asyncio.to_thread(pool.open, True, 30)
        await asyncio.to_thread(geo.refresh, True)
        log.info("streams: database pool open, grid index %s",
                 f"with {len(geo.index.codes)} cells" if geo.index else "empty (no grid cells yet)")

    if "sinks" in roles:
        @app.task
        async def run_sinks() -> None:
            await sinks.run()

    if "cameras" in roles:  # camera detections, health and snapshots (streams/cameras.py)
        from streams.cameras import CameraRecorder

        recorder = CameraRecorder(settings)

        @app.task
        async def record_cameras() -> None:
            await recorder.run()

    if "patrol" in roles:  # cg.tracks → track_points, patrol coverage and patrol alarms (streams/patrol.py)
        from streams.patrol import PatrolRunner

        patrol = app.civicgrid_patrol = PatrolRunner(settings, producer, dead_letters)

        @app.task
        async def run_patrol() -> None:
            await patrol.run()

    if "outbox" in roles:
        _register_relay(app, pool, producer, s.outbox_poll_s)

    app.civicgrid_sinks = sinks  # for tests and metrics
    return app


def _register_relay(app: faust.App, pool: ConnectionPool, relay_producer: Producer, every_s: float) -> None:
    @app.timer(every_s)
    async def relay_outbox() -> None:
        def relay() -> int:
            total = 0
            with pool.connection() as conn:
                while n := relay_once(conn, relay_producer):
                    total += n
            return total

        try:
            await asyncio.to_thread(relay)
        except Exception as exc:
            log.warning("outbox relay: %s (retrying)", exc)
