"""A real API server (uvicorn in a thread) on a free port, for end-to-end tests that need HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from api.app import create_app
from civicgrid.settings import Settings
from tests.support.stack import free_ports


@contextmanager
def serve_api(settings: Settings, media_dir: Path, *, background: bool = True) -> Iterator[tuple[str, Settings]]:
    """Yield (base URL, the settings it runs with); the lifespan (pool, outbox relay, ack reader) runs."""
    (port,) = free_ports(1)
    api = settings.api.model_copy(update={"port": port, "media_dir": media_dir})
    settings = settings.model_copy(update={"api": api})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, background=background), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="api-server")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(15)
