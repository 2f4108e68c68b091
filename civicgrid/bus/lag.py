"""Consumer-group lag: for each consumer group on the cluster, how many records on its partitions it has not yet
committed, and how many members it has. What an operator asks first when rows or cases come late
(`civicgrid status`; docs/streams.md "Consumer groups on Kafka").

A group commits only after its effect is durable (the sinks after the database, alarm detection after its
changelog), so its lag is the records still to be worked, per group. Its partitions are those it has committed
and those assigned to its members now; one assigned and never committed counts from the partition's earliest
offset (the platform's groups start there), one neither committed nor assigned is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from civicgrid.bus import clients
from civicgrid.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    state: str  # Kafka's: STABLE, EMPTY, PREPARING_REBALANCE, ...
    members: int
    lag: int  # records on the group's partitions (committed or assigned) not yet committed
    partitions: int


def group_lags(kafka: KafkaSettings, prefix: str = "", timeout_s: float = 10.0) -> list[GroupLag]:
    """Every consumer group whose id starts with `prefix`, by id."""
    admin = AdminClient(clients.librdkafka(kafka, {"log_level": 3}))
    listed = admin.list_consumer_groups(request_timeout=timeout_s).result(timeout_s)
    ids = sorted(g.group_id for g in listed.valid if g.group_id.startswith(prefix))
    if not ids:
        return []
    described = {g: f.result(timeout_s) for g, f in admin.describe_consumer_groups(
        ids, request_timeout=timeout_s).items()}
    out = []
    for group in ids:
        info = described[group]
        committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                      request_timeout=timeout_s)[group].result(timeout_s)
        partitions = {(tp.topic, tp.partition): tp.offset for tp in committed.topic_partitions if tp.error is None}
        for member in info.members:  # assigned but never committed: all of it is still to come
            for tp in member.assignment.topic_partitions if member.assignment else ():
                partitions.setdefault((tp.topic, tp.partition), -1)
        state = info.state.name if info.state is not None else "UNKNOWN"
        out.append(GroupLag(group, state, len(info.members), _lag(admin, partitions, timeout_s), len(partitions)))
    return out


def _lag(admin: AdminClient, committed: dict[tuple[str, int], int], timeout_s: float) -> int:
    """Sum over the partitions of (end offset - committed offset); a negative offset: never committed."""
    if not committed:
        return 0
    keys = [TopicPartition(topic, partition) for topic, partition in committed]
    # confluent-kafka's OffsetSpec constructors carry no annotations.
    latest = _offsets(admin, keys, OffsetSpec.latest(), timeout_s)  # type: ignore[no-untyped-call]
    earliest = _offsets(admin, keys, OffsetSpec.earliest(), timeout_s)  # type: ignore[no-untyped-call]
    return sum(max(0, latest[key] - (offset if offset >= 0 else earliest[key])) for key, offset in committed.items())


def _offsets(admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec,
             timeout_s: float) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout_s)
    return {(tp.topic, tp.partition): future.result(timeout_s).offset for tp, future in futures.items()}
