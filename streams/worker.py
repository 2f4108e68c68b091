"""``civicgrid worker``: one stream worker process; several share the partitions of one consumer group."""

from __future__ import annotations

import logging

from faust.worker import Worker

from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.topics import topic_specs
from civicgrid.settings import Settings
from streams.app import build_app


def run(settings: Settings, loglevel: str = "info") -> None:
    # Declare every platform topic with its partition count before Faust subscribes:
    # an implicitly created topic would get the broker's default count (civicgrid/bus/topics.py).
    ensure_topics(settings.kafka, topic_specs(settings.kafka))
    settings.streams.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
