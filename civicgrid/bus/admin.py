"""Cluster administration: wait for a Kafka-API broker and declare the platform topics."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from civicgrid.bus.topics import TopicSpec

log = logging.getLogger(__name__)


def admin_client(bootstrap_servers: str) -> AdminClient:
    # librdkafka logs every refused connection while a broker starts; keep it quiet.
    return AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})


def broker_answers(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """True when the cluster returns metadata (a real Kafka protocol round trip)."""
    try:
        metadata = admin_client(bootstrap_servers).list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec], timeout_s: float = 15.0) -> list[str]:
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
    log.info("created Kafka topics %s", ", ".join(created))
    return created


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
        if all(n in topics and topics[n].error is None for n in names):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics not visible after {timeout_s} s: {names}")
