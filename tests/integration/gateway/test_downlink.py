"""Downlink commands: cg.commands → cg/<id>/cmd → device answer → cg.command-acks."""

from __future__ import annotations

import orjson
import pytest
from confluent_kafka import Producer

from civicgrid.bus import topics
from civicgrid.bus.commands import send_command
from civicgrid.settings import Settings
from gateway.service import Gateway
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient

pytestmark = pytest.mark.integration


def _steps(tail: KafkaTail, command_id: str) -> list[str]:
    return [v["status"] for _, _, v in tail.records if v["command_id"] == command_id]


def test_command_is_delivered_and_its_answer_recorded(settings: Settings, gateway: Gateway, provision) -> None:
    device_id, secret = provision("manhole-sensor")
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    device.connect()
    device.subscribe(f"cg/{device_id}/cmd")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.COMMAND_ACKS])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    try:
        answered = send_command(producer, device_id, "set_interval", {"seconds": 60}, timeout_s=30)
        first = orjson.loads(device.next_message(timeout_s=20).payload)  # the gateway's consumer is assigned
        ignored = send_command(producer, device_id, "reboot", timeout_s=2)
        second = orjson.loads(device.next_message(timeout_s=10).payload)
        assert [(c["command_id"], c["name"], c["args"]) for c in (first, second)] == [
            (answered, "set_interval", {"seconds": 60}), (ignored, "reboot", {})]
        device.publish(f"cg/{device_id}/cmd/ack", orjson.dumps({"command_id": answered, "status": "ok"}))
        tail.collect(lambda r: _steps(tail, answered) == ["sent", "acked"]
                     and _steps(tail, ignored) == ["sent", "timed_out"], timeout_s=30)
    finally:
        device.close()
        tail.close()


def test_command_past_its_timeout_is_expired_not_sent(settings: Settings, gateway: Gateway, provision) -> None:
    from datetime import UTC, datetime, timedelta

    device_id, _ = provision("bin-sensor")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.COMMAND_ACKS])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    try:
        stale = send_command(producer, device_id, "reboot", timeout_s=5, now=datetime.now(UTC) - timedelta(minutes=1))
        tail.collect(lambda r: _steps(tail, stale) == ["timed_out"], timeout_s=30)
    finally:
        tail.close()


def test_a_carrier_bound_devices_commands_are_left_to_the_carrier_gateway(settings: Settings, gateway: Gateway,
                                                                           provision, db) -> None:
    """An NB-IoT device is not on MQTT: the gateway neither publishes its command nor times it out (the carrier
    gateway sends it through the platform, docs/carriers.md)."""
    import time
    import uuid

    from civicgrid.store import carrier_devices
    from tests.support.services import wait_for

    bound, bound_secret = provision("manhole-sensor")
    other, other_secret = provision("manhole-sensor")
    carrier_devices.bind(db, "ctwing", uuid.uuid4().hex, bound)
    wait_for(lambda: (d := gateway.registry.get(bound)) is not None and d.carrier is not None, 10,
             "the binding in the gateway's registry")
    clients = {d: MqttTestClient(settings.mqtt.host, settings.mqtt.port, d, s, client_id=d)
               for d, s in ((bound, bound_secret), (other, other_secret))}
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.COMMAND_ACKS])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    try:
        for device, client in clients.items():
            client.connect()
            client.subscribe(f"cg/{device}/cmd")
        skipped = send_command(producer, bound, "reboot", timeout_s=2)
        sent = send_command(producer, other, "reboot", timeout_s=2)
        assert orjson.loads(clients[other].next_message(timeout_s=20).payload)["command_id"] == sent
        tail.collect(lambda r: _steps(tail, sent) == ["sent", "timed_out"], timeout_s=30)  # past both timeouts
        time.sleep(1.0)
        tail.take()
        assert clients[bound].messages.empty()
        assert _steps(tail, skipped) == []
    finally:
        for client in clients.values():
            client.close()
        tail.close()


def test_a_device_is_told_of_its_refused_message_on_its_own_topic(settings: Settings, gateway: Gateway,
                                                                  provision) -> None:
    """The broker PUBACKs before the gateway reads: the refusal comes back on cg/<id>/refused (gateway/refusals.py),
    which the device may read (the ACL) and another device may not (Mosquitto 2.0 grants its SUBACK and enforces
    `read` at delivery: nothing arrives)."""
    import queue
    from datetime import UTC, datetime

    device_id, secret = provision("bin-sensor")
    other_id, other_secret = provision("bin-sensor")
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    other = MqttTestClient(settings.mqtt.host, settings.mqtt.port, other_id, other_secret, client_id=other_id)
    device.connect()
    other.connect()
    try:
        assert [c.value for c in device.subscribe(f"cg/{device_id}/refused")] == [1]
        other.subscribe(f"cg/{device_id}/refused")
        now = datetime.now(UTC).isoformat()
        ok = orjson.dumps({"seq": 1, "ts": now, "fill_pct": 40})
        bad = orjson.dumps({"seq": 2, "ts": now, "fill_pct": 140})
        assert device.publish(f"cg/{device_id}/telemetry", ok).value == 0
        assert device.publish(f"cg/{device_id}/telemetry", bad).value == 0  # the broker takes it all the same
        notice = orjson.loads(device.next_message(timeout_s=30).payload)
        assert (notice["seq"], notice["channel"], notice["reason"]) == (2, "telemetry", "schema")
        assert "fill_pct" in notice["detail"]
        with pytest.raises(queue.Empty):  # the accepted reading got none
            device.next_message(timeout_s=1)
        with pytest.raises(queue.Empty):  # nor did another device read it
            other.next_message(timeout_s=0.1)
    finally:
        device.close()
        other.close()
