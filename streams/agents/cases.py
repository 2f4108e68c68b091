"""Case building: cg.alarms + cg.reports + camera events in cg.events → cases (open or merge), exactly once.

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
from psycopg_pool import ConnectionPool

from civicgrid.bus import topics as t
from streams.casebuilder import record_problem
from streams.geo import GeoResolver
from streams.problems import problem_of

log = logging.getLogger(__name__)


def register(app: faust.App, pool: ConnectionPool, geo: GeoResolver, merge_window: timedelta) -> None:
    source = app.topic(t.ALARMS, t.REPORTS, t.EVENTS, value_serializer="raw", key_serializer="raw")

    def handle(problem) -> None:
        with pool.connection() as conn:
            outcome = record_problem(conn, problem, geo, merge_window)
        log.info("%s %s → case %s", problem.source_record_id,
                 "opened" if outcome.created else "merged" if outcome.merged else "already recorded", outcome.case_id)

    @app.agent(source, name="case-builder")
    async def build(stream):
        async for event in stream.events():
            topic = event.message.topic
            try:
                problem = problem_of(topic, orjson.loads(event.value))
            except Exception:
                log.exception("cannot read a %s record as a problem", topic)
                continue
            if problem is None:
                continue
            backoff = 0.5
            while True:  # never skip a problem because the database is down
                try:
                    await asyncio.to_thread(handle, problem)
                    break
                except psycopg.OperationalError as exc:
                    log.warning("database unavailable (%s); retrying %s in %.1f s", exc, problem.source_record_id,
                                backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                except Exception:
                    log.exception("case building failed for %s", problem.source_record_id)
                    break
