"""A real `civicgrid worker` process with JSON logs: its /metrics (records, lag, dead letters by reason,
case-building latency, sink rows), its /healthz and /readyz, and the ids on its log lines."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from civicgrid.bus import records, topics
from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import free_ports
from tests.support.kafka import start_group_at_the_ends
from tests.support.services import start_service, stop_service, wait_for

pytestmark = pytest.mark.integration

ROLES = ("cases", "sinks")


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    (port,) = free_ports(1)
    app_id = f"obs-{uuid.uuid4().hex[:6]}"
    streams = stack.settings.streams.model_copy(update={"app_id": app_id, "roles": ROLES, "metrics_port": port})
    settings = stack.settings.model_copy(update={"streams": streams})
    for role, source in (("cases", (topics.ALARMS, topics.REPORTS, topics.EVENTS)),
                         ("sinks", (topics.TELEMETRY, topics.EVENTS, topics.ALARMS))):
        start_group_at_the_ends(settings.kafka.bootstrap_servers, f"{app_id}-{role}", source, settings.kafka.partitions)
    log = tmp_path_factory.mktemp("obs-worker") / "worker.log"
    proc = start_service("worker", settings.model_copy(update={"log_format": "json"}), log)
    try:
        wait_for(lambda: "Worker: Ready" in log.read_text(), 60, "worker ready", proc, log)
        yield settings, log
    finally:
        stop_service(proc)


def _get(settings: Settings, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{settings.streams.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _samples(settings: Settings) -> dict[tuple[str, frozenset], float]:
    _, body = _get(settings, "/metrics")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def _value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _corner(db: psycopg.Connection) -> tuple[str, str]:
    """A unit grid cell and a sewage cover in it (as tests/e2e/conftest.py's corner)."""
    lon, lat, d = 116.9 + random.random() * 0.5, 31.3 + random.random() * 0.3, 0.001
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    cell = f"341523001{random.randrange(1, 1000):03d}{random.randrange(1, 100):02d}"
    component = f"3415230102{random.randrange(10**6):06d}"
    db.execute("INSERT INTO grid_cells (code, geometry, area_m2) VALUES (%s, %s, 10000) ON CONFLICT DO NOTHING",
               (cell, orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()))
    db.execute("INSERT INTO components (code, category_code, lon, lat) VALUES (%s, 'C0102', %s, %s) "
               "ON CONFLICT DO NOTHING", (component, lon + d / 2, lat + d / 2))
    return cell, component


def test_worker_serves_its_metrics_health_and_json_logs(worker: tuple[Settings, Path], db: psycopg.Connection) -> None:
    settings, log = worker
    app_id = settings.streams.app_id
    status, body = _get(settings, "/healthz")
    assert status == 200, body
    # Ready once every role's consumer has started (a moment after "Worker: Ready"): 503 until then.
    ready = wait_for(lambda: (r := _get(settings, "/readyz"))[0] == 200 and orjson.loads(r[1]), 30, "/readyz 200")
    assert ready["ok"] and not ready["problems"], ready
    assert set(ready["roles"]) == set(ROLES) and all(r["state"] == "running" for r in ready["roles"].values())
    assert ready["roles"]["sinks"]["group"] == f"{app_id}-sinks"

    run = uuid.uuid4().hex[:8]
    cell, component = _corner(db)
    now = datetime.now(UTC)
    reading = {"v": 1, "device_id": f"mh-{run}", "kind": "manhole-sensor", "profile": "manhole-sensor",
               "channel": "telemetry", "seq": 1, "ts": now, "received_at": now, "data": {"tilt_deg": 1.0}}
    alarm = {"v": 1, "alarm_id": f"mh-{run}:1", "device_id": f"mh-{run}", "kind": "manhole-sensor",
             "rule": "cover_tilted", "rule_kind": "threshold", "action": "raise", "ts": now, "value": 30,
             "limit": 15, "category": "C0102", "linked_component": True, "component_state": "tilted",
             "urgency": "A", "device_alarm": False, "component_code": component, "grid_cell_code": cell,
             "inspector_user_id": None, "source_seq": 1}
    # A forged alarm in a cell that does not exist: the case cannot be placed, the case builder dead-letters it
    # (an unregistered component no longer does: its case opens without the link, civicgrid/cases/intake.py).
    refused = {**alarm, "alarm_id": f"mh-{run}:2", "linked_component": False, "component_code": None,
               "grid_cell_code": "341523999999901"}
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    producer.produce(topics.TELEMETRY, b"{not json", f"mh-{run}".encode())
    producer.produce(topics.TELEMETRY, records.dumps(reading), f"mh-{run}".encode())
    producer.produce(topics.ALARMS, records.dumps(alarm), f"mh-{run}".encode())
    producer.produce(topics.ALARMS, records.dumps(refused), f"mh-{run}".encode())
    assert producer.flush(10) == 0

    def seen() -> dict | None:
        samples = _samples(settings)
        done = (_value(samples, "civicgrid_worker_dead_letters_total", role="sinks", reason="stream_unreadable") >= 1
                and _value(samples, "civicgrid_worker_dead_letters_total", role="cases", reason="case_refused") >= 1
                and _value(samples, "civicgrid_worker_case_latency_seconds_count", source="sensor",
                           outcome="opened") >= 1)
        return samples if done else None

    samples = wait_for(seen, 60, "the dead letters and the case in the worker's metrics")
    assert _value(samples, "civicgrid_worker_records_consumed_total", role="sinks") >= 4  # 2 readings, 2 alarms
    assert _value(samples, "civicgrid_worker_sink_rows_total", table="telemetry") >= 1
    assert _value(samples, "civicgrid_worker_sink_rows_total", table="alarms") >= 1
    assert _value(samples, "civicgrid_worker_cases_total", outcome="opened") >= 1
    assert _value(samples, "civicgrid_worker_case_latency_seconds_bucket", source="sensor", outcome="opened",
                  le="300.0") >= 1
    lag = {dict(labels)["partition"] for (name, labels) in samples if name == "civicgrid_worker_consumer_lag"
           and dict(labels)["group"] == f"{app_id}-sinks" and dict(labels)["topic"] == topics.TELEMETRY}
    assert lag == {str(p) for p in range(settings.kafka.partitions)}, "a lag series per assigned partition"
    assert not any("mh-" in value for (_, labels) in samples for _, value in labels), "no device id as a label"

    # JSON lines with the ids: the case line, the refusal and the dead letter.
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"timestamp", "level", "logger", "message", "service"} <= set(line) for line in lines)
    assert {line["service"] for line in lines} == {"worker"}
    opened = next(line for line in lines if line.get("alarm_key") == f"mh-{run}:1")
    assert opened["device_id"] == f"mh-{run}" and opened["case_id"] and "opened" in opened["message"]
    assert db.execute("SELECT 1 FROM cases WHERE id::text = %s", (str(opened["case_id"]),)).fetchone()
    # The unknown component: the case row's foreign key refuses it, logged with its ids, dead-lettered.
    assert any(line.get("alarm_key") == f"mh-{run}:2" and line["level"] in ("WARNING", "ERROR") for line in lines)
    assert any(line.get("reason") == "stream_unreadable" and line["logger"] == "streams.batch_consumer"
               for line in lines)
