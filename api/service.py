"""`civicgrid api`: run the API under uvicorn until SIGINT/SIGTERM (uvicorn drains requests, then the
lifespan stops the background loops and closes the pool)."""

from __future__ import annotations

import logging

import uvicorn

from api.app import create_app
from civicgrid.broker.sync import BrokerFiles
from civicgrid.settings import Settings


def run(settings: Settings, *, broker: BrokerFiles | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.Server(server_config(settings, broker=broker)).run()


def server_config(settings: Settings, *, broker: BrokerFiles | None = None) -> uvicorn.Config:
    """uvicorn's configuration: HTTPS when `api.tls_certfile` and `api.tls_keyfile` are set. `broker`: whose
    account files device registration keeps in step (civicgrid/broker/sync.py; None: the registry only)."""
    api = settings.api
    tls = {"ssl_certfile": str(api.tls_certfile), "ssl_keyfile": str(api.tls_keyfile)} if api.tls_certfile else {}
    # log_config None: uvicorn's own lines (requests, start-up) go through the process's handler, in its format
    # (text or JSON lines, civicgrid/logs.py), instead of the handlers uvicorn would install beside it.
    return uvicorn.Config(create_app(settings, broker=broker), host=api.host, port=api.port, log_level="info",
                          log_config=None, proxy_headers=True, timeout_graceful_shutdown=10, **tls)
