"""Devices → real Mosquitto → gateway → real Kafka: what lands on which topic."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter, defaultdict

import pytest

from civicgrid.broker.probe import mqtt_login
from civicgrid.broker.provisioning import set_device_enabled
from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.stack.mosquitto import local_broker
from gateway.service import Gateway
from gateway.topics import KAFKA_TOPIC_OF_CHANNEL
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient
from tests.support.payloads import load_cases

pytestmark = pytest.mark.integration

ALL = [topics.TELEMETRY, topics.EVENTS, topics.TRACKS, topics.REPORTS, topics.STATUS, topics.DEADLETTER,
       topics.COMMAND_ACKS]


def _device_client(settings: Settings, device_id: str, secret: str) -> MqttTestClient:
    client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    assert not client.connect().is_failure
    return client


def test_every_recorded_payload_through_the_real_path(settings: Settings, gateway: Gateway, provision) -> None:
    """A valid message of each kind arrives normalised; each invalid one dead-letters with its reason."""
    cases = load_cases()
    devices = {kind: provision(kind) for kind in {c.kind for c in cases}}
    tail = KafkaTail(settings.kafka.bootstrap_servers, ALL)
    clients = {kind: _device_client(settings, *creds) for kind, creds in devices.items()}
    try:
        for case in cases:
            device_id = devices[case.kind][0]
            assert clients[case.kind].publish(f"cg/{device_id}/{case.channel}", case.payload).value == 0
        # Wait for what each of our devices must produce on each topic; other tests' records
        # may be in the tail too, so a plain count would stop early.
        expected = Counter(
            (devices[c.kind][0].encode(), KAFKA_TOPIC_OF_CHANNEL[c.channel] if c.expect == "accept"
             else topics.DEADLETTER) for c in cases)
        records = tail.collect(lambda r: Counter((k, t) for t, k, _ in r) >= expected)
    finally:
        for client in clients.values():
            client.close()
        tail.close()
    # Kafka keeps order per key within a topic, not across topics: match each case
    # against the next record of its device on the topic it must land on.
    ours = {device_id for device_id, _ in devices.values()}
    landed = defaultdict(list)
    for topic, key, value in records:
        if key.decode() in ours:  # other tests' devices may still have records in flight
            landed[key.decode(), topic].append(value)
    for case in cases:
        device_id = devices[case.kind][0]
        expected_topic = KAFKA_TOPIC_OF_CHANNEL[case.channel] if case.expect == "accept" else topics.DEADLETTER
        assert landed[device_id, expected_topic], f"{case.id}: nothing on {expected_topic}"
        value = landed[device_id, expected_topic].pop(0)
        if case.expect == "accept":
            case.matches(value)
        else:
            assert value["reason"] == case.expect, case.id
            assert value["device_id"] == device_id
    assert not any(landed.values()), f"unexpected extra records: {dict(landed)}"


def test_duplicate_seq_is_produced_once(settings: Settings, gateway: Gateway, provision) -> None:
    device_id, secret = provision("bin-sensor")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    client = _device_client(settings, device_id, secret)
    try:
        same = b'{"seq":41,"ts":"2026-11-24T01:00:00Z","fill_pct":12}'
        for payload in (same, same, same, b'{"seq":42,"ts":"2026-11-24T01:01:00Z","fill_pct":13}'):
            client.publish(f"cg/{device_id}/telemetry", payload)
        tail.collect(lambda r: any(v["seq"] == 42 for _, _, v in r))
    finally:
        client.close()
        tail.close()
    assert sorted(v["seq"] for v in tail.of(topics.TELEMETRY) if v["device_id"] == device_id) == [41, 42]


def test_disabled_device_is_refused(settings: Settings, provision) -> None:
    device_id, secret = provision("manhole-sensor")
    set_device_enabled(settings, device_id, False, broker=local_broker(settings))
    answer = "ok"
    for _ in range(50):
        answer = mqtt_login(settings.mqtt.host, settings.mqtt.port, device_id, secret)
        if answer != "ok":
            break
        time.sleep(0.1)
    assert answer != "ok"


def test_device_cannot_publish_as_another(settings: Settings, gateway: Gateway, provision) -> None:
    mine, secret = provision("bin-sensor")
    other, _ = provision("bin-sensor")
    tail = KafkaTail(settings.kafka.bootstrap_servers, ALL)
    client = _device_client(settings, mine, secret)
    try:
        forged = client.publish(f"cg/{other}/telemetry", b'{"seq":1,"ts":"2026-11-24T01:00:00Z","fill_pct":99}')
        assert forged.value == 135  # Not authorized
        client.publish(f"cg/{mine}/telemetry", b'{"seq":1,"ts":"2026-11-24T01:00:00Z","fill_pct":5}')
        tail.collect(lambda r: any(k == mine.encode() for _, k, _ in r))
    finally:
        client.close()
        tail.close()
    assert all(key != other.encode() for _, key, _ in tail.records)


def test_last_will_becomes_an_offline_status(settings: Settings, gateway: Gateway, provision) -> None:
    device_id, secret = provision("handheld")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.STATUS])
    client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    client.client.will_set(f"cg/{device_id}/status", b"offline", qos=1, retain=True)
    client.connect()
    client.publish(f"cg/{device_id}/status", b"online")
    tail.collect(lambda r: any(v["device_id"] == device_id for _, _, v in r))
    client.client.socket().close()  # vanish without DISCONNECT: the broker publishes the will
    client.client.loop_stop()
    try:
        tail.collect(lambda r: [v["state"] for _, _, v in r if v["device_id"] == device_id] == ["online", "offline"])
    finally:
        tail.close()


def test_metrics_and_health_endpoints(settings: Settings, gateway: Gateway, provision) -> None:
    device_id, secret = provision("bin-sensor")
    client = _device_client(settings, device_id, secret)
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.DEADLETTER])
    try:
        client.publish(f"cg/{device_id}/telemetry", b"definitely not json")
        tail.collect(lambda r: any(v["device_id"] == device_id for _, _, v in r))
    finally:
        client.close()
        tail.close()
    base = f"http://127.0.0.1:{gateway.settings.gateway.metrics_port}"
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline and 'reason="not_json"' not in text:
        text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
    assert 'civicgrid_gateway_dead_letters_total{reason="not_json"}' in text
    assert "civicgrid_gateway_mqtt_connected 1.0" in text
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        assert response.status == 200
