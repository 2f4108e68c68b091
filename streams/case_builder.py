"""Case building: cg.alarms + cg.reports + camera events in cg.events → cases (open or merge), exactly once;
and inspectors' answers to field tasks (核实/核查 reports) → their case actions.

A thin adapter on the worker's batch-consumer runner (streams/batch_consumer.py), in its own consumer group
(``<app_id>-cases``): records are decoded here (streams/problems.py, streams/fieldtasks.py) and every case change
is the case service's (civicgrid/cases/). A batch is worked through in offset order on one database connection,
one transaction per problem (the service's advisory lock and evidence check make each one exactly once); the
batch's offsets are committed only after the last transaction. A failing database retries the same batch (the
problems already recorded are found as "already recorded"); a record that cannot be decoded, or that the case
service refuses, is dead-lettered with the reason and the batch goes on.

Not a Faust agent any more: faust-streaming's recovery race (faust-streaming/faust#596) dropped records fetched
while a restarted worker recovered, and the gap blocked the group's commits for good (seen: three alarms of 200
never on a case in tests/e2e/test_worker_kill.py, the group's offset stuck at 1 of 120).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from civicgrid.bus import topics as t
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.cases import CaseService
from civicgrid.cases.errors import CaseRefused
from civicgrid.cases.field_tasks import TaskAnswer
from civicgrid.cases.problem import Problem
from civicgrid.settings import Settings
from streams.batch_consumer import BatchConsumer, Decoded, Records
from streams.fieldtasks import answer_of
from streams.geo import GeoResolver
from streams.metrics import RoleMetrics, WorkerMetrics
from streams.problems import problem_of

log = logging.getLogger(__name__)

CASES_GROUP_SUFFIX = "cases"
SOURCE_TOPICS = (t.ALARMS, t.REPORTS, t.EVENTS)
CASE_REFUSED = "case_refused"  # a dead letter's reason: the case service refused the problem or answer


@dataclass(frozen=True, slots=True)
class Work:
    """One record's case work: a problem to open or merge, or a task answer; with the record, for a dead letter."""

    item: Problem | TaskAnswer
    payload: bytes
    origin: str
    kafka_ms: int | None = None  # the record's Kafka timestamp: where the case-building latency starts


class CaseBuilder:
    """The case builder's `BatchHandler`; `run()` consumes until `stop()`."""

    def __init__(self, settings: Settings, pool: ConnectionPool, cases: CaseService, geo: GeoResolver,
                 dead_letters: DeadLetters, metrics: WorkerMetrics | None = None) -> None:
        s = settings.streams
        self.pool, self.cases, self.geo = pool, cases, geo
        self.merge_window = timedelta(seconds=s.merge_window_s)
        self.counts: Counter[str] = Counter()
        self.metrics = metrics or WorkerMetrics()
        role: RoleMetrics = self.metrics.role(CASES_GROUP_SUFFIX)
        self._consumer = BatchConsumer(settings, self, name="case builder", group=f"{s.app_id}-{CASES_GROUP_SUFFIX}",
                                       topics=SOURCE_TOPICS, max_records=s.case_batch, within_s=s.sink_within_s,
                                       dead_letters=dead_letters, metrics=role)

    async def run(self) -> None:
        await self._consumer.run()

    def stop(self) -> None:
        self._consumer.stop()

    def decode(self, records: Records) -> Decoded[list[Work]]:
        """Problems and answers in offset order per partition; other records (readings, ordinary events) are not
        case work and pass; one that cannot be read is set aside with the reason."""
        work: list[Work] = []
        rejected: list[Rejected] = []
        for tp, messages in records.items():
            origin = f"kafka:{tp.topic}"
            for msg in messages:
                raw = msg.value or b""
                if tp.topic == t.EVENTS and b'"camera"' not in raw:
                    continue  # cheap pre-filter: only a camera's event can be a problem on cg.events
                try:
                    value = orjson.loads(raw)
                    task = answer_of(value) if tp.topic == t.REPORTS else None
                    item: Problem | TaskAnswer | None = task if task is not None else problem_of(tp.topic, value)
                except Exception as exc: # whatever a record does to the decoders, it is set aside
                    rejected.append(Rejected(raw, origin, f"{type(exc).__name__}: {exc}"))
                    continue
                if item is not None:
                    work.append(Work(item, raw, origin, msg.timestamp))
        return Decoded(work, rejected)

    async def handle(self, batch: list[Work]) -> Sequence[Rejected]:
        if not batch:
            return []
        return await asyncio.to_thread(self._record, batch)

    async def disconnect(self) -> None:
        """The pool's connections are the pool's: a broken one is replaced on its next checkout."""

    def _record(self, batch: list[Work]) -> list[Rejected]:
        """Each item in its own transaction, in order. A database failure raises (the runner retries the batch);
        a refusal or a bug on one item is that item's dead letter, not the batch's end."""
        refused: list[Rejected] = []
        with self.pool.connection() as conn:
            for work in batch:
                try:
                    self._one(conn, work)
                except psycopg.OperationalError:
                    raise
                except CaseRefused as exc:
                    self.counts["refused"] += 1
                    self.metrics.cases.labels("refused").inc()
                    log.warning("%s refused: %s", work.item.source_record_id, exc, extra=_ids(work.item))
                    refused.append(Rejected(work.payload, work.origin, f"{type(exc).__name__}: {exc}",
                                            _device_of(work.item), reason=CASE_REFUSED))
                except Exception as exc: # a bug must not stop case building for every other record
                    log.exception("case building failed for %s", work.item.source_record_id, extra=_ids(work.item))
                    refused.append(Rejected(work.payload, work.origin, f"{type(exc).__name__}: {exc}",
                                            _device_of(work.item), reason=CASE_REFUSED))
        return refused

    def _one(self, conn: psycopg.Connection, work: Work) -> None:
        item = work.item
        if isinstance(item, TaskAnswer):
            answered = self.cases.apply_answer(conn, item)
            self.counts["answers"] += 1
            self.metrics.cases.labels("answered").inc()
            log.info("%s answers case %s: %s", item.source_record_id, item.case_id, answered, extra=_ids(item))
            return
        outcome = self.cases.record_problem(conn, item, self.geo, self.merge_window)  # committed on return
        what = "opened" if outcome.created else "merged" if outcome.merged else "already recorded"
        self.counts[what] += 1
        label = what.replace(" ", "_")
        self.metrics.cases.labels(label).inc()
        if work.kafka_ms is not None and label != "already_recorded":  # a re-delivery's age is not a latency
            self.metrics.case_latency.labels(item.source.value, label).observe(
                max(0.0, time.time() - work.kafka_ms / 1000))
        log.info("%s %s → case %s", item.source_record_id, what, outcome.case_id,
                 extra={**_ids(item), "case_id": outcome.case_id})


def _device_of(item: Problem | TaskAnswer) -> str | None:
    return item.device_id


def _ids(item: Problem | TaskAnswer) -> dict[str, object]:
    """The ids a log line about `item` carries (civicgrid/logs.py): device, case, alarm key."""
    if isinstance(item, TaskAnswer):
        return {"device_id": item.device_id, "case_id": item.case_id}
    ids: dict[str, object] = {"device_id": item.device_id}
    if item.source_record_id.startswith("alarm:"):
        ids["alarm_key"] = item.source_record_id.removeprefix("alarm:")
    return ids
