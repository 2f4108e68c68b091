"""The Kafka topics of DESIGN.md, declared once with their partition counts.

Topics are created explicitly before anything produces to them: a topic
created implicitly by a first produce gets the broker's default partition
count, and a Faust table whose changelog count differs from its source topic
stops with ``PartitionsMismatch`` (checked on Tansu).
"""

from __future__ import annotations

from dataclasses import dataclass

TELEMETRY = "cg.telemetry"
EVENTS = "cg.events"
TRACKS = "cg.tracks"
REPORTS = "cg.reports"
STATUS = "cg.status"
DEADLETTER = "cg.deadletter"
ALARMS = "cg.alarms"
CASE_EVENTS = "cg.case-events"
COVERAGE = "cg.coverage"
COMMANDS = "cg.commands"
COMMAND_ACKS = "cg.command-acks"

ALL_TOPICS: tuple[str, ...] = (
    TELEMETRY,
    EVENTS,
    TRACKS,
    REPORTS,
    STATUS,
    DEADLETTER,
    ALARMS,
    CASE_EVENTS,
    COVERAGE,
    COMMANDS,
    COMMAND_ACKS,
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1


def topic_specs(partitions: int, replication_factor: int = 1) -> list[TopicSpec]:
    """Every platform topic with the same partition count (keyed by device or case id)."""
    return [TopicSpec(name, partitions, replication_factor) for name in ALL_TOPICS]
