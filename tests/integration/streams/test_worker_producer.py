"""The stream worker's Kafka producer is idempotent, as the gateways' are: after a broker restart librdkafka resends
what it had in flight, and without a producer id the broker would take a resent batch twice, or behind a newer one
(a device's alarm cleared before it was raised, to whoever reads cg.alarms)."""

from __future__ import annotations

import json
import time

from confluent_kafka import Producer

from civicgrid.bus import clients
from civicgrid.settings import Settings
from streams.app import PRODUCER


def test_the_workers_producer_gets_a_producer_id_from_the_broker(settings: Settings) -> None:
    stats: list[dict] = []
    producer = Producer(clients.librdkafka(settings.kafka, {
        **PRODUCER, "statistics.interval.ms": 100, "stats_cb": lambda text: stats.append(json.loads(text))}))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (stats and stats[-1].get("eos", {}).get("producer_id", -1) >= 0):
        producer.poll(0.1)
    eos = stats[-1].get("eos", {}) if stats else {}
    assert eos.get("idemp_state") == "Assigned" and eos.get("producer_id", -1) >= 0, eos
    producer.flush(5)
