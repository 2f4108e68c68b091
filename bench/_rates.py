"""Shared by the benchmarks (not themselves benchmarks): the rate at which a counter reaches a target, and
the ceiling a bare Kafka consumer sets for a stream stage."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer


def rate_until(count: Callable[[], int], target: int, *, poll_s: float, timeout_s: float,
               on_first: Callable[[int], None] | None = None) -> float:
    """Poll `count` until it reaches `target`; items per second from the first non-zero reading to the last.

    Starting at the first non-zero reading leaves out start-up (consumer-group joins,
    connections) so the figure is the sustained rate; `on_first(value)` is called then (a CPU reading, say).
    """
    first = last = None
    value = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = count()
        now = time.perf_counter()
        if value and first is None:
            first = (now, value)
            if on_first is not None:
                on_first(value)
        if value >= target:
            last = (now, value)
            break
        time.sleep(poll_s)
    if first is None or last is None or last[0] == first[0]:
        raise SystemExit(f"reached {value} of {target} within {timeout_s:.0f} s; a rate needs a target that "
                         "takes several polls to reach (raise the message count)")
    return (last[1] - first[1]) / (last[0] - first[0])


async def consumer_ceiling(bootstrap_servers: str, topic: str, n: int) -> float:
    """Records per second a bare aiokafka consumer reads `n` records of `topic` at (no work per record), from
    its first record: the ceiling a stream stage on the same topic is compared to."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers,
                                group_id=f"ceiling-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                                enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                max_poll_records=5000)
    await consumer.start()
    got, first = 0, None
    try:
        while got < n:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                if first is None and messages:
                    first = time.perf_counter()
                got += len(messages)
    finally:
        await consumer.stop()
    return got / (time.perf_counter() - first)
