"""``civicgrid worker``: one stream worker process; several share the partitions of each role's consumer group."""

from __future__ import annotations

import asyncio
import logging
import signal

from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.topics import topic_specs
from civicgrid.logs import setup_logging
from civicgrid.settings import Settings
from streams.app import StreamWorker


def run(settings: Settings, loglevel: str = "info") -> None:
    """Run until SIGTERM or SIGINT, then let each role finish the batch in hand (offsets committed after it)."""
    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(loglevel.lower(), loglevel.upper())
    setup_logging("worker", settings.log_format, level)  # its own --loglevel over the CLI's (civicgrid/logs.py)
    # Declare every platform topic with its partition count before anything subscribes: an implicitly created
    # topic would get the broker's default count (civicgrid/bus/topics.py).
    ensure_topics(settings.kafka, topic_specs(settings.kafka))
    asyncio.run(_main(settings))


async def _main(settings: Settings) -> None:
    worker = StreamWorker(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    await worker.run()
    logging.getLogger(__name__).info("Worker: stopped")
