"""SIGKILL Kafka itself mid-stream, twice, and restart it: nothing a device got a PUBACK for is lost.

Devices → real Mosquitto → gateway → Kafka → stream worker → PostgreSQL. While manhole-cover
sensors publish a burst at QoS 1 (with tilt episodes that become alarms and cases):
1. Kafka is SIGKILLed and restarted; the gateway and the worker stay up and must reconnect
   on their own.
2. Kafka is SIGKILLed again, and while it is down the gateway is SIGKILLed too, holding
   records Kafka never acknowledged. A gateway that acked MQTT before Kafka did would lose
   exactly those; ours leaves them in its persistent MQTT session, and the next gateway
   gets them again.
Then every published reading is one telemetry row, each cover has one case, and each tilt
episode is on it once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.stack.services import spawn_gateway
from tests.conftest import gateway_settings
from tests.e2e.conftest import worker_settings
from tests.support.mqtt import MqttTestClient
from tests.support.services import start_service, stop_service, wait_for

pytestmark = pytest.mark.e2e

DEVICES = 6
READINGS = 600  # at ~18 a second per device: a burst of about 35 s, long enough for two broker restarts
EPISODE_EVERY = 40  # readings 10-14 of every 40 tilt the cover: 15 episodes per device


def tilt(seq: int) -> float:
    return 30.0 if seq % EPISODE_EVERY in (10, 11, 12, 13, 14) else 1.0


def kill_kafka(stack: LocalStack) -> None:
    """SIGKILL the broker; `stack status` then reports it dead, with its log's tail."""
    pid = stack.kafka.process.pid()
    assert pid is not None, "Kafka is not running"
    os.kill(pid, signal.SIGKILL)
    proc = getattr(stack.kafka.process, "_popen", None)
    if proc is not None and proc.pid == pid:
        proc.wait(10)  # reap it, so its pid is free and its ports close
    (status,) = [s for s in stack.status() if s.name == "kafka"]
    assert status.state == "stale" and "kafka.log" in status.detail, status
    assert stack.kafka.process.pid() is None


def test_kafka_sigkill_loses_nothing_acknowledged_and_duplicates_no_case(
        stack: LocalStack, settings: Settings, db: psycopg.Connection, provision, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    components = [f"3415230103{n:06d}" for n in range(int(run, 16) % 900000, int(run, 16) % 900000 + DEVICES)]
    for code in components:
        db.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0103', 117.6, 31.8) "
                   "ON CONFLICT DO NOTHING", (code,))
    devices = [provision("manhole-sensor", component_code=code) for code in components]
    ids = [d for d, _ in devices]
    gw_settings = gateway_settings(settings, "brokerkill")
    worker = worker_settings(settings)
    gw_log, worker_log = tmp_path / "gateway.log", tmp_path / "worker.log"
    gateway = spawn_gateway(gw_settings, gw_log)
    proc = start_service("worker", worker, worker_log)
    published = [0] * DEVICES
    failures: list[str] = []

    def burst(index: int, device_id: str, secret: str) -> None:
        client = MqttTestClient(settings.mqtt.host, settings.mqtt.port, device_id, secret, client_id=device_id)
        client.connect()
        try:
            for seq in range(1, READINGS + 1):
                body = f'{{"seq":{seq},"ts":"2026-11-24T01:{seq // 60:02d}:{seq % 60:02d}Z","tilt_deg":{tilt(seq)}}}'
                if client.publish(f"cg/{device_id}/telemetry", body.encode()).value != 0:
                    failures.append(f"{device_id} seq {seq}: no PUBACK")
                    return
                published[index] = seq
                time.sleep(0.05)
        finally:
            client.close()

    def rows() -> int:
        return db.execute("SELECT count(*) FROM telemetry WHERE device_id = ANY(%s)", (ids,)).fetchone()[0]

    def until_published(fraction: float) -> None:
        wait_for(lambda: sum(published) >= DEVICES * READINGS * fraction or failures, 120,
                 f"{fraction:.0%} of the burst published")

    threads = [threading.Thread(target=burst, args=(i, *d)) for i, d in enumerate(devices)]
    try:
        wait_for(lambda: stack.kafka.health() == "ok", 30, "Kafka answering")
        for t in threads:
            t.start()
        until_published(0.25)
        wait_for(rows, 60, "the first rows", proc, worker_log)
        kill_kafka(stack)  # 1: the gateway and the worker stay up
        at_kill = rows()
        time.sleep(2)
        stack.kafka.start()
        wait_for(lambda: rows() > at_kill, 60, "rows again after the restart (reconnected)", proc, worker_log)
        until_published(0.6)
        kill_kafka(stack)  # 2: records sit unacknowledged in the gateway ...
        time.sleep(2)
        gateway.send_signal(signal.SIGKILL)  # ... and the gateway dies with them
        gateway.wait(10)
        stack.kafka.start()
        gateway = spawn_gateway(gw_settings, gw_log)
        for t in threads:
            t.join(120)
        assert not failures, failures
        assert sum(published) == DEVICES * READINGS
        wait_for(lambda: rows() >= DEVICES * READINGS, 120, "every telemetry row", proc, worker_log)
        episodes = DEVICES * (READINGS // EPISODE_EVERY)
        wait_for(lambda: db.execute("SELECT coalesce(sum(evidence_count), 0) FROM cases WHERE component_code = "
                                    "ANY(%s)", (components,)).fetchone()[0] >= episodes, 120,
                 "every tilt episode on its case", proc, worker_log)
        time.sleep(2)  # a duplicate, if any, would land now
        assert proc.poll() is None, "the worker died instead of reconnecting"
    finally:
        stop_service(gateway)
        stop_service(proc)
    missing = db.execute(
        "SELECT d, s FROM unnest(%s::text[]) d, generate_series(1, %s) s EXCEPT "
        "SELECT device_id, seq FROM telemetry WHERE device_id = ANY(%s) ORDER BY 1, 2 LIMIT 20",
        (ids, READINGS, ids)).fetchall()
    assert not missing, f"readings with a PUBACK but no row: {missing}"
    assert rows() == DEVICES * READINGS
    per_component = db.execute("SELECT component_code, count(*), sum(evidence_count) FROM cases "
                               "WHERE component_code = ANY(%s) GROUP BY 1", (components,)).fetchall()
    assert sorted(c for c, _, _ in per_component) == sorted(components)
    assert all(n == 1 for _, n, _ in per_component), per_component
    assert all(evidence == READINGS // EPISODE_EVERY for *_, evidence in per_component), per_component
