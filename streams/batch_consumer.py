"""The worker's one batch-consumer runner: a raw aiokafka consumer group that hands batches to a consumer's own
code and owns everything around it (connect, retry, dead letters, commit).

Why it exists: the sinks and the camera recorder are not Faust agents (docs/streams.md: Faust's per-event path is
too slow for them), and each used to carry its own copy of the same loop. The loop's rules must hold for all of
them alike, so they are written once, here:

1. ``getmany``: up to ``max_records`` records, waiting at most ``within_s``;
2. the handler's ``decode`` turns them into what it writes, and sets aside (as `Rejected`) each record it cannot
   read instead of raising: a poisoned record never blocks the ones behind it (docs/architecture.md);
3. the handler's ``handle`` writes the batch in one database transaction and returns once it committed. A failing
   database (`DATABASE_DOWN`) drops the connection (``disconnect``) and retries the SAME batch with exponential
   backoff (`Backoff`) until it is written: a batch is never skipped;
4. the set-aside records, and any the write refused, go through the one dead-letter policy
   (civicgrid.bus.dead_letters) before their offsets move;
5. the batch's offsets (its last offset + 1, per partition still assigned) are committed, and only now: Kafka
   never says a record was taken before the database has it.

Killed anywhere before 5, the batch is read again and written again; the writes are idempotent, so no row is lost
or doubled. `stop()` ends the loop after the batch in hand; a batch still waiting for the database is then left
uncommitted and read again on the next start.

`pipelined=True` (the sinks) keeps three batches moving at once on a backlog: N's offsets are committed while
N+1 is in the database (`handle` runs its write in a thread) and N+2 is fetched and decoded, so that the worker's
Python, PostgreSQL and the broker work at the same time instead of in turn (docs/performance.md, "The ninth
round": a write 12 ms, a commit 7 ms, a fetch and decode 9.5 ms for 2,000 rows). Each batch still goes through
steps 3-5 in order, and batch after batch: one write at a time, N+1's written only after N's, and N+1's offsets
committed only after its own write and after N's commit, so the committed offset never passes a batch the database
does not have.

Patrol (streams/patrol.py) keeps its own loop and shares only `open_consumer` and `Backoff`: it stores its
positions in the database and seeks to them on assignment, runs batch N+1 through its rules while batch N is
written, and after a failed write restarts from the database rather than retrying the batch (its in-memory state
is ahead of the database by then). Folded in here, those three would make this loop patrol's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord

from civicgrid.bus import clients
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.settings import Settings
from streams.metrics import RoleMetrics, WorkerMetrics

log = logging.getLogger(__name__)

# One fetch: each partition's records in offset order, as `AIOKafkaConsumer.getmany` returns them.
Records = Mapping[TopicPartition, Sequence[ConsumerRecord]]

# What a failing database raises (the connection lost, the server restarting): the same batch is retried. Anything
# else a handler raises is a bug and ends the loop.
DATABASE_DOWN: tuple[type[Exception], ...] = (psycopg.OperationalError,)

T = TypeVar("T")
# Set-aside records logged one by one per batch (with their device id and reason); a flood of bad records is
# counted (civicgrid_worker_dead_letters_total) and kept on cg.deadletter, not written out line by line.
LOGGED_PER_BATCH = 5


def open_consumer(settings: Settings, group: str, *, max_records: int, topics: Sequence[str] = ()) -> AIOKafkaConsumer:
    """A consumer of `group`, not started: offsets committed by the caller only, a new group starts at the earliest
    record, the worker's session timeout and fetch batching (docs/streams.md), connection and security from
    civicgrid.bus.clients.
    Without `topics` the caller subscribes (patrol, with its assignment callback)."""
    return AIOKafkaConsumer(*topics, **clients.aiokafka(
        settings.kafka, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_records=max_records, fetch_min_bytes=settings.streams.fetch_min_bytes,
        fetch_max_wait_ms=settings.streams.fetch_max_wait_ms, **settings.streams.group_timing_ms()))


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, without the CancelledError aiokafka 0.14 lets out of it: its fetcher cancels its pending
    requests and awaits them unguarded, so with the broker down (a request sleeping before its retry) `stop()`
    raises CancelledError into a task nobody cancelled, and a consumer restarting after a failed batch ended its
    whole role instead (seen in tests/e2e/test_broker_kill.py). A cancellation of our own task still goes out."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("a Kafka consumer stopped with its fetch requests cancelled (the broker unreachable)")


class Backoff:
    """Exponential backoff for a retry that must not give up: `first_s`, doubling up to `max_s`; `reset()` after a
    success. A wait ends early when the consumer is stopped."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self.delay_s = first_s  # the next wait

    def reset(self) -> None:
        self.delay_s = self.first_s

    async def sleep(self, stop: asyncio.Event | None = None) -> bool:
        """Wait `delay_s` (or until `stop` is set) and double it; True when stopped meanwhile."""
        delay, self.delay_s = self.delay_s, min(self.delay_s * 2, self.max_s)
        if stop is None:
            await asyncio.sleep(delay)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        return stop.is_set()


@dataclass(slots=True)
class Decoded(Generic[T]):
    """A decoded batch: what the handler writes, and the records it could not read (dead-lettered by the runner)."""

    batch: T
    rejected: list[Rejected] = field(default_factory=list)


class BatchHandler(Protocol[T]):
    """A consumer's own part of the loop (the module docstring's steps 2 and 3)."""

    def decode(self, records: Records) -> Decoded[T]:
        """The fetched records → what `handle` writes; a record that cannot be read is set aside, not raised."""
        ...

    async def handle(self, batch: T) -> Sequence[Rejected]:
        """Write `batch` and return once the database committed it, with any record the write itself refused.
        Raises one of `DATABASE_DOWN` when the database fails: it is called again with the same batch."""
        ...

    async def disconnect(self) -> None:
        """Close the database connection: after a failure (the next `handle` connects again) and at the end."""
        ...


class BatchConsumer(Generic[T]):
    """One consumer group over `topics`, driving a `BatchHandler` batch by batch (see the module docstring).

    `dead_letters` None: set-aside records are only logged — for a consumer that picks its own records out of
    topics others consume whole (the camera recorder; the sinks dead-letter what cg.events cannot hold).
    `metrics`: the role's handle in the worker's metrics (streams/metrics.py); None, a registry of its own.
    """

    def __init__(self, settings: Settings, handler: BatchHandler[T], *, name: str, group: str, topics: Sequence[str],
                 max_records: int, within_s: float, dead_letters: DeadLetters | None,
                 database_down: tuple[type[Exception], ...] = DATABASE_DOWN,
                 metrics: RoleMetrics | None = None, pipelined: bool = False) -> None:
        self.settings = settings
        self.handler = handler
        self.name = name  # in log lines
        self.group = group
        self.topics = tuple(topics)
        self.max_records = max_records
        self.within_s = within_s
        self.database_down = database_down
        self.dead_lettered = 0
        self.pipelined = pipelined
        self.metrics = metrics or WorkerMetrics().role(group.rsplit("-", 1)[-1])
        self._dead = dead_letters
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        consumer = open_consumer(self.settings, self.group, max_records=self.max_records, topics=self.topics)
        await consumer.start()
        self.metrics.started(self.group)
        # Pipelined: the batches written or in writing whose offsets are not committed yet, oldest first (at most
        # one committing behind the one in the database), and the newest one's write (True: the database has it).
        behind: list[asyncio.Task[bool]] = []
        written: asyncio.Future[bool] | None = None
        try:
            while not self._stop.is_set():
                records: Records = await consumer.getmany(timeout_ms=round(self.within_s * 1000),
                                                          max_records=self.max_records)
                fetched_at = time.perf_counter()
                self.metrics.fetched(consumer)
                if not records:
                    continue
                decoded = self.handler.decode(records)
                if not self.pipelined:
                    if not await self._finish(consumer, records, decoded, fetched_at):
                        break  # stopped while the database was down: read again on the next start
                    continue
                if written is not None and not await written:
                    break  # stopped while the database was down: this batch, too, is read again on the next start
                while len(behind) > 1:
                    await behind.pop(0)
                written = asyncio.get_running_loop().create_future()
                behind.append(asyncio.create_task(self._finish(consumer, records, decoded, fetched_at, written,
                                                               after=behind[-1] if behind else None)))
                await asyncio.sleep(0)  # the write is handed to its thread before the next batch is decoded
            while behind:
                await behind.pop(0)
        finally:
            for task in behind:
                task.cancel()
            for task in behind:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.metrics.stopped()
            await stop_consumer(consumer)
            await self.handler.disconnect()

    async def _finish(self, consumer: AIOKafkaConsumer, records: Records, decoded: Decoded[T], fetched_at: float,
                      written: asyncio.Future[bool] | None = None, after: asyncio.Task[bool] | None = None) -> bool:
        """One decoded batch through steps 3-5; False when stopped before the database took it. Pipelined:
        `written` is resolved once the write is over (the next batch's write may start), and the offsets wait for
        those of the batch before (`after`), so that commits go in order."""
        refused: Sequence[Rejected] | None = None
        try:
            refused = await self._write_until_done(decoded.batch)
        finally:
            if written is not None:
                written.set_result(refused is not None)
        if refused is None:  # stopped while the database was down: read again on the next start
            return False
        if after is not None and not await after:
            return False
        await self._set_aside([*decoded.rejected, *refused])
        await self._commit(consumer, {tp: messages[-1].offset + 1 for tp, messages in records.items() if messages})
        self.metrics.batch(sum(len(messages) for messages in records.values()), fetched_at)
        return True

    async def _write_until_done(self, batch: T) -> Sequence[Rejected] | None:
        """`handle` until the database took the batch (what it refused), or None if stopped before that."""
        backoff = Backoff()
        while True:
            try:
                return await self.handler.handle(batch)
            except self.database_down as exc:
                log.warning("%s: database unavailable (%s); retrying the same batch in %.1f s", self.name, exc,
                            backoff.delay_s)
                await self.handler.disconnect()
                if await backoff.sleep(self._stop):
                    log.info("%s: stopped with a batch unwritten; it is read again on the next start", self.name)
                    return None

    async def _set_aside(self, rejected: list[Rejected]) -> None:
        """Dead-letter what could not be read; `DeadLetters.send` returns once Kafka has them all."""
        if not rejected:
            return
        what = "skipped a record it cannot read" if self._dead is None else "dead-lettered"
        for r in rejected[:LOGGED_PER_BATCH]:
            log.warning("%s: %s (%s, %s): %s", self.name, what, r.origin, r.reason, r.detail[:200],
                        extra={"device_id": r.device_id, "reason": r.reason})
        if len(rejected) > LOGGED_PER_BATCH:
            log.warning("%s: %s %d more in this batch", self.name, what, len(rejected) - LOGGED_PER_BATCH)
        if self._dead is None:
            self.metrics.skipped(len(rejected))
            return
        self.dead_lettered += await asyncio.to_thread(self._dead.send, rejected)
        self.metrics.dead_lettered(rejected)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit the batch's offsets for the partitions still assigned. After a rebalance the partitions' new owner
        reads the rest of the batch again and writes nothing twice (the writes are idempotent)."""
        assigned = consumer.assignment()
        ours = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not ours:
            return
        started = time.perf_counter()
        try:
            await consumer.commit(ours)
            self.metrics.commit_seconds.observe(time.perf_counter() - started)
        except CommitFailedError as exc:
            log.warning("%s: offsets not committed, the group rebalanced (%s); the batch is read again", self.name,
                        exc)
