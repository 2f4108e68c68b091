"""The worker's consumer lag (streams/metrics.py) against the real Kafka: highwater minus the consumer's own
position, per partition, as the batch-consumer runner reports it after each fetch; and the per-batch counters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from confluent_kafka import Producer

from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.dead_letters import Rejected
from civicgrid.bus.topics import TopicSpec
from civicgrid.settings import Settings
from streams.batch_consumer import BatchConsumer, Decoded, Records
from streams.metrics import WorkerMetrics

pytestmark = pytest.mark.integration


class _Held:
    """A handler whose first batch waits until released: the rest of the records stay behind the position."""

    def __init__(self) -> None:
        self.first = asyncio.Event()
        self.release = asyncio.Event()
        self.seen = 0

    def decode(self, records: Records) -> Decoded[int]:
        rejected = [Rejected(m.value or b"", "kafka:test", "not a number") for ms in records.values() for m in ms
                    if not (m.value or b"").isdigit()]
        return Decoded(sum(len(ms) for ms in records.values()), rejected)

    async def handle(self, batch: int) -> Sequence[Rejected]:
        self.first.set()
        await self.release.wait()
        self.seen += batch
        return ()

    async def disconnect(self) -> None:
        pass


def _sample(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_lag_is_the_records_behind_the_position_and_goes_to_zero_when_worked_off(settings: Settings) -> None:
    topic, group = f"obs-lag-{uuid.uuid4().hex[:8]}", f"obs-{uuid.uuid4().hex[:8]}-sinks"
    ensure_topics(settings.kafka, [TopicSpec(topic, 1)])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    for i in range(50):
        producer.produce(topic, b"x" if i == 7 else str(i).encode(), b"k")
    assert producer.flush(10) == 0

    metrics = WorkerMetrics()
    handler = _Held()
    consumer = BatchConsumer(settings, handler, name="lag test", group=group, topics=[topic], max_records=10,
                             within_s=0.2, dead_letters=None, metrics=metrics.role("sinks"))

    async def scenario() -> tuple[float | None, float | None, float | None]:
        task = asyncio.ensure_future(consumer.run())
        await asyncio.wait_for(handler.first.wait(), 30)
        held = _sample(metrics, "civicgrid_worker_consumer_lag", group=group, topic=topic, partition="0")
        assigned = _sample(metrics, "civicgrid_worker_assigned_partitions", group=group)
        handler.release.set()
        for _ in range(150):
            await asyncio.sleep(0.1)
            if handler.seen == 50:
                break
        await asyncio.sleep(0.5)  # an empty fetch after the last batch updates the lag
        drained = _sample(metrics, "civicgrid_worker_consumer_lag", group=group, topic=topic, partition="0")
        consumer.stop()
        await asyncio.wait_for(task, 30)
        return held, assigned, drained

    held, assigned, drained = asyncio.run(scenario())
    assert held == 40, "the first batch of 10 handed out, 40 records behind the position"
    assert assigned == 1
    assert drained == 0
    assert _sample(metrics, "civicgrid_worker_records_consumed_total", role="sinks") == 50
    assert _sample(metrics, "civicgrid_worker_batches_total", role="sinks") == 5
    assert _sample(metrics, "civicgrid_worker_commit_seconds_count", role="sinks") == 5
    assert _sample(metrics, "civicgrid_worker_records_skipped_total", role="sinks") == 1
    # Stopped: the partition is no longer this worker's, and its lag series is gone.
    assert _sample(metrics, "civicgrid_worker_consumer_lag", group=group, topic=topic, partition="0") is None
    assert metrics.role("sinks").state == "stopped"
