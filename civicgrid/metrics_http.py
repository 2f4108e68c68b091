"""Every service's small HTTP endpoint: Prometheus metrics on ``/metrics`` and its health probes (``/healthz``, the
worker's ``/readyz``), each probe's JSON answered 200 when it says ``ok`` and 503 when not (docs/observability.md).

The gateway, the camera poller and the stream worker serve one each; the API serves its own through FastAPI.
The standard library's threaded server is enough for a scrape every few seconds, and it keeps the endpoint
alive when a service's main loop is busy or stuck, which is what a liveness probe must see.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Probe = Callable[[], Mapping[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry
    probes: Mapping[str, Probe]

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        probe = self.probes.get(path)
        if path == "/metrics":
            body, ctype, code = generate_latest(self.registry), CONTENT_TYPE_LATEST, 200
        elif probe is not None:
            report = probe()
            body, ctype, code = orjson.dumps(report), "application/json", 200 if report.get("ok") else 503
        else:
            body, ctype, code = b"not found\n", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a scrape or probe every few seconds would flood the log


def serve_metrics(host: str, port: int, registry: CollectorRegistry, probes: Mapping[str, Probe],
                  name: str = "metrics-http") -> ThreadingHTTPServer:
    """Serve in a daemon thread until `shutdown()`; raises OSError when the port is taken (the caller decides
    whether its service can work on without the endpoint)."""
    handler = type("Handler", (_Handler,), {"registry": registry, "probes": dict(probes)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
