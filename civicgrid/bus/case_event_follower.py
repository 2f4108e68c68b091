"""A consumer group on cg.case-events that applies what it reads to the database and then commits its offsets: the
shape of every service that follows the case record from outside the case layer (the component-state follower,
civicgrid/basedata/follower.py; the notifier, civicgrid/notify/service.py). Services meet only through Kafka and
the database (docs/architecture.md), so each follows the events rather than being called by the case service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import psycopg
from confluent_kafka import Consumer, Message

from civicgrid.bus import clients
from civicgrid.bus.topics import CASE_EVENTS
from civicgrid.settings import Settings
from civicgrid.store.db import connect

log = logging.getLogger(__name__)
T = TypeVar("T")


def readable(messages: list[Message], read: Callable[[dict[str, Any]], T | None]) -> list[T]:
    """What `read` makes of each record (None: not one it wants); an unreadable record is logged and passed over,
    never retried (the case record itself is the truth; a follower's event is only its cue)."""
    out = []
    for msg in messages:
        try:
            got = read(orjson.loads(msg.value() or b""))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("case event at %s/%s unreadable, passed over: %s", msg.partition(), msg.offset(), exc)
            continue
        if got is not None:
            out.append(got)
    return out


class CaseEventFollower:
    """The consumer (`group_id`, from the earliest record, offsets committed by `step`), a connection opened again
    when lost, and `run`, which rides out a database outage; a subclass defines `step` (one poll)."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self.settings = settings
        self.consumer = Consumer(clients.librdkafka(settings.kafka, {
            "group.id": group_id, "enable.auto.commit": False, "auto.offset.reset": "earliest", "log_level": 3}))
        self.consumer.subscribe([CASE_EVENTS])
        self.conn: psycopg.Connection | None = None

    def _db(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.settings.db, autocommit=True)
        return self.conn

    def step(self) -> object:
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying", exc)
                self.conn = None
                stop.wait(2.0)

    def close(self) -> None:
        self.consumer.close()
        if self.conn is not None:
            self.conn.close()
