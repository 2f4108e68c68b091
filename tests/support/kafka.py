"""Read what landed on Kafka topics after a point in time, without consumer groups.

Assigning partitions directly at their current end offsets avoids the
consumer-group join delay of Tansu and sees exactly what was produced after
`KafkaTail` was created.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from civicgrid.bus.admin import admin_client


class KafkaTail:
    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-tail",
                                  "enable.auto.commit": False, "log_level": 3})
        metadata = admin_client(bootstrap).list_topics(timeout=5)
        assignment = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
                assignment.append(TopicPartition(topic, partition, high))
        self.consumer.assign(assignment)
        self.records: list[tuple[str, bytes | None, dict[str, Any]]] = []

    def collect(self, until: Callable[[list[tuple[str, bytes | None, dict[str, Any]]]], bool],
                timeout_s: float = 20.0) -> list[tuple[str, bytes | None, dict[str, Any]]]:
        """Poll until `until(records)` is true; return every (topic, key, value) seen so far."""
        deadline = time.monotonic() + timeout_s
        while not until(self.records):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met after {timeout_s} s; {len(self.records)} records seen")
            for msg in self.consumer.consume(1000, 0.2):
                if msg.error() is None:
                    self.records.append((msg.topic(), msg.key(), orjson.loads(msg.value())))
        return self.records

    def take(self, wait_s: float = 0.5) -> None:
        """Take in what arrived (waiting up to `wait_s` for the first record)."""
        for msg in self.consumer.consume(1000, wait_s):
            if msg.error() is None:
                self.records.append((msg.topic(), msg.key(), orjson.loads(msg.value())))

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [value for t, _, value in self.records if t == topic]

    def close(self) -> None:
        self.consumer.close()


def start_group_at_the_ends(bootstrap: str, group: str, topics: tuple[str, ...] | list[str], partitions: int) -> None:
    """Commit `group` at the topics' current ends, so a worker joining it reads only what a test sends next (not
    the session's earlier records)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3})
    ends = []
    for topic in topics:
        for p in range(partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            ends.append(TopicPartition(topic, p, high))
    consumer.commit(offsets=ends, asynchronous=False)
    consumer.close()
