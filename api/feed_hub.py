"""The live feed's one poller per API process, fanning new events out to every open stream.

Each open /feed stream used to poll ``feed_events`` itself (one query per stream every half
second); a centre with a hundred consoles open paid a hundred queries to learn that nothing
happened. Here one task reads every new settled row once (api/queries/feed.py `read_all_after`),
checks in the same round which subscribed users are still enabled, and hands each stream the rows
its user may see (api/queries/scope.py `Scope.admits`) and asked for (kinds).

A stream joins at the hub's current position; one resuming from an older event id first catches
up with its own scoped reads up to that position (api/routes/feed.py), then takes the hub's rows.
A stream that does not keep up (more than ``max_pending`` undelivered events) is ended with a reason;
browsers' EventSource reconnects with Last-Event-ID and catches up from the database. The task
runs only while someone listens, and forgets its position when the last stream closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

import orjson
from psycopg_pool import ConnectionPool

from api.queries import feed as q
from api.queries.scope import Scope, scope_of
from api.users import User

log = logging.getLogger(__name__)

Event = tuple[str, str, str]  # (event id, kind, JSON data)


@dataclass(eq=False)
class Subscription:
    """One open stream: what it wants, what is waiting for it, and why it ended if it did."""

    user: User
    kinds: frozenset[str]
    after: tuple[int, int]  # rows at or before this position were read by the stream itself
    scope: Scope
    pending: deque[Event] = field(default_factory=deque)
    ended: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self) -> list[Event]:
        events = list(self.pending)
        self.pending.clear()
        self.wake.clear()
        return events

    def end(self, reason: str) -> None:
        self.ended = reason
        self.wake.set()


class FeedHub:
    def __init__(self, pool: ConnectionPool, *, poll_s: float = 0.5, max_pending: int = 5000) -> None:
        self.pool, self.poll_s, self.max_pending = pool, poll_s, max_pending
        self.subscriptions: set[Subscription] = set()
        self.position: tuple[int, int] | None = None
        self.polls = 0  # rounds run (one read of feed_events each): the cost no longer grows with streams
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()

    def streams_of(self, user_id: int) -> int:
        return sum(1 for s in self.subscriptions if s.user.id == user_id)

    async def subscribe(self, user: User, kinds: tuple[str, ...], after: tuple[int, int] | None,
                        max_per_user: int) -> tuple[Subscription, tuple[int, int]] | None:
        """Join: the subscription and the hub's position at joining (the stream catches up to it itself
        when it resumes from an older id), or None when the user already holds `max_per_user` streams."""
        async with self._start_lock:
            if self.position is None:
                self.position = await asyncio.to_thread(self._start_position)
            centres = await asyncio.to_thread(self._centres_within, user)
            if self.streams_of(user.id) >= max_per_user:
                return None
            joined_at = self.position
            sub = Subscription(user, frozenset(kinds), max(after, joined_at) if after else joined_at,
                               scope_of(user, centres))
            self.subscriptions.add(sub)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name="feed-hub")
            return sub, joined_at

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    async def close(self) -> None:
        for sub in list(self.subscriptions):
            sub.end("server stopping")
        self.subscriptions.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _start_position(self) -> tuple[int, int]:
        with self.pool.connection() as conn:
            return q.start_position(conn)

    def _centres_within(self, user: User) -> frozenset[str] | None:
        with self.pool.connection() as conn:
            return q.centres_within(conn, user)

    def _poll(self, position: tuple[int, int], user_ids: list[int]) -> tuple[list[q.FeedRow], tuple[int, int],
                                                                              set[int]]:
        with self.pool.connection() as conn:
            rows, position = q.read_all_after(conn, position)
            return rows, position, q.enabled_among(conn, user_ids)

    async def _run(self) -> None:
        while self.subscriptions:
            assert self.position is not None
            users = sorted({s.user.id for s in self.subscriptions})
            try:
                rows, position, enabled = await asyncio.to_thread(self._poll, self.position, users)
            except Exception as exc:  # a database outage: keep the streams, try again
                log.warning("live feed: poll failed (%s); retrying", exc)
                await asyncio.sleep(self.poll_s * 4)
                continue
            self.polls += 1
            self._fan_out(rows, enabled)
            self.position = position
            if not rows:
                await asyncio.sleep(self.poll_s)
        self.position = None  # nobody listens: the next stream starts from what is new then
        self._task = None

    def _fan_out(self, rows: list[q.FeedRow], enabled: set[int]) -> None:
        data = {}
        for sub in list(self.subscriptions):
            if sub.user.id not in enabled:
                sub.end("user disabled")
                self.subscriptions.discard(sub)
                continue
            for row in rows:
                if row.position <= sub.after or row.kind not in sub.kinds or \
                        not sub.scope.admits(row.department_id, row.responsibility_grid_id, row.centre_id):
                    continue
                if row.position not in data:
                    data[row.position] = orjson.dumps(row.payload).decode()
                sub.pending.append((row.event_id, row.kind, data[row.position]))
            if len(sub.pending) > self.max_pending:
                sub.pending.clear()
                sub.end("fell behind; reconnect with Last-Event-ID to catch up")
                self.subscriptions.discard(sub)
            elif sub.pending:
                sub.wake.set()
