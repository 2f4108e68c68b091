"""The stack's own Kafka on its own: formatted once, records kept across a stop, retention from settings.

A second Kafka beside the session's (its own ports and directory), so stopping it disturbs no other test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from civicgrid.bus import topics
from civicgrid.bus.admin import topic_config
from civicgrid.settings import KafkaSettings, Settings, StackSettings, TopicRetention
from civicgrid.stack.ephemeral import free_ports
from civicgrid.stack.kafka import KafkaService

pytestmark = pytest.mark.integration


def kafka_settings(var: Path, broker: int, controller: int, **kafka) -> Settings:
    return Settings(kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{broker}", partitions=2, **kafka),
                    stack=StackSettings(var_dir=var, kafka_controller_port=controller, kafka_heap_mb=256))


@pytest.fixture
def kafka_home(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    broker, controller = free_ports(2)
    yield tmp_path / "var", broker, controller
    KafkaService(kafka_settings(tmp_path / "var", broker, controller)).stop()


def cluster_id(data: Path) -> str:
    return dict(line.split("=", 1) for line in (data / "meta.properties").read_text().splitlines()
                if "=" in line)["cluster.id"]


def test_a_second_start_keeps_records_and_cluster_and_applies_changed_retention(
        kafka_home: tuple[Path, int, int]) -> None:
    var, broker, controller = kafka_home
    first = KafkaService(kafka_settings(var, broker, controller))
    first.start()
    data = var.resolve() / "kafka" / "data"
    formatted_as = cluster_id(data)
    assert topic_config(first.bootstrap, topics.DEADLETTER)["retention.ms"] == str(30 * 24 * 3_600_000)
    assert topic_config(first.bootstrap, topics.TELEMETRY)["retention.bytes"] == str(2048 * 1024 * 1024)
    key = f"dev-{uuid.uuid4().hex[:6]}".encode()
    producer = Producer({"bootstrap.servers": first.bootstrap, "acks": "all"})
    producer.produce(topics.TELEMETRY, b'{"v": 1}', key, partition=0)
    assert producer.flush(10) == 0
    assert first.stop()

    # Changed retention for one topic: applied to the existing topic at the next start; others keep theirs.
    second = KafkaService(kafka_settings(var, broker, controller, retention={
        topics.DEADLETTER: TopicRetention(hours=90 * 24, mb_per_partition=None)}))
    second.start()
    assert cluster_id(data) == formatted_as  # not formatted again
    dead = topic_config(second.bootstrap, topics.DEADLETTER)
    assert (dead["retention.ms"], dead["retention.bytes"]) == (str(90 * 24 * 3_600_000), "-1")
    assert topic_config(second.bootstrap, topics.TELEMETRY)["retention.ms"] == str(72 * 3_600_000)
    consumer = Consumer({"bootstrap.servers": second.bootstrap, "group.id": "kept", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topics.TELEMETRY, 0, 0)])
        messages = consumer.consume(10, 10)
        assert [(m.key(), m.value()) for m in messages if m.error() is None] == [(key, b'{"v": 1}')]
    finally:
        consumer.close()


def test_auto_created_topics_are_refused(settings: Settings) -> None:
    """Every topic is declared with its partition count; a produce to an undeclared one fails."""
    errors = []
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "message.timeout.ms": 3000,
                         "log_level": 0})
    producer.produce(f"cg.undeclared-{uuid.uuid4().hex[:6]}", b"{}",
                     on_delivery=lambda err, msg: errors.append(err))
    producer.flush(10)
    assert len(errors) == 1 and errors[0] is not None
