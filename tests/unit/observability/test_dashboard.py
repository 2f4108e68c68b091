"""deploy/grafana/civicgrid.json names only metrics and labels the services really export: the registries are
built here, so renaming a metric (or a label) without the dashboard fails this test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api.metrics import ApiMetrics
from gateway.cameras.metrics import PollerMetrics
from gateway.metrics import GatewayMetrics
from streams.metrics import WorkerMetrics

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "civicgrid.json"
METRIC = re.compile(r"\b(civicgrid_[a-z0-9_]+)(\{[^}]*\})?")
BY = re.compile(r"\bby\s*\(([^)]*)\)")
GRAFANA_LABELS = {"le", "instance", "job"}  # histograms' buckets, and what Prometheus adds to every series

# What the dashboard must show (issue 22): one metric for each required panel.
REQUIRED = {
    "civicgrid_gateway_messages_in_total", "civicgrid_gateway_records_out_total",
    "civicgrid_gateway_dead_letters_total", "civicgrid_worker_dead_letters_total", "civicgrid_gateway_in_flight",
    "civicgrid_gateway_kafka_produce_seconds_bucket", "civicgrid_worker_consumer_lag",
    "civicgrid_worker_case_latency_seconds_bucket", "civicgrid_worker_alarms_total",
    "civicgrid_worker_sink_rows_total", "civicgrid_api_requests_total", "civicgrid_api_request_seconds_bucket",
    "civicgrid_gateway_commands_total", "civicgrid_api_command_steps_total",
    "civicgrid_camera_cameras", "civicgrid_camera_failures_total",
}


def _registries() -> list[CollectorRegistry]:
    return [GatewayMetrics().registry, WorkerMetrics().registry, ApiMetrics().registry, PollerMetrics().registry]


def _exported() -> dict[str, set[str]]:
    """Every series name the services export (counters' ``_total``, histograms' ``_bucket``/``_sum``/``_count``)
    → its label names."""
    names: dict[str, set[str]] = {}
    for registry in _registries():
        for name, collector in registry._names_to_collectors.items():
            names[name] = set(getattr(collector, "_labelnames", ()))
    return names


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _exprs() -> list[str]:
    return [target["expr"] for panel in _panels(_dashboard()["panels"]) for target in panel.get("targets", [])]


def test_the_registries_are_what_the_test_reads() -> None:
    exported = _exported()
    assert "civicgrid_gateway_messages_in_total" in exported and exported["civicgrid_api_requests_total"] == {
        "method", "route", "status"}


@pytest.mark.parametrize("expr", _exprs())
def test_every_expression_names_exported_metrics_and_their_labels(expr: str) -> None:
    exported = _exported()
    used = METRIC.findall(expr)
    assert used, f"no civicgrid metric in {expr!r}"
    labels_of_expr: set[str] = set()
    for name, selector in used:
        assert name in exported, f"{name} (in {expr!r}) is exported by no service"
        labels_of_expr |= exported[name]
        for matcher in re.findall(r"([a-z_]+)\s*[=!~]", selector):
            assert matcher in exported[name] | GRAFANA_LABELS, f"{name} has no label {matcher}"
    for group in BY.findall(expr):
        for label in (part.strip() for part in group.split(",") if part.strip()):
            assert label in labels_of_expr | GRAFANA_LABELS, f"by ({label}) in {expr!r}: no such label"


def test_the_required_panels_are_there() -> None:
    used = {name for expr in _exprs() for name, _ in METRIC.findall(expr)}
    assert REQUIRED - used == set()


def test_it_is_a_grafana_dashboard_with_a_templated_prometheus_datasource() -> None:
    dashboard = _dashboard()
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("DS_PROMETHEUS", "prometheus")
    ids = [panel["id"] for panel in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" and t["refId"] for t in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
