"""Item 8: metric label values come from fixed sets, never from what a client or device sends."""

from __future__ import annotations

import time
import uuid

from fastapi.testclient import TestClient

from api.metrics import METHODS
from civicgrid.settings import Settings
from gateway.service import Gateway
from tests.support.mqtt import MqttTestClient


def _label_values(registry, metric: str, label: str) -> set[str]:
    return {sample.labels[label] for family in registry.collect() if family.name == metric
            for sample in family.samples if label in sample.labels}


def test_invented_http_methods_are_counted_as_other(client: TestClient) -> None:
    for n in range(5):
        client.request(f"X{uuid.uuid4().hex[:6]}{n}", "/healthz")
    methods = _label_values(client.app.state.metrics.registry, "civicgrid_api_requests", "method")
    assert "other" in methods and methods <= METHODS | {"other"}, methods


def test_invented_topic_levels_are_counted_as_other(settings: Settings, gateway: Gateway, provision) -> None:
    device_id, secret = provision("bin-sensor")
    device = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
    device.connect()
    try:
        for n in range(5):
            assert device.publish(f"cg/{device_id}/made-up-{n}", b"{}").value == 0
    finally:
        device.close()
    deadline = time.monotonic() + 10
    while "other" not in (channels := _label_values(gateway.metrics.registry, "civicgrid_gateway_messages_in",
                                                    "channel")):
        assert time.monotonic() < deadline, channels
        time.sleep(0.1)
    assert not any(c.startswith("made-up") for c in channels), channels
