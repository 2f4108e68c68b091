"""``civicgrid status``: the local stack, the services of a running ``civicgrid run`` and the health each of them
reports, and each Kafka consumer group's lag (docs/observability.md).

Every platform process that serves a health endpoint is asked for it: the gateways' ``/healthz`` (subscribed to
the broker), the workers' ``/readyz`` (event loop turning, every role's consumer running; streams/health.py),
the API's ``/healthz`` (its database answers), the camera pollers' ``/healthz`` (their leases known). A worker's
answer names its pid, so an endpoint answered by another process (two workers given one port) is
a failure, not a false "ok". The command exits 1 when anything is not ok, for scripts and CI.

Ports follow the rule of ``civicgrid run``: gateway i on ``gateway.metrics_port + i - 1``, worker i on
``streams.metrics_port + i - 1``, camera poller i on ``cameras.metrics_port + i - 1`` (docs/observability.md).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from civicgrid.settings import Settings
from civicgrid.stack.local import ServiceStatus
from civicgrid.stack.supervisor import ServiceState

PROBE_TIMEOUT_S = 3.0
STATE_COLOURS = {"healthy": "green", "unhealthy": "red", "stopped": "yellow", "stale": "yellow"}


@dataclass(frozen=True, slots=True)
class ProcessHealth:
    """One supervised process: whether it is ok, why not, and where that was asked."""

    name: str
    ok: bool
    reason: str
    url: str | None = None


def stack_table(statuses: Iterable[ServiceStatus]) -> Table:
    table = Table(title="civicgrid stack")
    for column in ("service", "address", "pid", "state", "detail"):
        table.add_column(column)
    for s in statuses:
        table.add_row(s.name, s.address, str(s.pid or "-"), f"[{STATE_COLOURS[s.state]}]{s.state}[/]", s.detail)
    return table


def services_table(states: Sequence[ServiceState], health: Sequence[ProcessHealth]) -> Table:
    by_name = {h.name: h for h in health}
    table = Table(title="civicgrid services")
    for column in ("service", "pid", "state", "restarts", "last exit", "health"):
        table.add_column(column)
    for s in states:
        state = s.state
        if s.restart_at is not None:
            state += f" at {time.strftime('%H:%M:%S', time.localtime(s.restart_at))}"
        h = by_name.get(s.name)
        shown = "-" if h is None else f"[green]ok[/] {h.reason}" if h.ok else f"[red]not ok[/] {h.reason}"
        table.add_row(s.name, str(s.pid or "-"), state, str(s.restarts),
                      "-" if s.last_exit is None else str(s.last_exit), shown)
    return table


def health_url(settings: Settings, service: str) -> str | None:
    """Where the supervised `service` (``gateway``, ``gateway-2``, ``worker-3``, ``api`` …) answers for its health;
    None for one without an endpoint."""
    base, _, number = service.partition("-")
    index = int(number) - 1 if number.isdigit() else 0
    if base == "gateway":
        g = settings.gateway
        return f"http://{_loopback(g.metrics_host)}:{g.metrics_port + index}/healthz"
    if base == "worker":
        s = settings.streams
        return f"http://{_loopback(s.metrics_host)}:{s.metrics_port + index}/readyz"
    if base == "cameras":
        c = settings.cameras
        return f"http://{_loopback(c.metrics_host)}:{c.metrics_port + index}/healthz"
    if base == "api":
        a = settings.api
        scheme = "https" if a.tls_certfile else "http"
        return f"{scheme}://{_loopback(a.host)}:{a.port}/healthz"
    return None


def process_health(settings: Settings, states: Sequence[ServiceState]) -> list[ProcessHealth]:
    """Each supervised service's health, its endpoints asked in parallel."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda s: _one(settings, s), states))


def _one(settings: Settings, state: ServiceState) -> ProcessHealth:
    if state.state == "done":
        return ProcessHealth(state.name, True, "finished")
    if state.state != "running":
        exit_code = "" if state.last_exit is None else f" (last exit {state.last_exit})"
        return ProcessHealth(state.name, False, f"{state.state}{exit_code}")
    url = health_url(settings, state.name)
    if url is None:
        return ProcessHealth(state.name, True, "running (no health endpoint)")
    ok, reason, body = probe(url, cafile=str(settings.api.tls_certfile) if state.name == "api"
                             and settings.api.tls_certfile else None)
    answered_by = body.get("pid") if body else None
    if isinstance(answered_by, int) and state.pid is not None and answered_by != state.pid:
        return ProcessHealth(state.name, False, f"{url} is answered by pid {answered_by}, not this service's "
                             f"{state.pid} (two processes on one port?)", url)
    return ProcessHealth(state.name, ok, reason, url)


def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S, cafile: str | None = None
          ) -> tuple[bool, str, dict[str, Any] | None]:
    """GET a health endpoint: (ok, the reason shown, its JSON body if any). 200 is ok; a 503 gives the reasons the
    body names (``problems``, or the API's ``database``); no answer gives the error."""
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:  # loopback, our own
            code, raw = response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, exc.read(65536)
    except (OSError, ValueError) as exc:
        return False, f"no answer from {url}: {getattr(exc, 'reason', exc)}", None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else None
    if code == 200:
        return True, _summary(body), body
    return False, f"HTTP {code}: {_problems(body) or raw[:200].decode(errors='replace')}", body


def _summary(body: dict[str, Any] | None) -> str:
    """What an ok answer says in a few words: a worker's roles and partitions, a gateway's MQTT state."""
    if not body:
        return ""
    if "roles" in body:
        roles = body["roles"]
        assigned = sum(len(r.get("assigned", ())) for r in roles.values())
        return f"{len(roles)} roles running, {assigned} partitions"
    if "mqtt" in body:
        return f"mqtt {body['mqtt']}, {body.get('in_flight', 0)} in flight"
    if "cameras" in body:
        return f"{body['cameras']} cameras, {body.get('reachable', 0)} reachable, {body.get('leases')} leases"
    return ", ".join(f"{k} {v}" for k, v in body.items() if isinstance(v, str | int))


def _problems(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    if body.get("problems"):
        return "; ".join(str(p) for p in body["problems"])
    return ", ".join(f"{k} {v}" for k, v in body.items() if k != "ok" and isinstance(v, str | int | bool))


def _loopback(host: str) -> str:
    """The address to ask a service listening on `host` (all interfaces: ask over loopback)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)


def print_group_lags(settings: Settings, console: Console) -> None:
    """Each consumer group's members and lag (civicgrid/bus/lag.py): where records wait, if anywhere."""
    from confluent_kafka import KafkaException

    from civicgrid.bus.lag import group_lags

    try:
        lags = group_lags(settings.kafka, timeout_s=5.0)
    except KafkaException as exc:
        console.print(f"consumer groups: Kafka did not answer ({exc})")
        return
    table = Table(title="Kafka consumer groups")
    for column in ("group", "state", "members", "partitions", "lag (records)"):
        table.add_column(column)
    for g in lags:
        table.add_row(g.group, g.state, str(g.members), str(g.partitions), f"{g.lag:,}")
    Console().print(table)


def show_status(settings: Settings, console: Console) -> int:
    """Print the whole status; the exit code: 1 when a stack service, a supervised process or its health is not
    ok, else 0."""
    from civicgrid.stack import LocalStack
    from civicgrid.stack.supervisor import read_states

    out = Console()
    statuses = LocalStack(settings).status()
    out.print(stack_table(statuses))
    states = read_states(settings.stack.var_dir / "run")
    health: list[ProcessHealth] = []
    if states is None:
        console.print("services: no `civicgrid run` is running")
    else:
        health = process_health(settings, states)
        out.print(services_table(states, health))
    if any(s.name == "kafka" and s.healthy for s in statuses):
        print_group_lags(settings, console)
    unhealthy = [h for h in health if not h.ok]
    for h in unhealthy:
        console.print(f"[red]{h.name} is not ok:[/] {h.reason}", highlight=False)
    return 0 if all(s.healthy for s in statuses) and not unhealthy else 1
