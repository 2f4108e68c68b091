"""``civicgrid worker``: one stream worker process; several share the partitions of one consumer group."""

from __future__ import annotations

import functools
import logging

import aiokafka
from faust.worker import Worker

from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.changelog import seal_changelogs
from civicgrid.bus.topics import topic_specs
from civicgrid.settings import Settings
from streams.app import build_app


def cap_fetch_wait(max_wait_ms: int) -> None:
    """Cap the fetch wait of every aiokafka consumer in this process, Faust's included.

    faust/transport/drivers/aiokafka.py passes ``fetch_max_wait_ms=1500`` with no setting to
    change it; on Tansu an empty fetch then waits the full 1.5 s although records arrive
    meanwhile, which measured as a 2.5 s p99 from MQTT publish to case row over two agent hops.
    """
    original = aiokafka.AIOKafkaConsumer.__init__
    if getattr(original, "civicgrid_capped", False):
        return

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        kwargs["fetch_max_wait_ms"] = min(kwargs.get("fetch_max_wait_ms", 500), max_wait_ms)
        original(self, *args, **kwargs)

    init.civicgrid_capped = True
    aiokafka.AIOKafkaConsumer.__init__ = init


def run(settings: Settings, loglevel: str = "info") -> None:
    # Declare every platform topic with its partition count before Faust subscribes:
    # an implicitly created topic would get the broker's default count (DESIGN.md).
    ensure_topics(settings.kafka.bootstrap_servers, topic_specs(settings.kafka.partitions,
                                                                settings.kafka.replication_factor))
    # Before Faust recovers its tables: make the local broker's high watermarks cover every state write
    # the previous run made (civicgrid/bus/changelog.py).
    seal_changelogs(settings.kafka.bootstrap_servers, settings.streams.app_id)
    settings.streams.data_dir.mkdir(parents=True, exist_ok=True)
    cap_fetch_wait(settings.streams.fetch_max_wait_ms)
    app = build_app(settings)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
