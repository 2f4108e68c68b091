"""Item 5: one bad command ack stalls nothing: the gateway refuses it, and the API's ack reader passes over
(and dead-letters) a record it cannot apply instead of re-reading it forever."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from confluent_kafka import Producer
from fastapi.testclient import TestClient

from civicgrid.bus import records, topics
from civicgrid.bus.command_records import CommandAckRecord
from civicgrid.settings import Settings
from gateway.service import Gateway
from tests.support.api_fixtures import wait_for
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient


def test_the_gateway_dead_letters_an_ack_whose_command_id_is_no_uuid(settings: Settings, gateway: Gateway,
                                                                      provision) -> None:
    device_id, secret = provision("bin-sensor")
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.COMMAND_ACKS, topics.DEADLETTER])
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    device.connect()
    try:
        assert device.publish(f"cg/{device_id}/cmd/ack", b'{"command_id": "not-a-uuid", "status": "ok"}').value == 0
        seen = tail.collect(lambda rs: any(v.get("device_id") == device_id for _, _, v in rs), timeout_s=20)
    finally:
        device.close()
        tail.close()
    ours = [(t, v) for t, _, v in seen if v.get("device_id") == device_id]
    assert [(t, v["reason"]) for t, v in ours] == [(topics.DEADLETTER, "schema")]
    assert "not a UUID" in ours[0][1]["detail"]


def test_an_unappliable_ack_on_kafka_is_dead_lettered_and_the_next_command_is_acked(
        client: TestClient, as_user, api_settings: Settings) -> None:
    device_id = f"bin-{uuid.uuid4().hex[:8]}"
    assert client.post("/devices", headers=as_user("api-admin"),
                       json={"id": device_id, "kind": "bin-sensor"}).status_code == 201
    r = client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"), json={"name": "reboot"})
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]
    tail = KafkaTail(api_settings.kafka.bootstrap_servers, [topics.DEADLETTER])
    producer = Producer({"bootstrap.servers": api_settings.kafka.bootstrap_servers})
    now = datetime.now(UTC)
    # Written straight to Kafka, as a gateway of an older version (or anyone with Kafka access) could.
    poison = CommandAckRecord(command_id="not-a-uuid", device_id=device_id, status="acked", ts=now, detail="")
    good = CommandAckRecord(command_id=command_id, device_id=device_id, status="acked", ts=now, detail="ok")
    for record in (poison, good):
        producer.produce(topics.COMMAND_ACKS, record.encode(), device_id.encode())
    assert producer.flush(10) == 0
    try:
        url = f"/devices/{device_id}/commands/{command_id}"
        wait_for(lambda: client.get(url, headers=as_user("api-operator")).json()["status"] == "acked", 20)
        dead = tail.collect(lambda rs: any(v.get("device_id") == device_id for _, _, v in rs), timeout_s=20)
    finally:
        tail.close()
    (letter,) = [v for _, _, v in dead if v.get("device_id") == device_id]
    assert letter["reason"] == "ack_unappliable", letter
    assert records.loads(base64.b64decode(letter["payload_b64"]))["command_id"] == "not-a-uuid"
