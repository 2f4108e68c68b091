"""The batch consumer's pipelining (streams/batch_consumer.py, `pipelined=True`, the sinks): the next batch is
fetched and decoded while the one before is in the database (and the one before that commits), and still every
batch is written once, in order, one at a time, with its offsets committed only after its write, in order, against
the real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from civicgrid.bus.admin import ensure_topics
from civicgrid.bus.dead_letters import Rejected
from civicgrid.bus.topics import TopicSpec
from civicgrid.settings import Settings
from streams.batch_consumer import BatchConsumer, Decoded, Records

pytestmark = pytest.mark.integration


class _Recorded:
    """A handler that logs what happens when: the first write waits until released, the second fails once as a
    lost database connection does."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.writing = 0
        self.most_at_once = 0
        self.first_writing = asyncio.Event()
        self.release = asyncio.Event()
        self.written: list[list[int]] = []
        self.failed_once = False

    def decode(self, records: Records) -> Decoded[list[int]]:
        values = [int(m.value or b"0") for ms in records.values() for m in ms]
        self.log.append(f"decode {values[0]}")
        return Decoded(values)

    async def handle(self, batch: list[int]) -> Sequence[Rejected]:
        self.writing += 1
        self.most_at_once = max(self.most_at_once, self.writing)
        try:
            self.log.append(f"write {batch[0]}")
            if not self.written:
                self.first_writing.set()
                await self.release.wait()
            elif not self.failed_once:
                self.failed_once = True
                raise psycopg.OperationalError("the server closed the connection")
            await asyncio.sleep(0.01)
            self.written.append(batch)
            return ()
        finally:
            self.writing -= 1

    async def disconnect(self) -> None:
        pass


def _committed(settings: Settings, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": group,
                         "enable.auto.commit": False})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return tp.offset
    finally:
        consumer.close()


@pytest.mark.parametrize("pipelined", [True, False])
def test_the_next_batch_is_decoded_while_one_is_written_and_the_writes_stay_in_order(
        settings: Settings, pipelined: bool) -> None:
    topic, group = f"pipe-{uuid.uuid4().hex[:8]}", f"pipe-{uuid.uuid4().hex[:8]}-sinks"
    ensure_topics(settings.kafka, [TopicSpec(topic, 1)])
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    for i in range(50):
        producer.produce(topic, str(i).encode(), b"k")
    assert producer.flush(10) == 0
    handler = _Recorded()
    consumer = BatchConsumer(settings, handler, name="pipelining test", group=group, topics=[topic], max_records=10,
                             within_s=0.2, dead_letters=None, pipelined=pipelined)

    async def scenario() -> tuple[list[str], int]:
        task = asyncio.ensure_future(consumer.run())
        await asyncio.wait_for(handler.first_writing.wait(), 30)
        await asyncio.sleep(1.0)  # long enough for the next fetch and decode
        held = list(handler.log)
        committed = await asyncio.to_thread(_committed, settings, group, topic)
        handler.release.set()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if sum(map(len, handler.written)) == 50:
                break
        await asyncio.sleep(0.3)
        consumer.stop()
        await asyncio.wait_for(task, 30)
        return held, committed

    held, committed_while_held = asyncio.run(scenario())
    assert committed_while_held < 0, "nothing committed while the first batch is in the database"
    if pipelined:
        # the first write under way before the second batch is decoded (it once waited until the decode was over)
        assert held == ["decode 0", "write 0", "decode 10"], "the second batch decoded, not written, meanwhile"
    else:
        assert held == ["decode 0", "write 0"]
    assert [v for batch in handler.written for v in batch] == list(range(50)), "each record written once, in order"
    assert handler.most_at_once == 1
    assert handler.log.count("write 10") == 2, "the failed write retried with the same batch"
    assert _committed(settings, group, topic) == 50
