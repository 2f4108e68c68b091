"""The GB/T 28181 gateway process (``civicgrid gb28181-gateway``): the platform's SIP server (上级平台).

One asyncio loop serves UDP and TCP (gateway/gb28181/transport.py) and drives the Kafka producer, as the JT/T 808
gateway does. What a device's requests become (docs/gb28181.md):

- REGISTER: 401 with a Digest challenge, then 200 (with `Date`, the standard's clock sync) or 403; `cg.status`
  online; a new registration is sent a Catalog query. Expires 0 unregisters: `cg.status` offline.
- MESSAGE Keepalive: 200, `cg.status` online (so the streams' silence rule and this gateway's keepalive watch
  agree); `gb28181.keepalive_misses` intervals without one: `cg.status` offline.
- MESSAGE Catalog response(s): 200 each; the complete catalog replaces the device's rows in `gb28181_channels`.
- MESSAGE Alarm: one `cg.events` record; 200 once Kafka has it, then the platform's Alarm response MESSAGE.

Refusals are dead letters with a reason; a request whose headers were read gets 400 with it, anything less is
dropped. What each request becomes is gateway/gb28181/requests.py; this module is the process: Kafka, answers,
dead letters, the keepalive watch, health. The gateway reads the registry and writes Kafka, and the catalogue
table (civicgrid/store/gb28181.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from confluent_kafka import KafkaError, Producer

from civicgrid.bus import clients, records
from civicgrid.bus import topics as kafka
from civicgrid.bus.device_records import StatusRecord
from civicgrid.metrics_http import serve_metrics
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from civicgrid.store import gb28181 as store
from civicgrid.store.db import connect
from gateway.gb28181 import digest, sip
from gateway.gb28181.catalog import Catalogs
from gateway.gb28181.errors import Gb28181Error, Reason
from gateway.gb28181.manscdp import Channel
from gateway.gb28181.metrics import Gb28181Metrics
from gateway.gb28181.registrations import Change, Peer, Registrations
from gateway.gb28181.requests import Requests
from gateway.gb28181.transport import SipServer
from gateway.jt808.auth import SecretHashes
from gateway.registry import DeviceInfo, DeviceRegistry
from gateway.stopping import serve_until_stopped
from gateway.validation import compile_channel

log = logging.getLogger(__name__)

Validator = Callable[[dict[str, Any]], dict[str, Any]]
ALLOW = "REGISTER, MESSAGE, ACK, OPTIONS"
IGNORED_METHODS = ("ACK",)  # nothing to answer: the platform sends no INVITE, so no ACK is owed to it
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')  # nothing that could end a quoted string or a header line


class Gb28181Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = g = settings.gb28181
        self.db = settings.db
        self.metrics = Gb28181Metrics()
        self.registry = DeviceRegistry(settings.db, settings.gateway.registry_refresh_s)
        self.secrets = SecretHashes(settings.db)
        profiles = load_profiles(settings.profiles_dir)
        missing = [p for p in g.profiles if p not in profiles or "event" not in profiles[p].channels]
        if missing:
            raise ValueError(f"gb28181.profiles {missing}: each must be a device profile with an event channel")
        self.validators: dict[str, Validator] = {p: compile_channel(profiles[p].channels["event"]) for p in g.profiles}
        self.producer = Producer(clients.librdkafka(settings.kafka, {
            **clients.IDEMPOTENT, "linger.ms": g.kafka_linger_ms, "message.timeout.ms": 0, "log_level": 3}))
        self.nonces = digest.Nonces(os.urandom(32), g.nonce_ttl_s)
        self.registrations = Registrations(g.keepalive_interval_s, g.keepalive_misses)
        self.catalogs = Catalogs(g.catalog_timeout_s)
        self.channels: dict[str, dict[str, Channel]] = {}  # device → its catalog (names, positions for alarms)
        self.max_future = timedelta(seconds=settings.gateway.max_clock_future_s)
        self.device_zone = timezone(timedelta(minutes=g.device_utc_offset_min))
        self.host = g.public_host or ("127.0.0.1" if g.listen_host in ("0.0.0.0", "::") else g.listen_host)
        self._sn = itertools.count(int(time.time()) % 100_000)
        self.cseq = itertools.count(1)  # the platform's own requests
        self.in_flight = 0
        self.listening = False
        self.requests = Requests(self)
        self.server = SipServer(self.on_message, self.refuse_bytes, max_message_bytes=g.max_message_bytes,
                                max_connections=g.max_connections, idle_timeout_s=g.idle_timeout_s,
                                max_errors=g.max_errors)

    # -- Kafka -------------------------------------------------------------------------------
    def produce(self, topic: str, key: bytes, value: bytes, done: Callable[[bool], None] | None = None) -> None:
        started = time.perf_counter()
        self.in_flight += 1

        def delivered(err: KafkaError | None, msg: Any) -> None:
            self.in_flight -= 1
            if err is None:
                self.metrics.records_out.labels(topic).inc()
                self.metrics.produce_latency.observe(time.perf_counter() - started)
            else:
                log.error("Kafka refused a %d-byte record for %s: %s", len(value), topic, err)
                self.metrics.refused.inc()
            if done is not None:
                done(err is None)

        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=delivered)
                return
            except BufferError:
                self.producer.poll(0.05)

    async def _poll_kafka(self) -> None:
        while True:
            served = self.producer.poll(0)
            await asyncio.sleep(0.001 if served else 0.005)

    def status(self, device: DeviceInfo, state: str, detail: dict[str, Any]) -> None:
        record = StatusRecord(device_id=device.device_id, kind=device.kind, state=state, ts=datetime.now(UTC),
                              retained=False, source="device", profile=device.profile,
                              detail={"protocol": "gb28181", **detail})
        self.produce(kafka.STATUS, device.key, record.encode())

    # -- answers and refusals -----------------------------------------------------------------
    def answer(self, request: sip.Message, peer: Peer, code: int, headers: list[tuple[str, str]] | None = None,
               body: bytes = b"") -> None:
        source = (peer.host, peer.port) if peer.transport == "UDP" else None
        out = sip.response(request, code, to_tag=secrets.token_hex(4), source=source, headers=headers, body=body)
        out.headers.append(("user-agent", "civicgrid"))
        self.metrics.responses_out.labels(str(code)).inc()
        peer.send(out.encode())

    async def refuse_bytes(self, data: bytes, reason: Reason, detail: str, peer: Peer) -> None:
        self.dead_letter(data, reason, detail, peer, None, None)

    def dead_letter(self, data: bytes, reason: Reason, detail: str, peer: Peer, device_id: str | None,
                    method: str | None) -> None:
        record = records.DeadLetterRecord.of(
            payload=data, mqtt_topic=f"gb28181:{method}" if method else "gb28181", device_id=device_id,
            reason=str(reason), detail=f"{detail} (from {peer})"[:500], received_at=datetime.now(UTC),
            keep_bytes=records.DEAD_LETTER_KEEP_BYTES)
        self.metrics.dead_letters.labels(str(reason)).inc()
        log.info("gb28181 %s: %s: %s", peer, reason, detail[:200])
        self.produce(kafka.DEADLETTER, (device_id or "unknown").encode(), record.encode())

    def refuse(self, data: bytes, exc: Gb28181Error, request: sip.Message | None, peer: Peer, code: int = 400) -> None:
        device_id = sip.uri_user(request.get("from") or "") if request is not None else None
        self.dead_letter(data, exc.reason, exc.detail, peer, device_id, request.method if request else None)
        if request is not None and sip.answerable(request):
            text = _UNSAFE.sub("?", f"{exc.reason}: {exc.detail[:100]}")  # the detail quotes what the peer sent
            self.answer(request, peer, code, [("warning", f'399 civicgrid "{text}"')])

    # -- requests ------------------------------------------------------------------------------
    async def on_message(self, data: bytes, peer: Peer) -> bool:
        """Handle one message; True when it was refused (counted against a TCP connection)."""
        try:
            message = sip.decode(data, stream=peer.transport == "TCP")
        except Gb28181Error as exc:
            partial = exc.message if isinstance(exc.message, sip.Message) and exc.message.is_request else None
            self.refuse(data, exc, partial, peer)
            return True
        if not message.is_request:
            self.metrics.responses_in.labels(f"{message.status // 100}xx").inc()
            return False  # the device's answer to a Catalog query or an Alarm response: nothing owed
        self.metrics.request(message.method)
        try:
            return await self.request(message, data, peer)
        except Gb28181Error as exc:
            if exc.reason == Reason.UNKNOWN_METHOD:
                self.dead_letter(data, exc.reason, exc.detail, peer, sip.uri_user(message.get("from") or ""),
                                 message.method)
                self.answer(message, peer, 405, [("allow", ALLOW)])
            else:
                self.refuse(data, exc, message, peer)
            return True
        except Exception:
            log.exception("gb28181 %s: unexpected error on a %s", peer, message.method)
            self.answer(message, peer, 500)
            return True

    async def request(self, message: sip.Message, data: bytes, peer: Peer) -> bool:
        if message.method == "REGISTER":
            return await self.requests.register(message, data, peer)
        if message.method == "MESSAGE":
            return await self.requests.message(message, data, peer)
        if message.method == "OPTIONS":
            self.answer(message, peer, 200, [("allow", ALLOW)])
        elif message.method not in IGNORED_METHODS:
            raise Gb28181Error(Reason.UNKNOWN_METHOD, f"{message.method} is not supported (no media sessions)")
        return False

    # -- watch, health, serving -------------------------------------------------------------------
    def next_sn(self) -> int:
        """The SN of the platform's next MANSCDP command."""
        return next(self._sn)

    def gauges(self) -> None:
        self.metrics.registered.set(len(self.registrations))
        self.metrics.online.set(self.registrations.online_count())
        self.metrics.connections.set(self.server.connections)

    def _changed(self, change: Change) -> None:
        log.info("gb28181 %s %s (%s)", change.device.device_id, change.state, change.detail.get("reason"))
        self.status(change.device, change.state, change.detail)

    async def _watch(self) -> None:
        every = min(1.0, self.settings.keepalive_interval_s / 4)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for change in self.registrations.watch(now):
                self._changed(change)
            for gone in self.catalogs.expired(now):
                peer = Peer("-", "-", 0, lambda _: None)
                self.dead_letter(b"", Reason.CATALOG_INCOMPLETE, f"{len(gone.channels)} of {gone.sum_num} channels "
                                 f"of SN {gone.sn} in {self.settings.catalog_timeout_s:g} s", peer, gone.device_id,
                                 "MESSAGE")
            self.gauges()

    def health(self) -> dict[str, Any]:
        return {"ok": self.listening and self.registry.ready.is_set(), "registered": len(self.registrations),
                "online": self.registrations.online_count(), "tcp_connections": self.server.connections,
                "udp_shed": self.server.shed,
                "in_flight": self.in_flight, "devices": len(self.registry)}

    async def _load_channels(self) -> None:
        def load() -> list[dict[str, Any]]:
            with connect(self.db, autocommit=True) as conn:
                return store.device_channels(conn)

        for row in await asyncio.to_thread(load):
            channel = Channel(row["channel_id"], name=row["name"], lon=row["lon"], lat=row["lat"])
            self.channels.setdefault(row["device_id"], {})[channel.channel_id] = channel

    async def serve(self, stop: asyncio.Event) -> None:
        g = self.settings
        await asyncio.to_thread(self.registry.start)
        await self._load_channels()
        metrics = serve_metrics(g.metrics_host, g.metrics_port, self.metrics.registry, {"/healthz": self.health},
                                "gb28181-metrics-http")
        tasks = [asyncio.create_task(self._poll_kafka()), asyncio.create_task(self._watch())]
        await self.server.start(g.listen_host, g.listen_port)
        self.listening = True
        log.info("gb28181 gateway: SIP on udp+tcp %s:%d as %s@%s (metrics on %s:%d)", g.listen_host, g.listen_port,
                 g.server_id, g.domain, g.metrics_host, g.metrics_port)
        try:
            await stop.wait()
        finally:
            self.listening = False
            self.server.close()
            deadline = time.monotonic() + 10
            while self.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110 - librdkafka counts, no event
                await asyncio.sleep(0.01)
            for task in tasks:
                task.cancel()
            self.producer.flush(5)
            self.registry.stop()
            self.secrets.close()
            metrics.shutdown()
            log.info("gb28181 gateway stopped")


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or `stop`, for a caller in another thread)."""
    serve_until_stopped(lambda done: Gb28181Gateway(settings).serve(done), stop)
