"""`civicgrid api`: run the API under uvicorn until SIGINT/SIGTERM (uvicorn drains requests, then the
lifespan stops the background loops and closes the pool)."""

from __future__ import annotations

import logging

import uvicorn

from api.app import create_app
from civicgrid.settings import Settings


def run(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(create_app(settings), host=settings.api.host, port=settings.api.port,
                            log_level="info", proxy_headers=True, timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()
