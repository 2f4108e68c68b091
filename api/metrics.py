"""Prometheus metrics of the HTTP API: requests by route template and status, latency histogram; and the
downlink commands' steps as the API records them (issued here, settled by the ack reader, api/background.py).

One registry per app (tests build several apps in one process; the global registry
would refuse the second). A plain ASGI middleware, so streaming responses (the SSE
feed) pass through untouched; the feed is counted when it ends.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Label values come from fixed sets, never from what a client sends: each new value is a new time series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A command's steps in device_commands (civicgrid/bus/command_records.py ACK_STATES, and "queued" when issued).
COMMAND_STEPS = frozenset({"queued", "sent", "acked", "failed", "timed_out"})


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("civicgrid_api_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("civicgrid_api_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.in_flight = Gauge("civicgrid_api_in_flight", "requests being served", registry=self.registry)
        self.command_steps = Counter(
            "civicgrid_api_command_steps", "Downlink command steps recorded in device_commands: queued (issued by the "
            "API), sent, acked, failed, timed_out (read from cg.command-acks)", ["status"], registry=self.registry)
        self.dead_letters = Counter("civicgrid_api_dead_letters", "Records the API sent to cg.deadletter, by reason",
                                    ["reason"], registry=self.registry)

    def command_step(self, status: str, n: int = 1) -> None:
        self.command_steps.labels(status if status in COMMAND_STEPS else "other").inc(n)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            method = scope["method"] if scope["method"] in METHODS else "other"  # a client names any method
            route = _route_template(scope)
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), never the raw path; the router
    records the route in the shared scope while it dispatches."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
