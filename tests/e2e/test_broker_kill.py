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
import time
from pathlib import Path

import psycopg
import pytest

from civicgrid.settings import Settings
from civicgrid.stack import LocalStack
from civicgrid.stack.services import spawn_gateway
from tests.conftest import gateway_settings
from tests.e2e.conftest import worker_settings
from tests.e2e.cover_burst import EPISODE_EVERY, CoverBurst
from tests.support.services import start_service, stop_service, wait_for

pytestmark = pytest.mark.e2e

DEVICES = 6
READINGS = 600  # at ~18 a second per device: a burst of about 35 s, long enough for two broker restarts
# 15 tilt episodes per device (one every EPISODE_EVERY readings)


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
    burst = CoverBurst(settings, db, provision, devices=DEVICES, readings=READINGS, component_class="0103")
    gw_settings = gateway_settings(settings, "brokerkill")
    worker = worker_settings(settings)
    gw_log, worker_log = tmp_path / "gateway.log", tmp_path / "worker.log"
    gateway = spawn_gateway(gw_settings, gw_log)
    proc = start_service("worker", worker, worker_log)
    try:
        wait_for(lambda: stack.kafka.health() == "ok", 30, "Kafka answering")
        burst.start()
        burst.until_published(0.25)
        wait_for(burst.rows, 60, "the first rows", proc, worker_log)
        kill_kafka(stack)  # 1: the gateway and the worker stay up
        at_kill = burst.rows()
        time.sleep(2)
        stack.kafka.start()
        wait_for(lambda: burst.rows() > at_kill, 60, "rows again after the restart (reconnected)", proc, worker_log)
        burst.until_published(0.6)
        kill_kafka(stack)  # 2: records sit unacknowledged in the gateway ...
        time.sleep(2)
        gateway.send_signal(signal.SIGKILL)  # ... and the gateway dies with them
        gateway.wait(10)
        stack.kafka.start()
        gateway = spawn_gateway(gw_settings, gw_log)
        burst.join(120)
        assert not burst.failures, burst.failures
        assert sum(burst.published) == burst.total
        wait_for(lambda: burst.rows() >= burst.total, 120, "every telemetry row", proc, worker_log)
        episodes = DEVICES * (READINGS // EPISODE_EVERY)
        wait_for(lambda: burst.evidence() >= episodes, 120, "every tilt episode on its case", proc, worker_log)
        time.sleep(2)  # a duplicate, if any, would land now
        assert proc.poll() is None, "the worker died instead of reconnecting"
    finally:
        stop_service(gateway)
        stop_service(proc)
    per_component = burst.assert_every_reading_once_and_one_case_per_cover()
    assert all(evidence == READINGS // EPISODE_EVERY for *_, evidence in per_component), per_component
