"""The API's command metrics against the real Kafka and database: a command issued is counted ``queued``, the
steps the ack reader records from cg.command-acks by status, and an ack it cannot apply as a dead letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from civicgrid.bus import topics
from civicgrid.bus.command_records import CommandAckRecord
from civicgrid.settings import Settings
from tests.support.api_fixtures import wait_for

pytestmark = pytest.mark.integration


def _counts(client: TestClient) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    return {(s.name, s.labels.get("status") or s.labels.get("reason", "")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name in ("civicgrid_api_command_steps_total", "civicgrid_api_dead_letters_total")}


def test_command_steps_are_counted_by_status_once_recorded(client: TestClient, as_user,
                                                           api_settings: Settings) -> None:
    device_id = f"bin-{uuid.uuid4().hex[:8]}"
    assert client.post("/devices", headers=as_user("api-admin"),
                       json={"id": device_id, "kind": "bin-sensor"}).status_code == 201
    before = _counts(client)
    r = client.post(f"/devices/{device_id}/commands", headers=as_user("api-operator"), json={"name": "reboot"})
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]
    now = datetime.now(UTC)
    producer = Producer({"bootstrap.servers": api_settings.kafka.bootstrap_servers, "log_level": 3})
    for record in (CommandAckRecord(command_id=command_id, device_id=device_id, status="sent", ts=now, detail=""),
                   CommandAckRecord(command_id="not-a-uuid", device_id=device_id, status="acked", ts=now, detail=""),
                   CommandAckRecord(command_id=command_id, device_id=device_id, status="acked", ts=now, detail="ok")):
        producer.produce(topics.COMMAND_ACKS, record.encode(), device_id.encode())
    assert producer.flush(10) == 0
    url = f"/devices/{device_id}/commands/{command_id}"
    wait_for(lambda: client.get(url, headers=as_user("api-operator")).json()["status"] == "acked", 20)

    def grew() -> dict[tuple[str, str], float] | None:
        after = _counts(client)
        delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
        return delta if delta.get(("civicgrid_api_command_steps_total", "acked"), 0) >= 1 else None

    delta = wait_for(grew, 10)
    assert delta[("civicgrid_api_command_steps_total", "queued")] == 1
    assert delta[("civicgrid_api_command_steps_total", "sent")] >= 1
    assert delta[("civicgrid_api_dead_letters_total", "ack_unappliable")] >= 1
