"""The one dead-letter policy of the platform's consumers: a record a service cannot use goes to
``cg.deadletter`` with the reason, and the caller moves its offset on only after Kafka took it.

Used by every stream consumer (sinks, patrol, the case builder) and the API's ack reader, so a bad
record is never retried forever, never silently skipped, and never stops a service. The gateway,
which dead-letters what devices publish before it reaches Kafka, has its own richer path
(gateway/service.py) built on the same record (`records.DeadLetterRecord`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Producer

from civicgrid.bus import records
from civicgrid.bus.delivery import produce_all
from civicgrid.bus.topics import DEADLETTER

log = logging.getLogger(__name__)

STREAM_UNREADABLE = "stream_unreadable"
# A rejected record is kept whole up to this size; beyond it, its first bytes and its SHA-256 (its base64 in
# the dead letter must still fit Kafka's message size).
KEEP_WHOLE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record a consumer cannot use: its bytes, where it was read, and why."""

    payload: bytes
    origin: str  # e.g. "kafka:cg.tracks"
    detail: str
    device_id: str | None = None
    reason: str = STREAM_UNREADABLE


class DeadLetters:
    """Sends rejected records through the process's one producer; `send` returns once Kafka has them all."""

    def __init__(self, producer: Producer, consumer: str) -> None:
        self.producer, self.consumer = producer, consumer
        self.sent = 0

    def send(self, rejected: Iterable[Rejected]) -> int:
        now = datetime.now(UTC)
        out = []
        for item in rejected:
            record = records.DeadLetterRecord.of(payload=item.payload, mqtt_topic=item.origin,
                                                 device_id=item.device_id, reason=item.reason,
                                                 detail=item.detail[:500], received_at=now, keep_bytes=KEEP_WHOLE_BYTES)
            out.append((DEADLETTER, record.encode(), (item.device_id or self.consumer).encode(), None))
        n = produce_all(self.producer, out, f"the dead letters of {self.consumer}")
        if n:
            self.sent += n
            log.warning("%s: %d record(s) dead-lettered", self.consumer, n)
        return n
