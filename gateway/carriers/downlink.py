"""Commands to carrier-bound devices: ``cg.commands`` → the platform's API, each step on ``cg.command-acks``.

One command model for every device (civicgrid/bus/commands.py: the API queues it, the API's ack reader stores
its steps); the transport is the device's. The MQTT gateway leaves a device bound to a platform alone
(`gateway.commands.over_mqtt`) and the carrier gateway sends it here, through CTWing's or OneNET's command API
(gateway/carriers/platform_api.py), in a small thread pool so a platform that holds a request (OneNET waits for
the device) does not hold the others. Steps as for MQTT: *sent* when CTWing took it, then *acked* / *failed* /
*timed_out* from its ``commandResponse`` push (`response`, called by the push handler) or the command's own
timeout; OneNET answers the request with the device's result (*acked*) or its refusal. A platform that refuses,
is unreachable or does not answer within ``carriers.api_timeout_s`` fails the command with the reason; so does a
platform whose credentials are not configured.

CTWing's response names the platform's task id, which this process remembers with the command until the
command's timeout: run one carrier gateway (its pushes and its commands meet here). A response for a task it
does not know (after a restart) is logged and counted, and the command stays *sent*.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry, Counter

from civicgrid.bus import clients
from civicgrid.bus import topics as kafka_topics
from civicgrid.bus.command_records import CommandAckRecord, CommandRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.settings import Settings
from civicgrid.store.carrier_devices import CarrierAddress, Platform
from gateway.carriers.messages import CarrierMessage
from gateway.carriers.platform_api import CtwingCommands, OnenetCommands, Outcome, ctwing_response, remaining_s
from gateway.commands import CommandTracker, over_mqtt
from gateway.ingest import Output
from gateway.registry import DeviceRegistry

log = logging.getLogger(__name__)

COMMAND_GROUP = "civicgrid-carrier-commands"


class Downlink:
    def __init__(self, settings: Settings, registry: DeviceRegistry, producer: Producer,
                 metrics: CollectorRegistry) -> None:
        c = settings.carriers
        self.settings, self.registry, self.producer = settings, registry, producer
        self.http = httpx.Client(follow_redirects=False)
        self.platforms: dict[Platform, CtwingCommands | OnenetCommands | None] = {
            "ctwing": CtwingCommands(c, self.http) if (c.ctwing_app_key and c.ctwing_app_secret and
                                                       c.ctwing_master_key and c.ctwing_product_id) else None,
            "onenet": OnenetCommands(c, self.http) if (c.onenet_product_id and c.onenet_access_key and
                                                       c.onenet_command_resource) else None}
        self.tracker = CommandTracker()
        self._tasks: dict[tuple[str, str], str] = {}  # (platform, its task id) → our command id
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="carrier-command")
        self._dead_letters = DeadLetters(producer, "carrier-gateway")
        self.steps = Counter("civicgrid_carrier_commands", "Command steps, by platform and status",
                             ["platform", "status"], registry=metrics)
        self.responses = Counter("civicgrid_carrier_command_responses", "Command responses pushed, by platform "
                                 "and what became of them", ["platform", "outcome"], registry=metrics)

    # -- cg.commands ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Read every command (a group of its own, from the start for a new group: a command queued while no
        carrier gateway ran is not skipped; one past its timeout is expired, not sent) until `stop`."""
        consumer = Consumer(clients.librdkafka(self.settings.kafka, {
            "group.id": COMMAND_GROUP, "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 6000, "log_level": 3}))
        consumer.subscribe([kafka_topics.COMMANDS])
        try:
            while not stop.is_set():
                msg = consumer.poll(0.5)
                self._expire(datetime.now(UTC))
                if msg is None or msg.error() is not None:
                    continue
                try:
                    command = CommandRecord.decode(msg.value() or b"")
                except ValueError as exc:  # kept with the reason, never retried (the MQTT gateway's policy)
                    with contextlib.suppress(RuntimeError):
                        self._dead_letters.send([Rejected(msg.value() or b"", f"kafka:{kafka_topics.COMMANDS}",
                                                          f"{type(exc).__name__}: {exc}")])
                else:
                    self.handle(command)
                consumer.commit(message=msg, asynchronous=True)
        finally:
            consumer.close()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self.http.close()

    def handle(self, cmd: CommandRecord, now: datetime | None = None) -> None:
        """Send `cmd` if its device is bound to a platform (others are the MQTT gateway's)."""
        device = self.registry.get(cmd.device_id)
        if over_mqtt(device):
            return
        assert device is not None and device.carrier is not None
        address = device.carrier
        now = now or datetime.now(UTC)
        timeout_s = cmd.timeout_s or self.settings.gateway.command_default_timeout_s
        left = remaining_s(cmd, timeout_s, now)
        if left <= 0:
            self._step(cmd.command_id, cmd.device_id, address.platform, "timed_out", "expired before delivery")
            return
        platform = self.platforms[address.platform]
        if platform is None:
            self._step(cmd.command_id, cmd.device_id, address.platform, "failed",
                       f"no {address.platform} command API configured (carriers.{address.platform}_* settings)")
            return
        self._pool.submit(self._send, platform, cmd, address.platform, address, left)

    def _send(self, platform: CtwingCommands | OnenetCommands, cmd: CommandRecord, name: Platform,
              address: CarrierAddress, left: float) -> None:
        try:
            outcome = platform.send(cmd, address, left)
        except Exception as exc:  # a bug, not the platform: the command still gets its reason
            log.exception("command %s to %s could not be sent", cmd.command_id, name)
            outcome = Outcome("failed", f"not sent: {type(exc).__name__}")
        if outcome.status == "sent" and outcome.task_id is not None:
            with self._lock:
                self._tasks[(name, outcome.task_id)] = cmd.command_id
            self.tracker.sent(cmd.command_id, cmd.device_id, left, datetime.now(UTC))
        self._step(cmd.command_id, cmd.device_id, name, outcome.status, outcome.detail)

    def _expire(self, now: datetime) -> None:
        for gone in self.tracker.expired(now):
            with self._lock:
                platform = next((p for (p, _), c in self._tasks.items() if c == gone.command_id), "ctwing")
                self._forget(gone.command_id)
            self._step(gone.command_id, gone.device_id, platform, "timed_out",  # type: ignore[arg-type]
                       f"no response from {platform} within the command's timeout")

    def _forget(self, command_id: str) -> None:
        for key in [k for k, c in self._tasks.items() if c == command_id]:
            del self._tasks[key]

    def _step(self, command_id: str, device_id: str, platform: Platform, status: str, detail: str) -> None:
        record = CommandAckRecord(command_id=command_id, device_id=device_id, status=status,
                                  ts=datetime.now(UTC), detail=detail)
        self.producer.produce(kafka_topics.COMMAND_ACKS, record.encode(), device_id.encode())
        self.steps.labels(platform, status).inc()
        (log.info if status in ("sent", "acked") else log.warning)(
            "command %s to %s via %s: %s %s", command_id, device_id, platform, status, detail)

    # -- pushed responses ------------------------------------------------------------------------
    def response(self, message: CarrierMessage, device_id: str) -> Output | None:
        """A ``commandResponse`` push → the command's step as a record (produced before the push is answered),
        or None while the platform reports progress only, or for a task this process does not know."""
        task = message.detail.get("task_id")
        result = message.detail.get("result")
        step = ctwing_response(result if isinstance(result, dict) else {})
        with self._lock:
            command_id = self._tasks.get((message.platform, str(task)))
            if command_id is not None and step is not None:
                self._forget(command_id)
        if command_id is None:
            self.responses.labels(message.platform, "unknown_task").inc()
            log.warning("%s response for task %r of %s: no command of ours waits for it", message.platform, task,
                        device_id)
            return None
        if step is None:
            self.responses.labels(message.platform, "progress").inc()
            return None
        self.tracker.answered(command_id)
        status, detail = step
        self.responses.labels(message.platform, status).inc()
        self.steps.labels(message.platform, status).inc()
        record = CommandAckRecord(command_id=command_id, device_id=device_id, status=status,
                                  ts=message.at or datetime.now(UTC), detail=detail)
        return Output(kafka_topics.COMMAND_ACKS, device_id.encode(), record.encode(), True)
