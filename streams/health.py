"""The worker's HTTP endpoint: ``/metrics`` (Prometheus), ``/healthz`` (liveness) and ``/readyz`` (readiness).

The worker's only HTTP: no API, nothing a device can reach, on ``streams.metrics_host:metrics_port`` (loopback by
default). A plain `ThreadingHTTPServer` in a daemon thread, like the gateway's: a scrape never waits for the
event loop, which is exactly what lets ``/healthz`` notice a stalled one.

- ``/healthz`` is 200 while the event loop turns (its heartbeat is younger than `STALL_S`) and no role has
  ended; 503 otherwise, with the reasons. A Kubernetes liveness probe restarts the pod on it.
- ``/readyz`` is 200 when, besides, every consumer role runs (its consumer started and is in its group; not
  starting, nor restarting after a failure). A worker with no partitions in a group (more workers than
  partitions) is ready: it waits for a rebalance.

Both answer JSON: ``{"ok", "pid", "roles": {role: {"state", "group", "assigned", "detail", "since"}}, ...}``;
``civicgrid status`` shows the reasons (civicgrid/status.py) and checks the pid against the process it started.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from civicgrid.metrics_http import serve_metrics
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

# An event loop that has not turned for this long is stuck (the longest await-free stretch measured is the alarm
# detector's 250-record part, tens of milliseconds; a sink batch's write runs in a thread).
STALL_S = 30.0


class WorkerHealth:
    """The worker's liveness and readiness, from its roles' states (streams/metrics.py `RoleMetrics`), its
    timers' last rounds, and a heartbeat the event loop beats (`beat`)."""

    def __init__(self, metrics: WorkerMetrics, consumer_roles: Sequence[str], timers: Sequence[str] = ()) -> None:
        self.metrics = metrics
        self.consumer_roles = tuple(consumer_roles)
        self.timers: dict[str, dict[str, Any]] = {name: {"last_ok": None, "last_error": None} for name in timers}
        self.heartbeat = time.monotonic()
        for role in self.consumer_roles:
            metrics.role(role)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def timer_round(self, name: str, error: str | None) -> None:
        entry = self.timers.setdefault(name, {"last_ok": None, "last_error": None})
        if error is None:
            entry["last_ok"], entry["last_error"] = round(time.time(), 3), None
        else:
            entry["last_error"] = error[:300]

    def report(self, *, ready: bool) -> dict[str, Any]:
        """The body of /healthz (`ready` False) or /readyz, with ``ok`` and the reasons it is not."""
        problems: list[str] = []
        stalled_s = time.monotonic() - self.heartbeat
        if stalled_s > STALL_S:
            problems.append(f"event loop stalled for {stalled_s:.0f} s")
        roles: dict[str, Any] = {}
        for name in self.consumer_roles:
            role = self.metrics.role(name)
            roles[name] = {"state": role.state, "group": role.group, "since": round(role.since, 3),
                           "assigned": [f"{topic}:{partition}" for topic, partition in role.assignment],
                           **({"detail": role.detail} if role.detail else {})}
            if role.state == "failed":
                problems.append(f"{name}: ended ({role.detail})")
            elif ready and role.state != "running":
                problems.append(f"{name}: {role.state}" + (f" ({role.detail})" if role.detail else ""))
        return {"ok": not problems, "problems": problems, "pid": os.getpid(), "roles": roles, "timers": self.timers}


def serve(host: str, port: int, metrics: WorkerMetrics, health: WorkerHealth) -> ThreadingHTTPServer | None:
    """Serve in a daemon thread; None (logged) when the port is taken: the worker works on without the endpoint
    (two workers on one port's default, `civicgrid run --workers M` before it gives each its own port)."""
    try:
        server = serve_metrics(host, port, metrics.registry, {"/healthz": lambda: health.report(ready=False),
                                                              "/readyz": lambda: health.report(ready=True)},
                               "worker-metrics-http")
    except OSError as exc:
        log.error("worker metrics and health endpoint not served: %s:%d: %s (set streams.metrics_port)", host, port,
                  exc)
        return None
    log.info("worker metrics on http://%s:%d/metrics, health on /healthz and /readyz", host, port)
    return server
