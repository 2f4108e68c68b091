"""The patrol consumer's assignment callback (streams/patrol.py): a failed read of the database's positions
leaves no position of an earlier assignment behind (aiokafka only logs a listener's error and goes on)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import psycopg
import pytest
from aiokafka import TopicPartition

from civicgrid.bus import topics
from streams.patrol import _Rebalance


def test_a_failed_position_read_forgets_the_positions_of_the_earlier_assignment() -> None:
    def positions() -> dict[int, int]:
        raise psycopg.OperationalError("the database went away")

    runner = SimpleNamespace(_next={(topics.TRACKS, 0): 100, (topics.TRACKS, 1): 7}, _positions=positions)
    listener = _Rebalance(runner, consumer=None)  # type: ignore[arg-type]
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(listener.on_partitions_assigned({TopicPartition(topics.TRACKS, 0)}))
    assert runner._next == {}  # `_read` asks the database again at the partition's first batch
