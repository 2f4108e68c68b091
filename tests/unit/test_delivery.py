"""`produce_all` (civicgrid/bus/delivery.py): a record Kafka refused for good fails the write, as one still queued
does, so a stream batch's offsets are not committed over an alarm, state, mark or dead letter never written."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from civicgrid.bus.delivery import NotDelivered, produce_all


class Producer:
    """Delivery reports refuse the records of topic `refuse` (as librdkafka reports a record too large or out of
    retries: flush() no longer counts it); `queued` records are left in the queue after flush()."""

    def __init__(self, refuse: str = "", queued: int = 0) -> None:
        self.refuse, self.queued, self.reports = refuse, queued, []

    def produce(self, topic: str, value: bytes, key: bytes, partition: int = -1,
                on_delivery: Callable[[Any, Any], None] | None = None) -> None:
        msg = SimpleNamespace(topic=lambda: topic, partition=lambda: max(partition, 0))
        self.reports.append((on_delivery, "MSG_SIZE_TOO_LARGE" if topic == self.refuse else None, msg))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for callback, err, msg in self.reports:
            if callback is not None:
                callback(err, msg)
        self.reports = []
        return self.queued


RECORDS = [("cg.alarms", b"v", b"k", None), ("cg.alarm-state", b"{}", b"d", 3)]


def test_a_refused_record_fails_the_write() -> None:
    with pytest.raises(NotDelivered, match=r"refused 1 of the records, first cg\.alarms\[0\]: MSG_SIZE_TOO_LARGE"):
        produce_all(Producer(refuse="cg.alarms"), RECORDS, "the records")


def test_a_record_still_queued_fails_the_write() -> None:
    with pytest.raises(NotDelivered, match="did not take the records"):
        produce_all(Producer(queued=1), RECORDS, "the records")


def test_records_all_delivered_are_written() -> None:
    assert produce_all(Producer(), RECORDS, "the records") == 2
    assert produce_all(Producer(queued=1), [], "nothing") == 0  # nothing to wait for
