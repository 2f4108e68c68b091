"""Sealing a table changelog makes the broker's high watermark cover every write before the seal."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from faust.serializers import codecs

from civicgrid.bus.admin import admin_client
from civicgrid.bus.changelog import SEAL_KEY, SEAL_VALUE, seal_changelogs
from civicgrid.settings import Settings

WRITES = 200


def test_seal_lifts_the_high_watermark_over_a_last_multi_record_batch(settings: Settings) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    app_id = f"seal-{uuid.uuid4().hex[:6]}"
    changelog = f"{app_id}-alarm-state-changelog"
    other = f"{app_id}-not-a-log"  # not a changelog: left alone
    admin = admin_client(bootstrap)
    for future in admin.create_topics([NewTopic(changelog, 2, 1), NewTopic(other, 1, 1)]).values():
        future.result(15)

    # State writes as a worker makes them: many records in one batch, on partition 1 only.
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for n in range(WRITES):
        producer.produce(changelog, key=f"device-{n}".encode(), value=b'{"active": true}', partition=1)
    assert producer.flush(15) == 0

    assert seal_changelogs(bootstrap, app_id) == 2  # both partitions of the one changelog

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": app_id, "enable.auto.commit": False})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(changelog, 1), timeout=10) == (0, WRITES + 1)
        assert consumer.get_watermark_offsets(TopicPartition(changelog, 0), timeout=10) == (0, 1)
        assert consumer.get_watermark_offsets(TopicPartition(other, 0), timeout=10) == (0, 0)
        consumer.assign([TopicPartition(changelog, 1, WRITES)])
        seal = consumer.poll(10)
        assert seal is not None and seal.error() is None
        assert (seal.key(), seal.value()) == (SEAL_KEY, SEAL_VALUE)  # valid JSON: a table restores it
    finally:
        consumer.close()


def test_the_seal_decodes_with_the_table_codec() -> None:
    """Faust's recovery waits forever on a changelog record its JSON codec cannot decode (seen)."""
    assert codecs.loads("json", SEAL_KEY) == "__civicgrid_seal__"
    assert codecs.loads("json", SEAL_VALUE) == {}


def test_an_app_without_changelogs_has_nothing_to_seal(settings: Settings) -> None:
    assert seal_changelogs(settings.kafka.bootstrap_servers, f"never-started-{uuid.uuid4().hex[:6]}") == 0
