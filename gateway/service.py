"""The gateway process: MQTT in, Kafka out, an MQTT ack only after Kafka's ack.

One thread does the hot path: it drives paho's network loop (messages are
validated in ``on_message`` and handed to librdkafka without blocking) and
polls the producer, whose delivery callbacks send the MQTT PUBACKs.  Keeping
both in one thread means no cross-thread wake-ups per message (measured in
bench/gateway.py).  Side threads: the device registry (LISTEN/NOTIFY), the
downlink command consumer, and the metrics HTTP server.

At-least-once end to end: the session is persistent (clean start off, a
session expiry), so messages published while the gateway is down wait in the
broker, and a message whose Kafka ack never came is redelivered by the broker
after a reconnect.  librdkafka retries a record for as long as it takes
(``message.timeout.ms = 0``): the MQTT ack waits, and the broker's in-flight
window is the back-pressure.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as mqtt
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from civicgrid.bus import clients, records
from civicgrid.bus import topics as kafka_topics
from civicgrid.bus.command_records import CommandAckRecord, CommandRecord
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.metrics_http import serve_metrics
from civicgrid.profiles import load_profiles
from civicgrid.settings import Settings
from gateway.affinity import Affinity
from gateway.commands import CommandTracker, command_payload, over_mqtt
from gateway.ingest import Ingestor, Output
from gateway.metrics import GatewayMetrics, channel_label
from gateway.mqtt_client import READ_AT_MOST, GatewayClient
from gateway.registry import DeviceRegistry

log = logging.getLogger(__name__)

KAFKA_REJECTED = "kafka_rejected"  # the dead-letter reason of a record Kafka refused


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        gw = settings.gateway
        self.metrics = GatewayMetrics()
        self.registry = DeviceRegistry(settings.db, gw.registry_refresh_s)
        self.tracker = CommandTracker()
        self.affinity = Affinity(gw.instance, gw.instances)
        self.ingestor = Ingestor(load_profiles(settings.profiles_dir), self.registry.get, gw,
                                 on_command_ack=self._on_device_answer)
        self.producer = Producer(clients.librdkafka(settings.kafka, {
            **clients.IDEMPOTENT,
            "linger.ms": gw.kafka_linger_ms,
            "message.timeout.ms": 0,  # retry until delivered: never drop an accepted message
            "queue.buffering.max.messages": 200_000,
            "batch.num.messages": 10_000,
            "log_level": 3,
        }))
        self._dead_letters = DeadLetters(self.producer, "gateway")
        self.client = GatewayClient(CallbackAPIVersion.VERSION2, client_id=gw.client_id, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        self.client.username_pw_set(settings.mqtt.username, settings.mqtt.password.get_secret_value())
        if settings.mqtt.tls:  # a broker elsewhere: its TLS listener, trusting mqtt.ca_file (or the system's CAs)
            self.client.tls_set(ca_certs=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish_received = self._on_publish  # QoS 1 PUBLISHes parsed in place (mqtt_client.py)
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.in_flight = 0
        self.taken = 0  # messages read from the broker (the loop's measure of a wake-up's harvest)
        self._acks: list[int] = []  # QoS 1 messages Kafka has taken, to be acked after this poll
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- MQTT callbacks (network thread) ----------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the gateway: %s", reason_code)
            return
        gw = self.settings.gateway
        if flags.session_present:  # a session from before device affinity holds the shared subscription too
            client.unsubscribe([f"$share/{gw.share_group}/cg/+/+", f"$share/{gw.share_group}/cg/+/cmd/ack"])
        # Every device's messages, of which this gateway forwards its own devices' (gateway/affinity.py). No
        # Local: not the commands this gateway publishes to `cg/<id>/cmd` (another gateway's are acked unread).
        options = SubscribeOptions(qos=1, noLocal=True)
        client.subscribe([("cg/+/+", options), ("cg/+/cmd/ack", options)])
        self.connected.set()
        self.metrics.mqtt_connected.set(1)
        log.info("connected to MQTT %s:%s as %s, gateway %d of %d (session present: %s)", self.settings.mqtt.host,
                 self.settings.mqtt.port, gw.client_id, gw.instance, gw.instances, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self.metrics.mqtt_connected.set(0)
        if not self._stop.is_set():
            log.warning("MQTT connection lost: %s", reason_code)

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:
        """What paho's reader hands over: a QoS 0 message, or one `GatewayClient` left to paho (mqtt_client.py)."""
        self._on_publish(msg.topic, msg.payload, msg.retain, msg.mid, msg.qos)

    def _on_publish(self, topic: str, payload: bytes, retain: bool, mid: int, qos: int = 1) -> None:
        """One message: validated into a record (or a dead letter) and handed to librdkafka; acked later. Another
        gateway's device: acked unread, with the poll's other acks."""
        self.taken += 1
        if not self.affinity.owns(topic):
            if qos == 1:
                self._acks.append(mid)
            return
        out = self.ingestor.handle(topic, payload, retain)
        self.metrics.message_in(channel_label(topic)).inc()
        if out is None:  # duplicate, or our own command echo: already handled
            self.client.ack(mid, qos)
            return
        self._produce(out, mid, qos)

    # -- Kafka ---------------------------------------------------------------------
    def _produce(self, out: Output, mid: int, qos: int) -> None:
        callback = functools.partial(self._delivered, out, mid, qos, time.perf_counter())
        while True:
            try:
                self.producer.produce(out.topic, out.value, out.key, on_delivery=callback)
                break
            except BufferError:
                # librdkafka's queue is full: wait for deliveries; the broker stops sending
                # us more once its in-flight window is full of unacked messages.
                self.producer.poll(0.05)
            except KafkaException as exc:  # refused before sending: too large for the producer, say
                self._refused(out, mid, qos, exc.args[0])
                return
        self.in_flight += 1

    def _delivered(self, out: Output, mid: int, qos: int, started: float, err: KafkaError | None, msg) -> None:
        self.in_flight -= 1
        if err is not None:
            # message.timeout.ms = 0 leaves only permanent errors (record too large, topic gone).
            self._refused(out, mid, qos, err)
            return
        if qos == 1:
            self._acks.append(mid)  # sent after the poll, with the others (GatewayClient.acks)
        else:
            self.client.ack(mid, qos)
        self.metrics.produce_latency.observe(time.perf_counter() - started)
        if out.accepted:
            self.metrics.record_out(out.topic).inc()
        else:
            self.metrics.dead_letters.labels(out.reason).inc()
            if out.notice is not None:  # the device learns of it, now that the dead letter is kept
                self.client.publish(*out.notice, qos=1)

    def _send_acks(self) -> None:
        acks, self._acks = self._acks, []
        if acks:
            self.client.acks(acks)

    def _refused(self, out: Output, mid: int, qos: int, err: KafkaError) -> None:
        """Kafka would not take a record: that message's failure, never the gateway's.

        A record is replaced by a dead letter that keeps only the first few KB of it (and its digest); a
        dead letter refused even so is dropped with a metric and acked, or the broker would redeliver it
        at every restart and it would be refused again, forever.
        """
        log.error("Kafka refused a %d-byte record for %s (device %s): %s", len(out.value), out.topic,
                  out.key.decode(errors="replace"), err)
        if out.reason != KAFKA_REJECTED:
            fallback = records.DeadLetterRecord.of(
                payload=out.value, mqtt_topic=f"kafka:{out.topic}", device_id=out.key.decode(errors="replace"),
                reason=KAFKA_REJECTED, detail=str(err)[:500], received_at=datetime.now(UTC),
                keep_bytes=records.DEAD_LETTER_KEEP_BYTES)
            self._produce(Output(kafka_topics.DEADLETTER, out.key, fallback.encode(), False, KAFKA_REJECTED), mid, qos)
            return
        self.metrics.dropped.inc()
        self.client.ack(mid, qos)

    # -- downlink ----------------------------------------------------------------------
    def _on_device_answer(self, command_id: str, device_id: str, outcome: str, detail: str) -> None:
        self.tracker.answered(command_id)
        self.metrics.commands.labels(outcome).inc()

    def _command_group(self) -> str:
        """Each gateway of a fleet reads every command (a group of its own) and sends its own devices' ones, so
        that the device's answer comes back to the gateway that waits for it. Gateway 0 keeps the group of the
        days before device affinity."""
        gw = self.settings.gateway
        return f"civicgrid-gateway-commands-{gw.share_group}" + (f"-{gw.instance}" if gw.instance else "")

    def _command_loop(self) -> None:
        consumer = Consumer(clients.librdkafka(self.settings.kafka, {
            "group.id": self._command_group(),
            # A new group starts at the beginning so a command queued while no gateway was
            # assigned is not skipped; commands past their timeout are expired, not sent.
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "log_level": 3,
        }))
        consumer.subscribe([kafka_topics.COMMANDS])
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                try:
                    command = CommandRecord.decode(msg.value() or b"")
                except ValueError as exc:  # the one dead-letter policy: kept with the reason, never retried
                    log.warning("unreadable command record at offset %s: %s", msg.offset(), exc)
                    with contextlib.suppress(RuntimeError):  # Kafka slow: the warning above keeps the trace
                        self._dead_letters.send([Rejected(msg.value() or b"", f"kafka:{kafka_topics.COMMANDS}",
                                                          f"{type(exc).__name__}: {exc}")])
                else:
                    try:
                        if self.affinity.owns(f"cg/{command.device_id}/cmd") and over_mqtt(
                                self.registry.get(command.device_id)):
                            self._send_command(command)
                    except Exception:
                        log.exception("command %s could not be sent", command.command_id)
                consumer.commit(msg, asynchronous=True)
        finally:
            consumer.close()

    def _send_command(self, cmd: CommandRecord) -> None:
        device_id, command_id, issued_at = cmd.device_id, cmd.command_id, cmd.issued_at
        timeout_s = cmd.timeout_s or self.settings.gateway.command_default_timeout_s
        if (datetime.now(UTC) - issued_at).total_seconds() > timeout_s:
            self._command_step(command_id, device_id, "timed_out", "expired before delivery", datetime.now(UTC))
            return
        payload = orjson.dumps(command_payload(command_id, cmd.name, cmd.args, issued_at), option=orjson.OPT_UTC_Z)
        info = self.client.publish(f"cg/{device_id}/cmd", payload, qos=1)
        now = datetime.now(UTC)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._command_step(command_id, device_id, "failed", f"publish failed: {info.rc}", now)
            return
        self.tracker.sent(command_id, device_id, timeout_s, now)
        self._command_step(command_id, device_id, "sent", "", now)

    def _command_step(self, command_id: str, device_id: str, status: str, detail: str, now: datetime) -> None:
        record = CommandAckRecord(command_id=command_id, device_id=device_id, status=status, ts=now, detail=detail)
        self.producer.produce(kafka_topics.COMMAND_ACKS, record.encode(), device_id.encode())
        self.metrics.commands.labels(status).inc()

    # -- lifecycle -----------------------------------------------------------------------
    def health(self) -> dict:
        connected = self.subscribed.is_set()
        gw = self.settings.gateway
        return {"ok": connected, "mqtt": "connected" if connected else "disconnected",
                "instance": gw.instance, "instances": gw.instances, "devices": len(self.registry),
                "in_flight": self.in_flight, "pending_commands": len(self.tracker)}

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.gateway.session_expiry_s
        host, port = self.settings.mqtt.endpoint()
        self.client.connect(host, port,
                            keepalive=self.settings.mqtt.keepalive_s, clean_start=False, properties=props)

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set; then finish in-flight records, send their acks, and disconnect."""
        gw = self.settings.gateway
        self.registry.start()
        server = serve_metrics(gw.metrics_host, gw.metrics_port, self.metrics.registry, {"/healthz": self.health},
                               "gateway-metrics-http")
        commands = threading.Thread(target=self._command_loop, name="commands", daemon=True)
        commands.start()
        backoff = 0.5
        self.connect()
        last_tick = time.monotonic()
        gather = gw.gather_ms / 1000
        try:
            while not stop.is_set():
                woke, taken = time.monotonic(), self.taken
                rc = self.client.loop(timeout=0.01)
                self.producer.poll(0)
                self._send_acks()
                if gather and 0 < self.taken - taken < READ_AT_MOST:  # a few arrived: let the next ones gather
                    rest = gather - (time.monotonic() - woke)
                    if rest > 0:
                        time.sleep(rest)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    try:
                        self.client.reconnect()
                    except OSError as exc:
                        log.warning("MQTT reconnect failed: %s", exc)
                    continue
                backoff = 0.5
                now = time.monotonic()
                if now - last_tick >= 1.0:
                    last_tick = now
                    self.metrics.in_flight.set(self.in_flight)
                    for expired in self.tracker.expired(datetime.now(UTC)):
                        self._command_step(expired.command_id, expired.device_id, "timed_out",
                                           "no answer from the device", datetime.now(UTC))
        finally:
            self._stop.set()
            remaining = self.producer.flush(10)  # delivery callbacks queue the last acks
            self._send_acks()
            if remaining:
                log.warning("%d records still unacknowledged by Kafka at shutdown; the broker redelivers them",
                            remaining)
            self.client.loop(timeout=0.1)
            self.client.disconnect()
            self.registry.stop()
            server.shutdown()
            commands.join(timeout=5)
            log.info("gateway stopped")
