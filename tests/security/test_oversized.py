"""Item 2: one device cannot stop the gateway with an oversized payload, nor with a record Kafka refuses."""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest

from civicgrid.bus import records, topics
from civicgrid.settings import Settings
from civicgrid.stack.services import spawn_gateway, stop_service
from gateway.service import Gateway
from tests.conftest import gateway_settings
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient

pytestmark = pytest.mark.integration


def test_an_800_kb_publish_leaves_the_gateway_running(settings: Settings, provision, tmp_path: Path) -> None:
    device_id, secret = provision("bin-sensor")
    log = tmp_path / "gateway.log"
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY, topics.DEADLETTER])
    gateway = spawn_gateway(gateway_settings(settings, "big"), log)
    try:
        big = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
        big.connect()
        body = b'{"seq": 1, "ts": "2026-11-24T01:00:00Z", "fill_pct": 50, "pad": "' + b"x" * 800_000 + b'"}'
        with contextlib.suppress(TimeoutError):  # the broker refuses the packet and drops the connection
            big.publish(f"cg/{device_id}/telemetry", body, timeout_s=3)
        big.close()
        time.sleep(1)
        normal = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
        normal.connect()
        try:
            assert normal.publish(f"cg/{device_id}/telemetry",
                                  b'{"seq": 2, "ts": "2026-11-24T01:00:10Z", "fill_pct": 51}').value == 0
        finally:
            normal.close()
        tail.collect(lambda rs: any(t == topics.TELEMETRY and v.get("device_id") == device_id for t, _, v in rs),
                     timeout_s=20)
        assert gateway.poll() is None, f"the gateway exited:\n{log.read_text()[-3000:]}"
    finally:
        stop_service(gateway)
        tail.close()
    ours = [(t, v) for t, _, v in tail.records if v.get("device_id") == device_id]
    assert [v["seq"] for t, v in ours if t == topics.TELEMETRY] == [2]
    for t, v in ours:  # refused by the broker, or a dead letter that keeps only a digest and a few KB
        if t == topics.DEADLETTER:
            assert v["truncated"] and v["size"] == len(body)
            assert len(base64.b64decode(v["payload_b64"])) <= records.DEAD_LETTER_KEEP_BYTES


def test_a_record_kafka_refuses_becomes_a_small_dead_letter(settings: Settings, provision) -> None:
    """Past the producer's 1 MB limit Kafka refuses a record: that message is dead-lettered and acked."""
    device_id, _ = provision("bin-sensor")
    gw_settings = gateway_settings(settings, "refused")
    gw_settings = gw_settings.model_copy(update={"gateway": gw_settings.gateway.model_copy(
        update={"max_payload_bytes": 4 * 1024 * 1024})})  # a gateway configured past what Kafka takes
    gateway = Gateway(gw_settings)
    gateway.registry.start()
    acks: list[int] = []
    gateway.client.ack = lambda mid, qos: acks.append(mid)  # the MQTT side is not the point here
    gateway.client.acks = acks.extend  # a poll's acks, in one write
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.DEADLETTER])
    try:
        deadline = time.monotonic() + 15
        while gateway.registry.get(device_id) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        msg = mqtt.MQTTMessage(mid=7, topic=f"cg/{device_id}/telemetry".encode())
        msg.qos = 1
        # Valid JSON, but a field the profile does not know: a schema dead letter carrying 1.5 MB.
        msg.payload = orjson.dumps({"seq": 1, "ts": "2026-11-24T01:00:00Z", "fill_pct": 5, "pad": "y" * 1_500_000})
        gateway._on_message(gateway.client, None, msg)
        deadline = time.monotonic() + 20
        while not acks and time.monotonic() < deadline:
            gateway.producer.poll(0.1)
            gateway._send_acks()  # as the gateway's loop does after each poll
        assert acks == [7]
        dead = tail.collect(lambda rs: any(v.get("device_id") == device_id for _, _, v in rs), timeout_s=20)
    finally:
        gateway.registry.stop()
        tail.close()
    (letter,) = [v for _, _, v in dead if v.get("device_id") == device_id]
    assert letter["reason"] == "kafka_rejected" and letter["truncated"]
    assert len(base64.b64decode(letter["payload_b64"])) == records.DEAD_LETTER_KEEP_BYTES
    assert letter["size"] > 2_000_000  # the refused record: a dead letter carrying 1.5 MB in base64
    assert letter["detail"].startswith("KafkaError") or "size" in letter["detail"].lower(), letter["detail"]
