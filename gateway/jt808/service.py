"""The JT/T 808 gateway process (``civicgrid jt808-gateway``): a TCP server beside the MQTT gateway.

One asyncio loop serves every connection (gateway/jt808/session.py) and drives the Kafka producer: a task
polls librdkafka, whose delivery callbacks then run in the loop's thread and write the platform's answers
without a cross-thread wake-up per message. Side threads: the device registry (LISTEN/NOTIFY, the MQTT
gateway's own `DeviceRegistry`), registry lookups of registration and authentication (`asyncio.to_thread`),
the metrics HTTP server. The gateway reads the registry and writes only to Kafka.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from confluent_kafka import KafkaError, Producer

from civicgrid.bus import clients
from civicgrid.metrics_http import serve_metrics
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from gateway.jt808.auth import SecretHashes
from gateway.jt808.metrics import Jt808Metrics
from gateway.jt808.session import Session, _Answer
from gateway.registry import DeviceRegistry
from gateway.stopping import serve_until_stopped
from gateway.validation import compile_channel

log = logging.getLogger(__name__)

Validator = Callable[[dict[str, Any]], dict[str, Any]]


class Jt808Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        j = settings.jt808
        self.metrics = Jt808Metrics()
        self.registry = DeviceRegistry(settings.db, settings.gateway.registry_refresh_s)
        self.secrets = SecretHashes(settings.db)
        profiles = load_profiles(settings.profiles_dir)
        missing = [p for p in j.profiles if p not in profiles or not {"track", "event"} <= set(profiles[p].channels)]
        if missing:
            raise ValueError(f"jt808.profiles {missing}: each must be a device profile with track and event channels")
        self.validators: dict[str, tuple[Validator, Validator]] = {
            p: (compile_channel(profiles[p].channels["track"]), compile_channel(profiles[p].channels["event"]))
            for p in j.profiles}
        self.max_future = timedelta(seconds=settings.gateway.max_clock_future_s)
        self.producer = Producer(clients.librdkafka(settings.kafka, {
            **clients.IDEMPOTENT,
            "linger.ms": j.kafka_linger_ms,
            "message.timeout.ms": 0,  # retry until delivered: the terminal's answer waits
            "queue.buffering.max.messages": 200_000,
            "batch.num.messages": 10_000,
            "log_level": 3,
        }))
        self.sessions: set[Session] = set()
        self.in_flight = 0
        self.listening = False

    # -- Kafka -------------------------------------------------------------------------------
    def produce(self, topic: str, key: bytes, value: bytes, answer: _Answer | None) -> None:
        """Hand a record to librdkafka; `answer` is told when Kafka has it (or refused it for good)."""
        started = time.perf_counter()
        if answer is not None:
            answer.left += 1
            answer.session.in_flight += 1
            if answer.session.in_flight >= self.settings.jt808.max_in_flight:
                answer.session.readable.clear()  # the session reads again once deliveries come back
        self.in_flight += 1

        def delivered(err: KafkaError | None, msg: Any) -> None:
            self.in_flight -= 1
            if err is None:
                self.metrics.record_out(topic).inc()
                self.metrics.produce_latency.observe(time.perf_counter() - started)
            else:  # message.timeout.ms = 0 leaves only permanent errors (too large, topic gone)
                log.error("Kafka refused a %d-byte record for %s: %s", len(value), topic, err)
                self.metrics.refused.inc()
            if answer is not None:
                answer.delivered(err is None)

        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=delivered)
                return
            except BufferError:  # librdkafka's queue is full: let deliveries drain it (rare; bounded per session)
                self.producer.poll(0.05)

    async def _poll_kafka(self) -> None:
        while True:
            served = self.producer.poll(0)
            await asyncio.sleep(0.001 if served else 0.003)

    async def _sweep_idle(self) -> None:
        """Close connections silent for ``idle_timeout_s``: one pass over the sessions every few seconds instead
        of a timer per read."""
        idle_s = self.settings.jt808.idle_timeout_s
        while True:
            await asyncio.sleep(min(idle_s / 4, 5.0))
            now = time.monotonic()
            for session in list(self.sessions):
                session.close_if_idle(now, idle_s)

    # -- connections -----------------------------------------------------------------------------
    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.sessions) >= self.settings.jt808.max_connections:
            self.metrics.refused_connections.inc()
            writer.close()
            return
        session = Session(self, reader, writer)
        self.sessions.add(session)
        self.metrics.connections.set(len(self.sessions))
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self.metrics.connections.set(len(self.sessions))

    def health(self) -> dict[str, Any]:
        return {"ok": self.listening and self.registry.ready.is_set(), "connections": len(self.sessions),
                "in_flight": self.in_flight, "devices": len(self.registry)}

    async def serve(self, stop: asyncio.Event) -> None:
        j = self.settings.jt808
        await asyncio.to_thread(self.registry.start)
        metrics = serve_metrics(j.metrics_host, j.metrics_port, self.metrics.registry, {"/healthz": self.health},
                                "jt808-metrics-http")
        poller = asyncio.create_task(self._poll_kafka())
        sweeper = asyncio.create_task(self._sweep_idle())
        server = await asyncio.start_server(self._connected, j.listen_host, j.listen_port, limit=j.max_frame_bytes * 2)
        self.listening = True
        log.info("jt808 gateway listening on %s:%d (metrics on %s:%d)", j.listen_host, j.listen_port, j.metrics_host,
                 j.metrics_port)
        try:
            await stop.wait()
        finally:
            self.listening = False
            server.close()
            for session in list(self.sessions):
                session.writer.close()
            deadline = time.monotonic() + 10
            while self.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110 - librdkafka counts, no event
                await asyncio.sleep(0.01)
            poller.cancel()
            sweeper.cancel()
            self.producer.flush(5)
            await asyncio.sleep(0)
            self.registry.stop()
            self.secrets.close()
            metrics.shutdown()
            log.info("jt808 gateway stopped")


# Python's cyclic collector took 27 % of the loop's GIL time at 5,000 terminals (py-spy --gil, bench/jt808.py):
# every report allocates a few containers that live until Kafka's ack (~1 s under load), so the young
# generations fill every few dozen reports and each collection walks thousands of live records in flight. The
# hot path makes no reference cycles (refcounting frees it), so collections can be rare: the start-up heap is
# frozen out of them and the first generation holds 50,000 allocations instead of 700.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """For the gateway's own process (`civicgrid jt808-gateway`), once its modules are loaded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or `stop`, for a caller in another thread)."""
    serve_until_stopped(lambda done: Jt808Gateway(settings).serve(done), stop)
