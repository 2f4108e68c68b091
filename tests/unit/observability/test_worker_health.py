"""streams/health.py and streams/metrics.py without Kafka: what /healthz and /readyz answer for each role state,
a stalled event loop, bounded label values, and the endpoint itself."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest

from civicgrid.bus.dead_letters import Rejected
from civicgrid.stack.ephemeral import free_ports
from streams.health import STALL_S, WorkerHealth, serve
from streams.metrics import WorkerMetrics


@pytest.fixture
def health() -> WorkerHealth:
    return WorkerHealth(WorkerMetrics(), ["alarms", "sinks"], ["deadline watch"])


def test_a_worker_starting_is_alive_but_not_ready(health: WorkerHealth) -> None:
    assert health.report(ready=False)["ok"]
    ready = health.report(ready=True)
    assert not ready["ok"] and ready["problems"] == ["alarms: starting", "sinks: starting"]


def test_ready_once_every_role_runs_even_without_partitions(health: WorkerHealth) -> None:
    health.metrics.role("alarms").started("app-alarms")
    health.metrics.role("sinks").started("app-sinks")
    ready = health.report(ready=True)
    assert ready["ok"] and ready["roles"]["sinks"] == {"state": "running", "group": "app-sinks", "assigned": [],
                                                       "since": ready["roles"]["sinks"]["since"]}
    assert health.metrics.registry.get_sample_value("civicgrid_worker_role_up", {"role": "sinks"}) == 1


def test_a_role_restarting_is_not_ready_and_one_that_ended_is_not_alive(health: WorkerHealth) -> None:
    health.metrics.role("sinks").started("app-sinks")
    health.metrics.role("alarms").stopped("restarting", "KafkaError: broker down")
    assert health.report(ready=False)["ok"]
    assert health.report(ready=True)["problems"] == ["alarms: restarting (KafkaError: broker down)"]
    health.metrics.role("alarms").stopped("failed", "RuntimeError: bug")
    alive = health.report(ready=False)
    assert not alive["ok"] and alive["problems"] == ["alarms: ended (RuntimeError: bug)"]


def test_a_stalled_event_loop_is_not_alive(health: WorkerHealth) -> None:
    health.heartbeat -= STALL_S + 5
    alive = health.report(ready=False)
    assert not alive["ok"] and alive["problems"][0].startswith("event loop stalled for 3")
    health.beat()
    assert health.report(ready=False)["ok"]


def test_label_values_come_from_fixed_sets() -> None:
    metrics = WorkerMetrics()
    metrics.known_rules.add("cover_tilted")
    metrics.count_alarms([("cover_tilted", "raise"), ("cover_tilted", "raise"), ("mh-000123", "raise"),
                          ("cover_tilted", "whatever")])
    sample = metrics.registry.get_sample_value
    assert sample("civicgrid_worker_alarms_total", {"rule": "cover_tilted", "action": "raise"}) == 2
    assert sample("civicgrid_worker_alarms_total", {"rule": "other", "action": "raise"}) == 1
    assert sample("civicgrid_worker_alarms_total", {"rule": "cover_tilted", "action": "other"}) == 1
    assert sample("civicgrid_worker_alarms_total", {"rule": "patrol_offline", "action": "raise"}) is None
    metrics.role("cases").dead_lettered([Rejected(b"", "kafka:cg.alarms", "x", "mh-1", reason="case_refused"),
                                         Rejected(b"", "kafka:cg.alarms", "x", "mh-1", reason="mh-1 said so")])
    assert sample("civicgrid_worker_dead_letters_total", {"role": "cases", "reason": "case_refused"}) == 1
    assert sample("civicgrid_worker_dead_letters_total", {"role": "cases", "reason": "other"}) == 1


@pytest.fixture
def endpoint(health: WorkerHealth) -> Iterator[str]:
    (port,) = free_ports(1)
    server = serve("127.0.0.1", port, health.metrics, health)
    assert server is not None
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_endpoint_serves_metrics_liveness_and_readiness(endpoint: str, health: WorkerHealth) -> None:
    health.metrics.role("alarms").started("app-alarms")
    code, body = _get(f"{endpoint}/metrics")
    assert code == 200 and b"civicgrid_worker_role_up{role=\"alarms\"} 1.0" in body
    assert _get(f"{endpoint}/healthz")[0] == 200
    code, body = _get(f"{endpoint}/readyz")
    assert code == 503 and orjson.loads(body)["problems"] == ["sinks: starting"]
    assert _get(f"{endpoint}/nothing")[0] == 404


def test_a_taken_port_leaves_the_worker_without_the_endpoint(health: WorkerHealth) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert serve("127.0.0.1", taken.getsockname()[1], health.metrics, health) is None
