"""Case building: cg.alarms + cg.reports + camera events in cg.events → cases (open or merge), exactly once;
and inspectors' answers to field tasks (核实/核查 reports) → their case actions.

A thin adapter: records are decoded here (streams/problems.py, streams/fieldtasks.py) and every case
change is the case service's (civicgrid/cases/). The database work is synchronous psycopg in a worker
thread, one transaction per problem; a database failure is retried with backoff before the record's
offset moves on; a record that cannot be decoded is dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import faust
import orjson
import psycopg
from psycopg_pool import ConnectionPool

from civicgrid.bus import topics as t
from civicgrid.bus.dead_letters import DeadLetters, Rejected
from civicgrid.cases import CaseService
from civicgrid.cases.field_tasks import TaskAnswer
from civicgrid.cases.problem import Problem
from streams.fieldtasks import answer_of
from streams.geo import GeoResolver
from streams.problems import problem_of

log = logging.getLogger(__name__)
Item = TypeVar("Item")


def register(app: faust.App, pool: ConnectionPool, cases: CaseService, geo: GeoResolver, merge_window: timedelta,
             dead_letters: DeadLetters) -> None:
    source = app.topic(t.ALARMS, t.REPORTS, t.EVENTS, value_serializer="raw", key_serializer="raw")

    def handle(problem: Problem) -> None:
        with pool.connection() as conn:
            outcome = cases.record_problem(conn, problem, geo, merge_window)
        log.info("%s %s → case %s", problem.source_record_id,
                 "opened" if outcome.created else "merged" if outcome.merged else "already recorded", outcome.case_id)

    def answer(task: TaskAnswer) -> None:
        with pool.connection() as conn:
            outcome = cases.apply_answer(conn, task)
        log.info("%s answers case %s: %s", task.source_record_id, task.case_id, outcome)

    @app.agent(source, name="case-builder")
    async def build(stream: Any) -> None:
        async for event in stream.events():
            topic = event.message.topic
            try:
                value = orjson.loads(event.value)
                task = answer_of(value) if topic == t.REPORTS else None
                problem = None if task is not None else problem_of(topic, value)
            except Exception as exc:
                rejected = Rejected(event.value, f"kafka:{topic}", f"{type(exc).__name__}: {exc}")
                await asyncio.to_thread(dead_letters.send, [rejected])
                continue
            if task is not None:
                await _retrying(answer, task, task.source_record_id)
            elif problem is not None:
                await _retrying(handle, problem, problem.source_record_id)


async def _retrying(work: Callable[[Item], None], item: Item, name: str) -> None:
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
