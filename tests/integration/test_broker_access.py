"""Mosquitto accounts and ACLs generated from the device registry (docs/security.md)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from civicgrid.broker import hash_secret
from civicgrid.broker.probe import mqtt_login
from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.store.devices import insert_device
from tests.support.mqtt import MqttTestClient

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


def _wait_login(settings: Settings, user: str, secret: str, expect: str = "ok") -> str:
    """The broker reloads its files asynchronously after SIGHUP: poll briefly for the new answer."""
    answer = ""
    for _ in range(50):
        answer = mqtt_login(settings.mqtt.host, settings.mqtt.port, user, secret)
        if (answer == "ok") == (expect == "ok"):
            return answer
        time.sleep(0.1)
    return answer


@pytest.fixture
def two_devices(stack: LocalStack, db: psycopg.Connection) -> Iterator[dict[str, str]]:
    devices = {f"bin-{uuid.uuid4().hex[:8]}": uuid.uuid4().hex for _ in range(2)}
    for device_id, secret in devices.items():
        insert_device(db, device_id, "bin-sensor", "bin-sensor", hash_secret(secret))
    stack.reload_broker_accounts()
    for device_id, secret in devices.items():
        assert _wait_login(stack.settings, device_id, secret) == "ok"
    yield devices


def _client(settings: Settings, user: str | None, secret: str | None) -> MqttTestClient:
    return MqttTestClient(settings.mqtt.host, settings.mqtt.port, user, secret)


def _gateway(settings: Settings) -> MqttTestClient:
    return _client(settings, settings.mqtt.username, settings.mqtt.password.get_secret_value())


def test_anonymous_client_is_refused(settings: Settings) -> None:
    client = _client(settings, None, None)
    code = client.connect()
    client.close()
    assert code.is_failure
    assert code.getName() in {"Not authorized", "Bad user name or password"}


def test_wrong_secret_is_refused(settings: Settings, two_devices: dict[str, str]) -> None:
    device_id = next(iter(two_devices))
    assert mqtt_login(settings.mqtt.host, settings.mqtt.port, device_id, "wrong") != "ok"


def test_device_publishes_its_own_telemetry_to_the_gateway(settings: Settings, two_devices: dict[str, str]) -> None:
    device_id, secret = next(iter(two_devices.items()))
    gateway = _gateway(settings)
    assert not gateway.connect().is_failure
    assert gateway.subscribe("cg/+/telemetry")[0].value < 128
    device = _client(settings, device_id, secret)
    assert not device.connect().is_failure
    try:
        assert device.publish(f"cg/{device_id}/telemetry", b'{"seq":1,"fill_pct":40}').value == 0
        msg = gateway.next_message()
        assert (msg.topic, msg.payload) == (f"cg/{device_id}/telemetry", b'{"seq":1,"fill_pct":40}')
    finally:
        device.close()
        gateway.close()


def test_device_cannot_publish_under_another_device(settings: Settings, two_devices: dict[str, str]) -> None:
    (mine, secret), (other, _) = list(two_devices.items())
    gateway = _gateway(settings)
    gateway.connect()
    for device_id in (mine, other):  # not cg/#: other tests leave retained status messages
        gateway.subscribe(f"cg/{device_id}/#")
    device = _client(settings, mine, secret)
    device.connect()
    try:
        denied = device.publish(f"cg/{other}/telemetry", b"forged")
        assert denied == ReasonCode(2, identifier=NOT_AUTHORIZED) or denied.value == NOT_AUTHORIZED
        # Per-client ordering: the gateway sees the allowed message next, never the forged one.
        assert device.publish(f"cg/{mine}/telemetry", b"genuine").value == 0
        msg = gateway.next_message()
        assert (msg.topic, msg.payload) == (f"cg/{mine}/telemetry", b"genuine")
    finally:
        device.close()
        gateway.close()


def test_device_reads_only_its_own_commands(settings: Settings, two_devices: dict[str, str]) -> None:
    """Mosquitto 2.0 grants the SUBACK and enforces `read` at delivery: nothing foreign arrives."""
    (mine, secret), (other, other_secret) = list(two_devices.items())
    device = _client(settings, mine, secret)
    device.connect()
    gateway = _gateway(settings)
    gateway.connect()
    neighbour = _client(settings, other, other_secret)
    neighbour.connect()
    try:
        for topic in (f"cg/{mine}/cmd", f"cg/{other}/cmd", f"cg/{other}/telemetry"):
            device.subscribe(topic)
        assert gateway.publish(f"cg/{other}/cmd", b"not for you").value == 0
        assert neighbour.publish(f"cg/{other}/telemetry", b"not for you either").value == 0
        assert gateway.publish(f"cg/{mine}/cmd", b"yours").value == 0
        # Delivery is in publish order: the first message the device gets must be its own command.
        msg = device.next_message()
        assert (msg.topic, msg.payload) == (f"cg/{mine}/cmd", b"yours")
        assert device.messages.empty()
    finally:
        device.close()
        gateway.close()
        neighbour.close()


def test_disabled_device_is_refused_at_connect(stack: LocalStack, db: psycopg.Connection,
                                               two_devices: dict[str, str]) -> None:
    device_id, secret = next(iter(two_devices.items()))
    db.execute("UPDATE devices SET enabled = false WHERE id = %s", (device_id,))
    stack.reload_broker_accounts()
    assert _wait_login(stack.settings, device_id, secret, expect="refused") != "ok"
