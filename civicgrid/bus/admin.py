"""Cluster administration: wait for a Kafka-API broker and declare the platform topics."""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from civicgrid.bus import clients
from civicgrid.bus.topics import TopicSpec
from civicgrid.settings import KafkaSettings

log = logging.getLogger(__name__)


def admin_client(cluster: str | KafkaSettings) -> AdminClient:
    """An admin client for a cluster: its settings (security included), or a bare bootstrap address (the local
    stack, tests)."""
    # librdkafka logs every refused connection while a broker starts; keep it quiet.
    return AdminClient(clients.librdkafka(cluster, {"log_level": 0}))


def broker_answers(bootstrap_servers: str | KafkaSettings, timeout_s: float = 2.0) -> bool:
    """True when the cluster returns metadata (a real Kafka protocol round trip)."""
    try:
        metadata = admin_client(bootstrap_servers).list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def ensure_topics(bootstrap_servers: str | KafkaSettings, specs: list[TopicSpec], timeout_s: float = 15.0) -> list[str]:
    """Create the topics that do not exist yet, with their configs; return the names created.

    An existing topic with a different partition count is an error: tables and
    co-partitioned agents depend on the count, and changing it silently would
    re-key state.  An existing topic's configs (retention) are set to the
    specs' values, so a changed setting takes effect at the next start.
    """
    admin = admin_client(bootstrap_servers)
    existing = admin.list_topics(timeout=timeout_s).topics
    wrong = [
        f"{s.name} has {len(existing[s.name].partitions)} partitions, settings say {s.partitions}"
        for s in specs
        if s.name in existing and len(existing[s.name].partitions) != s.partitions
    ]
    if wrong:
        raise RuntimeError("Kafka topics disagree with settings: " + "; ".join(wrong))
    _set_configs(admin, [s for s in specs if s.name in existing and s.config], timeout_s)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor, config=s.config)
         for s in missing],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    _wait_visible(admin, [s.name for s in missing], timeout_s)
    _wait_led(bootstrap_servers, {s.name: s.partitions for s in missing}, timeout_s)
    log.info("created Kafka topics %s", ", ".join(created))
    return created


def _wait_led(cluster: str | KafkaSettings, partitions: dict[str, int], timeout_s: float) -> None:
    """Until every partition's leader answers a ListOffsets: metadata names a leader a moment before that
    broker has taken the partition on (seen here: NOT_LEADER_FOR_PARTITION right after creation)."""
    consumer = Consumer(clients.librdkafka(cluster, {"group.id": "civicgrid-admin-probe",
                                                     "enable.auto.commit": False, "log_level": 0}))
    try:
        deadline = time.monotonic() + timeout_s
        todo = [TopicPartition(topic, p) for topic, count in partitions.items() for p in range(count)]
        while todo:
            try:
                consumer.get_watermark_offsets(todo[0], timeout=max(0.1, deadline - time.monotonic()))
                todo.pop(0)
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{todo[0].topic}[{todo[0].partition}] has no leader after {timeout_s} s: "
                                       f"{exc}") from None
                time.sleep(0.05)
    finally:
        consumer.close()


def _set_configs(admin: AdminClient, specs: list[TopicSpec], timeout_s: float) -> None:
    """Incrementally set each spec's configs on its existing topic (other configs are left alone)."""
    if not specs:
        return
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in s.config.items()])
        for s in specs]
    for future in admin.incremental_alter_configs(resources).values():
        future.result(timeout=timeout_s)


def topic_config(bootstrap_servers: str, topic: str, timeout_s: float = 10.0) -> dict[str, str]:
    """A topic's effective configs (what the broker applies, defaults included)."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = admin_client(bootstrap_servers)  # held: a collected client cancels its futures
    entries = admin.describe_configs([resource])[resource].result(timeout=timeout_s)
    return {name: entry.value for name, entry in entries.items()}


def _wait_visible(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout_s).topics
        # Created is not yet usable: every partition needs its leader (Kafka elects them a moment later).
        if all(n in topics and topics[n].error is None and topics[n].partitions
               and all(p.leader >= 0 and p.error is None for p in topics[n].partitions.values()) for n in names):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics without leaders after {timeout_s} s: {names}")
