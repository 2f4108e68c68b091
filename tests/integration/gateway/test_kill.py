"""At-least-once end to end: SIGKILL the gateway in the middle of a QoS 1 burst and lose nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from civicgrid.bus import topics
from civicgrid.settings import Settings
from civicgrid.stack.services import spawn_gateway
from tests.conftest import gateway_settings
from tests.support.kafka import KafkaTail
from tests.support.mqtt import MqttTestClient

pytestmark = pytest.mark.integration

DEVICES = 8
PER_DEVICE = 500


def test_sigkill_mid_burst_loses_no_message(settings: Settings, provision, tmp_path: Path) -> None:
    gw_settings = gateway_settings(settings, "kill")
    devices = [provision("bin-sensor") for _ in range(DEVICES)]
    log = tmp_path / "gateway.log"
    tail = KafkaTail(settings.kafka.bootstrap_servers, [topics.TELEMETRY])
    gateway = spawn_gateway(gw_settings, log)
    published = [0] * DEVICES

    def burst(index: int, device_id: str, secret: str) -> None:
        client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
        client.connect()
        try:
            for seq in range(1, PER_DEVICE + 1):
                body = f'{{"seq":{seq},"ts":"2026-11-24T01:00:00Z","fill_pct":{seq % 100}}}'.encode()
                assert client.publish(f"cg/{device_id}/telemetry", body).value == 0  # broker has it (PUBACK)
                published[index] = seq
        finally:
            client.close()

    threads = [threading.Thread(target=burst, args=(i, *d)) for i, d in enumerate(devices)]
    for t in threads:
        t.start()
    try:
        while sum(published) < DEVICES * PER_DEVICE // 3:
            time.sleep(0.01)
        os.kill(gateway.pid, signal.SIGKILL)  # mid-burst: records in flight, acks unsent
        gateway.wait()
        killed_at = sum(published)
        while sum(published) < killed_at + DEVICES * PER_DEVICE // 4:
            time.sleep(0.01)  # the devices go on publishing while no gateway runs
        gateway = spawn_gateway(gw_settings, log)
        for t in threads:
            t.join(60)
        ids = {d for d, _ in devices}
        expected = {(d, seq) for d in ids for seq in range(1, PER_DEVICE + 1)}

        def landed(records) -> set[tuple[str, int]]:
            return {(v["device_id"], v["seq"]) for _, _, v in records if v["device_id"] in ids}

        with contextlib.suppress(TimeoutError):  # the assertion below names what is missing
            tail.collect(lambda r: landed(r) >= expected, timeout_s=60)
    finally:
        gateway.send_signal(signal.SIGINT)
        gateway.wait(20)
        tail.close()
    ours = [(v["device_id"], v["seq"]) for _, _, v in tail.records if v["device_id"] in ids]
    assert set(ours) == expected, f"lost: {sorted(expected - set(ours))[:20]}"
    print(f"\nkill test: {len(expected)} sent, {len(ours) - len(expected)} duplicates after the restart")
