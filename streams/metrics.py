"""The stream worker's Prometheus metrics, and each role's state for its health endpoint (streams/health.py).

One registry per worker (`WorkerMetrics`; tests build several workers in one process, and the global registry
would refuse the second). Each role gets a `RoleMetrics` handle with its label children looked up once. What
the worker handles per record (about 7,000 a second in a large city) is counted per batch, with ``inc(n)``:
a counter call per record would cost about 1 µs each.

Label values come from fixed sets, never from what a device sends (each new value is a new time series): roles
and sink tables are the code's, dead-letter reasons are the worker's own constants (else ``other``), alarm rules
the loaded profiles' and patrol's rule ids (else ``other``), and partitions are Kafka's.

Consumer lag is the consumer's own: for each assigned partition, the highwater its last fetch response
carried minus its position (the next record it will hand out), updated on the event loop after every fetch (about
40 µs a fetch for 12 partitions, measured; a busy role fetches a few times a second). So a scrape costs no admin
call and no broker round trip; `civicgrid status` (civicgrid/bus/lag.py) shows the
committed lag, which also counts the batch in hand.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from civicgrid.bus.dead_letters import STREAM_UNREADABLE, Rejected

# The worker's dead-letter reasons (streams/case_builder.py CASE_REFUSED is "case_refused"); any other: "other".
DEAD_LETTER_REASONS = frozenset({STREAM_UNREADABLE, "case_refused"})
# Patrol's anomaly rules (civicgrid/domain/patrol/anomalies.py); profile rules are added by the alarm detector.
PATROL_RULES = frozenset({"patrol_outside_grid", "patrol_stationary", "patrol_speeding", "patrol_offline"})
OTHER = "other"


class WorkerMetrics:
    """Every metric of one worker process, in its own registry."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.records = Counter("civicgrid_worker_records_consumed", "Kafka records a role took in, by role",
                               ["role"], registry=r)
        self.batches = Counter("civicgrid_worker_batches", "Batches a role worked through and committed, by role",
                               ["role"], registry=r)
        self.batch_seconds = Histogram(
            "civicgrid_worker_batch_seconds", "Time from a batch's fetch to its offsets committed, by role",
            ["role"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self.commit_seconds = Histogram(
            "civicgrid_worker_commit_seconds", "Kafka offset commit latency, by role", ["role"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)
        self.lag = Gauge("civicgrid_worker_consumer_lag",
                         "Records on an assigned partition after the consumer's position (highwater - position)",
                         ["group", "topic", "partition"], registry=r)
        self.assigned = Gauge("civicgrid_worker_assigned_partitions", "Partitions assigned to this worker, by group",
                              ["group"], registry=r)
        self.role_up = Gauge("civicgrid_worker_role_up", "1 while the role's consumer runs (0: starting, restarting "
                             "or stopped)", ["role"], registry=r)
        self.dead_letters = Counter("civicgrid_worker_dead_letters",
                                    "Records sent to cg.deadletter, by role and reason", ["role", "reason"], registry=r)
        self.skipped = Counter("civicgrid_worker_records_skipped", "Unreadable records a role passed over without a "
                               "dead letter (another role dead-letters them, or they stay on their topic)", ["role"],
                               registry=r)
        self.cases = Counter("civicgrid_worker_cases", "Case builder outcomes: opened, merged, already_recorded, "
                             "answered, refused", ["outcome"], registry=r)
        self.case_latency = Histogram(
            "civicgrid_worker_case_latency_seconds",
            "From the alarm or report record's Kafka timestamp to its case transaction committed, by source",
            ["source", "outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300), registry=r)
        self.alarms = Counter("civicgrid_worker_alarms", "Alarms put on cg.alarms, by rule and action (raise, clear)",
                              ["rule", "action"], registry=r)
        self.sink_rows = Counter("civicgrid_worker_sink_rows", "Rows the sinks wrote, by table", ["table"], registry=r)
        self.sink_write_seconds = Histogram(
            "civicgrid_worker_sink_write_seconds", "One sink batch's database transaction (all its tables)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.roles: dict[str, RoleMetrics] = {}
        self.known_rules: set[str] = set(PATROL_RULES)

    def role(self, name: str) -> RoleMetrics:
        """The handle of role `name` (one per role; made on first use)."""
        if name not in self.roles:
            self.roles[name] = RoleMetrics(self, name)
        return self.roles[name]

    def count_alarms(self, fired: Iterable[tuple[str, str]]) -> None:
        """(rule, action) of each alarm a batch sent; one `inc` per distinct pair."""
        for (rule, action), n in Tally(fired).items():
            self.alarms.labels(rule if rule in self.known_rules else OTHER,
                               action if action in ("raise", "clear") else OTHER).inc(n)


class RoleMetrics:
    """One role's counters, and its state as the health endpoint reports it."""

    def __init__(self, metrics: WorkerMetrics, role: str) -> None:
        self.metrics, self.role = metrics, role
        self.records = metrics.records.labels(role)
        self.batches = metrics.batches.labels(role)
        self.batch_seconds = metrics.batch_seconds.labels(role)
        self.commit_seconds = metrics.commit_seconds.labels(role)
        self.up = metrics.role_up.labels(role)
        self.state = "starting"  # starting | running | restarting | stopped | failed
        self.detail = ""
        self.group: str | None = None
        self.since = time.time()
        # [topic, partition] pairs as of the last fetch: replaced whole, so the health thread reads a consistent list
        self.assignment: list[tuple[str, int]] = []
        self._lagging: set[TopicPartition] = set()

    # -- state (health) ------------------------------------------------------------
    def set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail, self.since = state, detail, time.time()
        self.up.set(1 if state == "running" else 0)

    def started(self, group: str) -> None:
        """The role's consumer started (it joins its group in the background; the assignment follows)."""
        self.group = group
        self.set_state("running")

    def stopped(self, state: str = "stopped", detail: str = "") -> None:
        """The consumer stopped: its partitions are no longer this worker's."""
        self.set_state(state, detail)
        self.assignment = []
        if self.group is not None:
            for tp in self._lagging:
                self.metrics.lag.remove(self.group, tp.topic, str(tp.partition))
            self.metrics.assigned.labels(self.group).set(0)
        self._lagging = set()

    # -- per fetch and per batch (event loop) -----------------------------------------
    def fetched(self, consumer: AIOKafkaConsumer) -> None:
        """The assignment and each assigned partition's lag, after a fetch (empty or not)."""
        group = self.group
        if group is None:
            return
        assigned = set(consumer.assignment())
        lag = self.metrics.lag
        for tp in self._lagging - assigned:  # revoked: its series goes, or it would show a stale lag for good
            lag.remove(group, tp.topic, str(tp.partition))
        self._lagging = set()
        for tp in assigned:
            behind = consumer_lag(consumer, tp)
            if behind is not None:
                lag.labels(group, tp.topic, str(tp.partition)).set(behind)
                self._lagging.add(tp)
        self.metrics.assigned.labels(group).set(len(assigned))
        self.assignment = sorted((tp.topic, tp.partition) for tp in assigned)

    def batch(self, records: int, fetched_at: float) -> None:
        """A batch of `records` committed; `fetched_at` from time.perf_counter() when it arrived."""
        self.records.inc(records)
        self.batches.inc()
        self.batch_seconds.observe(time.perf_counter() - fetched_at)

    def dead_lettered(self, rejected: Iterable[Rejected]) -> None:
        for reason, n in Tally(r.reason for r in rejected).items():
            self.metrics.dead_letters.labels(self.role, reason if reason in DEAD_LETTER_REASONS else OTHER).inc(n)

    def skipped(self, n: int) -> None:
        if n:
            self.metrics.skipped.labels(self.role).inc(n)


def consumer_lag(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """highwater - position of an assigned partition, or None before its first fetch response.

    aiokafka's `position()` is a coroutine that may wait for the group's committed offset; the position it
    returns is the subscription state's, read here directly (aiokafka 0.11-0.14; None if that changes, and
    tests/integration/observability fails on a missing lag series)."""
    try:
        highwater = consumer.highwater(tp)
        state: Any = consumer._subscription.subscription.assignment.state_value(tp)
        if highwater is None or state is None or not state.has_valid_position:
            return None
        return max(0, int(highwater) - int(state.position))
    except (AssertionError, AttributeError, TypeError):  # not assigned (any more), or aiokafka's state changed
        return None
