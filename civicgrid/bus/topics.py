"""The Kafka topics of docs/architecture.md, declared once with their partition counts.

Topics are created explicitly before anything produces to them: a topic
created implicitly by a first produce gets the broker's default partition
count, and the alarm detector's state changelog must have one partition per
source partition (streams/alarm_detection.py).  Each topic also carries its retention
from the settings (``kafka.retention``): Kafka is the replay room between a
device and the database, not the archive, so raw telemetry is kept days and
dead letters a month (docs/configuration.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from civicgrid.settings import KafkaSettings

TELEMETRY = "cg.telemetry"
EVENTS = "cg.events"
TRACKS = "cg.tracks"
REPORTS = "cg.reports"
STATUS = "cg.status"
DEADLETTER = "cg.deadletter"
ALARMS = "cg.alarms"
CASE_EVENTS = "cg.case-events"
COMMANDS = "cg.commands"
COMMAND_ACKS = "cg.command-acks"
# Never written to: its partitions are the camera pollers' leases (gateway/cameras/leases.py), as many as the
# pollers that can share the cameras.
CAMERA_LEASES = "cg.camera-leases"
CAMERA_LEASE_PARTITIONS = 32

ALL_TOPICS: tuple[str, ...] = (
    TELEMETRY,
    EVENTS,
    TRACKS,
    REPORTS,
    STATUS,
    DEADLETTER,
    ALARMS,
    CASE_EVENTS,
    COMMANDS,
    COMMAND_ACKS,
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    # Kafka topic configs (retention.ms, retention.bytes, cleanup.policy ...), applied at creation and
    # brought back to these values on an existing topic.
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(kafka: KafkaSettings) -> list[TopicSpec]:
    """Every platform topic with the same partition count (keyed by device or case id) and its retention, and the
    camera pollers' leases (empty: an hour's retention of nothing)."""
    return [*(TopicSpec(name, kafka.partitions, kafka.replication_factor, kafka.retention_of(name).topic_config())
              for name in ALL_TOPICS),
            TopicSpec(CAMERA_LEASES, CAMERA_LEASE_PARTITIONS, kafka.replication_factor, {"retention.ms": "3600000"})]
