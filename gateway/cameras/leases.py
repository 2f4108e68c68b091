"""Which cameras this poller polls: leases handed out by a Kafka consumer group, so no static list.

Several `civicgrid cameras` processes share the registry's cameras, each camera polled by exactly one live
poller, and a dead poller's cameras must move to the others within a bounded time. Kafka's group
coordinator already does that for consumers: every poller joins the group `cameras.group` on the topic
`cg.camera-leases` (LEASE_PARTITIONS partitions, never written to), a camera belongs to partition
CRC-32(device id) mod LEASE_PARTITIONS (`lease_of`), and a poller polls the cameras of the partitions the
group assigns it. A poller that dies stops heartbeating and, after `cameras.session_timeout_s`, the group
hands its partitions to the others; a poller that stops cleanly leaves the group at once.

Handover: on a rebalance the group revokes every member's partitions first, and a poller stops the cameras
of the partitions it loses (`on_revoked`, awaited) before the group assigns them anew; so two live pollers
never poll a camera at once, unless one is cut off from Kafka but not from its cameras: it keeps them until
it reaches Kafka again, while the group has moved them after its session timeout (docs/cameras.md).

The services meet only through Kafka and the database, and the poller never writes to the database: a
lease table would need both. LEASE_PARTITIONS bounds the pollers that get work (more stay idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from civicgrid.bus import clients
from civicgrid.bus import topics as t
from civicgrid.bus.admin import ensure_topics
from civicgrid.settings import CameraSettings, KafkaSettings

log = logging.getLogger(__name__)

LEASE_PARTITIONS = t.CAMERA_LEASE_PARTITIONS


def lease_of(device_id: str, partitions: int = LEASE_PARTITIONS) -> int:
    """The lease (partition of cg.camera-leases) a camera belongs to; stable across processes and versions."""
    return zlib.crc32(device_id.encode()) % partitions


OnChange = Callable[[frozenset[int]], Awaitable[None]]


class CameraLeases:
    """This poller's leases: a member of `cameras.group` whose assignment says which cameras are its own.

    `on_change(held)` is awaited after every change, with the leases now held: after a revocation (before the
    group goes on to hand them out) and after an assignment.
    """

    def __init__(self, kafka: KafkaSettings, cfg: CameraSettings, on_change: OnChange) -> None:
        self.kafka, self.cfg, self.on_change = kafka, cfg, on_change
        self.held: frozenset[int] = frozenset()
        self.assigned = asyncio.Event()  # set once the group has answered (an empty assignment counts)
        self._consumer: AIOKafkaConsumer | None = None

    def holds(self, device_id: str) -> bool:
        return lease_of(device_id) in self.held

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        self.held = self.held - {tp.partition for tp in revoked}
        await self.on_change(self.held)

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        self.held = frozenset(tp.partition for tp in assigned)
        log.info("camera leases held: %d of %d", len(self.held), LEASE_PARTITIONS)
        await self.on_change(self.held)
        self.assigned.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Be a member until `stop`: the group needs a fetch now and then (the topic stays empty)."""
        timeout_ms = int(self.cfg.session_timeout_s * 1000)
        consumer = AIOKafkaConsumer(**clients.aiokafka(
            self.kafka, group_id=self.cfg.group, enable_auto_commit=False, session_timeout_ms=timeout_ms,
            heartbeat_interval_ms=timeout_ms // 3, rebalance_timeout_ms=60_000))
        self._consumer = consumer
        listener = _Listener(self)
        while not stop.is_set():
            try:
                await asyncio.to_thread(ensure_topics, self.kafka, [spec for spec in t.topic_specs(self.kafka)
                                                                    if spec.name == t.CAMERA_LEASES])
                await consumer.start()
                consumer.subscribe([t.CAMERA_LEASES], listener=listener)
                break
            except Exception as exc:  # Kafka not answering yet (aiokafka's errors, or confluent's from ensure_topics)
                log.warning("Kafka unavailable for the camera leases (%s); retrying", exc)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await _wait(stop, 2.0)
        try:
            while not stop.is_set():
                with contextlib.suppress(KafkaError):
                    await consumer.getmany(timeout_ms=1000)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()  # leaves the group: the others take the leases at once


class _Listener(ConsumerRebalanceListener):
    def __init__(self, leases: CameraLeases) -> None:
        self.leases = leases

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.leases._revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.leases._assigned(assigned)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
