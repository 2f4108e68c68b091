"""civicgrid/status.py: each supervised process's health as `civicgrid status` shows it — asked at the port the
run rule gives it, ok or not with the reason, and the exit code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from civicgrid.settings import ApiSettings, GatewaySettings, Settings, StreamsSettings
from civicgrid.stack.ephemeral import free_ports
from civicgrid.stack.supervisor import ServiceState
from civicgrid.status import ProcessHealth, health_url, probe, process_health, services_table


@pytest.fixture
def settings() -> Settings:
    return Settings(gateway=GatewaySettings(metrics_port=19081, metrics_host="0.0.0.0"),
                    streams=StreamsSettings(metrics_port=19100), api=ApiSettings(host="127.0.0.1", port=19000))


@pytest.mark.parametrize(("service", "url"), [
    ("gateway", "http://127.0.0.1:19081/healthz"),
    ("gateway-3", "http://127.0.0.1:19083/healthz"),
    ("worker", "http://127.0.0.1:19100/readyz"),
    ("worker-2", "http://127.0.0.1:19101/readyz"),
    ("api", "http://127.0.0.1:19000/healthz"),
    ("cameras", "http://127.0.0.1:18150/healthz"),
    ("simulator", None),
])
def test_each_service_is_asked_where_the_run_rule_puts_it(settings: Settings, service: str, url: str | None) -> None:
    assert health_url(settings, service) == url


class _Answers:
    """A health endpoint answering `code` and `body` (set by the test)."""

    def __init__(self) -> None:
        (self.port,) = free_ports(1)
        self.code, self.body = 200, b"{}"
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(answers.code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answers.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def answers() -> Iterator[_Answers]:
    a = _Answers()
    yield a
    a.server.shutdown()
    a.server.server_close()


def test_a_200_is_ok_with_a_summary_and_a_503_gives_its_reasons(answers: _Answers) -> None:
    url = f"http://127.0.0.1:{answers.port}/healthz"
    answers.body = orjson.dumps({"ok": True, "mqtt": "connected", "in_flight": 3})
    assert probe(url)[:2] == (True, "mqtt connected, 3 in flight")
    answers.code, answers.body = 503, orjson.dumps({"ok": False, "problems": ["sinks: restarting (db down)"]})
    assert probe(url)[:2] == (False, "HTTP 503: sinks: restarting (db down)")
    answers.body = orjson.dumps({"status": "degraded", "database": "error: OperationalError"})
    assert probe(url)[:2] == (False, "HTTP 503: status degraded, database error: OperationalError")


def test_no_answer_is_not_ok() -> None:
    (port,) = free_ports(1)
    ok, reason, body = probe(f"http://127.0.0.1:{port}/healthz", timeout_s=1)
    assert not ok and reason.startswith(f"no answer from http://127.0.0.1:{port}/healthz") and body is None


def test_supervised_processes_their_states_and_a_port_answered_by_another_pid(answers: _Answers) -> None:
    settings = Settings(streams=StreamsSettings(metrics_port=answers.port))
    answers.body = orjson.dumps({"ok": True, "pid": 4242, "roles": {"sinks": {"assigned": ["cg.telemetry:0"]}}})
    states = [ServiceState("worker", pid=4242, state="running"),
              ServiceState("worker-2", pid=4343, state="restarting", last_exit=1),
              ServiceState("simulator", state="done", last_exit=0),
              ServiceState("simulator", pid=99, state="running")]
    health = process_health(settings, states)
    assert [(h.name, h.ok, h.reason) for h in health] == [
        ("worker", True, "1 roles running, 1 partitions"),
        ("worker-2", False, "restarting (last exit 1)"),
        ("simulator", True, "finished"),
        ("simulator", True, "running (no health endpoint)"),
    ]
    # Two workers on one port (before `civicgrid run` gives each its own): the answer is not this one's.
    (other,) = process_health(settings, [ServiceState("worker", pid=5555, state="running")])
    assert not other.ok and "answered by pid 4242, not this service's 5555" in other.reason


def test_the_services_table_shows_the_health_column() -> None:
    table = services_table([ServiceState("api", pid=7, state="running")],
                           [ProcessHealth("api", False, "HTTP 503: database error")])
    assert [c.header for c in table.columns][-1] == "health"
    assert "not ok" in next(iter(table.columns[-1].cells))
