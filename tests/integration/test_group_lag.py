"""Consumer-group lag (civicgrid/bus/lag.py) against the real Kafka: committed partitions count from their commit,
a member's assigned and never committed partitions from their start."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from civicgrid.bus.lag import group_lags
from civicgrid.settings import Settings

pytestmark = pytest.mark.integration


def test_lag_per_group_from_commits_and_assignments(settings: Settings) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    run = uuid.uuid4().hex[:8]
    topic = f"lag-test-{run}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for _ in range(10):
        producer.produce(topic, b"x", partition=0)
    for _ in range(5):
        producer.produce(topic, b"y", partition=1)
    assert producer.flush(30) == 0
    base = {"bootstrap.servers": bootstrap, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    committer = Consumer({**base, "group.id": f"lagtest-{run}-committed"})
    committer.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    committer.close()
    member = Consumer({**base, "group.id": f"lagtest-{run}-member", "session.timeout.ms": 6000})
    member.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)  # joins the group; records it fetches are not committed
        assert member.assignment()
        lags = {g.group: g for g in group_lags(settings.kafka, prefix=f"lagtest-{run}")}
    finally:
        member.close()
    committed, assigned = lags[f"lagtest-{run}-committed"], lags[f"lagtest-{run}-member"]
    assert (committed.lag, committed.partitions, committed.members) == (6, 1, 0)  # 10 - 4 on partition 0 only
    assert (assigned.lag, assigned.partitions, assigned.members) == (15, 2, 1)
    assert assigned.state == "STABLE"
