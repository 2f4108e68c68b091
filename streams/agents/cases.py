"""Case building: cg.alarms + cg.reports + camera events in cg.events → cases (open or merge), exactly once;
and inspectors' answers to field tasks (核实/核查 reports) → their case actions (streams/fieldtasks.py).

The database work is synchronous psycopg in a worker thread (the shared case
repository is sync), one transaction per problem; a database failure is
retried with backoff before the record's offset moves on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import faust
import orjson
import psycopg
from confluent_kafka import Producer
from psycopg_pool import ConnectionPool

from civicgrid.bus import clients, records
from civicgrid.bus import topics as t
from civicgrid.settings import KafkaSettings
from streams.casebuilder import record_problem
from streams.fieldtasks import answer_of, apply_answer
from streams.geo import GeoResolver
from streams.problems import problem_of

log = logging.getLogger(__name__)


def register(app: faust.App, pool: ConnectionPool, geo: GeoResolver, merge_window: timedelta,
             kafka: KafkaSettings) -> None:
    source = app.topic(t.ALARMS, t.REPORTS, t.EVENTS, value_serializer="raw", key_serializer="raw")

    def handle(problem) -> None:
        with pool.connection() as conn:
            outcome = record_problem(conn, problem, geo, merge_window)
        log.info("%s %s → case %s", problem.source_record_id,
                 "opened" if outcome.created else "merged" if outcome.merged else "already recorded", outcome.case_id)

    dead_letters = Producer(clients.librdkafka(kafka, {"log_level": 3}))

    def dead_letter(raw: bytes, topic: str, reason: str) -> None:
        """A record this agent cannot act on goes to cg.deadletter with the reason, before its offset moves."""
        record = records.dead_letter(payload=raw, mqtt_topic="", device_id=None, reason="stream_unreadable",
                                     detail=f"{topic}: {reason}")
        dead_letters.produce(t.DEADLETTER, records.dumps(record), b"case-builder")
        if dead_letters.flush(30):
            raise RuntimeError("Kafka did not take the case builder's dead letter")
        log.warning("case builder: a %s record dead-lettered: %s", topic, reason)

    def answer(task) -> None:
        with pool.connection() as conn:
            outcome = apply_answer(conn, task)
        log.info("%s answers case %s: %s", task.source_record_id, task.case_id, outcome)

    @app.agent(source, name="case-builder")
    async def build(stream):
        async for event in stream.events():
            topic = event.message.topic
            try:
                value = orjson.loads(event.value)
                task = answer_of(value) if topic == t.REPORTS else None
                problem = None if task is not None else problem_of(topic, value)
            except Exception as exc:
                await asyncio.to_thread(dead_letter, event.value, topic, f"{type(exc).__name__}: {exc}")
                continue
            if task is not None:
                await _retrying(answer, task, task.source_record_id)
                continue
            if problem is None:
                continue
            await _retrying(handle, problem, problem.source_record_id)


async def _retrying(work, item, name: str) -> None:
    backoff = 0.5
    while True:  # never skip a problem because the database is down
        try:
            await asyncio.to_thread(work, item)
            return
        except psycopg.OperationalError as exc:
            log.warning("database unavailable (%s); retrying %s in %.1f s", exc, name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
        except Exception:
            log.exception("case building failed for %s", name)
            return
