"""Writing records to Kafka and knowing they are there: `produce_all` returns only when Kafka has every record.

The stream worker's guarantees (offsets committed after what a batch produced is durable) rest on it. librdkafka's
`flush()` returns how many records are still queued, and a record Kafka refused for good (too large, retries
spent) is no longer queued: it leaves with an error in its delivery report. Counted on `flush()` alone, such a
record was taken for written and the batch's offsets committed over it. Here each record's report is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Producer

Record = tuple[str, bytes, bytes, int | None]  # topic, value, key, partition (None: the key's)


class NotDelivered(RuntimeError):
    """Kafka does not have every record: some still queued after the timeout, or refused."""


def produce_all(producer: Producer, records: Iterable[Record], what: str, *, timeout_s: float = 30.0) -> int:
    """Produce `records` and wait for every delivery report; raises `NotDelivered` naming `what` (for the log)
    unless Kafka took them all. Returns how many were written."""
    refused: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            refused.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    n = 0
    for topic, value, key, partition in records:
        if partition is None:
            producer.produce(topic, value, key, on_delivery=delivered)
        else:
            producer.produce(topic, value, key, partition=partition, on_delivery=delivered)
        producer.poll(0)
        n += 1
    if n and producer.flush(timeout_s):
        raise NotDelivered(f"Kafka did not take {what} within {timeout_s:g} s")
    if refused:
        raise NotDelivered(f"Kafka refused {len(refused)} of {what}, first {refused[0]}")
    return n
