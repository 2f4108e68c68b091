"""`stop_consumer` (streams/batch_consumer.py): aiokafka's `stop()` raising the CancelledError of its own cancelled
fetches (the broker down) does not end the caller's task; a cancellation of the caller's task still does."""

from __future__ import annotations

import asyncio

import pytest

from streams.batch_consumer import stop_consumer


class _FetcherCancelledOnStop:
    """As aiokafka 0.14's consumer with a fetch request sleeping before its retry: `stop()` cancels the request and
    awaits it unguarded."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.stopped = False

    async def stop(self) -> None:
        await asyncio.sleep(self.delay_s)
        self.stopped = True
        pending = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        pending.cancel()
        await pending  # CancelledError, though nobody cancelled the caller


def test_the_fetchers_cancellation_stays_inside() -> None:
    consumer = _FetcherCancelledOnStop()

    async def caller() -> str:
        await stop_consumer(consumer)  # type: ignore[arg-type]
        return "went on"

    assert asyncio.run(caller()) == "went on"
    assert consumer.stopped


def test_a_cancelled_caller_is_still_cancelled() -> None:
    async def scenario() -> None:
        task = asyncio.ensure_future(stop_consumer(_FetcherCancelledOnStop(delay_s=1.0)))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
