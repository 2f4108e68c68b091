"""Shared by the benchmarks: the rate at which a counter reaches a target (not itself a benchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable


def rate_until(count: Callable[[], int], target: int, *, poll_s: float, timeout_s: float) -> float:
    """Poll `count` until it reaches `target`; items per second from the first non-zero reading to the last.

    Starting at the first non-zero reading leaves out start-up (consumer-group joins,
    connections) so the figure is the sustained rate.
    """
    first = last = None
    value = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = count()
        now = time.perf_counter()
        if value and first is None:
            first = (now, value)
        if value >= target:
            last = (now, value)
            break
        time.sleep(poll_s)
    if first is None or last is None or last[0] == first[0]:
        raise SystemExit(f"reached {value} of {target} within {timeout_s:.0f} s; a rate needs a target that "
                         "takes several polls to reach (raise the message count)")
    return (last[1] - first[1]) / (last[0] - first[0])
